// The keys of one (query, head) row of the reference attention (attention.cu) and its backward (attention_bwd.cu):
// which key rows a query at position t sees under the params' mask, walked in the order the forward adds them, so
// the backward's dq sums the same keys in the same order.
#pragma once

#include <climits>
#include <cstdint>

#include "nsa_params.h"

namespace nsa {

// Sequence of a query token: the b with cu_q[b] <= tok < cu_q[b + 1] (binary search; zero-length ok).
__device__ __forceinline__ int sequence_of(const int32_t* cu, int batch, int tok) {
    int lo = 0, hi = batch - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) >> 1;
        if (cu[mid] <= tok) lo = mid; else hi = mid - 1;
    }
    return lo;
}

__device__ __forceinline__ int compressed_visible(int t, int l, int d) {
    // ncmp(t) = S_cmp(t + 1); (t + 1 - l) in int64 so t near INT32_MAX cannot wrap
    const int64_t span = static_cast<int64_t>(t) + 1 - l;
    return span < 0 ? 0 : static_cast<int>(span / d + 1);
}

// Where one (query, head) row of a reference attention call stands: its token, head, KV head, sequence, position,
// and its sequence's key rows k0 .. k0 + nk - 1 from position kpos0.
struct AttnRowPos {
    int tok, h, kvh, b, t, k0, nk, kpos0;
};

__device__ __forceinline__ AttnRowPos attn_row_pos(const AttnParams& p, int64_t row) {
    AttnRowPos r;
    r.tok = static_cast<int>(row / p.heads);
    r.h = static_cast<int>(row - static_cast<int64_t>(r.tok) * p.heads);
    r.kvh = r.h / (p.heads / p.kv_heads);
    r.b = sequence_of(p.cu_q, p.batch, r.tok);
    r.t = (p.q_start ? p.q_start[r.b] : 0) + (r.tok - p.cu_q[r.b]);
    r.k0 = p.cu_k[r.b];
    r.nk = p.cu_k[r.b + 1] - r.k0;
    r.kpos0 = p.k_start ? p.k_start[r.b] : 0;   // position of key row k0
    return r;
}

// Calls visit(krow) for every key row the query token `tok` (position t, KV head kvh) sees, in the forward's order:
// the keys of its sequence are rows k0 .. k0 + nk - 1 at positions kpos0 .. kpos0 + nk - 1 (compressed indices for
// kMaskBlockCausal). kWalkAll (or kMaskNone): every key tested in turn; kMaskChosen: the chosen blocks in ascending
// index, each once; else the mask's contiguous range.
template <typename Visit>
__device__ __forceinline__ void attn_walk(const AttnParams& p, int tok, int t, int kvh, int k0, int nk, int kpos0,
                                          Visit&& visit) {
    const int32_t* blk = p.blocks ? p.blocks + static_cast<int64_t>(tok) * p.blocks_tok_stride + kvh * p.blocks_head_stride
                                  : nullptr;
    if (p.walk == kWalkAll || p.mask == kMaskNone) {
        for (int i = 0; i < nk; ++i) {
            const int s = kpos0 + i;  // key position (compressed index for kMaskBlockCausal)
            bool visible;
            switch (p.mask) {
                case kMaskCausal: visible = s <= t; break;
                case kMaskWindow: visible = s <= t && s > t - p.window; break;
                case kMaskBlockCausal:
                    visible = static_cast<int64_t>(s) * p.cmp_stride + p.cmp_len - 1 <= t;
                    break;
                case kMaskChosen: {
                    visible = false;
                    if (s <= t) {
                        const int j = s / p.sel_block;
                        for (int e = 0; e < p.n_sel; ++e) visible |= blk[e] == j;
                    }
                    break;
                }
                default: visible = true;
            }
            if (visible) visit(static_cast<int64_t>(k0) + i);
        }
    } else if (p.mask == kMaskChosen) {
        // Chosen blocks in ascending block index, each once (the next smallest index above the previous
        // one: O(n_sel^2), nothing to allocate), tokens s <= t of each. Ascending order makes this walk
        // add exactly the keys of the per-key walk in the same order, so the two agree bitwise also for
        // unsorted or duplicated index sets.
        int prev = -1;
        for (;;) {
            int j = INT_MAX;
            for (int e = 0; e < p.n_sel; ++e) {
                const int b = blk[e];
                if (b > prev && b < j) j = b;
            }
            if (j == INT_MAX) break;
            prev = j;
            const int64_t blo = static_cast<int64_t>(j) * p.sel_block;
            if (blo > t) break;  // this and every later block start after t
            const int lo = static_cast<int>(max(blo, static_cast<int64_t>(kpos0)));
            const int hi = static_cast<int>(min(min(blo + p.sel_block, static_cast<int64_t>(t) + 1),
                                                static_cast<int64_t>(kpos0) + nk));
            for (int s = lo; s < hi; ++s) visit(static_cast<int64_t>(k0) + (s - kpos0));
        }
    } else {
        int lo = kpos0, hi = kpos0 + nk;  // key positions [lo, hi)
        if (p.mask == kMaskCausal) {
            hi = min(hi, t + 1);
        } else if (p.mask == kMaskWindow) {
            hi = min(hi, t + 1);
            lo = max(lo, t - p.window + 1);
        } else if (p.mask == kMaskBlockCausal) {
            hi = min(hi, compressed_visible(t, p.cmp_len, p.cmp_stride));
        }
        for (int s = lo; s < hi; ++s) visit(static_cast<int64_t>(k0) + (s - kpos0));
    }

}

}  // namespace nsa
