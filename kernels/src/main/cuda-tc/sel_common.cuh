// Helpers shared by the selection kernels (sel_attention.cu, sel_union.cu): tile loads, the sequence of a
// packed token, paired stores.
#pragma once
#include <cstdint>

#include "nsa_mma.h"

namespace nsa {
namespace sel {

using namespace nsa::tc;

// Copies a ROWS x D tile with NT threads (tid in [0, NT)): row r from src + r * stride for lo <= r < hi, zeros elsewhere (never read).
template <typename T, int D, int ROWS, int NT>
__device__ __forceinline__ void load_rows(T* tile, const T* src, int64_t stride, int lo, int hi, int tid) {
    constexpr int kChunks = D / 8;
    constexpr int kTotal = ROWS * kChunks;
    static_assert(kTotal % NT == 0, "tile chunks must divide evenly among the threads");
#pragma unroll
    for (int i = 0; i < kTotal / NT; ++i) {
        const int idx = tid + i * NT;
        const int r = idx / kChunks;
        const int c = idx - r * kChunks;
        const bool ok = r >= lo && r < hi;
        const T* g = ok ? src + r * stride + c * 8 : src;
        cp_async16(smem_addr(tile + SmemRows<D>::offset(r, c)), g, ok);
    }
}

__device__ __forceinline__ int sequence_of(const int32_t* cu, int batch, int tok) {
    int lo = 0, hi = batch - 1;
    while (lo < hi) {
        const int mid = (lo + hi + 1) >> 1;
        if (cu[mid] <= tok) lo = mid; else hi = mid - 1;
    }
    return lo;
}

template <typename T>
__device__ __forceinline__ void store2(void* base, int64_t off, float x0, float x1, bool fp32) {
    if (fp32) {
        *reinterpret_cast<float2*>(static_cast<float*>(base) + off) = make_float2(x0, x1);
    } else {
        *reinterpret_cast<uint32_t*>(static_cast<T*>(base) + off) = Half2<T>::pack(x0, x1);
    }
}

}  // namespace sel
}  // namespace nsa
