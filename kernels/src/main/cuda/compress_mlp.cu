// Compression, phi = mlp (the NSA spec (docs/nsa-spec.md) "Compression branch", docs/decisions.md D2), varlen.
//
// Compressed token i of sequence b, group g: nsa_mlp.cuh's arithmetic over rows k[cu[b] + i*d + r, g, :], r < l,
// into out[cu_cmp[b] + i, g, :]. Weights fp32 on the device, one set for every group. Output fp32.
//
// One thread block (256 threads, 8 warps) per (compressed row, group), grid-stride over those items.
// x is staged in shared memory (l*D <= NSA_MLP_MAX_IN floats), then SiLU(h) (hidden <= NSA_MLP_MAX_HIDDEN);
// the summation order (nsa_mlp.cuh) makes the results bitwise repeatable (no atomics).
// Bounds-safe as compress_avg: a row whose window does not fit its sequence according to the device cu
// arrays is written as NaN instead of reading out of bounds.
#include "nsa_params.h"
#include "nsa_dtype.h"
#include "nsa_launch.h"
#include "nsa_mlp.cuh"

namespace nsa {

__device__ __forceinline__ int mlp_find_sequence(const int32_t* cu_cmp, int batch, int64_t r) {
    int lo = 0, hi = batch;
    while (hi - lo > 1) {
        const int mid = (lo + hi) >> 1;
        if (cu_cmp[mid] <= r) lo = mid; else hi = mid;
    }
    return lo;
}

template <typename T>
__device__ __forceinline__ void compress_mlp(const CompressMlpParams& p) {
    __shared__ float xs[NSA_MLP_MAX_IN];
    __shared__ float hs[NSA_MLP_MAX_HIDDEN];
    const int D = p.dim;
    const MlpWeights m{p.pos, p.w1, p.b1, p.w2, p.b2, p.hidden};
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
        mlp_compress_block<T>(m, p.block_len, D, [&](int row) { return src + row * p.k_tok_stride; }, xs, hs,
                              [&](int c, float o) { dst[c] = o; });
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
