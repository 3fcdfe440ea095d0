// Host versions of the device primitives the tensor-core kernels share, for the whole-kernel emulations
// (tc_emulation.cpp, wg_emulation.cpp; NSA_HOST_EMULATION set before any kernel header): a block's dynamic shared
// memory as one buffer (shared-space addresses are offsets into it), cp.async as an immediate copy, ex2 as exp2, the
// launch qualifiers as nothing. Include after warp_shim.h and block_shim.h.
#pragma once
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>

#undef __launch_bounds__
#define __launch_bounds__(...)
#define __align__(x)
alignas(1024) inline unsigned char emu_smem[192 * 1024];   // the block's dynamic shared memory
#define NSA_TC_DYNAMIC_SMEM(name) unsigned char* name = emu_smem
#define NSA_WG_DYNAMIC_SMEM(name) unsigned char* name = emu_smem
inline int atomicAdd(int* p, int v) { const int o = *p; *p += v; return o; }

namespace nsa {
namespace tc {
inline uint32_t smem_addr(const void* p) { return static_cast<uint32_t>(static_cast<const unsigned char*>(p) - emu_smem); }
inline void cp_async16(uint32_t dst, const void* src, bool valid) {
    if (valid) std::memcpy(emu_smem + dst, src, 16); else std::memset(emu_smem + dst, 0, 16);
}
inline void cp_async_commit() {}
inline void cp_async_wait_all() {}
template <int N> inline void cp_async_wait() {}
inline float ex2(float x) { return std::exp2(x); }
}  // namespace tc
}  // namespace nsa
