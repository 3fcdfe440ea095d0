// Helpers shared by the selection kernels (sel_attention.cu, sel_union.cu, sel_tma.cu): tile loads, a CTA's head
// chunk and a token's keys, paired stores; and for the layouts that give each warp its own token (union, TMA) the
// warp's whole per-tile step and its epilogue.
#pragma once
#include <cmath>
#include <cstdint>

#include "nsa_mma.h"
#include "nsa_params.h"
#include "nsa_softmax.h"

namespace nsa {
namespace sel {

using namespace nsa::tc;
using nsa::softmax::init_rows;
using nsa::softmax::softmax_tile;
using nsa::softmax::softmax_update;

// Copies a ROWS x D tile with NT threads (tid in [0, NT)): row r from src + r * stride for lo <= r < hi, zeros elsewhere (never read).
template <typename T, int D, int ROWS, int NT>
__device__ __forceinline__ void load_rows(T* tile, const T* src, int64_t stride, int lo, int hi, int tid) {
    constexpr int kChunks = D / 8;
    constexpr int kTotal = ROWS * kChunks;
    static_assert(kTotal % NT == 0, "tile chunks must divide evenly among the threads");
#pragma unroll
    for (int i = 0; i < kTotal / NT; ++i) {
        const int idx = tid + i * NT;
        const int r = idx / kChunks;
        const int c = idx - r * kChunks;
        const bool ok = r >= lo && r < hi;
        const T* g = ok ? src + r * stride + c * 8 : src;
        cp_async16(smem_addr(tile + SmemRows<D>::offset(r, c)), g, ok);
    }
}

__device__ __forceinline__ int sequence_of(const int32_t* cu, int batch, int tok) {
    int lo = 0, hi = batch - 1;
    while (lo < hi) {
        const int mid = (lo + hi + 1) >> 1;
        if (cu[mid] <= tok) lo = mid; else hi = mid - 1;
    }
    return lo;
}

// The KV group g a CTA serves (blockIdx.y = g · ceil(h / 16) + chunk) and its 16-head chunk: the first head head0
// and how many of the 16 rows are heads of g (h < 16, or the last chunk of h > 16: rows past them are padding).
struct HeadChunk {
    int g, head0, rows;
};
__device__ __forceinline__ HeadChunk head_chunk(const AttnParams& p) {
    const int h = p.heads / p.kv_heads;
    const int chunks = (h + 15) / 16;
    HeadChunk c;
    c.g = blockIdx.y / chunks;
    c.head0 = c.g * h + (blockIdx.y - c.g * chunks) * 16;
    c.rows = min(16, c.g * h + h - c.head0);
    return c;
}

// Packed query token tok: its position t, the first key row k0 of its sequence, and the positions [kpos0, kend) of
// that sequence's keys (key row k0 + i is at position kpos0 + i).
struct TokenKeys {
    int64_t t, k0, kpos0, kend;
};
__device__ __forceinline__ TokenKeys token_keys(const AttnParams& p, int tok) {
    const int b = sequence_of(p.cu_q, p.batch, tok);
    TokenKeys k;
    k.t = static_cast<int64_t>(p.q_start != nullptr ? p.q_start[b] : 0) + (tok - p.cu_q[b]);
    k.k0 = p.cu_k[b];
    k.kpos0 = p.k_start != nullptr ? p.k_start[b] : 0;
    k.kend = k.kpos0 + (p.cu_k[b + 1] - k.k0);
    return k;
}

template <typename T>
__device__ __forceinline__ void store2(void* base, int64_t off, float x0, float x1, bool fp32) {
    if (fp32) {
        *reinterpret_cast<float2*>(static_cast<float*>(base) + off) = make_float2(x0, x1);
    } else {
        *reinterpret_cast<uint32_t*>(static_cast<T*>(base) + off) = Half2<T>::pack(x0, x1);
    }
}

// A warp's Q fragments of 16 rows straight from global memory (row r at gQ + r · head_stride; rows >= rows are
// zero): a0 (row lane / 4, cols 2·(lane % 4)..), a1 (row + 8), a2 / a3 (cols + 8), per 16-column step.
template <typename T, int DK>
__device__ __forceinline__ void q_frags(uint32_t (&qf)[DK / 16][4], const T* gQ, int64_t head_stride, int rows,
                                        int lane) {
    const int r0 = lane >> 2, c0 = 2 * (lane & 3);
#pragma unroll
    for (int ks = 0; ks < DK / 16; ++ks) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            const int r = r0 + (e & 1) * 8, c = ks * 16 + c0 + (e >> 1) * 8;
            qf[ks][e] = r < rows ? *reinterpret_cast<const uint32_t*>(gQ + static_cast<int64_t>(r) * head_stride + c)
                                 : 0u;
        }
    }
}

// One KEYS-key tile of a warp's FA-2 step on mma.sync, for the layouts in which a warp owns its token (union, TMA):
// S = Q K^T (qa(ks, a) gives Q's A fragment of columns [16·ks, 16·ks + 16)), the keys of the tile outside
// [vlo, vhi) masked (tile row 0 is key base, in the same coordinates), the online-softmax update, O += P V with P
// rounded once (fast) or split into a high and a low term (EXACT). KR::offset(r, c) / VR::offset(r, c) place
// 16-byte chunk c of K / V tile row r in shared memory (elements). on_s(s) sees the raw masked scores (Q K^T, -inf
// outside the range) before the softmax and may mask more keys (the decode kernels: scores out, absent pages).
struct NoScoreHook {
    template <int NS>
    __device__ __forceinline__ void operator()(float (&)[NS][4]) const {}
};
template <typename T, int DK, int DV, int KEYS, bool EXACT, class KR, class VR, class QA, class OnS = NoScoreHook>
__device__ __forceinline__ void warp_tile(QA qa, const T* sK, const T* sV, int base, int vlo, int vhi,
                                          float (&m_i)[2], float (&l_i)[2], float (&acc)[DV / 8][4], float scale_log2,
                                          int lane, OnS on_s = OnS{}) {
    constexpr int kST = KEYS / 8;
    float s[kST][4];
#pragma unroll
    for (int nt = 0; nt < kST; ++nt) {
#pragma unroll
        for (int e = 0; e < 4; ++e) s[nt][e] = 0.f;
    }
#pragma unroll
    for (int ks = 0; ks < DK / 16; ++ks) {
        uint32_t a[4];
        qa(ks, a);
#pragma unroll
        for (int np = 0; np < kST / 2; ++np) {
            uint32_t bk[4];
            ldmatrix_x4(bk, smem_addr(sK + KR::offset(np * 16 + (lane & 7) + ((lane >> 4) << 3),
                                                      ks * 2 + ((lane >> 3) & 1))));
            mma16816<T>(s[2 * np], a, bk[0], bk[1]);
            mma16816<T>(s[2 * np + 1], a, bk[2], bk[3]);
        }
    }
    if (base < vlo || base + KEYS > vhi) {
#pragma unroll
        for (int nt = 0; nt < kST; ++nt) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int kr = base + nt * 8 + 2 * (lane & 3) + (e & 1);
                if (kr >= vhi || kr < vlo) s[nt][e] = -INFINITY;
            }
        }
    }
    on_s(s);
    softmax_tile(s, m_i, l_i, acc, scale_log2);
#pragma unroll
    for (int kk = 0; kk < KEYS / 16; ++kk) {   // 16 keys: score tiles 2kk and 2kk + 1 as the A operand
        uint32_t pa[4], pl[4];
        p_frag<T, EXACT>(s, kk, pa, pl);
#pragma unroll
        for (int dp = 0; dp < DV / 16; ++dp) {
            uint32_t bv[4];
            ldmatrix_x4_trans(bv, smem_addr(sV + VR::offset(kk * 16 + (lane & 7) + (((lane >> 3) & 1) << 3),
                                                            dp * 2 + (lane >> 4))));
            mma16816<T>(acc[2 * dp], pa, bv[0], bv[1]);
            mma16816<T>(acc[2 * dp + 1], pa, bv[2], bv[3]);
            if constexpr (EXACT) {
                mma16816<T>(acc[2 * dp], pl, bv[0], bv[1]);
                mma16816<T>(acc[2 * dp + 1], pl, bv[2], bv[3]);
            }
        }
    }
}

// A warp's epilogue for token tok: o = O / l (0 when no key is visible), lse = m·scale + ln l (natural log; -inf
// when none), for its rows r < rows (heads head0 + r; rows past them are padding and never stored).
template <typename T, int NO>
__device__ __forceinline__ void store_rows(const AttnParams& p, const float (&acc)[NO][4], const float (&m_i)[2],
                                           const float (&l_i)[2], int tok, int head0, int rows, int lane) {
    const bool fp32 = p.out_fp32 != 0;
#pragma unroll
    for (int hf = 0; hf < 2; ++hf) {
        float l = l_i[hf];
        l += __shfl_xor_sync(0xffffffffu, l, 1);
        l += __shfl_xor_sync(0xffffffffu, l, 2);
        const int r = (lane >> 2) + 8 * hf;
        if (r >= rows) continue;
        const float inv = l > 0.f ? 1.f / l : 0.f;
        const int64_t off = static_cast<int64_t>(tok) * p.o_tok_stride + (head0 + r) * p.o_head_stride + 2 * (lane & 3);
#pragma unroll
        for (int nt = 0; nt < NO; ++nt) {
            store2<T>(p.o, off + nt * 8, acc[nt][2 * hf] * inv, acc[nt][2 * hf + 1] * inv, fp32);
        }
        if ((lane & 3) == 0 && p.lse != nullptr) {
            p.lse[static_cast<int64_t>(tok) * p.lse_tok_stride + head0 + r] =
                l > 0.f ? m_i[hf] * p.scale + logf(l) : -INFINITY;
        }
    }
}

}  // namespace sel
}  // namespace nsa
