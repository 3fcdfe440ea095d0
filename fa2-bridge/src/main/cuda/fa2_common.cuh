// What the FA-2 kernels (fa2_fwd.cu) and the Hopper forward (fa2_hopper.cu) share: the masks, where a sequence's
// rows start, the key rows a tile of query rows may see, paired stores.
#pragma once

#include <cstdint>

#include "fa2_params.h"
#include "nsa_mma.h"

namespace nsa {
namespace fa2 {

using namespace nsa::tc;

template <int MASK>
__device__ __forceinline__ bool visible(int64_t t, int64_t s, const Fa2Params& p) {
    if constexpr (MASK == kFa2Causal) return s <= t;
    if constexpr (MASK == kFa2Window) return s <= t && s > t - p.window;
    if constexpr (MASK == kFa2BlockCausal) return s * p.cmp_stride + p.cmp_len - 1 <= t;
    return true;
}

// Where a sequence's rows start (in elements of q/k/v/o and rows of lse), and its lengths.
struct SeqView {
    int64_t q, k, v, o, lse, row0;  // row0: the sequence's first row in [rows] (split-KV workspace)
    int len_q, len_k;
    int64_t krow0;  // the sequence's first key row (of [B * Sk] dense, [nnz_k] varlen)
};

__device__ __forceinline__ SeqView seq_view(const Fa2Params& p, int b) {
    SeqView s;
    if (p.cu_q != nullptr) {
        const int q0 = p.cu_q[b], k0 = p.cu_k[b];
        s.len_q = p.cu_q[b + 1] - q0;
        s.len_k = p.cu_k[b + 1] - k0;
        s.q = q0 * p.q_tok_stride;
        s.k = k0 * p.k_tok_stride;
        s.v = k0 * p.v_tok_stride;
        s.o = q0 * p.o_tok_stride;
        s.lse = q0 * p.lse_tok_stride;
        s.row0 = q0;
        s.krow0 = k0;
    } else {
        s.len_q = p.seqlen_q;
        s.len_k = p.seqlen_k;
        s.q = b * p.q_batch_stride;
        s.k = b * p.k_batch_stride;
        s.v = b * p.v_batch_stride;
        s.o = b * p.o_batch_stride;
        s.lse = b * p.lse_batch_stride;
        s.row0 = static_cast<int64_t>(b) * p.seqlen_q;
        s.krow0 = static_cast<int64_t>(b) * p.seqlen_k;
    }
    return s;
}

template <typename T>
__device__ __forceinline__ void store2(void* base, int64_t off, float x0, float x1, bool fp32) {
    if (fp32) {
        *reinterpret_cast<float2*>(static_cast<float*>(base) + off) = make_float2(x0, x1);
    } else {
        *reinterpret_cast<uint32_t*>(static_cast<T*>(base) + off) = Half2<T>::pack(x0, x1);
    }
}

// Key rows [lo, hi) of a sequence (len_k keys, the first at position kpos0) that some query at positions
// [t_lo, t_hi] may see under MASK; lo >= hi when none.
struct KeyRange {
    int64_t lo, hi;
};
template <int MASK>
__device__ __forceinline__ KeyRange key_range(const Fa2Params& p, int64_t t_lo, int64_t t_hi, int64_t kpos0, int len_k) {
    KeyRange r{0, len_k};
    if constexpr (MASK == kFa2Causal || MASK == kFa2Window) r.hi = min(r.hi, t_hi - kpos0 + 1);
    if constexpr (MASK == kFa2Window) r.lo = max(r.lo, t_lo - p.window + 1 - kpos0);
    if constexpr (MASK == kFa2BlockCausal) {
        const int64_t span = t_hi + 1 - p.cmp_len;
        r.hi = min(r.hi, (span < 0 ? 0 : span / p.cmp_stride + 1) - kpos0);
    }
    return r;
}

}  // namespace fa2
}  // namespace nsa
