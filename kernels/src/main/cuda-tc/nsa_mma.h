// Tensor-core and async-copy primitives of the tensor-core kernels (sm_80+): the FA-2 kernels (fa2-bridge),
// the selection kernel and the block scorer (kernels/src/main/cuda-tc): cp.async 16-byte copies with zero
// fill, ldmatrix (plain and transposed), mma.sync m16n8k16 with fp16/bf16 operands and fp32
// accumulators, ex2.approx, half-precision packing (and the exact-P split into a high and a low term),
// and the swizzled shared-memory row layout.
#pragma once

#include <cstdint>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace nsa {
namespace tc {
#ifndef NSA_HOST_EMULATION  // the instructions: a host emulation (kernels/src/test/cuda) supplies its own
__device__ __forceinline__ uint32_t smem_addr(const void* p) {
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
#define NSA_TC_DYNAMIC_SMEM(name) extern __shared__ __align__(128) unsigned char name[]  // a kernel's dynamic smem
// 16 bytes global -> shared, bypassing L1; valid == false writes 16 zero bytes and reads nothing.
__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src, bool valid) {
    const int n = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(n));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_group 0;\n" ::); }
// Waits until at most N committed groups are still in flight.
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

// c += a * b, a row-major 16x16, b column-major 16x8, c 16x8 fp32.
template <typename T>
__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1);

template <>
__device__ __forceinline__ void mma16816<__nv_bfloat16>(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                                        uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void mma16816<__half>(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// 2^x (MUFU.EX2, relative error about 2^-22); 2^-inf = +0.
__device__ __forceinline__ float ex2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}
#endif  // NSA_HOST_EMULATION
// Two floats as one 32-bit register of two half-precision values (lo in the low 16 bits), rounded to nearest.
template <typename T> struct Half2;
template <> struct Half2<__nv_bfloat16> {
    __device__ __forceinline__ static uint32_t pack(float lo, float hi) {
        __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
        return *reinterpret_cast<uint32_t*>(&v);
    }
    __device__ __forceinline__ static float2 unpack(uint32_t u) {
        return __bfloat1622float2(*reinterpret_cast<__nv_bfloat162*>(&u));
    }
};
template <> struct Half2<__half> {
    __device__ __forceinline__ static uint32_t pack(float lo, float hi) {
        __half2 v = __floats2half2_rn(lo, hi);
        return *reinterpret_cast<uint32_t*>(&v);
    }
    __device__ __forceinline__ static float2 unpack(uint32_t u) {
        return __half22float2(*reinterpret_cast<__half2*>(&u));
    }
};

// Exact-P split: hi = rn(x), lo = rn(x - hi); hi + lo equals x to about 2^-16 (bf16) / 2^-22 (fp16) relative.
template <typename T>
__device__ __forceinline__ void split2(float x0, float x1, uint32_t& hi, uint32_t& lo) {
    hi = Half2<T>::pack(x0, x1);
    const float2 h = Half2<T>::unpack(hi);
    lo = Half2<T>::pack(x0 - h.x, x1 - h.y);
}

// Score tiles 2kk and 2kk + 1 of an m16 row tile (the accumulator layout of mma.sync and wgmma) as the A fragment of
// keys 16kk .. 16kk + 15 for P V: P rounded to T (pa), or with EXACT its high and low terms (pa, pl).
template <typename T, bool EXACT, int NS>
__device__ __forceinline__ void p_frag(const float (&s)[NS][4], int kk, uint32_t (&pa)[4], uint32_t (&pl)[4]) {
    if constexpr (EXACT) {
        split2<T>(s[2 * kk][0], s[2 * kk][1], pa[0], pl[0]);
        split2<T>(s[2 * kk][2], s[2 * kk][3], pa[1], pl[1]);
        split2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1], pa[2], pl[2]);
        split2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3], pa[3], pl[3]);
    } else {
        pa[0] = Half2<T>::pack(s[2 * kk][0], s[2 * kk][1]);
        pa[1] = Half2<T>::pack(s[2 * kk][2], s[2 * kk][3]);
        pa[2] = Half2<T>::pack(s[2 * kk + 1][0], s[2 * kk + 1][1]);
        pa[3] = Half2<T>::pack(s[2 * kk + 1][2], s[2 * kk + 1][3]);
    }
}

// Shared-memory tiles hold rows of D half-precision elements as 16-byte chunks, XOR-swizzled so that the
// eight rows one ldmatrix 8x8 matrix reads (same logical chunk, eight consecutive rows) fall in eight
// different bank groups, for loads and for the cp.async stores alike.
//   D/8 % 8 == 0 (D = 64, 128, 192, 256; rows of a multiple of 128 bytes): chunk c of row r sits at c ^ (r & 7).
//   D/8 % 8 == 4 (D = 32, 96; rows of 64 or 192 bytes, a row starts at bank group 0 or 4): the low two
//   bits of c are XORed with (r >> 1) & 3, which, with the half-line offset of odd rows, spreads the eight
//   rows over the eight groups.
template <int D>
struct SmemRows {
    static_assert(D % 32 == 0, "head dim must be a multiple of 32");
    static constexpr int kChunks = D / 8;
    __device__ __forceinline__ static int offset(int r, int c) {
        int pc;
        if constexpr (kChunks % 8 == 0) {
            pc = c ^ (r & 7);
        } else {
            pc = (c & ~3) | ((c ^ (r >> 1)) & 3);
        }
        return r * D + pc * 8;
    }
};

}  // namespace tc
}  // namespace nsa
