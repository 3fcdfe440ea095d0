// Compression, phi = mlp (the NSA spec (docs/nsa-spec.md) "Compression branch", docs/decisions.md D2), varlen.
//
// Compressed token i of sequence b, group g:
//   x   = vec(k[cu[b] + i*d + r, g, c] + P[r, c])      r < l, c < D, vec index r*D + c   (l*D values)
//   h_j = SiLU(sum_e W1[j, e] * x[e] + b1[j])           j < hidden, SiLU(h) = h / (1 + exp(-h))
//   out[cu_cmp[b] + i, g, c] = sum_j W2[c, j] * h_j + b2[c]
// W1 [hidden, l*D], W2 [D, hidden] (torch.nn.Linear layout), P [l, D], b1 [hidden], b2 [D]: fp32 on the
// device, one set for every group. Output fp32.
//
// One thread block (256 threads, 8 warps) per (compressed row, group), grid-stride over those items.
// x is staged in shared memory (l*D <= NSA_MLP_MAX_IN floats), then SiLU(h) (hidden <= NSA_MLP_MAX_HIDDEN).
// Each dot product belongs to one warp: lane t sums elements t, t+32, ... in ascending order (fp32 FMA),
// then a fixed xor-butterfly adds the 32 partials; the bias is added last. The order depends neither on
// the grid size nor on scheduling, so the results are bitwise repeatable (no atomics). A warp computes
// NSA_MLP_ROWS dot products at once, so each shared-memory value it reads serves that many weight rows
// (a row's own summation order is the one above, whatever the row count).
// Bounds-safe as compress_avg: a row whose window does not fit its sequence according to the device cu
// arrays is written as NaN instead of reading out of bounds.
#include "nsa_params.h"
#include "nsa_dtype.h"
#include "nsa_launch.h"

#ifndef NSA_MLP_MAX_IN
#define NSA_MLP_MAX_IN 8192
#endif
#ifndef NSA_MLP_MAX_HIDDEN
#define NSA_MLP_MAX_HIDDEN 2048
#endif
#ifndef NSA_MLP_ROWS
#define NSA_MLP_ROWS 8
#endif

namespace nsa {

__device__ __forceinline__ int mlp_find_sequence(const int32_t* cu_cmp, int batch, int64_t r) {
    int lo = 0, hi = batch;
    while (hi - lo > 1) {
        const int mid = (lo + hi) >> 1;
        if (cu_cmp[mid] <= r) lo = mid; else hi = mid;
    }
    return lo;
}

__device__ __forceinline__ float mlp_warp_sum(float v) {
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) v = __fadd_rn(v, __shfl_xor_sync(0xffffffffu, v, off));
    return v;
}

__device__ __forceinline__ float mlp_silu(float h) {
    return __fdiv_rn(h, __fadd_rn(1.f, expf(-h)));
}

// Rows j0 .. j0 + NSA_MLP_ROWS - 1 (those < rows) of w [rows, n] (row stride n) times x [n] in shared
// memory, plus bias; lane 0 of the warp writes row j's result through put(j, value).
template <typename Put>
__device__ __forceinline__ void mlp_warp_rows(const float* w, const float* bias, int j0, int rows, const float* x,
                                              int n, int lane, Put put) {
    float acc[NSA_MLP_ROWS];
    const float* wr[NSA_MLP_ROWS];
#pragma unroll
    for (int r = 0; r < NSA_MLP_ROWS; r++) {
        acc[r] = 0.f;
        wr[r] = w + static_cast<int64_t>(min(j0 + r, rows - 1)) * n;   // rows past the end: read, never written
    }
    for (int e = lane; e < n; e += 32) {
        const float xe = x[e];
#pragma unroll
        for (int r = 0; r < NSA_MLP_ROWS; r++) acc[r] = __fmaf_rn(wr[r][e], xe, acc[r]);
    }
#pragma unroll
    for (int r = 0; r < NSA_MLP_ROWS; r++) {
        const float v = mlp_warp_sum(acc[r]);
        if (lane == 0 && j0 + r < rows) put(j0 + r, __fadd_rn(v, bias[j0 + r]));
    }
}

template <typename T>
__device__ __forceinline__ void compress_mlp(const CompressMlpParams& p) {
    __shared__ float xs[NSA_MLP_MAX_IN];
    __shared__ float hs[NSA_MLP_MAX_HIDDEN];
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int warps = blockDim.x >> 5;
    const int D = p.dim;
    const int in = p.block_len * D;
    const int64_t items = static_cast<int64_t>(p.nnz_cmp) * p.groups;
    for (int64_t it = blockIdx.x; it < items; it += gridDim.x) {
        const int64_t r = it / p.groups;
        const int64_t g = it - r * p.groups;
        const int b = mlp_find_sequence(p.cu_seqlens_cmp, p.batch, r);
        const int64_t start = p.cu_seqlens[b];
        const int64_t end = p.cu_seqlens[b + 1];
        const int64_t first = start + (r - p.cu_seqlens_cmp[b]) * p.block_stride;
        const bool ok = p.cu_seqlens_cmp[b] <= r && r < p.cu_seqlens_cmp[b + 1] && start >= 0
                        && end <= p.nnz && first + p.block_len <= end;
        float* dst = p.out + r * p.out_tok_stride + g * p.out_group_stride;
        __syncthreads();   // the previous item is done with xs / hs
        if (!ok) {
            for (int c = threadIdx.x; c < D; c += blockDim.x) dst[c] = __int_as_float(0x7fc00000);
            continue;      // ok is uniform over the block
        }
        const T* src = static_cast<const T*>(p.k) + first * p.k_tok_stride + g * p.k_group_stride;
        for (int e = threadIdx.x; e < in; e += blockDim.x) {
            const int row = e / D;
            const int c = e - row * D;
            xs[e] = __fadd_rn(load1<T>(src + row * p.k_tok_stride + c), p.pos[e]);
        }
        __syncthreads();
        for (int j0 = warp * NSA_MLP_ROWS; j0 < p.hidden; j0 += warps * NSA_MLP_ROWS) {
            mlp_warp_rows(p.w1, p.b1, j0, p.hidden, xs, in, lane, [&](int j, float h) { hs[j] = mlp_silu(h); });
        }
        __syncthreads();
        for (int c0 = warp * NSA_MLP_ROWS; c0 < D; c0 += warps * NSA_MLP_ROWS) {
            mlp_warp_rows(p.w2, p.b2, c0, D, hs, p.hidden, lane, [&](int c, float o) { dst[c] = o; });
        }
    }
}

}  // namespace nsa

// nsa_compress_mlp_<in>: input k in <in>, weights and output fp32.
#define NSA_COMPRESS_MLP(SUFFIX, T)                                                  \
    NSA_EXTERN nsa_compress_mlp_##SUFFIX(const __grid_constant__ nsa::CompressMlpParams p) { \
        nsa::compress_mlp<T>(p);                                                     \
    }

NSA_COMPRESS_MLP(fp32, float)
NSA_COMPRESS_MLP(fp16, __half)
NSA_COMPRESS_MLP(bf16, __nv_bfloat16)
