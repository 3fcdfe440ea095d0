// Element types and their load/store helpers. Arithmetic is always fp32; storage is T.
#pragma once

#include <cstdint>
#include <cuda_fp16.h>
#include <cuda_bf16.h>

namespace nsa {

template <typename T> struct Elem;

template <> struct Elem<float> {
    __device__ __forceinline__ static float to_float(float x) { return x; }
    __device__ __forceinline__ static float from_float(float x) { return x; }
};
template <> struct Elem<__half> {
    __device__ __forceinline__ static float to_float(__half x) { return __half2float(x); }
    __device__ __forceinline__ static __half from_float(float x) { return __float2half_rn(x); }
};
template <> struct Elem<__nv_bfloat16> {
    __device__ __forceinline__ static float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
    __device__ __forceinline__ static __nv_bfloat16 from_float(float x) { return __float2bfloat16_rn(x); }
};

// VEC consecutive elements, moved in accesses of at most 16 bytes (an fp32 output of a bf16 kernel
// with VEC = 8 is 32 bytes: two 16-byte accesses). The alignment claimed is min(VEC*sizeof(T), 16),
// exactly what the host checks for the wide ("v16") variant; otherwise it picks VEC = 1 ("v1"),
// which needs only natural element alignment.
template <typename T, int VEC> struct alignas(sizeof(T) * VEC < 16 ? sizeof(T) * VEC : 16) Pack {
    T v[VEC];
};

template <typename T, int VEC>
__device__ __forceinline__ void load_f32(const T* p, float (&dst)[VEC]) {
    Pack<T, VEC> pk = *reinterpret_cast<const Pack<T, VEC>*>(p);
#pragma unroll
    for (int i = 0; i < VEC; ++i) dst[i] = Elem<T>::to_float(pk.v[i]);
}

template <typename T, int VEC>
__device__ __forceinline__ void store_f32(T* p, const float (&src)[VEC]) {
    Pack<T, VEC> pk;
#pragma unroll
    for (int i = 0; i < VEC; ++i) pk.v[i] = Elem<T>::from_float(src[i]);
    *reinterpret_cast<Pack<T, VEC>*>(p) = pk;
}

template <typename T> __device__ __forceinline__ float load1(const T* p) { return Elem<T>::to_float(*p); }

// Elements per 16-byte access.
template <typename T> constexpr int kVec16 = 16 / sizeof(T);

}  // namespace nsa
