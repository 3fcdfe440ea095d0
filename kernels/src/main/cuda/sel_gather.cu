// Packed selection, step 1 (docs/routing.md path `sdpa-packed`: "gather the chosen blocks' keys/values per
// (query, group), then dense attention"). See SelGatherParams (nsa_params.h).
//
// One warp per (query token, KV group) row; lanes copy the feature dims. The chosen blocks are visited exactly
// as attention.cu's RANGES walk visits them (next smallest index above the previous one, duplicates and
// negative entries skipped, tokens s <= t of each, clamped to the sequence's keys), so the packed row holds
// the same keys in the same order, bit for bit (a raw copy of the element bits); step 2 (the attention
// kernel over the packed rows) then adds them with the same arithmetic and gives the same bits as RANGES.
#include <climits>
#include <cstdint>

#include "nsa_params.h"
#include "nsa_dtype.h"
#include "nsa_launch.h"

namespace nsa {

constexpr int kGatherWarps = 4;  // rows per block

// The b with cu[b] <= tok < cu[b + 1] (same search as attention.cu's sequence_of).
__device__ __forceinline__ int gather_sequence_of(const int32_t* cu, int batch, int tok) {
    int lo = 0, hi = batch - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) >> 1;
        if (cu[mid] <= tok) lo = mid; else hi = mid - 1;
    }
    return lo;
}

// E: an unsigned integer of the element's size (the copy moves bits, never converts).
template <typename E>
__device__ void sel_gather_row(const SelGatherParams& p) {
    const int warp = threadIdx.x >> 5;
    const int lane = threadIdx.x & 31;
    const int64_t total = static_cast<int64_t>(p.rows) * p.groups;
    const int64_t r = static_cast<int64_t>(blockIdx.x) * kGatherWarps + warp;
    if (r >= total) return;
    if (lane == 0) {
        p.packed_cu_q[r] = static_cast<int32_t>(r);
        p.packed_cu_k[r] = static_cast<int32_t>(r * p.cap);  // host checks total * cap < 2^31
        if (r == 0) {
            p.packed_cu_q[total] = static_cast<int32_t>(total);
            p.packed_cu_k[total] = static_cast<int32_t>(total * p.cap);
        }
    }
    const int tok = p.tok0 + static_cast<int>(r / p.groups);
    const int g = static_cast<int>(r - (r / p.groups) * p.groups);
    const int b = gather_sequence_of(p.cu_q, p.batch, tok);
    const int t = (p.q_start ? p.q_start[b] : 0) + (tok - p.cu_q[b]);
    const int k0 = p.cu_k[b];
    const int nk = p.cu_k[b + 1] - k0;
    const int kpos0 = p.k_start ? p.k_start[b] : 0;
    const int32_t* blk = p.blocks + static_cast<int64_t>(tok) * p.blocks_tok_stride + g * p.blocks_group_stride;
    E* pk = static_cast<E*>(p.packed_k) + r * p.cap * p.dk;
    E* pv = static_cast<E*>(p.packed_v) + r * p.cap * p.dv;
    const E* kb = static_cast<const E*>(p.k) + g * p.k_group_stride;
    const E* vb = static_cast<const E*>(p.v) + g * p.v_group_stride;

    int n = 0;
    int prev = -1;
    for (;;) {
        int j = INT_MAX;
        for (int e = 0; e < p.n_sel; ++e) {
            const int bj = blk[e];
            if (bj > prev && bj < j) j = bj;
        }
        if (j == INT_MAX) break;
        prev = j;
        const int64_t blo = static_cast<int64_t>(j) * p.sel_block;
        if (blo > t) break;
        const int lo = static_cast<int>(max(blo, static_cast<int64_t>(kpos0)));
        const int hi = static_cast<int>(min(min(blo + p.sel_block, static_cast<int64_t>(t) + 1),
                                            static_cast<int64_t>(kpos0) + nk));
        for (int s = lo; s < hi; ++s, ++n) {
            const int64_t krow = k0 + (s - kpos0);
            const E* ks = kb + krow * p.k_tok_stride;
            const E* vs = vb + krow * p.v_tok_stride;
            E* kd = pk + static_cast<int64_t>(n) * p.dk;
            E* vd = pv + static_cast<int64_t>(n) * p.dv;
            for (int c = lane; c < p.dk; c += 32) kd[c] = ks[c];
            for (int c = lane; c < p.dv; c += 32) vd[c] = vs[c];
        }
    }
    if (lane == 0) {
        p.packed_len[r] = n;
        p.packed_last[r] = n - 1;
    }
}

}  // namespace nsa

#define NSA_SEL_GATHER(SUFFIX, E)                                                                          \
    extern "C" __global__ void __launch_bounds__(32 * nsa::kGatherWarps)                                    \
        nsa_sel_gather_##SUFFIX(const __grid_constant__ nsa::SelGatherParams p) {                           \
        nsa::sel_gather_row<E>(p);                                                                         \
    }

NSA_SEL_GATHER(fp32, uint32_t)
NSA_SEL_GATHER(fp16, uint16_t)
NSA_SEL_GATHER(bf16, uint16_t)
