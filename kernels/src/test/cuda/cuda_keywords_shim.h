// The part of the host-emulation shims both share: CUDA's built-in indices as globals, the execution-space
// and launch qualifiers as nothing, and the round-to-nearest float intrinsics as volatile host arithmetic.
// Included by host_shim.h (coroutine warps for shuffles) and warp_shim.h (lock-step warps).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
struct D3 { unsigned x, y, z; };
inline D3 emu_blockIdx, emu_threadIdx, emu_blockDim, emu_gridDim;
#define blockIdx emu_blockIdx
#define threadIdx emu_threadIdx
#define blockDim emu_blockDim
#define gridDim emu_gridDim
#undef __global__
#define __global__
#undef __device__
#define __device__
#undef __forceinline__
#define __forceinline__ inline
#undef __launch_bounds__
#define __launch_bounds__(x)
#undef __grid_constant__
#define __grid_constant__
inline float __fmul_rn(float a, float b) { volatile float r = a * b; return r; }
inline float __fadd_rn(float a, float b) { volatile float r = a + b; return r; }
inline float __fdiv_rn(float a, float b) { volatile float r = a / b; return r; }
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
