// Hopper warpgroup MMA primitives (sm_90a only; the Hopper scorer, the Hopper FA forward of fa2-bridge and the
// harness experiments): wgmma.mma_async m64n64k16 and m64n128k16 with both operands in shared memory (K-major) and
// m64n128k16 with A in registers and B in shared memory (MN-major), m64n64k16 with A in registers and B K-major, fences
// and group waits. The tile layouts and descriptors are wg_layout.h's.
#pragma once

#include <cstdint>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "wg_layout.h"

namespace nsa {
namespace wg {

// The instructions; wg_emulation.cpp supplies host versions of them instead (NSA_HOST_EMULATION).
#ifndef NSA_HOST_EMULATION
__device__ __forceinline__ void fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wait() { asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory"); }
// Pins accumulator registers at this point of the program (after a wait, before they are read; around an MMA
// that is still in flight): without it the compiler may read an accumulator before the wgmma.wait_group that makes
// it final, since the asm that wrote it was the MMA's issue.
template <int N>
__device__ __forceinline__ void fence_operands(float (&d)[N][4]) {
#pragma unroll
    for (int i = 0; i < N; ++i) {
#pragma unroll
        for (int e = 0; e < 4; ++e) asm volatile("" : "+f"(d[i][e])::"memory");
    }
}
// Makes this thread's generic-proxy shared-memory writes (st.shared, completed cp.async) visible to wgmma.
__device__ __forceinline__ void fence_async_shared() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }

// Declares NAME<T> with the parameter list PARAMS and defines it for bf16 and fp16 as BODY("bf16") / BODY("f16"): BODY
// is one MMA's asm statement with the operand type spelled once.
#define NSA_WG_DTYPES(NAME, PARAMS, BODY)                                                          \
    template <typename T>                                                                          \
    __device__ __forceinline__ void NAME PARAMS;                                                   \
    template <>                                                                                    \
    __device__ __forceinline__ void NAME<__nv_bfloat16> PARAMS { BODY("bf16"); }                   \
    template <>                                                                                    \
    __device__ __forceinline__ void NAME<__half> PARAMS { BODY("f16"); }

// The 32 fp32 accumulators of an m64n64 MMA: their place-holders %0 .. %31 and the operands d[0][0] .. d[7][3], read
// and written (the two m64n64k16 MMAs below).
#define NSA_WG_D64_REGS  \
    "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15,"  \
    "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}"
#define NSA_WG_D64_OPERANDS  \
    "+f"(d[0][0]), "+f"(d[0][1]), "+f"(d[0][2]), "+f"(d[0][3]), "+f"(d[1][0]), "+f"(d[1][1]),  \
    "+f"(d[1][2]), "+f"(d[1][3]), "+f"(d[2][0]), "+f"(d[2][1]), "+f"(d[2][2]), "+f"(d[2][3]),  \
    "+f"(d[3][0]), "+f"(d[3][1]), "+f"(d[3][2]), "+f"(d[3][3]), "+f"(d[4][0]), "+f"(d[4][1]),  \
    "+f"(d[4][2]), "+f"(d[4][3]), "+f"(d[5][0]), "+f"(d[5][1]), "+f"(d[5][2]), "+f"(d[5][3]),  \
    "+f"(d[6][0]), "+f"(d[6][1]), "+f"(d[6][2]), "+f"(d[6][3]), "+f"(d[7][0]), "+f"(d[7][1]),  \
    "+f"(d[7][2]), "+f"(d[7][3])

// d[64 x 64] (+)= A[64 x 16] B[16 x 64]: A and B K-major in shared memory. Thread layout of d as mma.sync's
// m16n8 accumulators: warp w of the warpgroup holds rows 16w .. 16w + 15, d[j] is the n8 tile j.
#define NSA_WG_MMA_SS(DT)  \
    asm volatile(  \
        "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"  \
        "wgmma.mma_async.sync.aligned.m64n64k16.f32." DT "." DT " "  \
        NSA_WG_D64_REGS ", %32, %33, p, 1, 1, 0, 0;\n}\n"  \
        : NSA_WG_D64_OPERANDS  \
        : "l"(desc_a), "l"(desc_b), "r"(accumulate))
NSA_WG_DTYPES(mma_m64n64k16_ss,
              (float (&d)[8][4], uint64_t desc_a, uint64_t desc_b, int accumulate),
              NSA_WG_MMA_SS)
#undef NSA_WG_MMA_SS

// The 64 fp32 accumulators of an m64n128 MMA: their place-holders %0 .. %63 in the instruction's text, and the
// operands d[0][0] .. d[15][3], read and written (the two m64n128k16 MMAs below).
#define NSA_WG_D128_REGS  \
    "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15,"  \
    "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31,"  \
    "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47,"  \
    "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}"
#define NSA_WG_D128_OPERANDS  \
    "+f"(d[0][0]), "+f"(d[0][1]), "+f"(d[0][2]), "+f"(d[0][3]), "+f"(d[1][0]), "+f"(d[1][1]),  \
    "+f"(d[1][2]), "+f"(d[1][3]), "+f"(d[2][0]), "+f"(d[2][1]), "+f"(d[2][2]), "+f"(d[2][3]),  \
    "+f"(d[3][0]), "+f"(d[3][1]), "+f"(d[3][2]), "+f"(d[3][3]), "+f"(d[4][0]), "+f"(d[4][1]),  \
    "+f"(d[4][2]), "+f"(d[4][3]), "+f"(d[5][0]), "+f"(d[5][1]), "+f"(d[5][2]), "+f"(d[5][3]),  \
    "+f"(d[6][0]), "+f"(d[6][1]), "+f"(d[6][2]), "+f"(d[6][3]), "+f"(d[7][0]), "+f"(d[7][1]),  \
    "+f"(d[7][2]), "+f"(d[7][3]), "+f"(d[8][0]), "+f"(d[8][1]), "+f"(d[8][2]), "+f"(d[8][3]),  \
    "+f"(d[9][0]), "+f"(d[9][1]), "+f"(d[9][2]), "+f"(d[9][3]), "+f"(d[10][0]), "+f"(d[10][1]),  \
    "+f"(d[10][2]), "+f"(d[10][3]), "+f"(d[11][0]), "+f"(d[11][1]), "+f"(d[11][2]), "+f"(d[11][3]),  \
    "+f"(d[12][0]), "+f"(d[12][1]), "+f"(d[12][2]), "+f"(d[12][3]), "+f"(d[13][0]), "+f"(d[13][1]),  \
    "+f"(d[13][2]), "+f"(d[13][3]), "+f"(d[14][0]), "+f"(d[14][1]), "+f"(d[14][2]), "+f"(d[14][3]),  \
    "+f"(d[15][0]), "+f"(d[15][1]), "+f"(d[15][2]), "+f"(d[15][3])

// d[64 x 128] (+)= A[64 x 16] B[16 x 128]: A and B K-major in shared memory (S = Q K^T of a 128-key tile).
#define NSA_WG_MMA_SS128(DT)  \
    asm volatile(  \
        "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"  \
        "wgmma.mma_async.sync.aligned.m64n128k16.f32." DT "." DT " "  \
        NSA_WG_D128_REGS ", %64, %65, p, 1, 1, 0, 0;\n}\n"  \
        : NSA_WG_D128_OPERANDS  \
        : "l"(desc_a), "l"(desc_b), "r"(accumulate))
NSA_WG_DTYPES(mma_m64n128k16_ss,
              (float (&d)[16][4], uint64_t desc_a, uint64_t desc_b, int accumulate),
              NSA_WG_MMA_SS128)
#undef NSA_WG_MMA_SS128

// d[64 x 128] (+)= A[64 x 16] B[16 x 128]: A in registers (mma.sync's m16k16 A fragment per warp), B MN-major in
// shared memory.
#define NSA_WG_MMA_RS(DT)  \
    asm volatile(  \
        "{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"  \
        "wgmma.mma_async.sync.aligned.m64n128k16.f32." DT "." DT " "  \
        NSA_WG_D128_REGS ", {%64, %65, %66, %67}, %68, p, 1, 1, 1;\n}\n"  \
        : NSA_WG_D128_OPERANDS  \
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(accumulate))
NSA_WG_DTYPES(mma_m64n128k16_rs,
              (float (&d)[16][4], const uint32_t (&a)[4], uint64_t desc_b, int accumulate),
              NSA_WG_MMA_RS)
#undef NSA_WG_MMA_RS

// d[64 x 64] (+)= A[64 x 16] B[16 x 64]: A in registers (mma.sync's m16k16 A fragment per warp), B K-major in shared
// memory (the harness's key-row scorer: A = a K̃ tile, B = Q rows).
#define NSA_WG_MMA_RS64(DT)  \
    asm volatile(  \
        "{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"  \
        "wgmma.mma_async.sync.aligned.m64n64k16.f32." DT "." DT " "  \
        NSA_WG_D64_REGS ", {%32, %33, %34, %35}, %36, p, 1, 1, 0;\n}\n"  \
        : NSA_WG_D64_OPERANDS  \
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(accumulate))
NSA_WG_DTYPES(mma_m64n64k16_rs,
              (float (&d)[8][4], const uint32_t (&a)[4], uint64_t desc_b, int accumulate),
              NSA_WG_MMA_RS64)
#undef NSA_WG_MMA_RS64
#undef NSA_WG_D128_OPERANDS
#undef NSA_WG_D128_REGS
#undef NSA_WG_D64_OPERANDS
#undef NSA_WG_D64_REGS
#undef NSA_WG_DTYPES
#endif  // NSA_HOST_EMULATION

}  // namespace wg
}  // namespace nsa
