// Where a token row lies in a varlen batch, shared by the scorers (nsa_topn.h) and the compression backward
// (attention_bwd.cu, compress_mlp_bwd.cu): the sequence of a row by binary search of cu, and a raw token's place
// among the compressed blocks that hold it.
#pragma once

#include <cstdint>

namespace nsa {

// The sequence b with cu[b] <= r < cu[b + 1] (the last b with cu[b] <= r).
__device__ __forceinline__ int select_find_sequence(const int32_t* cu, int batch, int64_t r) {
    int lo = 0, hi = batch;
    while (hi - lo > 1) {
        const int mid = (lo + hi) >> 1;
        if (cu[mid] <= r) lo = mid; else hi = mid;
    }
    return lo;
}

// Element x of a raw [nnz, groups, dim] tensor in the compression backward (compress_avg_bwd, compress_mlp_bwd): its
// token, group and feature, the token's position pos in its sequence, the sequence's first compressed row c0, and
// the compressed tokens ilo..ihi whose block [i·d, i·d + l) holds pos (none when ilo > ihi: pos past the last
// block's start, or a sequence shorter than l).
struct RawInBlocks {
    int tok, g, c, pos, c0, ilo, ihi;
};

__device__ __forceinline__ RawInBlocks raw_in_blocks(int64_t x, int groups, int dim, const int32_t* cu,
                                                     const int32_t* cu_cmp, int batch, int l, int d) {
    RawInBlocks r;
    r.c = static_cast<int>(x % dim);
    r.g = static_cast<int>(x / dim % groups);
    r.tok = static_cast<int>(x / (static_cast<int64_t>(dim) * groups));
    const int b = select_find_sequence(cu, batch, r.tok);
    r.pos = r.tok - cu[b];
    r.c0 = cu_cmp[b];
    const int first = r.pos - l + 1;   // i·d >= first  <=>  i·d + l > pos
    r.ilo = first <= 0 ? 0 : (first + d - 1) / d;
    r.ihi = min(cu_cmp[b + 1] - r.c0 - 1, r.pos / d);
    return r;
}

}  // namespace nsa
