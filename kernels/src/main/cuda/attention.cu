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
#include "nsa_attn_walk.cuh"

namespace nsa {

constexpr int kAttnWarps = 4;  // warps per block: (query, head) rows per block

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
    const AttnRowPos at = attn_row_pos(p, row);
    const int tok = at.tok, h = at.h, kvh = at.kvh;

    Row<T, DCH> r;
    row_init<T, DCH>(r, static_cast<const T*>(p.q) + static_cast<int64_t>(tok) * p.q_tok_stride + h * p.q_head_stride,
                     p.dk, lane);

    attn_walk(p, tok, at.t, kvh, at.k0, at.nk, at.kpos0, [&](int64_t krow) { add_key<T, DCH>(p, r, lane, krow, kvh); });

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
