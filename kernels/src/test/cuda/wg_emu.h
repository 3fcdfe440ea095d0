// wgmma on the host (host emulation of the Hopper kernels, after block_shim.h and emu_device.h): the descriptors
// decoded, and each thread's accumulator fragment (mma.sync's m16n8 layout per warp) computed from the shared memory
// they describe (and, for A in registers, the warpgroup's A fragments). bf16 operands. Used by wg_emulation.cpp and
// tc_emulation.cpp.
#pragma once
#include <cstdint>
#include <cstring>

#include "wg_layout.h"

// The 128-byte swizzle of an absolute shared-memory byte address (Swizzle<3,4,3>).
static uint32_t swz(uint32_t a) { return a ^ (((a >> 7) & 7u) << 4); }
struct Desc { uint32_t start, lbo, sbo, mode; };
static Desc decode(uint64_t d) {
    return {static_cast<uint32_t>(d & 0x3FFF) << 4, static_cast<uint32_t>((d >> 16) & 0x3FFF) << 4,
            static_cast<uint32_t>((d >> 32) & 0x3FFF) << 4, static_cast<uint32_t>(d >> 62)};
}

// wgmma on the host: each thread computes its own accumulator fragment (mma.sync's m16n8 layout per warp) from
// the operands its descriptors (and, for A in registers, the warpgroup's A fragments) describe.
static float bf16_at(uint32_t addr) {
    uint16_t b;
    std::memcpy(&b, emu_smem + addr, 2);
    const uint32_t u = static_cast<uint32_t>(b) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
static uint32_t k_major_off(int row, int k, uint32_t sbo) { return ((row % 8) * 64 + k % 8 + (k / 8) * 8) * 2 + (row / 8) * sbo; }
static uint32_t mn_major_off(int k, int n, uint32_t lbo, uint32_t sbo) {
    return ((n % 8) + (n / 8 % 8) * 8 + (k % 8) * 64) * 2 + (n / 64) * lbo + (k / 8) * sbo;
}
static uint32_t emu_afrag[128][4];
namespace nsa {
namespace wg {
inline void fence() {}
inline void commit() {}
template <int N> inline void wait() {}
inline void fence_async_shared() {}
template <int N> inline void fence_operands(float (&)[N][4]) {}
template <typename T>
inline void mma_m64n64k16_ss(float (&d)[8][4], uint64_t desc_a, uint64_t desc_b, int accumulate) {
    const int tid = threadIdx.x, w = tid / 32, lane = tid % 32;
    const Desc a = decode(desc_a), b = decode(desc_b);
    for (int j = 0; j < 8; ++j) {
        for (int e = 0; e < 4; ++e) {
            const int row = 16 * w + lane / 4 + 8 * (e >> 1), col = 8 * j + 2 * (lane & 3) + (e & 1);
            float sum = 0.f;
            for (int k = 0; k < 16; ++k) {
                sum += bf16_at(swz(a.start + k_major_off(row, k, a.sbo))) * bf16_at(swz(b.start + k_major_off(col, k, b.sbo)));
            }
            d[j][e] = accumulate ? d[j][e] + sum : sum;
        }
    }
}
template <typename T>
inline void mma_m64n128k16_rs(float (&d)[16][4], const uint32_t (&a)[4], uint64_t desc_b, int accumulate) {
    const int tid = threadIdx.x, w = tid / 32, lane = tid % 32;
    for (int r = 0; r < 4; ++r) emu_afrag[tid][r] = a[r];
    __syncthreads();
    const Desc b = decode(desc_b);
    for (int j = 0; j < 16; ++j) {
        for (int e = 0; e < 4; ++e) {
            const int r16 = lane / 4 + 8 * (e >> 1), n = 8 * j + 2 * (lane & 3) + (e & 1);
            float sum = 0.f;
            for (int k = 0; k < 16; ++k) {   // A(r16, k): lane (r16 % 8)·4 + (k % 8)/2, register (r16 >= 8) + 2·(k >= 8)
                const uint32_t reg = emu_afrag[32 * w + (r16 % 8) * 4 + (k % 8) / 2][(r16 >= 8) + 2 * (k >= 8)];
                const uint32_t u = (k % 2 ? reg >> 16 : reg & 0xFFFFu) << 16;
                float av;
                std::memcpy(&av, &u, 4);
                sum += av * bf16_at(swz(b.start + mn_major_off(k, n, b.lbo, b.sbo)));
            }
            d[j][e] = accumulate ? d[j][e] + sum : sum;
        }
    }
    __syncthreads();
}
}  // namespace wg
}  // namespace nsa
