// FlashAttention-2 forward on tensor cores (docs/routing.md path `fa2`).
//
// One CTA of 4 warps computes a tile of kBM query rows of one (sequence, head) against the key blocks its
// mask lets it see, kBN keys at a time, walking them from the last to the first (the partially masked
// blocks of causal-type masks come first; fully masked blocks are never loaded). Per key block:
//   S = Q K^T     mma.sync m16n8k16, Q and K fragments by ldmatrix from swizzled shared memory
//   online softmax in fp32 registers (running max m, running row sum l, base-2 exponentials)
//   O += P V      P converted in registers to the A operand; V^T fragments by ldmatrix.trans
// K and V are copied by cp.async: V(n) streams in while S is computed, K(n-1) while P V is, so the copies
// of the next tile overlap the math of the current one. Each warp owns 16·kMT query rows; a row's
// statistics live in the quad of lanes holding it.
//
// P rounding: the fast mode rounds P once to the input dtype before P V (what FlashAttention does). The
// exact-P mode multiplies V by P's high and low half-precision terms (two products), so P V carries P to
// about 2^-16 relative (bf16) and the result matches fp32 arithmetic on the same inputs (MAE < 1e-5).
//
// Split-KV (num_splits > 1, decode: few queries, long keys): blockIdx.z = batch · splits + split; each
// split covers a contiguous range of key blocks and writes its normalised partial output and lse to the
// fp32 workspace; nsa_fa2_combine merges them.
//
// Rows with no visible key give o = 0 and lse = -inf, never NaN. Every address is derived from cu_q/cu_k or
// the dense sizes, validated on the host before launch (dev.nsa4j.fa2.contract); rows past a sequence's
// end are zero-filled on load and never stored.
#include <cfloat>
#include <cmath>

#include "nsa_mma.h"
#include "fa2_common.cuh"
#include "fa2_params.h"

namespace nsa {
namespace fa2 {

using namespace nsa::tc;

constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;

template <int DK, int DV>
struct Tile {
    // m16 row tiles per warp: two for head dims <= 128 (128-row CTAs), one above (64-row CTAs), so the
    // fp32 accumulators (16·kMT rows x DV per warp) stay within the register file without spilling.
    static constexpr int kMT = (DK <= 128 && DV <= 128) ? 2 : 1;
    static constexpr int kBM = 16 * kMT * kWarps;
    static constexpr int kBN = 64;
    static constexpr int kQElems = kBM * DK;
    static constexpr int kKElems = kBN * DK;
    static constexpr int kVElems = kBN * DV;
    static constexpr int kSmemElems = kQElems + kKElems + kVElems;
};

// Copies `rows_total` rows of D elements (row i at src + i * stride) into a swizzled tile; rows at or past
// `rows_valid` are zero-filled without reading.
template <typename T, int D, int ROWS>
__device__ __forceinline__ void load_tile(T* tile, const T* src, int64_t stride, int rows_valid, int tid) {
    constexpr int kChunks = D / 8;
    constexpr int kTotal = ROWS * kChunks;
    static_assert(kTotal % kThreads == 0, "tile chunks must divide evenly among the threads");
#pragma unroll
    for (int i = 0; i < kTotal / kThreads; ++i) {
        const int idx = tid + i * kThreads;
        const int r = idx / kChunks;
        const int c = idx - r * kChunks;
        const bool valid = r < rows_valid;
        const T* g = valid ? src + r * stride + c * 8 : src;
        cp_async16(smem_addr(tile + SmemRows<D>::offset(r, c)), g, valid);
    }
}

template <typename T, int DK, int DV, int MASK, bool EXACT>
__device__ __forceinline__ void fwd(const Fa2Params& p) {
    using Tl = Tile<DK, DV>;
    constexpr int kMT = Tl::kMT, kBM = Tl::kBM, kBN = Tl::kBN;
    constexpr int kNT = kBN / 8;   // n8 tiles of S per row tile
    constexpr int kOT = DV / 8;    // n8 tiles of O per row tile

    extern __shared__ __align__(128) unsigned char smem[];
    T* sQ = reinterpret_cast<T*>(smem);
    T* sK = sQ + Tl::kQElems;
    T* sV = sK + Tl::kKElems;

    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int lane = tid & 31;
    const int m_block = gridDim.x - 1 - blockIdx.x;  // heaviest (latest) row tiles first
    const int h = blockIdx.y;
    const int b = blockIdx.z / p.num_splits;
    const int split = blockIdx.z - b * p.num_splits;
    const int kvh = h / (p.heads / p.kv_heads);

    const SeqView sv = seq_view(p, b);
    const int m0 = m_block * kBM;
    if (m0 >= sv.len_q) return;
    const int rows_valid = min(kBM, sv.len_q - m0);
    const int64_t t_lo = static_cast<int64_t>(p.q_start != nullptr ? p.q_start[b] : 0) + m0;  // tile row 0
    const int64_t t_hi = t_lo + rows_valid - 1;
    const int64_t kpos0 = p.k_start != nullptr ? p.k_start[b] : 0;

    // Visible key rows [j_lo, j_hi) for the tile's rows, then key blocks [n_lo, n_hi) of this split.
    const KeyRange kr = key_range<MASK>(p, t_lo, t_hi, kpos0, sv.len_k);
    const int64_t j_lo = kr.lo, j_hi = kr.hi;
    int n_lo = 0, n_hi = 0;
    if (j_hi > j_lo) {
        n_lo = static_cast<int>(j_lo / kBN);
        n_hi = static_cast<int>((j_hi + kBN - 1) / kBN);
        if (p.num_splits > 1) {
            const int per = (n_hi - n_lo + p.num_splits - 1) / p.num_splits;
            n_lo += split * per;
            n_hi = min(n_hi, n_lo + per);
        }
    }

    const T* gQ = static_cast<const T*>(p.q) + sv.q + m0 * p.q_tok_stride + h * p.q_head_stride;
    const T* gK = static_cast<const T*>(p.k) + sv.k + kvh * p.k_head_stride;
    const T* gV = static_cast<const T*>(p.v) + sv.v + kvh * p.v_head_stride;

    float acc_o[kMT][kOT][4];
    float m_i[kMT][2], l_i[kMT][2];
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
        for (int nt = 0; nt < kOT; ++nt) {
#pragma unroll
            for (int e = 0; e < 4; ++e) acc_o[mt][nt][e] = 0.f;
        }
        m_i[mt][0] = m_i[mt][1] = -INFINITY;
        l_i[mt][0] = l_i[mt][1] = 0.f;
    }

    const int wrow = warp * 16 * kMT;  // the warp's first row in the tile
    if (n_hi > n_lo) {
        load_tile<T, DK, kBM>(sQ, gQ, p.q_tok_stride, rows_valid, tid);
        load_tile<T, DK, kBN>(sK, gK + static_cast<int64_t>(n_hi - 1) * kBN * p.k_tok_stride, p.k_tok_stride,
                              sv.len_k - (n_hi - 1) * kBN, tid);
        cp_async_commit();
    }

    for (int n = n_hi - 1; n >= n_lo; --n) {
        const int j0 = n * kBN;
        cp_async_wait_all();
        __syncthreads();  // K(n) (and Q) landed; every warp is done with V(n + 1)
        load_tile<T, DV, kBN>(sV, gV + static_cast<int64_t>(j0) * p.v_tok_stride, p.v_tok_stride, sv.len_k - j0, tid);
        cp_async_commit();

        // S = Q K^T
        float s[kMT][kNT][4];
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
            for (int nt = 0; nt < kNT; ++nt) {
#pragma unroll
                for (int e = 0; e < 4; ++e) s[mt][nt][e] = 0.f;
            }
        }
#pragma unroll
        for (int ks = 0; ks < DK / 16; ++ks) {
            uint32_t a[kMT][4];
#pragma unroll
            for (int mt = 0; mt < kMT; ++mt) {
                ldmatrix_x4(a[mt], smem_addr(sQ + SmemRows<DK>::offset(wrow + mt * 16 + (lane & 15), ks * 2 + (lane >> 4))));
            }
#pragma unroll
            for (int np = 0; np < kNT / 2; ++np) {
                uint32_t bk[4];
                ldmatrix_x4(bk, smem_addr(sK + SmemRows<DK>::offset(np * 16 + (lane & 7) + ((lane >> 4) << 3),
                                                                    ks * 2 + ((lane >> 3) & 1))));
#pragma unroll
                for (int mt = 0; mt < kMT; ++mt) {
                    mma16816<T>(s[mt][2 * np], a[mt], bk[0], bk[1]);
                    mma16816<T>(s[mt][2 * np + 1], a[mt], bk[2], bk[3]);
                }
            }
        }

        // Mask: only blocks that are not wholly visible to every row of the tile (uniform branch).
        bool partial = j0 + kBN > sv.len_k;
        if constexpr (MASK == kFa2Causal) partial |= kpos0 + j0 + kBN - 1 > t_lo;
        if constexpr (MASK == kFa2Window) partial |= kpos0 + j0 + kBN - 1 > t_lo || kpos0 + j0 <= t_hi - p.window;
        if constexpr (MASK == kFa2BlockCausal) partial |= (kpos0 + j0 + kBN - 1) * p.cmp_stride + p.cmp_len - 1 > t_lo;
        if (partial) {
#pragma unroll
            for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
                for (int nt = 0; nt < kNT; ++nt) {
#pragma unroll
                    for (int e = 0; e < 4; ++e) {
                        const int r = wrow + mt * 16 + (lane >> 2) + (e >= 2 ? 8 : 0);
                        const int j = j0 + nt * 8 + 2 * (lane & 3) + (e & 1);
                        if (j >= sv.len_k || !visible<MASK>(t_lo + r, kpos0 + j, p)) s[mt][nt][e] = -INFINITY;
                    }
                }
            }
        }

        // Online softmax (fp32; rows g and g + 8 of each row tile; row statistics shared by the quad).
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
            for (int hf = 0; hf < 2; ++hf) {
                float mx = -INFINITY;
#pragma unroll
                for (int nt = 0; nt < kNT; ++nt) mx = fmaxf(mx, fmaxf(s[mt][nt][2 * hf], s[mt][nt][2 * hf + 1]));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
                const float m_new = fmaxf(m_i[mt][hf], mx);
                const float base = m_new == -INFINITY ? 0.f : m_new * p.scale_log2;  // no -inf - -inf
                const float corr = ex2(m_i[mt][hf] * p.scale_log2 - base);
                m_i[mt][hf] = m_new;
                float sum = 0.f;
#pragma unroll
                for (int nt = 0; nt < kNT; ++nt) {
#pragma unroll
                    for (int e = 2 * hf; e < 2 * hf + 2; ++e) {
                        s[mt][nt][e] = ex2(fmaf(s[mt][nt][e], p.scale_log2, -base));
                        sum += s[mt][nt][e];
                    }
                }
                l_i[mt][hf] = fmaf(l_i[mt][hf], corr, sum);  // this lane's share; the quad sums at the end
#pragma unroll
                for (int nt = 0; nt < kOT; ++nt) {
                    acc_o[mt][nt][2 * hf] *= corr;
                    acc_o[mt][nt][2 * hf + 1] *= corr;
                }
            }
        }

        cp_async_wait_all();
        __syncthreads();  // V(n) landed; every warp is done with K(n)
        if (n > n_lo) {
            load_tile<T, DK, kBN>(sK, gK + static_cast<int64_t>(j0 - kBN) * p.k_tok_stride, p.k_tok_stride,
                                  sv.len_k - (j0 - kBN), tid);
            cp_async_commit();
        }

        // O += P V
#pragma unroll
        for (int kk = 0; kk < kBN / 16; ++kk) {
            uint32_t pa[kMT][4];
            uint32_t pl[kMT][4];
#pragma unroll
            for (int mt = 0; mt < kMT; ++mt) {
                const float* c0 = s[mt][2 * kk];
                const float* c1 = s[mt][2 * kk + 1];
                if constexpr (EXACT) {
                    split2<T>(c0[0], c0[1], pa[mt][0], pl[mt][0]);
                    split2<T>(c0[2], c0[3], pa[mt][1], pl[mt][1]);
                    split2<T>(c1[0], c1[1], pa[mt][2], pl[mt][2]);
                    split2<T>(c1[2], c1[3], pa[mt][3], pl[mt][3]);
                } else {
                    pa[mt][0] = Half2<T>::pack(c0[0], c0[1]);
                    pa[mt][1] = Half2<T>::pack(c0[2], c0[3]);
                    pa[mt][2] = Half2<T>::pack(c1[0], c1[1]);
                    pa[mt][3] = Half2<T>::pack(c1[2], c1[3]);
                }
            }
#pragma unroll
            for (int dp = 0; dp < DV / 16; ++dp) {
                uint32_t bv[4];
                ldmatrix_x4_trans(bv, smem_addr(sV + SmemRows<DV>::offset(kk * 16 + (lane & 7) + (((lane >> 3) & 1) << 3),
                                                                         dp * 2 + (lane >> 4))));
#pragma unroll
                for (int mt = 0; mt < kMT; ++mt) {
                    mma16816<T>(acc_o[mt][2 * dp], pa[mt], bv[0], bv[1]);
                    mma16816<T>(acc_o[mt][2 * dp + 1], pa[mt], bv[2], bv[3]);
                    if constexpr (EXACT) {
                        mma16816<T>(acc_o[mt][2 * dp], pl[mt], bv[0], bv[1]);
                        mma16816<T>(acc_o[mt][2 * dp + 1], pl[mt], bv[2], bv[3]);
                    }
                }
            }
        }
    }
    cp_async_wait_all();

    // Epilogue: o = acc / l, lse = m·scale + ln l (natural log), or the split's partial results.
    const bool split_out = p.num_splits > 1;
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
        for (int hf = 0; hf < 2; ++hf) {
            float l = l_i[mt][hf];
            l += __shfl_xor_sync(0xffffffffu, l, 1);
            l += __shfl_xor_sync(0xffffffffu, l, 2);
            const float inv = l > 0.f ? 1.f / l : 0.f;
            const float lse = l > 0.f ? m_i[mt][hf] * p.scale + logf(l) : -INFINITY;
            const int r = wrow + mt * 16 + (lane >> 2) + 8 * hf;
            if (r >= rows_valid) continue;
            const int col0 = 2 * (lane & 3);
            if (split_out) {
                const int64_t row = sv.row0 + m0 + r;
                float* acc = p.o_accum + ((static_cast<int64_t>(split) * p.rows + row) * p.heads + h) * DV;
#pragma unroll
                for (int nt = 0; nt < kOT; ++nt) {
                    *reinterpret_cast<float2*>(acc + nt * 8 + col0) =
                        make_float2(acc_o[mt][nt][2 * hf] * inv, acc_o[mt][nt][2 * hf + 1] * inv);
                }
                if ((lane & 3) == 0) p.lse_accum[(static_cast<int64_t>(split) * p.rows + row) * p.heads + h] = lse;
            } else {
                const int64_t off = sv.o + static_cast<int64_t>(m0 + r) * p.o_tok_stride + h * p.o_head_stride;
#pragma unroll
                for (int nt = 0; nt < kOT; ++nt) {
                    store2<T>(p.o, off + nt * 8 + col0, acc_o[mt][nt][2 * hf] * inv, acc_o[mt][nt][2 * hf + 1] * inv,
                              p.out_fp32 != 0);
                }
                if (p.lse != nullptr && (lane & 3) == 0) {
                    p.lse[sv.lse + static_cast<int64_t>(m0 + r) * p.lse_tok_stride + h] = lse;
                }
            }
        }
    }
}

// Split-KV combine: one warp per (row, head): o = sum_s w_s o_s with w_s = exp(lse_s - lse), lse = log sum exp.
template <typename T>
__device__ __forceinline__ void combine(const Fa2Params& p) {
    const int64_t item = static_cast<int64_t>(blockIdx.x) * kWarps + (threadIdx.x >> 5);
    const int lane = threadIdx.x & 31;
    if (item >= static_cast<int64_t>(p.rows) * p.heads) return;
    const int64_t row = item / p.heads;
    const int h = static_cast<int>(item - row * p.heads);
    float mx = -INFINITY;
    for (int s = 0; s < p.num_splits; ++s) mx = fmaxf(mx, p.lse_accum[(s * static_cast<int64_t>(p.rows) + row) * p.heads + h]);
    float total = 0.f;
    for (int s = 0; s < p.num_splits; ++s) {
        const float ls = p.lse_accum[(s * static_cast<int64_t>(p.rows) + row) * p.heads + h];
        total += ls == -INFINITY ? 0.f : expf(ls - mx);
    }
    const float lse = total > 0.f ? mx + logf(total) : -INFINITY;
    // Destination of `row`: dense rows are b * Sq + i; varlen rows are token indices.
    int64_t o_off, lse_off;
    if (p.cu_q != nullptr) {
        o_off = row * p.o_tok_stride;
        lse_off = row * p.lse_tok_stride;
    } else {
        const int64_t bb = row / p.seqlen_q, i = row - bb * p.seqlen_q;
        o_off = bb * p.o_batch_stride + i * p.o_tok_stride;
        lse_off = bb * p.lse_batch_stride + i * p.lse_tok_stride;
    }
    o_off += h * p.o_head_stride;
    for (int c = 2 * lane; c < p.dv; c += 64) {
        float a0 = 0.f, a1 = 0.f;
        for (int s = 0; s < p.num_splits; ++s) {
            const int64_t base = (s * static_cast<int64_t>(p.rows) + row) * p.heads + h;
            const float ls = p.lse_accum[base];
            if (ls == -INFINITY) continue;
            const float w = expf(ls - lse);
            const float2 v = *reinterpret_cast<const float2*>(p.o_accum + base * p.dv + c);
            a0 = fmaf(w, v.x, a0);
            a1 = fmaf(w, v.y, a1);
        }
        store2<T>(p.o, o_off + c, a0, a1, p.out_fp32 != 0);
    }
    if (p.lse != nullptr && lane == 0) p.lse[lse_off + h] = lse;
}

}  // namespace fa2
}  // namespace nsa

// Symbols: nsa_fa2_fwd_<mask>_<dtype>_dk<DK>_dv<DV>[_exact], nsa_fa2_combine_<dtype>.
#define NSA_FA2_FWD(MASKNAME, MASK, SUFFIX, T, DK, DV)                                                         \
    extern "C" __global__ void __launch_bounds__(nsa::fa2::kThreads)                                            \
        nsa_fa2_fwd_##MASKNAME##_##SUFFIX##_dk##DK##_dv##DV(const __grid_constant__ nsa::Fa2Params p) {         \
        nsa::fa2::fwd<T, DK, DV, MASK, false>(p);                                                             \
    }                                                                                                          \
    extern "C" __global__ void __launch_bounds__(nsa::fa2::kThreads)                                            \
        nsa_fa2_fwd_##MASKNAME##_##SUFFIX##_dk##DK##_dv##DV##_exact(const __grid_constant__ nsa::Fa2Params p) { \
        nsa::fa2::fwd<T, DK, DV, MASK, true>(p);                                                              \
    }

#define NSA_FA2_MASKS(SUFFIX, T, DK, DV)                           \
    NSA_FA2_FWD(none, nsa::kFa2None, SUFFIX, T, DK, DV)            \
    NSA_FA2_FWD(causal, nsa::kFa2Causal, SUFFIX, T, DK, DV)        \
    NSA_FA2_FWD(window, nsa::kFa2Window, SUFFIX, T, DK, DV)        \
    NSA_FA2_FWD(blockcausal, nsa::kFa2BlockCausal, SUFFIX, T, DK, DV)

#define NSA_FA2_DTYPES(DK, DV)                    \
    NSA_FA2_MASKS(bf16, __nv_bfloat16, DK, DV)    \
    NSA_FA2_MASKS(fp16, __half, DK, DV)

#ifndef NSA_FA2_ONLY_DIMS
NSA_FA2_DTYPES(32, 32)
NSA_FA2_DTYPES(64, 64)
NSA_FA2_DTYPES(96, 96)
NSA_FA2_DTYPES(128, 128)
NSA_FA2_DTYPES(192, 192)
NSA_FA2_DTYPES(256, 256)
NSA_FA2_DTYPES(192, 128)
#else
NSA_FA2_DTYPES(NSA_FA2_ONLY_DIMS, NSA_FA2_ONLY_DIMS)
#endif

extern "C" __global__ void __launch_bounds__(nsa::fa2::kThreads)
    nsa_fa2_combine_bf16(const __grid_constant__ nsa::Fa2Params p) {
    nsa::fa2::combine<__nv_bfloat16>(p);
}
extern "C" __global__ void __launch_bounds__(nsa::fa2::kThreads)
    nsa_fa2_combine_fp16(const __grid_constant__ nsa::Fa2Params p) {
    nsa::fa2::combine<__half>(p);
}
