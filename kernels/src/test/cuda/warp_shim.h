// Shims that let g++ compile block_select.cu for host emulation with real warps: each warp of the grid
// runs as 32 coroutines in lock-step at __syncwarp/__shfl_sync/__ballot_sync, so the warp-cooperative
// top-n runs as written. Warps run one after another. See block_select_emulation.cpp.
#pragma once
#include <algorithm>
#include <ucontext.h>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <vector>
#include "cuda_keywords_shim.h"
#undef __shared__
#define __shared__ static
using std::max;
using std::min;
inline float __fsub_rn(float a, float b) { volatile float r = a - b; return r; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __ffs(int x) { return __builtin_ffs(x); }

// A warp = 32 coroutines (ucontext) switched round-robin at every warp-synchronous point; warp-uniform
// code reaches the same sequence of sync points in every lane, so one round = one __syncwarp.
inline ucontext_t emu_main_ctx, emu_lane_ctx[32];
inline int emu_lane_done;
inline unsigned long long emu_exchange[32];
inline D3 emu_lane_tid[32];
inline void emu_sync() {
    const int lane = emu_threadIdx.x & 31;
    const D3 mine = emu_threadIdx;
    swapcontext(&emu_lane_ctx[lane], &emu_lane_ctx[(lane + 1) & 31]);
    emu_threadIdx = mine;   // threadIdx is one global: each lane restores its own on resuming
}
inline void __syncwarp(unsigned = 0xffffffffu) { emu_sync(); }
template <typename T> T __shfl_sync(unsigned, T v, int src) {
    const int lane = emu_threadIdx.x & 31;
    emu_sync();
    std::memcpy(&emu_exchange[lane], &v, sizeof(T));
    emu_sync();
    T r;
    std::memcpy(&r, &emu_exchange[src & 31], sizeof(T));
    emu_sync();
    return r;
}
inline unsigned __ballot_sync(unsigned, int pred) {
    const int lane = emu_threadIdx.x & 31;
    emu_sync();
    emu_exchange[lane] = pred ? 1 : 0;
    emu_sync();
    unsigned r = 0;
    for (int i = 0; i < 32; ++i) r |= static_cast<unsigned>(emu_exchange[i]) << i;
    emu_sync();
    return r;
}

inline std::function<void()> emu_body;
inline D3 emu_lane_bid;
inline void emu_lane_entry(int lane) {
    emu_threadIdx = emu_lane_tid[lane];
    emu_blockIdx = emu_lane_bid;
    emu_body();
    ++emu_lane_done;
    if (emu_lane_done == 32) setcontext(&emu_main_ctx);
    setcontext(&emu_lane_ctx[(lane + 1) & 31]);
}

// Runs kernel(p) on a grid of `grid` blocks of `block` threads, one warp at a time.
template <typename P>
void launch_warps(void (*kernel)(P), const P& p, int grid, int block = 256) {
    emu_gridDim = {(unsigned)grid, 1, 1};
    emu_blockDim = {(unsigned)block, 1, 1};
    static std::vector<char> stacks(32 * 262144);
    emu_body = [&] { kernel(p); };
    for (int b = 0; b < grid; ++b) {
        for (int w = 0; w < block / 32; ++w) {
            emu_lane_done = 0;
            emu_lane_bid = {(unsigned)b, 0, 0};
            for (int lane = 0; lane < 32; ++lane) {
                emu_lane_tid[lane] = {(unsigned)(w * 32 + lane), 0, 0};
                getcontext(&emu_lane_ctx[lane]);
                emu_lane_ctx[lane].uc_stack.ss_sp = &stacks[(size_t)lane * 262144];
                emu_lane_ctx[lane].uc_stack.ss_size = 262144;
                emu_lane_ctx[lane].uc_link = nullptr;
                makecontext(&emu_lane_ctx[lane], (void (*)())emu_lane_entry, 1, lane);
            }
            swapcontext(&emu_main_ctx, &emu_lane_ctx[0]);
        }
    }
}
