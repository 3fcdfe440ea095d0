// A whole thread block as coroutines for host emulation (after warp_shim.h): the threads of a block run
// round-robin, one step per sync point (__shfl_xor_sync, __syncthreads), so warp butterflies and block barriers run
// as written; blocks run one after another. Used by compress_mlp_emulation.cpp and wg_emulation.cpp.
#pragma once
#include <functional>
#include <ucontext.h>
#include <vector>

inline int emu_cur = 0, emu_nthreads = 0, emu_arrived = 0, emu_generation = 0;
inline ucontext_t emu_blk_main, emu_blk_ctx[1024];
inline bool emu_blk_done[1024];
inline float emu_slot[1024];
inline void emu_step() {   // yield to the next live thread of the block
    const int me = emu_cur;
    int next = me;
    for (int i = 1; i <= emu_nthreads; ++i) {
        const int c = (me + i) % emu_nthreads;
        if (!emu_blk_done[c]) { next = c; break; }
    }
    if (next == me) return;
    emu_cur = next;
    swapcontext(&emu_blk_ctx[me], &emu_blk_ctx[next]);
    emu_cur = me;
    emu_threadIdx = {(unsigned)me, 0, 0};
}
inline float __shfl_xor_sync(unsigned, float v, int off) {
    const int me = emu_cur;
    emu_slot[me] = v;
    emu_step();
    const float r = emu_slot[(me & ~31) | ((me & 31) ^ off)];
    emu_step();
    return r;
}
inline void __syncthreads() {
    const int gen = emu_generation;
    if (++emu_arrived == emu_nthreads) { emu_arrived = 0; ++emu_generation; }
    while (emu_generation == gen) emu_step();
}
inline std::function<void()> emu_blk_body;
inline void emu_blk_entry() {
    emu_threadIdx = {(unsigned)emu_cur, 0, 0};
    emu_blk_body();
    emu_blk_done[emu_cur] = true;
    emu_step();                 // hand over; the last thread returns to the scheduler
    setcontext(&emu_blk_main);
}

// Runs body() for every block of the grid (gx, gy, gz), block threads each (at most 1024).
inline void launch_blocks(const std::function<void()>& body, unsigned gx, unsigned gy, unsigned gz, int block) {
    emu_gridDim = {gx, gy, gz};
    emu_blockDim = {(unsigned)block, 1, 1};
    static std::vector<char> stacks((size_t)1024 * 65536);
    emu_blk_body = body;
    for (unsigned bz = 0; bz < gz; ++bz) for (unsigned by = 0; by < gy; ++by) for (unsigned bx = 0; bx < gx; ++bx) {
        emu_blockIdx = {bx, by, bz};
        emu_nthreads = block; emu_arrived = 0;
        for (int t = 0; t < block; ++t) {
            emu_blk_done[t] = false;
            getcontext(&emu_blk_ctx[t]);
            emu_blk_ctx[t].uc_stack.ss_sp = &stacks[(size_t)t * 65536];
            emu_blk_ctx[t].uc_stack.ss_size = 65536;
            emu_blk_ctx[t].uc_link = nullptr;
            makecontext(&emu_blk_ctx[t], emu_blk_entry, 0);
        }
        emu_cur = 0;
        emu_threadIdx = {0, 0, 0};
        swapcontext(&emu_blk_main, &emu_blk_ctx[0]);
    }
}

template <typename P>
void launch_block(void (*kernel)(P), const P& p, int grid, int block = 256) {
    launch_blocks([&] { kernel(p); }, (unsigned)grid, 1, 1, block);
}
