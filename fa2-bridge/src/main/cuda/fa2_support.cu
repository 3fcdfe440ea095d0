// Probe: sizeof and offsetof of every field (declaration order) of Fa2Params, then of Fa2ElementwiseParams,
// for the Java layout test: out[0] = number of int64 values written (including out[0]), then per struct
// its sizeof and its offsets.
// If `capacity` is too small only out[0] = -(needed) is written.
#include <cstddef>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "fa2_params.h"

extern "C" __global__ void nsa_fa2_params_layout(int64_t* out, int capacity) {
    if (threadIdx.x != 0 || blockIdx.x != 0) return;
    constexpr int needed = 2 + 41 + 4;
    if (capacity < needed) {
        if (capacity > 0) out[0] = -needed;
        return;
    }
    int n = 1;
    out[n++] = static_cast<int64_t>(sizeof(nsa::Fa2Params));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, q));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, k));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, v));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, o));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, lse));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, cu_q));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, cu_k));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, q_start));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, k_start));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, o_accum));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, lse_accum));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, q_batch_stride));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, q_tok_stride));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, q_head_stride));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, k_batch_stride));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, k_tok_stride));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, k_head_stride));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, v_batch_stride));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, v_tok_stride));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, v_head_stride));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, o_batch_stride));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, o_tok_stride));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, o_head_stride));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, lse_batch_stride));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, lse_tok_stride));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, batch));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, heads));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, kv_heads));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, seqlen_q));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, seqlen_k));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, rows));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, dk));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, dv));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, mask));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, window));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, cmp_len));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, cmp_stride));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, out_fp32));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, num_splits));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, scale));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2Params, scale_log2));
    out[n++] = static_cast<int64_t>(sizeof(nsa::Fa2ElementwiseParams));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2ElementwiseParams, x));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2ElementwiseParams, y));
    out[n++] = static_cast<int64_t>(offsetof(nsa::Fa2ElementwiseParams, n));
    out[0] = n;
}

// Non-finite count of n elements (fp32/fp16/bf16) added to *count (uint32, atomic; the caller zeroes it): the bridge's
// check of a fast path's output, and of its inputs when the output was bad.
template <typename T>
__device__ __forceinline__ void count_nonfinite(const T* x, int64_t n, unsigned int* count) {
    unsigned int mine = 0;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const float f = static_cast<float>(x[i]);
        mine += isfinite(f) ? 0 : 1;
    }
    for (int off = 16; off > 0; off >>= 1) mine += __shfl_xor_sync(0xffffffffu, mine, off);
    if ((threadIdx.x & 31) == 0 && mine != 0) atomicAdd(count, mine);
}

// The same count over 16-byte words (x 16-byte aligned, n a multiple of 16 / sizeof(T): the host checks), testing
// the exponent bits of every element of a word: one load per 4 fp32 or 8 fp16 / bf16 elements, four words in flight
// per thread. The scalar loop above reads 2-byte outputs at a third of the HBM bandwidth (an H200: 1.4 TB/s, 0.78 ms
// for the 64k paper config's bf16 branch output against 0.24 here); streaming loads, as nothing reads the output
// again before the combine.
template <typename T>
__device__ __forceinline__ unsigned int nonfinite_in(uint32_t w);
template <>
__device__ __forceinline__ unsigned int nonfinite_in<float>(uint32_t w) {
    return (w & 0x7f800000u) == 0x7f800000u;
}
template <>
__device__ __forceinline__ unsigned int nonfinite_in<__nv_bfloat16>(uint32_t w) {
    return ((w & 0x7f80u) == 0x7f80u) + ((w & 0x7f800000u) == 0x7f800000u);
}
template <>
__device__ __forceinline__ unsigned int nonfinite_in<__half>(uint32_t w) {
    return ((w & 0x7c00u) == 0x7c00u) + ((w & 0x7c000000u) == 0x7c000000u);
}
template <typename T>
__device__ __forceinline__ unsigned int nonfinite_in(const uint4& w) {
    return nonfinite_in<T>(w.x) + nonfinite_in<T>(w.y) + nonfinite_in<T>(w.z) + nonfinite_in<T>(w.w);
}
template <typename T>
__device__ __forceinline__ void count_nonfinite_v16(const T* x, int64_t n, unsigned int* count) {
    constexpr int kUnroll = 4;
    const uint4* v = reinterpret_cast<const uint4*>(x);
    const int64_t words = n / static_cast<int64_t>(16 / sizeof(T));
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    unsigned int mine = 0;
    int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    for (; i + (kUnroll - 1) * stride < words; i += kUnroll * stride) {
        uint4 w[kUnroll];
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) w[u] = __ldcs(v + i + u * stride);
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) mine += nonfinite_in<T>(w[u]);
    }
    for (; i < words; i += stride) mine += nonfinite_in<T>(__ldcs(v + i));
    for (int off = 16; off > 0; off >>= 1) mine += __shfl_xor_sync(0xffffffffu, mine, off);
    if ((threadIdx.x & 31) == 0 && mine != 0) atomicAdd(count, mine);
}

// nsa_fa2_nonfinite_<dtype>: any pointer and n; nsa_fa2_nonfinite_<dtype>_v16: 16-byte words (see above).
#define NSA_FA2_NONFINITE(SUFFIX, T)                                                                           \
    extern "C" __global__ void __launch_bounds__(256) nsa_fa2_nonfinite_##SUFFIX(                              \
        const __grid_constant__ nsa::Fa2ElementwiseParams p) {                                                 \
        count_nonfinite(static_cast<const T*>(p.x), p.n, static_cast<unsigned int*>(p.y));                     \
    }                                                                                                          \
    extern "C" __global__ void __launch_bounds__(256) nsa_fa2_nonfinite_##SUFFIX##_v16(                        \
        const __grid_constant__ nsa::Fa2ElementwiseParams p) {                                                 \
        count_nonfinite_v16(static_cast<const T*>(p.x), p.n, static_cast<unsigned int*>(p.y));                 \
    }
NSA_FA2_NONFINITE(fp32, float)
NSA_FA2_NONFINITE(fp16, __half)
NSA_FA2_NONFINITE(bf16, __nv_bfloat16)

// fp32 -> fp16/bf16 (round to nearest) of n contiguous elements: the NSA_FA2_ALLOW_FP32 cast.
template <typename T>
__device__ __forceinline__ void cast_from_fp32(const float* x, T* y, int64_t n) {
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        y[i] = static_cast<T>(x[i]);
    }
}
extern "C" __global__ void __launch_bounds__(256) nsa_fa2_cast_fp32_fp16(const __grid_constant__ nsa::Fa2ElementwiseParams p) {
    cast_from_fp32(static_cast<const float*>(p.x), static_cast<__half*>(p.y), p.n);
}
extern "C" __global__ void __launch_bounds__(256) nsa_fa2_cast_fp32_bf16(const __grid_constant__ nsa::Fa2ElementwiseParams p) {
    cast_from_fp32(static_cast<const float*>(p.x), static_cast<__nv_bfloat16*>(p.y), p.n);
}
