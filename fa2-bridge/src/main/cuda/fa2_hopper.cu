// FlashAttention forward for Hopper (SM 9.0; docs/routing.md path `fa2`, its Hopper layout, Fa2Layout.HOPPER):
// the FA-2 kernels' function (fa2_fwd.cu: same params, masks, positions, varlen, P rounding modes, o and lse) for
// Dk = Dv = 128 and one split, built from Hopper's asynchronous units instead of mma.sync and cp.async:
//
//   warp specialisation  one CTA = 3 warpgroups: warpgroup 0 is the producer (one thread issues every copy, its
//                        registers given back with setmaxnreg), warpgroups 1 and 2 are consumers of 64 query rows
//                        each (128 rows per CTA), so every K / V tile in shared memory serves 128 rows
//   TMA                  Q once, then each 128-key K and V tile (cp.async.bulk.tensor from rank-3 tensor maps
//                        [rows, heads, 128] with 64-column boxes and the 128-byte swizzle) into a ring of kStages
//                        stages; a stage's `full` mbarrier completes on the copies' bytes, its `empty` mbarrier on
//                        the 8 consumer warps' arrivals once their MMAs have read it
//   wgmma                S = Q K^T as 8 warpgroup MMAs m64n128k16 (both operands in shared memory), O += P V as 8
//                        (16 in exact P) m64n128k16 with P in registers; while one consumer warpgroup runs its
//                        softmax the other's MMAs keep the tensor cores busy
//
// Per tile and consumer warpgroup: S, the mask where the tile is not wholly visible to the warpgroup's rows, the
// online softmax in fp32 (base-2 exponentials, nsa_softmax.h), P rounded to the input dtype (fast) or split into a
// high and a low term (exact P, as fa2_fwd.cu), O += P V. Keys are walked from the first visible one in 128-key
// tiles; a tile's rows past the sequence's keys are another sequence's (or the TMA's zero fill past the tensor):
// their scores are masked and their V rows zeroed in shared memory before P V, so nothing of another sequence
// reaches a row (0 · Inf would be NaN). Rows with no visible key give o = 0 and lse = -inf.
//
// Launch (dev.nsa4j.fa2.Fa2Kernels): grid (ceil(seqlen_q / 128), heads, batch), 384 threads, kSmemBytes of
// dynamic shared memory; params (Fa2Params, tensor maps of q, k, v: rank 3 [rows, heads, 128] innermost first,
// boxes {64, 1, 64} for q and {64, 1, 128} for k and v, 128-byte swizzle, zero fill). Rows are the varlen token
// rows, or b · S + i for dense inputs, which the host allows only when a batch's rows follow the previous batch's
// (batch stride = S · token stride). num_splits must be 1. The SM 8.x image's symbols trap: the host never picks
// them there.
#include <cuda.h>

#include <cfloat>
#include <cmath>

#include "fa2_common.cuh"
#include "fa2_params.h"
#include "nsa_mma.h"
#include "nsa_softmax.h"
#include "nsa_tma.h"
#include "nsa_wgmma.h"

namespace nsa {
namespace fah {

using namespace nsa::tc;
using nsa::fa2::KeyRange;
using nsa::fa2::SeqView;

constexpr int kD = 128;                          // Dk = Dv
constexpr int kWgRows = 64;                      // query rows per consumer warpgroup
constexpr int kConsumers = 2;
constexpr int kBM = kWgRows * kConsumers;        // query rows per CTA
constexpr int kBN = 128;                         // keys per tile
constexpr int kThreads = 128 * (1 + kConsumers);
#ifndef NSA_FAH_STAGES
#define NSA_FAH_STAGES 2
#endif
constexpr int kStages = NSA_FAH_STAGES;
constexpr int kBoxCols = 64;                     // columns per TMA box: 128 bytes, the swizzle's span
constexpr uint32_t kQBytesWg = kWgRows * kD * 2; // one consumer's Q: two 64-row regions
constexpr uint32_t kTileBytes = kBN * kD * 2;    // one K or V tile: two 128-row regions
constexpr uint32_t kStageBytes = 2 * kTileBytes;
constexpr int kSmemBytes = 1024 + kConsumers * kQBytesWg + kStages * kStageBytes;   // + slack for 1024-alignment
constexpr int kProducerRegs = 40;
constexpr int kConsumerRegs = 232;               // 128 · 40 + 256 · 232 = 384 · 168, the launch's allocation

// Keys at positions [s_lo, s_hi] against query rows at positions [t_lo, t_hi]: does some row see some key (any),
// does every row see every key (all)?
template <int MASK>
__device__ __forceinline__ bool sees_any(const Fa2Params& p, int64_t t_lo, int64_t t_hi, int64_t s_lo, int64_t s_hi) {
    if constexpr (MASK == kFa2Causal) return s_lo <= t_hi;
    if constexpr (MASK == kFa2Window) return s_lo <= t_hi && s_hi > t_lo - p.window;
    if constexpr (MASK == kFa2BlockCausal) return s_lo * p.cmp_stride + p.cmp_len - 1 <= t_hi;
    return true;
}
template <int MASK>
__device__ __forceinline__ bool sees_all(const Fa2Params& p, int64_t t_lo, int64_t t_hi, int64_t s_lo, int64_t s_hi) {
    if constexpr (MASK == kFa2Causal) return s_hi <= t_lo;
    if constexpr (MASK == kFa2Window) return s_hi <= t_lo && s_lo > t_hi - p.window;
    if constexpr (MASK == kFa2BlockCausal) return s_hi * p.cmp_stride + p.cmp_len - 1 <= t_lo;
    return true;
}

// The 256 consumer threads meet (named barrier 1; the producer warpgroup never takes part).
__device__ __forceinline__ void consumers_sync() { asm volatile("bar.sync 1, 256;\n" ::: "memory"); }

template <typename T, int MASK, bool EXACT>
__device__ __forceinline__ void fwd(const Fa2Params& p, const CUtensorMap* tm_q, const CUtensorMap* tm_k,
                                    const CUtensorMap* tm_v) {
    extern __shared__ __align__(1024) unsigned char smem_raw[];
    __shared__ __align__(8) uint64_t s_full[kStages];
    __shared__ __align__(8) uint64_t s_empty[kStages];
    __shared__ __align__(8) uint64_t s_qbar;
    const uint32_t sQ = (smem_addr(smem_raw) + 1023u) & ~1023u;   // consumer c's rows at sQ + c · kQBytesWg
    const uint32_t sStages = sQ + kConsumers * kQBytesWg;          // stage st: K at + st · kStageBytes, V after it
    const uint32_t full0 = smem_addr(s_full), empty0 = smem_addr(s_empty), qbar = smem_addr(&s_qbar);

    const int tid = threadIdx.x;
    const int wgi = tid >> 7;   // warpgroup
    const int warp = tid >> 5;
    const int lane = tid & 31;
    const int m_block = gridDim.x - 1 - blockIdx.x;   // heaviest (latest) row tiles first
    const int h = blockIdx.y;
    const int b = blockIdx.z;
    const int kvh = h / (p.heads / p.kv_heads);
    const SeqView sv = nsa::fa2::seq_view(p, b);
    const int m0 = m_block * kBM;
    if (m0 >= sv.len_q) return;   // CTA-uniform, before any barrier
    const int rows_valid = min(kBM, sv.len_q - m0);
    const int64_t t_lo = static_cast<int64_t>(p.q_start != nullptr ? p.q_start[b] : 0) + m0;   // row 0's position
    const int64_t kpos0 = p.k_start != nullptr ? p.k_start[b] : 0;
    const KeyRange kr = nsa::fa2::key_range<MASK>(p, t_lo, t_lo + rows_valid - 1, kpos0, sv.len_k);
    const int key0 = static_cast<int>(kr.lo);
    const int ntiles = kr.hi > kr.lo ? static_cast<int>((kr.hi - kr.lo + kBN - 1) / kBN) : 0;

    nsa::tma::init_pipeline(full0, empty0, kStages, 4 * kConsumers, qbar, tid);

    if (wgi == 0) {   // the producer
        asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kProducerRegs));
        if (tid == 0 && ntiles > 0) {
            const int q_row = static_cast<int>(sv.row0 + m0);
            nsa::tma::mbar_expect_tx(qbar, kConsumers * kQBytesWg);
#pragma unroll
            for (int c = 0; c < kConsumers; ++c) {
#pragma unroll
                for (int bx = 0; bx < kD / kBoxCols; ++bx) {
                    nsa::tma::load_3d(sQ + c * kQBytesWg + bx * (kWgRows * 128), tm_q, bx * kBoxCols, h,
                                      q_row + c * kWgRows, qbar);
                }
            }
            for (int i = 0; i < ntiles; ++i) {
                const int st = i % kStages;
                if (i >= kStages) nsa::tma::mbar_wait(empty0 + 8 * st, ((i / kStages) - 1) & 1);
                const uint32_t full = full0 + 8 * st;
                const uint32_t sK = sStages + st * kStageBytes;
                const int k_row = static_cast<int>(sv.krow0 + key0 + i * kBN);
                nsa::tma::mbar_expect_tx(full, kStageBytes);
#pragma unroll
                for (int bx = 0; bx < kD / kBoxCols; ++bx) {
                    nsa::tma::load_3d(sK + bx * (kBN * 128), tm_k, bx * kBoxCols, kvh, k_row, full);
                    nsa::tma::load_3d(sK + kTileBytes + bx * (kBN * 128), tm_v, bx * kBoxCols, kvh, k_row, full);
                }
            }
        }
        return;
    }

    // a consumer: warpgroup c owns CTA rows 64c .. 64c + 63; this thread rows r and r + 8 of them
    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kConsumerRegs));
    const int c = wgi - 1;
    const int wq = warp & 3;
    const uint32_t sQc = sQ + c * kQBytesWg;
    const int wrows = min(kWgRows, rows_valid - c * kWgRows);   // <= 0: no row of this warpgroup is in the sequence
    const int64_t wt_lo = t_lo + c * kWgRows, wt_hi = wt_lo + wrows - 1;
    const int r_base = c * kWgRows + wq * 16 + (lane >> 2);    // CTA rows r_base, r_base + 8
    const float scale_log2 = p.scale_log2;

    float acc[kD / 8][4], m_i[2], l_i[2];
    nsa::softmax::init_rows(acc, m_i, l_i);
    if (ntiles > 0) nsa::tma::mbar_wait(qbar, 0);

    for (int i = 0; i < ntiles; ++i) {
        const int st = i % kStages;
        nsa::tma::mbar_wait(full0 + 8 * st, (i / kStages) & 1);
        const uint32_t sK = sStages + st * kStageBytes, sV = sK + kTileBytes;
        const int j0 = key0 + i * kBN;   // the tile's first key row of the sequence
        const int kv = min(kBN, sv.len_k - j0);   // rows of the tile inside the sequence
        if (kv < kBN) {   // CTA-uniform: zero the V rows past the sequence, both consumers, before either's P V
            for (int x = tid - 128; x < (kBN - kv) * (kD / 8); x += 128 * kConsumers) {
                const int r = kv + x / (kD / 8), cc = x % (kD / 8);
                asm volatile("st.shared.v4.u32 [%0], {%1, %1, %1, %1};\n" ::"r"(sV + wg::swizzled_chunk<kBN>(r, cc)),
                             "r"(0u)
                             : "memory");
            }
            wg::fence_async_shared();
            consumers_sync();
        }
        const int64_t s_lo = kpos0 + j0, s_hi = kpos0 + j0 + kv - 1;
        if (wrows > 0 && sees_any<MASK>(p, wt_lo, wt_hi, s_lo, s_hi)) {   // warpgroup-uniform
            float s[kBN / 8][4];
            wg::fence();
#pragma unroll
            for (int ks = 0; ks < kD / 16; ++ks) {
                wg::mma_m64n128k16_ss<T>(s, wg::desc_k_major<kWgRows>(sQc, ks), wg::desc_k_major<kBN>(sK, ks), ks > 0);
            }
            wg::commit();
            wg::wait<0>();
            wg::fence_operands(s);
            if (kv < kBN || !sees_all<MASK>(p, wt_lo, wt_hi, s_lo, s_hi)) {
#pragma unroll
                for (int nt = 0; nt < kBN / 8; ++nt) {
#pragma unroll
                    for (int e = 0; e < 4; ++e) {
                        const int j = j0 + nt * 8 + 2 * (lane & 3) + (e & 1);
                        const int64_t t = t_lo + r_base + 8 * (e >> 1);
                        if (j >= sv.len_k || !nsa::fa2::visible<MASK>(t, kpos0 + j, p)) s[nt][e] = -INFINITY;
                    }
                }
            }
            nsa::softmax::softmax_tile(s, m_i, l_i, acc, scale_log2);
            uint32_t pa[kBN / 16][4], pl[EXACT ? kBN / 16 : 1][4];
#pragma unroll
            for (int kk = 0; kk < kBN / 16; ++kk) p_frag<T, EXACT>(s, kk, pa[kk], pl[EXACT ? kk : 0]);
            wg::fence();
#pragma unroll
            for (int kk = 0; kk < kBN / 16; ++kk) {
                wg::mma_m64n128k16_rs<T>(acc, pa[kk], wg::desc_mn_major<kBN>(sV, kk), 1);
                if constexpr (EXACT) wg::mma_m64n128k16_rs<T>(acc, pl[kk], wg::desc_mn_major<kBN>(sV, kk), 1);
            }
            wg::commit();
            wg::wait<0>();
            wg::fence_operands(acc);
        }
        __syncwarp();
        if (lane == 0) nsa::tma::mbar_arrive(empty0 + 8 * st);   // this warp is done with stage st
    }

    // o = O / l (0 where no key was visible), lse = m·scale + ln l (natural log; -inf then)
    const bool fp32 = p.out_fp32 != 0;
#pragma unroll
    for (int hf = 0; hf < 2; ++hf) {
        float l = l_i[hf];
        l += __shfl_xor_sync(0xffffffffu, l, 1);
        l += __shfl_xor_sync(0xffffffffu, l, 2);
        const int r = r_base + 8 * hf;
        if (r >= rows_valid) continue;
        const float inv = l > 0.f ? 1.f / l : 0.f;
        const int64_t off = sv.o + static_cast<int64_t>(m0 + r) * p.o_tok_stride + h * p.o_head_stride;
#pragma unroll
        for (int nt = 0; nt < kD / 8; ++nt) {
            nsa::fa2::store2<T>(p.o, off + nt * 8 + 2 * (lane & 3), acc[nt][2 * hf] * inv, acc[nt][2 * hf + 1] * inv,
                                fp32);
        }
        if (p.lse != nullptr && (lane & 3) == 0) {
            p.lse[sv.lse + static_cast<int64_t>(m0 + r) * p.lse_tok_stride + h] =
                l > 0.f ? m_i[hf] * p.scale + logf(l) : -INFINITY;
        }
    }
}

}  // namespace fah
}  // namespace nsa

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define NSA_FAH_BODY(T, MASK, EXACT) nsa::fah::fwd<T, MASK, EXACT>(p, &tm_q, &tm_k, &tm_v);
#else
#define NSA_FAH_BODY(T, MASK, EXACT) __trap();
#endif
// Symbols: nsa_fa2_hopper_<mask>_<dtype>_d128[_exact]
#define NSA_FAH_KERNEL(NAME, T, MASK, EXACT)                                                                  \
    extern "C" __global__ void __launch_bounds__(nsa::fah::kThreads, 1)                                      \
        NAME(const __grid_constant__ nsa::Fa2Params p, const __grid_constant__ CUtensorMap tm_q,             \
             const __grid_constant__ CUtensorMap tm_k, const __grid_constant__ CUtensorMap tm_v) {           \
        NSA_FAH_BODY(T, MASK, EXACT)                                                                          \
    }
#define NSA_FAH_MASK(MASKNAME, MASK, SUFFIX, T)                                          \
    NSA_FAH_KERNEL(nsa_fa2_hopper_##MASKNAME##_##SUFFIX##_d128, T, MASK, false)          \
    NSA_FAH_KERNEL(nsa_fa2_hopper_##MASKNAME##_##SUFFIX##_d128_exact, T, MASK, true)
#define NSA_FAH_MASKS(SUFFIX, T)                                  \
    NSA_FAH_MASK(none, nsa::kFa2None, SUFFIX, T)                  \
    NSA_FAH_MASK(causal, nsa::kFa2Causal, SUFFIX, T)              \
    NSA_FAH_MASK(window, nsa::kFa2Window, SUFFIX, T)              \
    NSA_FAH_MASK(blockcausal, nsa::kFa2BlockCausal, SUFFIX, T)
NSA_FAH_MASKS(bf16, __nv_bfloat16)
NSA_FAH_MASKS(fp16, __half)
#undef NSA_FAH_MASKS
#undef NSA_FAH_MASK
#undef NSA_FAH_KERNEL
#undef NSA_FAH_BODY
