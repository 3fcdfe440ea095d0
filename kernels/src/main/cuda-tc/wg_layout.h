// Shared-memory tile layout of the experimental Hopper kernels (harness only; no instructions, so the host
// emulation compiles it too): 128-byte-swizzled tiles and the wgmma matrix descriptors that describe them.
//
// Tile storage ("swizzled regions"): a tile of R rows x D 16-bit columns is D/64 column regions of R x 128 bytes,
// each 1024-byte aligned; the 16-byte chunk c (0..7) of row r sits at chunk c ^ (r & 7) of that row (the 128-byte
// swizzle, address bits [4, 7) ^= bits [7, 10)). Such a tile is a K-major wgmma operand when its rows are M / N
// (S = Q K^T: Q rows, K rows) and an MN-major one when its rows are K (P V: V rows are keys): the PTX ISA's
// canonical layouts ((8,m),(T,2k)):((8T,SBO),(1,T)) and ((T,8,m),(8,k)):((1,T,LBO),(8T,SBO)) with T = 8.
#pragma once

#include <cstdint>

namespace nsa {
namespace wg {

__host__ __device__ constexpr int kRegionBytes(int rows) { return rows * 128; }

// Shared-memory byte offset of 16-byte chunk c (0 .. D/8) of row r in a tile of ROWS rows.
template <int ROWS>
__device__ __forceinline__ uint32_t swizzled_chunk(int r, int c) {
    return static_cast<uint32_t>((c >> 3) * kRegionBytes(ROWS) + r * 128 + (((c & 7) ^ (r & 7)) << 4));
}

// Descriptor fields (PTX ISA, "matrix descriptor"): start address >> 4 in bits [0, 14), leading-dimension byte
// offset >> 4 in [16, 30), stride-dimension byte offset >> 4 in [32, 46), base offset 0 (1024-aligned regions),
// swizzle mode 1 (128 bytes) in bits [62, 64).
__device__ __forceinline__ uint64_t desc(uint32_t smem_byte_addr, uint32_t lbo_bytes, uint32_t sbo_bytes) {
    return static_cast<uint64_t>((smem_byte_addr & 0x3FFFF) >> 4) | (static_cast<uint64_t>(lbo_bytes >> 4) << 16)
           | (static_cast<uint64_t>(sbo_bytes >> 4) << 32) | (1ull << 62);
}
// K-major operand (rows are M or N): k-step ks (16 columns = 32 bytes) of a tile of ROWS rows at base.
template <int ROWS>
__device__ __forceinline__ uint64_t desc_k_major(uint32_t base, int ks) {
    return desc(base + (ks >> 2) * kRegionBytes(ROWS) + (ks & 3) * 32, 16, 1024);
}
// MN-major operand (rows are K, 64-column regions along N): k-step kk (16 rows) of a tile of ROWS rows at base.
template <int ROWS>
__device__ __forceinline__ uint64_t desc_mn_major(uint32_t base, int kk) {
    return desc(base + kk * 16 * 128, kRegionBytes(ROWS), 1024);
}

}  // namespace wg
}  // namespace nsa
