// phi = mlp's arithmetic for one compressed token (the NSA spec (docs/nsa-spec.md) "Compression branch"), shared by
// the forward (compress_mlp.cu) and the decode (decode.cu), so that a step's K̃ equals the prefill's bit for bit:
//   x   = vec(rows r of k + P)                      r < l, vec index r*D + c   (l*D values)
//   h_j = SiLU(sum_e W1[j, e] * x[e] + b1[j])       j < hidden, SiLU(h) = h / (1 + exp(-h))
//   out = W2 · h + b2                                (D values)
// W1 [hidden, l*D], W2 [D, hidden] (torch.nn.Linear layout), P [l, D], b1 [hidden], b2 [D]: fp32.
// Each dot product belongs to one warp: lane t sums elements t, t+32, ... in ascending order (fp32 FMA), then a
// fixed xor-butterfly adds the 32 partials; the bias is added last. The order depends neither on the block nor the
// grid size, so results are bitwise repeatable. A warp computes NSA_MLP_ROWS dot products at once, so each
// shared-memory value it reads serves that many weight rows.
#pragma once

#include "nsa_dtype.h"

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

// One compression MLP's fp32 weights on the device.
struct MlpWeights {
    const float* pos;   // P [l, D]
    const float* w1;    // [hidden, l*D]
    const float* b1;    // [hidden]
    const float* w2;    // [D, hidden]
    const float* b2;    // [D]
    int hidden;
};

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

// One compressed token by the whole thread block: row r (< l) of the block's k at row_ptr(r) (dim contiguous
// values of type T), the result's feature c through put(c, value). xs / hs: shared staging of l*D and hidden
// floats. The caller synchronises the block before reusing xs / hs.
template <typename T, typename RowPtr, typename Put>
__device__ __forceinline__ void mlp_compress_block(const MlpWeights& m, int l, int dim, RowPtr row_ptr, float* xs,
                                                   float* hs, Put put) {
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int warps = blockDim.x >> 5;
    const int in = l * dim;
    for (int e = threadIdx.x; e < in; e += blockDim.x) {
        const int row = e / dim;
        const int c = e - row * dim;
        xs[e] = __fadd_rn(load1<T>(row_ptr(row) + c), m.pos[e]);
    }
    __syncthreads();
    for (int j0 = warp * NSA_MLP_ROWS; j0 < m.hidden; j0 += warps * NSA_MLP_ROWS) {
        mlp_warp_rows(m.w1, m.b1, j0, m.hidden, xs, in, lane, [&](int j, float h) { hs[j] = mlp_silu(h); });
    }
    __syncthreads();
    for (int c0 = warp * NSA_MLP_ROWS; c0 < dim; c0 += warps * NSA_MLP_ROWS) {
        mlp_warp_rows(m.w2, m.b2, c0, dim, hs, m.hidden, lane, put);
    }
}

}  // namespace nsa
