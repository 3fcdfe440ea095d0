// The online softmax of the flash-attention style kernels (sel-kernel's layouts, the Hopper FA forward): a thread's
// two rows of an m16 tile (mma.sync's and wgmma's accumulator layout: rows lane/4 and lane/4 + 8), their running
// max and sum, fp32 with base-2 exponentials.
#pragma once
#include <cmath>

#include "nsa_mma.h"

namespace nsa {
namespace softmax {

using nsa::tc::ex2;

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

// The whole tile's online-softmax update for both of a thread's rows: each row's max over the NS score tiles (a quad
// of lanes holds a row), then softmax_update.
template <int NS, int NO>
__device__ __forceinline__ void softmax_tile(float (&s)[NS][4], float (&m_i)[2], float (&l_i)[2], float (&acc)[NO][4],
                                             float scale_log2) {
#pragma unroll
    for (int hf = 0; hf < 2; ++hf) {
        float mx = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < NS; ++nt) mx = fmaxf(mx, fmaxf(s[nt][2 * hf], s[nt][2 * hf + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        softmax_update(s, hf, mx, m_i, l_i, acc, scale_log2);
    }
}

}  // namespace softmax
}  // namespace nsa
