// Helpers shared by the selection kernels (sel_attention.cu, sel_union.cu): tile loads, the sequence of a
// packed token, paired stores.
#pragma once
#include <cmath>
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

// A warp's two rows before the first key: NO accumulator tiles of zeros, running max -inf, running sum 0.
template <int NO>
__device__ __forceinline__ void init_rows(float (&acc)[NO][4], float (&m_i)[2], float (&l_i)[2]) {
#pragma unroll
    for (int nt = 0; nt < NO; ++nt) {
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[nt][e] = 0.f;
    }
    m_i[0] = m_i[1] = -INFINITY;
    l_i[0] = l_i[1] = 0.f;
}

// The online-softmax update of row half hf (rows lane/4 + 8·hf of a warp's m16 tile) once the tile's row max mx
// is known: the new running max, the NS score tiles turned in place into base-2 exponentials relative to it, the
// running sum l and the NO accumulator tiles rescaled. A row that has seen no key keeps max -inf (no -inf - -inf).
template <int NS, int NO>
__device__ __forceinline__ void softmax_update(float (&s)[NS][4], int hf, float mx, float (&m_i)[2], float (&l_i)[2],
                                               float (&acc)[NO][4], float scale_log2) {
    const float m_new = fmaxf(m_i[hf], mx);
    const float mb = m_new == -INFINITY ? 0.f : m_new * scale_log2;
    const float corr = ex2(m_i[hf] * scale_log2 - mb);
    m_i[hf] = m_new;
    float sum = 0.f;
#pragma unroll
    for (int nt = 0; nt < NS; ++nt) {
#pragma unroll
        for (int e = 2 * hf; e < 2 * hf + 2; ++e) {
            s[nt][e] = ex2(fmaf(s[nt][e], scale_log2, -mb));
            sum += s[nt][e];
        }
    }
    l_i[hf] = fmaf(l_i[hf], corr, sum);
#pragma unroll
    for (int nt = 0; nt < NO; ++nt) {
        acc[nt][2 * hf] *= corr;
        acc[nt][2 * hf + 1] *= corr;
    }
}

}  // namespace sel
}  // namespace nsa
