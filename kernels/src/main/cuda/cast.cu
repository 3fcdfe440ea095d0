// Dtype casts of contiguous tensors on the device (the pipeline's casts: q to fp32 for the parity mode's
// fp32 compressed branch, phi = mlp's fp32 K̃ to the input dtype). Round to nearest even; one element per
// thread, grid-stride, so the result does not depend on the grid.
#include "nsa_params.h"
#include "nsa_dtype.h"
#include "nsa_launch.h"

namespace nsa {

template <typename I, typename O>
__device__ __forceinline__ void cast_elements(const CastParams& p) {
    const I* x = static_cast<const I*>(p.x);
    O* y = static_cast<O*>(p.y);
    for (int64_t i = global_thread(); i < p.n; i += grid_threads()) {
        y[i] = Elem<O>::from_float(load1(x + i));
    }
}

}  // namespace nsa

// nsa_cast_<from>_o<to>
#define NSA_CAST(SUFFIX, I, O)                                                                   \
    NSA_EXTERN nsa_cast_##SUFFIX(const __grid_constant__ nsa::CastParams p) {                    \
        nsa::cast_elements<I, O>(p);                                                            \
    }

NSA_CAST(fp16_ofp32, __half, float)
NSA_CAST(bf16_ofp32, __nv_bfloat16, float)
NSA_CAST(fp32_ofp16, float, __half)
NSA_CAST(fp32_obf16, float, __nv_bfloat16)
