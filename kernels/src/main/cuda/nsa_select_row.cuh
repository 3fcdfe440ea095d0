// One (token, group) row of the block selection (block_select.cu's rules, documented there): block scores from
// (q, K̃, lse) over the group's heads, and the chosen set with the forced blocks and the tie-break. Used by
// block_select.cu (the reference scorer over a varlen batch) and decode.cu (one query per sequence against the
// decode cache's K̃). Only the params' strides and scalars are read here.
#pragma once

#include "nsa_params.h"
#include "nsa_dtype.h"
#include "nsa_topn.h"

namespace nsa {

// P(j) for one row; q_row points at q[t, first head of the group], k_seq at K̃[first compressed token
// of the sequence, g], lse_row at lse[t, first head of the group].
template <typename T>
__device__ float select_block_score(const BlockSelectParams& p, const T* q_row, const float* lse_row,
                                    const T* k_seq, int ncmp, int h, int j) {
    const int64_t bs = static_cast<int64_t>(j) * p.sel_block;
    const int64_t be = bs + p.sel_block;
    int64_t lo, hi;
    select_overlap_range(j, p.block_len, p.block_stride, p.sel_block, ncmp, lo, hi);
    const float lf = static_cast<float>(p.block_len);
    float acc = 0.f;
    for (int hh = 0; hh < h; ++hh) {
        const T* qh = q_row + hh * p.q_head_stride;
        const float lse = lse_row[hh * p.lse_head_stride];
        for (int64_t i = lo; i < hi; ++i) {
            const T* k = k_seq + i * p.k_tok_stride;
            float dot = 0.f;
            for (int c = 0; c < p.dk; ++c) dot = __fmaf_rn(load1(qh + c), load1(k + c), dot);
            const float pr = expf(__fsub_rn(__fmul_rn(p.scale, dot), lse));
            const int64_t s = i * p.block_stride;
            const int64_t ov = min(s + p.block_len, be) - max(s, bs);
            acc = __fmaf_rn(pr, __fdiv_rn(static_cast<float>(ov), lf), acc);
        }
    }
    return acc;
}

// The chosen blocks of query position t (ncmp visible compressed tokens, h heads in the group) into out[0..n),
// sorted, -1 padded; scores into srow[0..nb_max) when srow is not null. buf: the warp's kTopCap shared entries.
// Warp-uniform arguments; every lane of the warp calls it.
template <typename T>
__device__ __forceinline__ void select_row(const BlockSelectParams& p, const T* q_row, const float* lse_row,
                                           const T* k_seq, int t, int ncmp, int h, int32_t* out, float* srow,
                                           unsigned long long* buf, int lane) {
    const int n = p.n_sel;
    const int keep = n - 3;
    const float neg_inf = __int_as_float(0xff800000);
    const int cur = t / p.sel_block;
    const bool all = cur + 1 <= n;
    const bool topk = !all && keep > 0;
    TopList top = topn_list(buf, keep);
    const int jend = srow ? max(cur + 1, p.nb_max) : (topk ? cur + 1 : 0);
    for (int c0 = 0; c0 < jend; c0 += 32) {
        const int j = c0 + lane;
        float s = 0.f;
        if (j <= cur) s = select_block_score<T>(p, q_row, lse_row, k_seq, ncmp, h, j);
        if (srow && j < p.nb_max) srow[j] = j <= cur ? s : neg_inf;
        if (topk) topn_offer(top, keep, topn_candidate(s, j, cur), lane);
    }
    topn_write(out, top, n, cur, all, lane);
}

}  // namespace nsa
