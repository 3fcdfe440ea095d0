// Gate combine (the NSA spec (docs/nsa-spec.md) "Combination"): o = g_cmp*o_cmp + g_sel*o_sel + g_win*o_win, per query head.
//
// Elementwise and memory-bound: one thread per VEC consecutive features of one (token, head) row.
// fp32 arithmetic in a fixed order (g_cmp*o_cmp, then fma sel, then fma win), so a CPU emulation with
// Math.fma reproduces it and repeated runs are bitwise identical. `out` may alias one of the inputs
// exactly (in-place); partial overlaps are not supported.
#include "nsa_params.h"
#include "nsa_dtype.h"
#include "nsa_launch.h"

namespace nsa {

template <typename T, typename G, typename O, int VEC, typename I>
__device__ __forceinline__ void gate_combine_rows(const GateCombineParams& p, I total) {
    const I chunks = static_cast<I>(p.dv / VEC);
    const I heads = static_cast<I>(p.heads);
    for (I i = static_cast<I>(global_thread()); i < total; i += static_cast<I>(grid_threads())) {
        const I row = i / chunks;
        const int c = static_cast<int>(i - row * chunks) * VEC;
        const int64_t t = static_cast<int64_t>(row / heads);
        const int64_t h = static_cast<int64_t>(row - static_cast<I>(t) * heads);

        const G* gp = static_cast<const G*>(p.gates) + t * p.gate_tok_stride + h * p.gate_head_stride;
        const float g_cmp = load1(gp), g_sel = load1(gp + 1), g_win = load1(gp + 2);

        float a[VEC], b[VEC], w[VEC], o[VEC];
        load_f32<T, VEC>(static_cast<const T*>(p.o_cmp) + t * p.cmp_tok_stride + h * p.cmp_head_stride + c, a);
        load_f32<T, VEC>(static_cast<const T*>(p.o_sel) + t * p.sel_tok_stride + h * p.sel_head_stride + c, b);
        load_f32<T, VEC>(static_cast<const T*>(p.o_win) + t * p.win_tok_stride + h * p.win_head_stride + c, w);
#pragma unroll
        for (int k = 0; k < VEC; ++k) {
            o[k] = fmaf(g_win, w[k], fmaf(g_sel, b[k], __fmul_rn(g_cmp, a[k])));
        }
        store_f32<O, VEC>(static_cast<O*>(p.out) + t * p.out_tok_stride + h * p.out_head_stride + c, o);
    }
}

// 32-bit index arithmetic whenever the work items and the grid fit (the divisions are the costly part of this
// memory-bound loop), 64-bit beyond.
template <typename T, typename G, typename O, int VEC>
__device__ __forceinline__ void gate_combine(const GateCombineParams& p) {
    const int64_t total = static_cast<int64_t>(p.nnz) * p.heads * (p.dv / VEC);
    if (total + grid_threads() <= static_cast<int64_t>(UINT32_MAX)) {
        gate_combine_rows<T, G, O, VEC, uint32_t>(p, static_cast<uint32_t>(total));
    } else {
        gate_combine_rows<T, G, O, VEC, int64_t>(p, total);
    }
}

}  // namespace nsa

// nsa_gate_combine_<in>_g<gates>_o<out>_<v16|v1>: v16 moves 16 bytes per input access (needs 16-byte aligned
// pointers, strides and Dv), v1 one element (needs natural alignment only). fp32 branch outputs may be written
// straight to fp16 / bf16 (the device pipeline's last step: no fp32 output pass and cast after it).
#define NSA_GATE_COMBINE(SUFFIX, T, G, O)                                                          \
    NSA_EXTERN nsa_gate_combine_##SUFFIX##_v16(const __grid_constant__ nsa::GateCombineParams p) { \
        nsa::gate_combine<T, G, O, nsa::kVec16<T>>(p);                                             \
    }                                                                                              \
    NSA_EXTERN nsa_gate_combine_##SUFFIX##_v1(const __grid_constant__ nsa::GateCombineParams p) {  \
        nsa::gate_combine<T, G, O, 1>(p);                                                          \
    }

NSA_GATE_COMBINE(fp32_gfp32_ofp32, float, float, float)
NSA_GATE_COMBINE(fp32_gfp32_ofp16, float, float, __half)
NSA_GATE_COMBINE(fp32_gfp32_obf16, float, float, __nv_bfloat16)
NSA_GATE_COMBINE(fp16_gfp16_ofp16, __half, __half, __half)
NSA_GATE_COMBINE(fp16_gfp32_ofp16, __half, float, __half)
NSA_GATE_COMBINE(fp16_gfp16_ofp32, __half, __half, float)
NSA_GATE_COMBINE(fp16_gfp32_ofp32, __half, float, float)
NSA_GATE_COMBINE(bf16_gbf16_obf16, __nv_bfloat16, __nv_bfloat16, __nv_bfloat16)
NSA_GATE_COMBINE(bf16_gfp32_obf16, __nv_bfloat16, float, __nv_bfloat16)
NSA_GATE_COMBINE(bf16_gbf16_ofp32, __nv_bfloat16, __nv_bfloat16, float)
NSA_GATE_COMBINE(bf16_gfp32_ofp32, __nv_bfloat16, float, float)
