// Grid-stride helpers. Every output element is produced by exactly one thread with a fixed order of
// operations, so results do not depend on the grid size (the host may size grids by SM count).
#pragma once

#include <cstdint>

namespace nsa {

__device__ __forceinline__ int64_t global_thread() {
    return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_threads() {
    return static_cast<int64_t>(gridDim.x) * blockDim.x;
}

}  // namespace nsa

// Kernel symbols are extern "C": nsa_<family>_<dtype>[_<variant>], e.g. nsa_gate_combine_bf16_gfp32_ofp32_v16.
#define NSA_EXTERN extern "C" __global__ void __launch_bounds__(256)
