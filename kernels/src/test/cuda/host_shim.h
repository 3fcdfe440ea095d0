// Shims that let g++ compile the kernel sources for host emulation (see host_emulation.cpp).
#pragma once
#include "cuda_keywords_shim.h"
// Warp shuffles (attention.cu): the 32 lanes of a warp run as coroutines (ucontext), switched round-robin
// by emu_run_warp; a shuffle is two barriers (all lanes publish, then all read). The kernels' control flow
// is warp-uniform, so every lane reaches the same barriers in the same order.
#include <ucontext.h>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>
struct EmuWarp {
    ucontext_t sched, lane[32];
    float slot[32];
    bool done[32];
    int cur = 0;
    unsigned warp = 0;
    std::function<void()> body;
};
inline EmuWarp* emu_warp = nullptr;
inline void emu_yield() { swapcontext(&emu_warp->lane[emu_warp->cur], &emu_warp->sched); }
inline float __shfl_xor_sync(unsigned, float x, int off) {
    if (!emu_warp) { std::fprintf(stderr, "__shfl_xor_sync outside emu_run_warp\n"); std::abort(); }
    const int l = emu_warp->cur;
    emu_warp->slot[l] = x;
    emu_yield();
    const float r = emu_warp->slot[l ^ off];
    emu_yield();
    return r;
}
inline void emu_lane_entry() {
    emu_warp->body();
    emu_warp->done[emu_warp->cur] = true;
}
// Runs body() for the 32 lanes of warp `warp` of the current block (threadIdx.x = 32·warp + lane).
inline void emu_run_warp(unsigned warp, std::function<void()> body) {
    static std::vector<char> stacks(32 * 256 * 1024);
    EmuWarp w;
    w.warp = warp;
    w.body = std::move(body);
    emu_warp = &w;
    for (int l = 0; l < 32; ++l) {
        w.done[l] = false;
        getcontext(&w.lane[l]);
        w.lane[l].uc_stack.ss_sp = &stacks[(size_t)l * 256 * 1024];
        w.lane[l].uc_stack.ss_size = 256 * 1024;
        w.lane[l].uc_link = &w.sched;
        makecontext(&w.lane[l], emu_lane_entry, 0);
    }
    for (bool any = true; any;) {
        any = false;
        for (int l = 0; l < 32; ++l) {
            if (w.done[l]) continue;
            any = true;
            w.cur = l;
            emu_threadIdx = {warp * 32 + l, 0, 0};
            swapcontext(&w.sched, &w.lane[l]);
        }
    }
    emu_warp = nullptr;
}
// CUDA's integer max/min overloads (device math API) for host compilation.
template <typename T> inline T max(T a, T b) { return a > b ? a : b; }
template <typename T> inline T min(T a, T b) { return a < b ? a : b; }
