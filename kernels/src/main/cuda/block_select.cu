// Block selection (the NSA spec (docs/nsa-spec.md) "Selection branch"), varlen: block importance from (q, K̃, lse), the group
// sum, and top-n with the forced blocks and the tie-break.
//
// For query token t (position in its sequence) and KV group g, with cur = t / l' and
// ncmp = S_cmp(t + 1) visible compressed tokens:
//   p(h, i)  = exp(scale * q[t,h]·K̃[i,g] - lse[t,h])                       (fp32, expf)
//   ω(i, j)  = |[i·d, i·d + l) ∩ [j·l', (j+1)·l')| / l                       (one IEEE division)
//   P(j)     = Σ_{h in group, ascending} Σ_{i ascending, overlapping j} p(h, i) · ω(i, j)
// dot products accumulate in fp32 over the feature axis in ascending order (fmaf); P accumulates with
// fmaf in the order above. The result therefore does not depend on the grid or on the lane a block
// lands on: bitwise identical on repeated runs, no atomics.
//
// Chosen set: cur + 1 <= n: blocks 0..cur. Else {0, cur - 1, cur} plus the n - 3 best of 1..cur-2 by
// the key (fp32 bits of max(P, 0) descending, block index ascending) — the CPU oracle's order. Written
// sorted ascending, -1 padded, into indices[t, g, 0..n).
//
// scores (nullable) [nnz, G, nb_max]: P(j) for j <= cur (also when cur + 1 <= n), -inf for
// cur < j < nb_max (not a candidate). A row whose sequence the device-side cu arrays do not describe
// consistently (cannot happen with the host's plan) gets indices -1 and NaN scores, never an
// out-of-bounds read.
//
// Work split: one warp per (token, group) row, grid-stride over rows. Lanes take candidate blocks
// j = c0 + lane in chunks of 32; each lane computes its block's score from the (at most l'/d + l/d)
// compressed tokens overlapping it; the chunk goes to the shared top-n (nsa_topn.h).
#include "nsa_params.h"
#include "nsa_dtype.h"
#include "nsa_launch.h"
#include "nsa_topn.h"
#include "nsa_select_row.cuh"

namespace nsa {

constexpr int kSelectWarps = 256 / 32;

template <typename T>
__device__ __forceinline__ void block_select(const BlockSelectParams& p) {
    if (p.kv_heads <= 0 || p.heads <= 0 || p.n_sel < 1 || p.n_sel > NSA_SELECT_MAX_N) return;
    const int lane = threadIdx.x & 31;
    const int64_t rows = static_cast<int64_t>(p.nnz) * p.kv_heads;
    const int h = p.heads / p.kv_heads;
    const int n = p.n_sel;
    const float nan = __int_as_float(0x7fc00000);
    __shared__ unsigned long long s_top[kSelectWarps][kTopCap];   // each warp's top-n buffer (nsa_topn.h)

    for (int64_t row = global_thread() >> 5; row < rows; row += grid_threads() >> 5) {   // warp-uniform
        const int64_t r = row / p.kv_heads;
        const int g = static_cast<int>(row - r * p.kv_heads);
        int32_t* out = p.indices + r * p.idx_tok_stride + g * p.idx_group_stride;
        float* srow = p.scores ? p.scores + r * p.score_tok_stride + g * p.score_group_stride : nullptr;

        const int b = select_find_sequence(p.cu_seqlens, p.batch, r);
        const int64_t start = p.cu_seqlens[b];
        const int64_t end = p.cu_seqlens[b + 1];
        const int64_t t64 = r - start;
        const int t = static_cast<int>(t64);
        const int ncmp = select_visible_cmp(t64, p.block_len, p.block_stride);
        const int64_t cbase = p.cu_seqlens_cmp[b];
        const int64_t cend = p.cu_seqlens_cmp[b + 1];
        const bool ok = start >= 0 && start <= r && r < end && end <= p.nnz && cbase >= 0 && cend <= p.nnz_cmp
                        && cbase + ncmp <= cend;
        if (!ok) {
            for (int k = lane; k < n; k += 32) out[k] = -1;
            if (srow) for (int j = lane; j < p.nb_max; j += 32) srow[j] = nan;
            continue;
        }
        const T* q_row = static_cast<const T*>(p.q) + r * p.q_tok_stride + static_cast<int64_t>(g) * h * p.q_head_stride;
        const float* lse_row = p.lse + r * p.lse_tok_stride + static_cast<int64_t>(g) * h * p.lse_head_stride;
        const T* k_seq = static_cast<const T*>(p.k_cmp) + cbase * p.k_tok_stride + g * p.k_group_stride;
        select_row<T>(p, q_row, lse_row, k_seq, t, ncmp, h, out, srow, s_top[(threadIdx.x >> 5) % kSelectWarps], lane);
        __syncwarp();
    }
}

}  // namespace nsa

// nsa_block_select_<dtype of q and K̃> (lse fp32, indices int32, scores fp32).
#define NSA_BLOCK_SELECT(SUFFIX, T)                                                         \
    NSA_EXTERN nsa_block_select_##SUFFIX(const __grid_constant__ nsa::BlockSelectParams p) { \
        nsa::block_select<T>(p);                                                            \
    }

NSA_BLOCK_SELECT(fp32, float)
NSA_BLOCK_SELECT(fp16, __half)
NSA_BLOCK_SELECT(bf16, __nv_bfloat16)
