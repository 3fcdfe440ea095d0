// EXPERIMENTAL (tuning only, not in the image): sel-kernel's union layout with the work of each (tile, token) split
// among the four warps, for the harness (tc_harness.cu with -DNSA_SEL_USPLIT_TUNE).
//
// The union layout (cuda-tc/sel_union.cu) gives warp w token w: at long keys, where the tokens share few blocks,
// a warp idles on every tile its token did not choose. Here the CTA's TOK tokens share the union pipeline as
// there, but every (tile, token that chose it) is computed by all four warps the way the split-N layout
// (sel_attention.cu, -DNSA_SEL_SPLITN) computes one token: S = Q K^T split by keys (warp w: keys 16w..16w+15),
// the row max exchanged through shared memory, P through shared memory, and O += P V split by output columns
// (warp w: columns [w·Dv/4, (w+1)·Dv/4) over all 64 keys), so each thread keeps TOK·Dv/16 fp32 accumulators.
// Two barriers per (tile, token). Same function and set semantics as the image's layouts.
#pragma once
#include <cfloat>
#include <climits>
#include <cmath>

#include "nsa_mma.h"
#include "nsa_params.h"
#include "sel_common.cuh"

namespace nsa {
namespace selus {

using namespace nsa::tc;
using nsa::sel::load_rows;
using nsa::sel::sequence_of;
using nsa::sel::softmax_update;
using nsa::sel::store2;

constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kTileKeys = 64;
constexpr int kWarpKeys = kTileKeys / kWarps;
constexpr int kRows = 16;
constexpr int kMaxBlocks = 64;
constexpr int kNotKept = INT_MIN;

template <int DK, int DV, int TOK, int STAGES>
struct Layout {
    static constexpr int kQElems = TOK * kRows * DK;
    static constexpr int kKElems = kTileKeys * DK;
    static constexpr int kStageElems = kTileKeys * (DK + DV);
    static constexpr int kPElems = kRows * kTileKeys;   // one P tile (two with exact P)
    static constexpr int kBytes = (kQElems + STAGES * kStageElems + 2 * kPElems) * 2;
    static constexpr int kEntries = TOK * kMaxBlocks;
    static_assert(TOK >= 1 && TOK <= 32, "a token mask is one 32-bit word");
    static_assert(STAGES >= 2, "the pipeline needs two stages");
};

// The CTA's union of chosen blocks, as in sel_union.cu.
template <int TOK>
struct UnionTiles {
    int row[TOK * kMaxBlocks];
    uint32_t first[TOK * kMaxBlocks];
    int key[TOK * kMaxBlocks];
    uint32_t mask[TOK * kMaxBlocks];
    int lo[TOK], hi[TOK];
    int count;
};

// Tokens tok0 .. tok0 + TOK − 1 of group g (token w gathered by warp w % 4): their valid chosen blocks as key rows,
// ranked ascending into u.key with the mask of the tokens that chose each; u.lo/u.hi each token's visible rows.
// Every thread calls it; it ends with a barrier.
template <int TOK>
__device__ __forceinline__ void build_union(const AttnParams& p, int tok0, int g, UnionTiles<TOK>& u) {
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int n = min(p.n_sel, kMaxBlocks);
    const int sel = p.sel_block;
    if (tid == 0) u.count = 0;
    for (int w = warp; w < TOK; w += kWarps) {
        const int tok = tok0 + w;
        int vlo = INT_MAX, vhi = INT_MIN;
        if (tok < p.nnz_q) {
            const int b = sequence_of(p.cu_q, p.batch, tok);
            const int64_t t = static_cast<int64_t>(p.q_start != nullptr ? p.q_start[b] : 0) + (tok - p.cu_q[b]);
            const int64_t k0 = p.cu_k[b];
            const int64_t kpos0 = p.k_start != nullptr ? p.k_start[b] : 0;
            const int64_t kend = kpos0 + (p.cu_k[b + 1] - k0);
            vlo = static_cast<int>(k0);
            vhi = static_cast<int>(k0 + max(static_cast<int64_t>(0), min(t + 1, kend) - kpos0));
            const int32_t* blk = p.blocks + static_cast<int64_t>(tok) * p.blocks_tok_stride + g * p.blocks_head_stride;
            for (int e = lane; e < n; e += 32) {
                const int j = blk[e];
                const int64_t lo = static_cast<int64_t>(j) * sel;
                bool keep = j >= 0 && lo <= t && lo < kend && lo + sel > kpos0;
                for (int f = 0; f < e && keep; ++f) keep = blk[f] != j;
                u.row[w * n + e] = keep ? static_cast<int>(k0 + (lo - kpos0)) : kNotKept;
            }
        } else {
            for (int e = lane; e < n; e += 32) u.row[w * n + e] = kNotKept;
        }
        if (lane == 0) {
            u.lo[w] = vlo;
            u.hi[w] = vhi;
        }
    }
    __syncthreads();
    const int entries = TOK * n;
    for (int e = tid; e < entries; e += kThreads) {
        const int r = u.row[e];
        uint32_t mask = 0;
        bool first = r != kNotKept;
        if (first) {
            for (int w = 0; w < TOK; ++w) {
                for (int f = 0; f < n; ++f) {
                    if (u.row[w * n + f] == r) {
                        mask |= 1u << w;
                        first = first && w * n + f >= e;
                    }
                }
            }
        }
        u.first[e] = first ? mask : 0u;
    }
    __syncthreads();
    for (int e = tid; e < entries; e += kThreads) {
        const uint32_t mask = u.first[e];
        if (mask == 0u) continue;
        const int r = u.row[e];
        int rank = 0;
        for (int f = 0; f < entries; ++f) rank += u.first[f] != 0u && u.row[f] < r;
        u.key[rank] = r;
        u.mask[rank] = mask;
        atomicAdd(&u.count, 1);
    }
    __syncthreads();
}

template <typename T, int DK, int DV, bool EXACT, int TOK, int STAGES>
__device__ __forceinline__ void fwd(const AttnParams& p) {
    using L = Layout<DK, DV, TOK, STAGES>;
    constexpr int kCols = DV / kWarps;   // output columns per warp
    constexpr int kOT = kCols / 8;
    static_assert(kCols % 16 == 0, "each warp's output columns must be whole 16-wide V fragments");
    extern __shared__ __align__(128) unsigned char smem[];
    T* sQ = reinterpret_cast<T*>(smem);
    T* sStage = sQ + L::kQElems;
    T* sP = sStage + STAGES * L::kStageElems;
    T* sPl = sP + L::kPElems;
    __shared__ UnionTiles<TOK> u;
    __shared__ float s_max[kWarps][kRows];
    __shared__ float s_sum[TOK][kWarps][kRows];

    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int h = p.heads / p.kv_heads;
    const int chunks = (h + kRows - 1) / kRows;
    const int g = blockIdx.y / chunks;
    const int head0 = g * h + (blockIdx.y - g * chunks) * kRows;
    const int rows = min(kRows, g * h + h - head0);
    const int tok0 = blockIdx.x * TOK;
    const float scale_log2 = p.scale * 1.4426950408889634f;

    build_union<TOK>(p, tok0, g, u);
    int ld_lo = INT_MAX, ld_hi = INT_MIN;
#pragma unroll
    for (int w = 0; w < TOK; ++w) {
        ld_lo = min(ld_lo, u.lo[w]);
        ld_hi = max(ld_hi, u.hi[w]);
    }
    const int sub = p.sel_block / kTileKeys;
    const int ntiles = u.count * sub;

    const T* gK = static_cast<const T*>(p.k) + g * p.k_head_stride;
    const T* gV = static_cast<const T*>(p.v) + g * p.v_head_stride;
    auto tile_base = [&](int i) { return u.key[i / sub] + (i % sub) * kTileKeys; };
    auto load_tile = [&](int i) {
        T* sK = sStage + (i % STAGES) * L::kStageElems;
        T* sV = sK + L::kKElems;
        const int base = tile_base(i);
        const int lo = max(0, ld_lo - base), hi = min(kTileKeys, ld_hi - base);
        load_rows<T, DK, kTileKeys, kThreads>(sK, gK + static_cast<int64_t>(base) * p.k_tok_stride, p.k_tok_stride,
                                              lo, hi, tid);
        load_rows<T, DV, kTileKeys, kThreads>(sV, gV + static_cast<int64_t>(base) * p.v_tok_stride, p.v_tok_stride,
                                              lo, hi, tid);
    };
    if (ntiles > 0) {
#pragma unroll
        for (int t = 0; t < TOK; ++t) {   // every token's Q tile (zero rows past h and past nnz_q)
            const int tok = tok0 + t;
            const T* gQ = static_cast<const T*>(p.q) + static_cast<int64_t>(tok < p.nnz_q ? tok : 0) * p.q_tok_stride
                          + head0 * p.q_head_stride;
            load_rows<T, DK, kRows, kThreads>(sQ + t * kRows * DK, gQ, p.q_head_stride, 0,
                                              tok < p.nnz_q ? rows : 0, tid);
        }
    }
#pragma unroll
    for (int st = 0; st < STAGES - 1; ++st) {
        if (st < ntiles) load_tile(st);
        cp_async_commit();
    }

    float acc[TOK][kOT][4];
    float m_i[TOK][2], l_i[TOK][2];
#pragma unroll
    for (int t = 0; t < TOK; ++t) {
#pragma unroll
        for (int nt = 0; nt < kOT; ++nt) {
#pragma unroll
            for (int e = 0; e < 4; ++e) acc[t][nt][e] = 0.f;
        }
        m_i[t][0] = m_i[t][1] = -INFINITY;
        l_i[t][0] = l_i[t][1] = 0.f;
    }

    for (int i = 0; i < ntiles; ++i) {
        if (i + STAGES - 1 < ntiles) load_tile(i + STAGES - 1);
        cp_async_commit();
        cp_async_wait<STAGES - 1>();
        __syncthreads();   // tile i (and Q) landed
        const T* sK = sStage + (i % STAGES) * L::kStageElems;
        const T* sV = sK + L::kKElems;
        const int base = tile_base(i);
        const uint32_t mask = u.mask[i / sub];
#pragma unroll
        for (int t = 0; t < TOK; ++t) {
            const int vlo = u.lo[t], vhi = u.hi[t];
            if ((mask & (1u << t)) == 0u || base >= vhi || base + kTileKeys <= vlo) continue;   // CTA-uniform
            const T* sQt = sQ + t * kRows * DK;
            // S for this warp's 16 keys, two dependency chains
            float s[2][4], s2[2][4];
#pragma unroll
            for (int nt = 0; nt < 2; ++nt) {
#pragma unroll
                for (int e = 0; e < 4; ++e) s[nt][e] = s2[nt][e] = 0.f;
            }
#pragma unroll
            for (int ks = 0; ks < DK / 16; ++ks) {
                uint32_t a[4], bk[4];
                ldmatrix_x4(a, smem_addr(sQt + SmemRows<DK>::offset(lane & 15, ks * 2 + (lane >> 4))));
                ldmatrix_x4(bk, smem_addr(sK + SmemRows<DK>::offset(warp * kWarpKeys + (lane & 7) + ((lane >> 4) << 3),
                                                                    ks * 2 + ((lane >> 3) & 1))));
                if (ks & 1) {
                    mma16816<T>(s2[0], a, bk[0], bk[1]);
                    mma16816<T>(s2[1], a, bk[2], bk[3]);
                } else {
                    mma16816<T>(s[0], a, bk[0], bk[1]);
                    mma16816<T>(s[1], a, bk[2], bk[3]);
                }
            }
#pragma unroll
            for (int nt = 0; nt < 2; ++nt) {
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    s[nt][e] += s2[nt][e];
                    const int kr = base + warp * kWarpKeys + nt * 8 + 2 * (lane & 3) + (e & 1);
                    if (kr >= vhi || kr < vlo) s[nt][e] = -INFINITY;
                }
            }
#pragma unroll
            for (int hf = 0; hf < 2; ++hf) {
                float mx = fmaxf(fmaxf(s[0][2 * hf], s[0][2 * hf + 1]), fmaxf(s[1][2 * hf], s[1][2 * hf + 1]));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
                if ((lane & 3) == 0) s_max[warp][(lane >> 2) + 8 * hf] = mx;
            }
            __syncthreads();   // every warp's row maxima (and the previous token's P V is done)
#pragma unroll
            for (int hf = 0; hf < 2; ++hf) {
                const int r = (lane >> 2) + 8 * hf;
                const float mt = fmaxf(fmaxf(s_max[0][r], s_max[1][r]), fmaxf(s_max[2][r], s_max[3][r]));
                softmax_update(s, hf, mt, m_i[t], l_i[t], acc[t], scale_log2);
#pragma unroll
                for (int nt = 0; nt < 2; ++nt) {
                    const int col = warp * kWarpKeys + nt * 8 + 2 * (lane & 3);
                    const int off = SmemRows<kTileKeys>::offset(r, col >> 3) + (col & 7);
                    uint32_t hi, lo;
                    if constexpr (EXACT) {
                        split2<T>(s[nt][2 * hf], s[nt][2 * hf + 1], hi, lo);
                        *reinterpret_cast<uint32_t*>(sPl + off) = lo;
                    } else {
                        hi = Half2<T>::pack(s[nt][2 * hf], s[nt][2 * hf + 1]);
                    }
                    *reinterpret_cast<uint32_t*>(sP + off) = hi;
                }
            }
            __syncthreads();   // the whole P tile
#pragma unroll
            for (int kk = 0; kk < kTileKeys / 16; ++kk) {
                uint32_t pa[4], pl[4];
                ldmatrix_x4(pa, smem_addr(sP + SmemRows<kTileKeys>::offset(lane & 15, kk * 2 + (lane >> 4))));
                if constexpr (EXACT) {
                    ldmatrix_x4(pl, smem_addr(sPl + SmemRows<kTileKeys>::offset(lane & 15, kk * 2 + (lane >> 4))));
                }
#pragma unroll
                for (int dp = 0; dp < kCols / 16; ++dp) {
                    uint32_t bv[4];
                    ldmatrix_x4_trans(bv, smem_addr(sV + SmemRows<DV>::offset(kk * 16 + (lane & 7) + (((lane >> 3) & 1) << 3),
                                                                             (warp * kCols) / 8 + dp * 2 + (lane >> 4))));
                    mma16816<T>(acc[t][2 * dp], pa, bv[0], bv[1]);
                    mma16816<T>(acc[t][2 * dp + 1], pa, bv[2], bv[3]);
                    if constexpr (EXACT) {
                        mma16816<T>(acc[t][2 * dp], pl, bv[0], bv[1]);
                        mma16816<T>(acc[t][2 * dp + 1], pl, bv[2], bv[3]);
                    }
                }
            }
        }
        __syncthreads();   // every warp is done with this stage (and with P) before the next iteration refills it
    }
    cp_async_wait_all();

    // l: each warp summed P over its own keys under the common max; the row's total is the sum over the warps
#pragma unroll
    for (int t = 0; t < TOK; ++t) {
#pragma unroll
        for (int hf = 0; hf < 2; ++hf) {
            float l = l_i[t][hf];
            l += __shfl_xor_sync(0xffffffffu, l, 1);
            l += __shfl_xor_sync(0xffffffffu, l, 2);
            if ((lane & 3) == 0) s_sum[t][warp][(lane >> 2) + 8 * hf] = l;
        }
    }
    __syncthreads();
    const bool fp32 = p.out_fp32 != 0;
#pragma unroll
    for (int t = 0; t < TOK; ++t) {
        const int tok = tok0 + t;
        if (tok >= p.nnz_q) continue;
#pragma unroll
        for (int hf = 0; hf < 2; ++hf) {
            const int r = (lane >> 2) + 8 * hf;
            if (r >= rows) continue;
            const float l = s_sum[t][0][r] + s_sum[t][1][r] + s_sum[t][2][r] + s_sum[t][3][r];
            const float inv = l > 0.f ? 1.f / l : 0.f;
            const int64_t off = static_cast<int64_t>(tok) * p.o_tok_stride + (head0 + r) * p.o_head_stride
                                + warp * kCols + 2 * (lane & 3);
#pragma unroll
            for (int nt = 0; nt < kOT; ++nt) {
                store2<T>(p.o, off + nt * 8, acc[t][nt][2 * hf] * inv, acc[t][nt][2 * hf + 1] * inv, fp32);
            }
            if (warp == 0 && (lane & 3) == 0 && p.lse != nullptr) {
                p.lse[static_cast<int64_t>(tok) * p.lse_tok_stride + head0 + r] =
                    l > 0.f ? m_i[t][hf] * p.scale + logf(l) : -INFINITY;
            }
        }
    }
}

}  // namespace selus
}  // namespace nsa

#ifndef NSA_SELUS_TOK
#define NSA_SELUS_TOK 4
#endif
#ifndef NSA_SELUS_STAGES
#define NSA_SELUS_STAGES 2
#endif
#ifndef NSA_SELUS_MINB
#define NSA_SELUS_MINB 2
#endif
namespace nsa::selus {
inline constexpr int harness_smem_bytes() { return Layout<128, 128, NSA_SELUS_TOK, NSA_SELUS_STAGES>::kBytes; }
}
extern "C" __global__ void __launch_bounds__(nsa::selus::kThreads, NSA_SELUS_MINB)
    nsa_sel_usplit_tune_bf16_dk128_dv128(const __grid_constant__ nsa::AttnParams p) {
    nsa::selus::fwd<__nv_bfloat16, 128, 128, false, NSA_SELUS_TOK, NSA_SELUS_STAGES>(p);
}
extern "C" __global__ void __launch_bounds__(nsa::selus::kThreads, NSA_SELUS_MINB)
    nsa_sel_usplit_tune_bf16_dk128_dv128_exact(const __grid_constant__ nsa::AttnParams p) {
    nsa::selus::fwd<__nv_bfloat16, 128, 128, true, NSA_SELUS_TOK, NSA_SELUS_STAGES>(p);
}
