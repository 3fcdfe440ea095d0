// Compression, phi = avg (the NSA spec (docs/nsa-spec.md) "Compression branch"), varlen.
//
// Compressed token i of sequence b summarises raw positions [i*d, i*d + l) of that sequence:
//   out[cu_cmp[b] + i, g, :] = (sum_{j=0}^{l-1} k[cu[b] + i*d + j, g, :]) / l
// summed in fp32 in ascending position order, then one IEEE division by l (no reciprocal multiply).
// The host computes cu_cmp from cu (S_cmp(len) = 0 if len < l else (len - l)/d + 1). One thread per
// (compressed row, group, VEC features); the sequence of a row is found by binary search in cu_cmp.
// Bounds-safe: a row whose window does not fit its sequence according to the device-side cu arrays
// (inconsistent with the host's plan) is written as NaN instead of reading out of bounds.
#include "nsa_params.h"
#include "nsa_dtype.h"
#include "nsa_launch.h"

namespace nsa {

// The sequence b with cu_cmp[b] <= r < cu_cmp[b + 1] (the last such b when lengths are zero).
__device__ __forceinline__ int find_sequence(const int32_t* cu_cmp, int batch, int64_t r) {
    int lo = 0, hi = batch;
    while (hi - lo > 1) {
        const int mid = (lo + hi) >> 1;
        if (cu_cmp[mid] <= r) lo = mid; else hi = mid;
    }
    return lo;
}

template <typename T, typename O, int VEC>
__device__ __forceinline__ void compress_avg(const CompressAvgParams& p) {
    const int chunks = p.dim / VEC;
    const int64_t per_row = static_cast<int64_t>(p.groups) * chunks;
    const int64_t total = static_cast<int64_t>(p.nnz_cmp) * per_row;
    const float l = static_cast<float>(p.block_len);
    for (int64_t i = global_thread(); i < total; i += grid_threads()) {
        const int64_t r = i / per_row;
        const int64_t rem = i - r * per_row;
        const int64_t g = rem / chunks;
        const int c = static_cast<int>(rem - g * chunks) * VEC;

        const int b = find_sequence(p.cu_seqlens_cmp, p.batch, r);
        const int64_t start = p.cu_seqlens[b];
        const int64_t end = p.cu_seqlens[b + 1];
        const int64_t first = start + (r - p.cu_seqlens_cmp[b]) * p.block_stride;
        const bool ok = p.cu_seqlens_cmp[b] <= r && r < p.cu_seqlens_cmp[b + 1] && start >= 0
                        && end <= p.nnz && first + p.block_len <= end;

        float acc[VEC], x[VEC];
#pragma unroll
        for (int k = 0; k < VEC; ++k) acc[k] = 0.f;
        if (ok) {
            const T* src = static_cast<const T*>(p.k) + first * p.k_tok_stride + g * p.k_group_stride + c;
            for (int j = 0; j < p.block_len; ++j, src += p.k_tok_stride) {
                load_f32<T, VEC>(src, x);
#pragma unroll
                for (int k = 0; k < VEC; ++k) acc[k] = __fadd_rn(acc[k], x[k]);
            }
        }
#pragma unroll
        for (int k = 0; k < VEC; ++k) acc[k] = ok ? __fdiv_rn(acc[k], l) : __int_as_float(0x7fc00000);
        store_f32<O, VEC>(static_cast<O*>(p.out) + r * p.out_tok_stride + g * p.out_group_stride + c, acc);
    }
}

}  // namespace nsa

// nsa_compress_avg_<in>_o<out>_<v16|v1> (see gate_combine.cu for v16/v1).
#define NSA_COMPRESS_AVG(SUFFIX, T, O)                                                            \
    NSA_EXTERN nsa_compress_avg_##SUFFIX##_v16(const __grid_constant__ nsa::CompressAvgParams p) { \
        nsa::compress_avg<T, O, nsa::kVec16<T>>(p);                                               \
    }                                                                                             \
    NSA_EXTERN nsa_compress_avg_##SUFFIX##_v1(const __grid_constant__ nsa::CompressAvgParams p) {  \
        nsa::compress_avg<T, O, 1>(p);                                                            \
    }

NSA_COMPRESS_AVG(fp32_ofp32, float, float)
NSA_COMPRESS_AVG(fp16_ofp16, __half, __half)
NSA_COMPRESS_AVG(fp16_ofp32, __half, float)
NSA_COMPRESS_AVG(bf16_obf16, __nv_bfloat16, __nv_bfloat16)
NSA_COMPRESS_AVG(bf16_ofp32, __nv_bfloat16, float)
