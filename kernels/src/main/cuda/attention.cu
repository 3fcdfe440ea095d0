// Reference attention for every NSA branch (docs/routing.md paths `sdpa` and `sdpa-masked`).
//
// One warp per (query token, head). Lanes split the head dims (q and the output accumulator live in
// registers, DCH = ceil(D / 32) elements per lane); keys are walked one at a time in ascending order with
// an online softmax in fp32: score by a butterfly warp sum (fixed order: deterministic), running max m,
// running sum l, acc = acc * exp(m_old - m) + exp(s - m) * v. Obviously right and slow by design: it is
// the yardstick the fast paths are measured against, not a fast path.
//
// Bounds: every index is derived from cu_q / cu_k and the sizes in the params; the host validates them
// before launch (NsaArgumentException), so the kernel trusts them.
#include <cfloat>
#include <climits>
#include <cmath>

#include "nsa_params.h"
#include "nsa_dtype.h"
#include "nsa_launch.h"
#include "nsa_attn_row.cuh"

namespace nsa {

constexpr int kAttnWarps = 4;  // warps per block: (query, head) rows per block

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

// Adds key row `krow` of KV head `kvh` (within the params' key tensor) to the row's online softmax.
template <typename T, int DCH>
__device__ __forceinline__ void add_key(const AttnParams& p, Row<T, DCH>& r, int lane, int64_t krow, int kvh) {
    row_add<T, DCH>(r, lane, static_cast<const T*>(p.k) + krow * p.k_tok_stride + kvh * p.k_head_stride,
                    static_cast<const T*>(p.v) + krow * p.v_tok_stride + kvh * p.v_head_stride, p.dk, p.dv, p.scale);
}

template <typename T, int DCH>
__device__ void attention_row(const AttnParams& p) {
    const int warp = threadIdx.x >> 5;
    const int lane = threadIdx.x & 31;
    const int64_t row = static_cast<int64_t>(blockIdx.x) * kAttnWarps + warp;
    if (row >= static_cast<int64_t>(p.nnz_q) * p.heads) return;
    const int tok = static_cast<int>(row / p.heads);
    const int h = static_cast<int>(row - static_cast<int64_t>(tok) * p.heads);
    const int kvh = h / (p.heads / p.kv_heads);
    const int b = sequence_of(p.cu_q, p.batch, tok);
    const int t = (p.q_start ? p.q_start[b] : 0) + (tok - p.cu_q[b]);
    const int k0 = p.cu_k[b];
    const int nk = p.cu_k[b + 1] - k0;
    const int kpos0 = p.k_start ? p.k_start[b] : 0;  // position of key row k0

    Row<T, DCH> r;
    row_init<T, DCH>(r, static_cast<const T*>(p.q) + static_cast<int64_t>(tok) * p.q_tok_stride + h * p.q_head_stride,
                     p.dk, lane);

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
            if (visible) add_key<T, DCH>(p, r, lane, k0 + i, kvh);
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
            for (int s = lo; s < hi; ++s) add_key<T, DCH>(p, r, lane, k0 + (s - kpos0), kvh);
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
        for (int s = lo; s < hi; ++s) add_key<T, DCH>(p, r, lane, k0 + (s - kpos0), kvh);
    }

    // no visible key: o = 0, lse = -inf (never NaN)
    float* lse = p.lse ? p.lse + static_cast<int64_t>(tok) * p.lse_tok_stride + h : nullptr;
    const int64_t o_off = static_cast<int64_t>(tok) * p.o_tok_stride + h * p.o_head_stride;
    if (p.out_fp32) {
        row_store<float, T, DCH>(r, lane, static_cast<float*>(p.o) + o_off, p.dv, lse);
    } else {
        row_store<T, T, DCH>(r, lane, static_cast<T*>(p.o) + o_off, p.dv, lse);
    }
}

}  // namespace nsa

// nsa_attention_<dtype>_d<32·DCH>: head dims (Dk and Dv) up to 32·DCH.
#define NSA_ATTENTION(SUFFIX, T, DCH)                                                                      \
    extern "C" __global__ void __launch_bounds__(32 * nsa::kAttnWarps)                                      \
        nsa_attention_##SUFFIX##_d##DCH(const __grid_constant__ nsa::AttnParams p) {                        \
        nsa::attention_row<T, DCH>(p);                                                                     \
    }

NSA_ATTENTION(fp32, float, 1)
NSA_ATTENTION(fp32, float, 2)
NSA_ATTENTION(fp32, float, 4)
NSA_ATTENTION(fp32, float, 8)
NSA_ATTENTION(fp16, __half, 1)
NSA_ATTENTION(fp16, __half, 2)
NSA_ATTENTION(fp16, __half, 4)
NSA_ATTENTION(fp16, __half, 8)
NSA_ATTENTION(bf16, __nv_bfloat16, 1)
NSA_ATTENTION(bf16, __nv_bfloat16, 2)
NSA_ATTENTION(bf16, __nv_bfloat16, 4)
NSA_ATTENTION(bf16, __nv_bfloat16, 8)
