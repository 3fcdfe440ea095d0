// The warp-level instructions of the tensor-core kernels on the block scheduler (block_shim.h), for the whole-kernel
// emulations of the tc image (tc_emulation.cpp, decode_emulation.cpp): __syncwarp, shuffles and ballots (every lane
// publishes, the warp meets, each lane reads), and ldmatrix and mma.sync m16n8k16 from the PTX ISA's fragment
// layouts. Include after block_shim.h and emu_device.h, with NSA_HOST_EMULATION defined, before any kernel.
#pragma once
#include <cstdint>
#include <cstring>

// The warp of the running thread meets: every lane arrives before any leaves.
inline int emu_warp_arrived[32], emu_warp_gen[32];
inline void emu_warp_sync() {
    const int w = emu_cur / 32, gen = emu_warp_gen[w];
    if (++emu_warp_arrived[w] == 32) { emu_warp_arrived[w] = 0; ++emu_warp_gen[w]; }
    while (emu_warp_gen[w] == gen) emu_step();
}
// Warp shuffles, ballots and __syncwarp on the block scheduler (the scorer's top-n, nsa_topn.h).
inline unsigned long long emu_wx[1024];
inline void __syncwarp(unsigned = 0xffffffffu) { emu_warp_sync(); }
template <typename T> T __shfl_sync(unsigned, T v, int src) {
    const int me = emu_cur;
    std::memcpy(&emu_wx[me], &v, sizeof(T));
    emu_warp_sync();
    T r;
    std::memcpy(&r, &emu_wx[(me & ~31) | (src & 31)], sizeof(T));
    emu_warp_sync();
    return r;
}
inline unsigned __ballot_sync(unsigned, int pred) {
    const int me = emu_cur, base = me & ~31;
    emu_wx[me] = pred != 0;
    emu_warp_sync();
    unsigned r = 0;
    for (int i = 0; i < 32; ++i) r |= static_cast<unsigned>(emu_wx[base + i] & 1u) << i;
    emu_warp_sync();
    return r;
}
inline int emu_count;
inline int __syncthreads_count(int pred) {
    emu_count += pred != 0;
    __syncthreads();
    const int r = emu_count;
    __syncthreads();
    if (threadIdx.x == 0) emu_count = 0;
    __syncthreads();
    return r;
}

inline uint32_t emu_pub[1024][6];   // per thread: an ldmatrix row address, or mma operands a0..a3, b0, b1
static uint16_t half_at(uint32_t addr) {
    uint16_t h;
    std::memcpy(&h, emu_smem + addr, 2);
    return h;
}
template <typename T> static float to_f(uint16_t bits) {
    T v;
    std::memcpy(&v, &bits, 2);
    return static_cast<float>(v);
}

namespace nsa {
namespace tc {
// Matrix i's row j address comes from lane 8i + j; lane L gets row L/4, columns 2(L%4), +1 of each matrix (trans:
// rows 2(L%4), +1 of column L/4).
inline void ldmatrix_any(uint32_t (&r)[4], uint32_t addr, bool trans) {
    const int me = emu_cur, lane = me % 32, base = me - lane;
    emu_pub[me][0] = addr;
    emu_warp_sync();
    for (int i = 0; i < 4; ++i) {
        if (!trans) {
            std::memcpy(&r[i], emu_smem + emu_pub[base + 8 * i + lane / 4][0] + (lane % 4) * 4, 4);
        } else {
            const uint32_t lo = half_at(emu_pub[base + 8 * i + 2 * (lane % 4)][0] + (lane / 4) * 2);
            const uint32_t hi = half_at(emu_pub[base + 8 * i + 2 * (lane % 4) + 1][0] + (lane / 4) * 2);
            r[i] = lo | hi << 16;
        }
    }
    emu_warp_sync();
}
inline void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr) { ldmatrix_any(r, addr, false); }
inline void ldmatrix_x4_trans(uint32_t (&r)[4], uint32_t addr) { ldmatrix_any(r, addr, true); }
// c += A B: A 16x16 (a0: row L/4, k 2(L%4); a1: row + 8; a2: k + 8; a3: both), B 16x8 (b0: k 2(L%4), +1 of column L/4;
// b1: k + 8), c: rows L/4 and L/4 + 8, columns 2(L%4), +1.
template <typename T>
inline void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    const int me = emu_cur, lane = me % 32, base = me - lane;
    for (int r = 0; r < 4; ++r) emu_pub[me][r] = a[r];
    emu_pub[me][4] = b0;
    emu_pub[me][5] = b1;
    emu_warp_sync();
    auto part = [](uint32_t reg, int k) { return static_cast<uint16_t>(k % 2 ? reg >> 16 : reg & 0xFFFFu); };
    for (int e = 0; e < 4; ++e) {
        const int row = lane / 4 + 8 * (e >> 1), col = 2 * (lane % 4) + (e & 1);
        float sum = 0.f;
        for (int k = 0; k < 16; ++k) {
            const float av = to_f<T>(part(emu_pub[base + (row % 8) * 4 + (k % 8) / 2][(row >= 8) + 2 * (k >= 8)], k));
            const float bv = to_f<T>(part(emu_pub[base + col * 4 + (k % 8) / 2][4 + (k >= 8)], k));
            sum += av * bv;
        }
        c[e] += sum;
    }
    emu_warp_sync();
}
}  // namespace tc
}  // namespace nsa
