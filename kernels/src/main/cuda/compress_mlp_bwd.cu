// The reference backward of phi = mlp (docs/nsa-spec.md §10, decisions D43): from dL/dK̃ (or dL/dṼ) back to the raw
// tokens and to the MLP's parameters, fp32, deterministic (fixed orders, no atomics). With x = vec(rows + P) of a
// compressed token's block (l·D values), z = W1 x + b1, a = SiLU(z), out = W2 a + b2 (nsa_mlp.cuh):
//   act      one block per (compressed row, group): z recomputed with the forward's arithmetic; writes x, a,
//            dz = (W2ᵀ dout) ∘ SiLU'(z) and dx = W1ᵀ dz to the workspace
//   weights  one thread per parameter element, each summing over every (compressed row, group) in ascending order:
//            dW2 = Σ dout ⊗ a, db2 = Σ dout, dW1 = Σ dz ⊗ x, db1 = Σ dz, dP = Σ dx
//   raw      one thread per (raw token, group, feature): the sum of dx over the blocks that hold the token (the
//            offset of the token in each), ascending block index
// Shapes (CompressMlpBwdParams): k fp32 [nnz, G, D]; d_out fp32 [nnz_cmp, G, D]; workspace x / dx [nnz_cmp, G, l·D],
// a / dz [nnz_cmp, G, hidden]; d_raw [nnz, G, D]; the parameter gradients in the weights' shapes. Limits: l·D <=
// NSA_MLP_MAX_IN, hidden <= NSA_MLP_MAX_HIDDEN (the host checks them, as for the forward).
#include "nsa_params.h"
#include "nsa_dtype.h"
#include "nsa_launch.h"
#include "nsa_mlp.cuh"
#include "nsa_seq.h"

namespace nsa {

__device__ __forceinline__ float silu_grad(float z) {
    const float s = 1.f / (1.f + expf(-z));
    return s * (1.f + z * (1.f - s));
}

__device__ void compress_mlp_bwd_act(const CompressMlpBwdParams& p) {
    __shared__ float xs[NSA_MLP_MAX_IN];
    __shared__ float zs[NSA_MLP_MAX_HIDDEN];   // z, then (each thread its own j) dz
    const int row = blockIdx.x, g = blockIdx.y;
    if (row >= p.nnz_cmp || g >= p.groups) return;
    const int b = select_find_sequence(p.cu_seqlens_cmp, p.batch, row);
    const int64_t first = p.cu_seqlens[b] + static_cast<int64_t>(row - p.cu_seqlens_cmp[b]) * p.block_stride;
    const int in = p.block_len * p.dim, lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    const int64_t cell = static_cast<int64_t>(row) * p.groups + g;
    for (int e = threadIdx.x; e < in; e += blockDim.x) {
        const int r = e / p.dim, c = e - r * p.dim;
        xs[e] = __fadd_rn(p.k[((first + r) * p.groups + g) * p.dim + c], p.pos[e]);
        p.x[cell * in + e] = xs[e];
    }
    __syncthreads();
    for (int j0 = warp * NSA_MLP_ROWS; j0 < p.hidden; j0 += warps * NSA_MLP_ROWS) {
        mlp_warp_rows(p.w1, p.b1, j0, p.hidden, xs, in, lane, [&](int j, float z) { zs[j] = z; });
    }
    __syncthreads();
    const float* dout = p.d_out + cell * p.dim;
    for (int j = threadIdx.x; j < p.hidden; j += blockDim.x) {
        float da = 0.f;
        for (int c = 0; c < p.dim; ++c) da = __fmaf_rn(p.w2[static_cast<int64_t>(c) * p.hidden + j], dout[c], da);
        const float z = zs[j];
        const float dz = da * silu_grad(z);
        p.a[cell * p.hidden + j] = mlp_silu(z);
        p.dz[cell * p.hidden + j] = dz;
        zs[j] = dz;
    }
    __syncthreads();
    for (int e = threadIdx.x; e < in; e += blockDim.x) {
        float dx = 0.f;
        for (int j = 0; j < p.hidden; ++j) dx = __fmaf_rn(p.w1[static_cast<int64_t>(j) * in + e], zs[j], dx);
        p.dx[cell * in + e] = dx;
    }
}

// Parameter element x of the concatenation [dW1 (hidden·in), db1 (hidden), dW2 (D·hidden), db2 (D), dP (in)].
__device__ void compress_mlp_bwd_weights(const CompressMlpBwdParams& p) {
    const int64_t in = static_cast<int64_t>(p.block_len) * p.dim;
    const int64_t n1 = p.hidden * in, n2 = n1 + p.hidden, n3 = n2 + static_cast<int64_t>(p.dim) * p.hidden,
                  n4 = n3 + p.dim, total = n4 + in;
    const int64_t cells = static_cast<int64_t>(p.nnz_cmp) * p.groups;
    for (int64_t x = global_thread(); x < total; x += grid_threads()) {
        float sum = 0.f;
        if (x < n1) {
            const int64_t j = x / in, e = x - j * in;
            for (int64_t c = 0; c < cells; ++c) sum = __fmaf_rn(p.dz[c * p.hidden + j], p.x[c * in + e], sum);
            p.d_w1[x] = sum;
        } else if (x < n2) {
            const int64_t j = x - n1;
            for (int64_t c = 0; c < cells; ++c) sum += p.dz[c * p.hidden + j];
            p.d_b1[j] = sum;
        } else if (x < n3) {
            const int64_t i = x - n2, f = i / p.hidden, j = i - f * p.hidden;
            for (int64_t c = 0; c < cells; ++c) sum = __fmaf_rn(p.d_out[c * p.dim + f], p.a[c * p.hidden + j], sum);
            p.d_w2[i] = sum;
        } else if (x < n4) {
            const int64_t f = x - n3;
            for (int64_t c = 0; c < cells; ++c) sum += p.d_out[c * p.dim + f];
            p.d_b2[f] = sum;
        } else {
            const int64_t e = x - n4;
            for (int64_t c = 0; c < cells; ++c) sum += p.dx[c * in + e];
            p.d_pos[e] = sum;
        }
    }
}

__device__ void compress_mlp_bwd_raw(const CompressMlpBwdParams& p) {
    const int64_t total = static_cast<int64_t>(p.nnz) * p.groups * p.dim;
    const int in = p.block_len * p.dim;
    for (int64_t x = global_thread(); x < total; x += grid_threads()) {
        const RawInBlocks r = raw_in_blocks(x, p.groups, p.dim, p.cu_seqlens, p.cu_seqlens_cmp, p.batch, p.block_len,
                                            p.block_stride);
        float sum = 0.f;
        for (int i = r.ilo; i <= r.ihi; ++i) {
            const int row = r.pos - i * p.block_stride;   // the token's row within block i
            sum += p.dx[(static_cast<int64_t>(r.c0 + i) * p.groups + r.g) * in + row * p.dim + r.c];
        }
        p.d_raw[x] = sum;
    }
}

}  // namespace nsa

// nsa_compress_mlp_bwd_fp32_<act|weights|raw>: act on a (nnz_cmp, G) grid of 256-thread blocks; weights and raw
// grid-stride over 256-thread blocks. On one stream in that order (weights and raw read act's workspace).
extern "C" __global__ void __launch_bounds__(256) nsa_compress_mlp_bwd_fp32_act(
    const __grid_constant__ nsa::CompressMlpBwdParams p) {
    nsa::compress_mlp_bwd_act(p);
}
NSA_EXTERN nsa_compress_mlp_bwd_fp32_weights(const __grid_constant__ nsa::CompressMlpBwdParams p) {
    nsa::compress_mlp_bwd_weights(p);
}
NSA_EXTERN nsa_compress_mlp_bwd_fp32_raw(const __grid_constant__ nsa::CompressMlpBwdParams p) {
    nsa::compress_mlp_bwd_raw(p);
}
