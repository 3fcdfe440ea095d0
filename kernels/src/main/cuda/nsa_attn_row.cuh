// One (query, head) row of the reference attention: a warp whose lanes split the head dims (q and the output
// accumulator in registers, DCH = ceil(D / 32) elements per lane), keys added one at a time with an online
// softmax in fp32 (score by a butterfly warp sum: fixed order, deterministic; expf, not __expf). Used by
// attention.cu (the reference paths) and decode.cu (the GPU decode step), which differ only in where a key's
// row lives.
#pragma once

#include <cmath>

#include "nsa_dtype.h"

namespace nsa {

__device__ __forceinline__ float warp_sum(float x) {
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) x += __shfl_xor_sync(0xffffffffu, x, off);
    return x;
}

template <typename T, int DCH>
struct Row {
    float q[DCH];
    float acc[DCH];
    float m;
    float l;
};

// q from qp (dk elements), an empty softmax.
template <typename T, int DCH>
__device__ __forceinline__ void row_init(Row<T, DCH>& r, const T* qp, int dk, int lane) {
#pragma unroll
    for (int j = 0; j < DCH; ++j) {
        int c = lane + 32 * j;
        r.q[j] = c < dk ? load1(qp + c) : 0.f;
        r.acc[j] = 0.f;
    }
    r.m = -INFINITY;
    r.l = 0.f;
}

// Adds the key at kp (dk elements) with its value at vp (dv elements) to the row's online softmax.
template <typename T, int DCH>
__device__ __forceinline__ void row_add(Row<T, DCH>& r, int lane, const T* kp, const T* vp, int dk, int dv,
                                        float scale) {
    float part = 0.f;
#pragma unroll
    for (int j = 0; j < DCH; ++j) {
        int c = lane + 32 * j;
        if (c < dk) part = fmaf(r.q[j], load1(kp + c), part);
    }
    const float s = warp_sum(part) * scale;
    const float m_new = fmaxf(r.m, s);
    // First key: r.m = -inf, so corr = 0 (tested explicitly, so a -inf score can never make -inf - -inf).
    // expf, not __expf: this is the yardstick; the intrinsic's error grows with |x| (about 1e-6 relative
    // at x = -20), which would eat most of the 1e-5 budget the fast paths are held to.
    const float corr = r.m == -INFINITY ? 0.f : expf(r.m - m_new);
    const float w = expf(s - m_new);
    r.l = fmaf(r.l, corr, w);
#pragma unroll
    for (int j = 0; j < DCH; ++j) {
        int c = lane + 32 * j;
        float v = c < dv ? load1(vp + c) : 0.f;
        r.acc[j] = fmaf(w, v, r.acc[j] * corr);
    }
    r.m = m_new;
}

// o = acc / l into op (dv elements of O: float or T), lse = m + ln l into *lse (nullable; lane 0 writes);
// no key added: o = 0, lse = -inf (never NaN).
template <typename O, typename T, int DCH>
__device__ __forceinline__ void row_store(const Row<T, DCH>& r, int lane, O* op, int dv, float* lse) {
    const float inv = r.l > 0.f ? 1.f / r.l : 0.f;
#pragma unroll
    for (int j = 0; j < DCH; ++j) {
        int c = lane + 32 * j;
        if (c < dv) op[c] = Elem<O>::from_float(r.acc[j] * inv);
    }
    if (lse && lane == 0) *lse = r.l > 0.f ? r.m + logf(r.l) : -INFINITY;
}

}  // namespace nsa
