// The reference backward of NSA (docs/nsa-spec.md §10), the yardstick the fast backward kernels will be held to, as
// attention.cu is the forward's: plain fp32 warps, fixed orders, no atomics, so every gradient is deterministic.
//
//   gate_bwd          one warp per (token, head): dL/dg_c = dL/do · o_c and dL/do_c = g_c · dL/do (c = cmp, sel, win)
//   attention_bwd_dq  one warp per (token, head) and branch: the forward's keys in the forward's order
//                     (nsa_attn_walk.cuh), P_i = exp(scale·q·k_i - lse) from the saved lse, dS_i = P_i (dO_c·v_i - D)
//                     with D = dO_c·o_c, dq (+)= scale Σ dS_i k_i; also writes D
//   attention_bwd_dkv one warp per (key row, KV head) and branch: every query row of its sequence that sees the key
//                     (the forward's mask, tested per query: causal, window, block-causal, chosen blocks), each head of
//                     the group in turn, queries ascending: dv = Σ P dO_c, dk = scale Σ dS q (GQA summed over heads)
//   compress_avg_bwd  one thread per (raw token, group, feature): phi = avg's gradient back to the raw k / v
// A key-centric dk/dv needs no atomics: each key's sum is one warp's. The chosen-block test scans the query's n
// indices, so the selection branch's dk/dv costs O(S · n) per key here; the fast kernel will walk a block-to-queries
// index instead (issue 12). Bounds: every index comes from cu / start arrays, the indices and the sizes; the host
// checks them before launch, as for the forward.
#include <cmath>

#include "nsa_params.h"
#include "nsa_dtype.h"
#include "nsa_launch.h"
#include "nsa_attn_row.cuh"
#include "nsa_attn_walk.cuh"
#include "nsa_seq.h"

namespace nsa {

constexpr int kBwdWarps = 4;   // rows per block of the warp kernels

// A warp's lanes hold elements c = lane + 32·j < n of a row.
template <typename T, int DCH>
__device__ __forceinline__ void bwd_load(float (&x)[DCH], const T* p, int n, int lane) {
#pragma unroll
    for (int j = 0; j < DCH; ++j) {
        const int c = lane + 32 * j;
        x[j] = c < n ? load1(p + c) : 0.f;
    }
}

template <int DCH>
__device__ __forceinline__ float bwd_dot(const float (&x)[DCH], const float (&y)[DCH]) {
    float part = 0.f;
#pragma unroll
    for (int j = 0; j < DCH; ++j) part = fmaf(x[j], y[j], part);
    return warp_sum(part);
}

template <int DCH>
__device__ __forceinline__ void bwd_store(float* p, const float (&x)[DCH], float mul, int n, int lane, bool add) {
#pragma unroll
    for (int j = 0; j < DCH; ++j) {
        const int c = lane + 32 * j;
        if (c < n) p[c] = add ? p[c] + x[j] * mul : x[j] * mul;
    }
}

template <typename T, int DCH>
__device__ void attention_bwd_dq(const AttnParams& p, const AttnBwdParams& bp) {
    const int lane = threadIdx.x & 31;
    const int64_t row = static_cast<int64_t>(blockIdx.x) * kBwdWarps + (threadIdx.x >> 5);
    if (row >= static_cast<int64_t>(p.nnz_q) * p.heads) return;
    const AttnRowPos at = attn_row_pos(p, row);
    const int tok = at.tok, h = at.h, kvh = at.kvh;

    float q[DCH], dO[DCH], o[DCH], acc[DCH];
    bwd_load<T, DCH>(q, static_cast<const T*>(p.q) + static_cast<int64_t>(tok) * p.q_tok_stride + h * p.q_head_stride,
                     p.dk, lane);
    bwd_load<float, DCH>(dO, bp.d_o + row * p.dv, p.dv, lane);
    bwd_load<float, DCH>(o, static_cast<const float*>(p.o) + static_cast<int64_t>(tok) * p.o_tok_stride
                                + h * p.o_head_stride, p.dv, lane);
#pragma unroll
    for (int j = 0; j < DCH; ++j) acc[j] = 0.f;
    const float lse = p.lse[static_cast<int64_t>(tok) * p.lse_tok_stride + h];
    const float D = lse == -INFINITY ? 0.f : bwd_dot<DCH>(dO, o);   // a row with no key passes no gradient
    if (lse != -INFINITY) {
        attn_walk(p, tok, at.t, kvh, at.k0, at.nk, at.kpos0, [&](int64_t krow) {
            float k[DCH], v[DCH];
            bwd_load<T, DCH>(k, static_cast<const T*>(p.k) + krow * p.k_tok_stride + kvh * p.k_head_stride, p.dk, lane);
            bwd_load<T, DCH>(v, static_cast<const T*>(p.v) + krow * p.v_tok_stride + kvh * p.v_head_stride, p.dv, lane);
            const float P = expf(bwd_dot<DCH>(q, k) * p.scale - lse);
            const float dS = P * (bwd_dot<DCH>(dO, v) - D);
#pragma unroll
            for (int j = 0; j < DCH; ++j) acc[j] = fmaf(dS, k[j], acc[j]);
        });
    }
    bwd_store<DCH>(bp.dq + row * p.dk, acc, p.scale, p.dk, lane, bp.accumulate != 0);
    if (lane == 0) bp.delta[row] = D;
}

// Whether the query at position t (token tok) sees the key at position s of KV head kvh: the forward's mask.
__device__ __forceinline__ bool bwd_visible(const AttnParams& p, int tok, int t, int s, int kvh) {
    switch (p.mask) {
        case kMaskCausal: return s <= t;
        case kMaskWindow: return s <= t && s > t - p.window;
        case kMaskBlockCausal: return static_cast<int64_t>(s) * p.cmp_stride + p.cmp_len - 1 <= t;
        case kMaskChosen: {
            if (s > t) return false;
            const int32_t* blk = p.blocks + static_cast<int64_t>(tok) * p.blocks_tok_stride + kvh * p.blocks_head_stride;
            const int j = s / p.sel_block;
            bool hit = false;
            for (int e = 0; e < p.n_sel; ++e) hit |= blk[e] == j;
            return hit;
        }
        default: return true;
    }
}

template <typename T, int DCH>
__device__ void attention_bwd_dkv(const AttnParams& p, const AttnBwdParams& bp) {
    const int lane = threadIdx.x & 31;
    const int64_t row = static_cast<int64_t>(blockIdx.x) * kBwdWarps + (threadIdx.x >> 5);
    const int nnz_k = p.cu_k[p.batch];
    if (row >= static_cast<int64_t>(nnz_k) * p.kv_heads) return;
    const int krow = static_cast<int>(row / p.kv_heads);
    const int g = static_cast<int>(row - static_cast<int64_t>(krow) * p.kv_heads);
    const int hpg = p.heads / p.kv_heads;
    const int b = sequence_of(p.cu_k, p.batch, krow);
    const int s = (p.k_start ? p.k_start[b] : 0) + (krow - p.cu_k[b]);   // key position (compressed index for cmp)
    const int q0 = p.cu_q[b], nq = p.cu_q[b + 1] - q0;
    const int qpos0 = p.q_start ? p.q_start[b] : 0;

    float k[DCH], v[DCH], dk[DCH], dv[DCH];
    bwd_load<T, DCH>(k, static_cast<const T*>(p.k) + static_cast<int64_t>(krow) * p.k_tok_stride + g * p.k_head_stride,
                     p.dk, lane);
    bwd_load<T, DCH>(v, static_cast<const T*>(p.v) + static_cast<int64_t>(krow) * p.v_tok_stride + g * p.v_head_stride,
                     p.dv, lane);
#pragma unroll
    for (int j = 0; j < DCH; ++j) dk[j] = dv[j] = 0.f;
    // the first query position that can see the key (later ones are tested one by one)
    int64_t tmin = s;
    if (p.mask == kMaskNone) tmin = qpos0;
    if (p.mask == kMaskBlockCausal) tmin = static_cast<int64_t>(s) * p.cmp_stride + p.cmp_len - 1;
    const int64_t lo = max(static_cast<int64_t>(0), tmin - qpos0);
    int64_t hi = nq;
    if (p.mask == kMaskWindow) hi = min(hi, static_cast<int64_t>(s) + p.window - qpos0);
    for (int64_t i = lo; i < hi; ++i) {
        const int tok = q0 + static_cast<int>(i);
        const int t = qpos0 + static_cast<int>(i);
        if (!bwd_visible(p, tok, t, s, g)) continue;   // warp-uniform
        for (int hh = 0; hh < hpg; ++hh) {
            const int h = g * hpg + hh;
            const int64_t r = static_cast<int64_t>(tok) * p.heads + h;
            float q[DCH], dO[DCH];
            bwd_load<T, DCH>(q, static_cast<const T*>(p.q) + static_cast<int64_t>(tok) * p.q_tok_stride
                                    + h * p.q_head_stride, p.dk, lane);
            bwd_load<float, DCH>(dO, bp.d_o + r * p.dv, p.dv, lane);
            const float P = expf(bwd_dot<DCH>(q, k) * p.scale - p.lse[static_cast<int64_t>(tok) * p.lse_tok_stride + h]);
            const float dS = P * (bwd_dot<DCH>(dO, v) - bp.delta[r]);
#pragma unroll
            for (int j = 0; j < DCH; ++j) {
                dv[j] = fmaf(P, dO[j], dv[j]);
                dk[j] = fmaf(dS, q[j], dk[j]);
            }
        }
    }
    bwd_store<DCH>(bp.dk + row * p.dk, dk, p.scale, p.dk, lane, false);
    bwd_store<DCH>(bp.dv + row * p.dv, dv, 1.f, p.dv, lane, false);
}

template <int DCH>
__device__ void gate_bwd(const GateBwdParams& p) {
    const int lane = threadIdx.x & 31;
    const int64_t row = static_cast<int64_t>(blockIdx.x) * kBwdWarps + (threadIdx.x >> 5);
    if (row >= p.rows) return;
    float dO[DCH];
    bwd_load<float, DCH>(dO, p.d_o + row * p.dv, p.dv, lane);
    const float* const oc[3] = {p.o_cmp, p.o_sel, p.o_win};
    float* const doc[3] = {p.d_o_cmp, p.d_o_sel, p.d_o_win};
#pragma unroll
    for (int c = 0; c < 3; ++c) {
        float o[DCH];
        bwd_load<float, DCH>(o, oc[c] + row * p.dv, p.dv, lane);
        const float dg = bwd_dot<DCH>(dO, o);
        if (lane == 0) p.d_gates[row * 3 + c] = dg;
        bwd_store<DCH>(doc[c] + row * p.dv, dO, p.gates[row * 3 + c], p.dv, lane, false);
    }
}

__device__ void compress_avg_bwd(const CompressAvgBwdParams& p) {
    const int64_t total = static_cast<int64_t>(p.nnz) * p.groups * p.dim;
    for (int64_t x = global_thread(); x < total; x += grid_threads()) {
        const RawInBlocks r = raw_in_blocks(x, p.groups, p.dim, p.cu_seqlens, p.cu_seqlens_cmp, p.batch, p.block_len,
                                            p.block_stride);
        float sum = 0.f;
        for (int i = r.ilo; i <= r.ihi; ++i) {
            sum += p.d_cmp[(static_cast<int64_t>(r.c0 + i) * p.groups + r.g) * p.dim + r.c];
        }
        p.d_raw[x] = sum / static_cast<float>(p.block_len);
    }
}

}  // namespace nsa

// nsa_attention_bwd_<dq|dkv>_<dtype>_d<32·DCH> (arguments: the forward's AttnParams, then AttnBwdParams; head dims
// up to 32·DCH; 128-thread blocks, one warp per row),
// nsa_gate_bwd_fp32_d<32·DCH>, nsa_compress_avg_bwd_fp32 (grid-stride, 256-thread blocks).
#define NSA_ATTENTION_BWD(SUFFIX, T, DCH)                                                                 \
    extern "C" __global__ void __launch_bounds__(32 * nsa::kBwdWarps)                                      \
        nsa_attention_bwd_dq_##SUFFIX##_d##DCH(const __grid_constant__ nsa::AttnParams p,                  \
                                               const __grid_constant__ nsa::AttnBwdParams b) {            \
        nsa::attention_bwd_dq<T, DCH>(p, b);                                                              \
    }                                                                                                     \
    extern "C" __global__ void __launch_bounds__(32 * nsa::kBwdWarps)                                      \
        nsa_attention_bwd_dkv_##SUFFIX##_d##DCH(const __grid_constant__ nsa::AttnParams p,                 \
                                                const __grid_constant__ nsa::AttnBwdParams b) {           \
        nsa::attention_bwd_dkv<T, DCH>(p, b);                                                             \
    }
#define NSA_ATTENTION_BWD_DIMS(SUFFIX, T) \
    NSA_ATTENTION_BWD(SUFFIX, T, 1)       \
    NSA_ATTENTION_BWD(SUFFIX, T, 2)       \
    NSA_ATTENTION_BWD(SUFFIX, T, 4)       \
    NSA_ATTENTION_BWD(SUFFIX, T, 8)

NSA_ATTENTION_BWD_DIMS(fp32, float)
NSA_ATTENTION_BWD_DIMS(fp16, __half)
NSA_ATTENTION_BWD_DIMS(bf16, __nv_bfloat16)

#define NSA_GATE_BWD(DCH)                                                                                 \
    extern "C" __global__ void __launch_bounds__(32 * nsa::kBwdWarps)                                      \
        nsa_gate_bwd_fp32_d##DCH(const __grid_constant__ nsa::GateBwdParams p) {                           \
        nsa::gate_bwd<DCH>(p);                                                                            \
    }
NSA_GATE_BWD(1)
NSA_GATE_BWD(2)
NSA_GATE_BWD(4)
NSA_GATE_BWD(8)

NSA_EXTERN nsa_compress_avg_bwd_fp32(const __grid_constant__ nsa::CompressAvgBwdParams p) { nsa::compress_avg_bwd(p); }
