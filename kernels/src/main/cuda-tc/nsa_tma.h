// Hopper (sm_90) asynchronous-copy primitives: mbarriers with transaction counts and the
// tensor memory accelerator's tiled loads (cp.async.bulk.tensor). Used by sel_tma.cu, block_score_kr.cu, the Hopper
// FA forward (fa2-bridge's fa2_hopper.cu) and the bulk-copy gather floor of the harness (kernels/src/test/cuda/sel_gather_floor.cuh).
#pragma once
#include <cuda.h>

#include <cstdint>

namespace nsa {
namespace tma {

__device__ __forceinline__ void mbar_init(uint32_t bar, int count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count));
}
// Makes the initialised mbarriers visible to the async proxy (the TMA) before any copy completes on them.
__device__ __forceinline__ void mbar_init_fence() {
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}
// One arrival that also expects `bytes` of copies to complete on bar before its phase flips.
__device__ __forceinline__ void mbar_expect_tx(uint32_t bar, uint32_t bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
// One plain arrival (a consumer releasing a stage to the producer).
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
// Spins until bar's phase with parity `phase` has completed.
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t phase) {
    asm volatile(
        "{\n.reg .pred p;\nWAIT_%=:\n"
        "mbarrier.try_wait.parity.shared::cta.b64 p, [%0], %1;\n"
        "@!p bra WAIT_%=;\n}\n" ::"r"(bar),
        "r"(phase)
        : "memory");
}
// The barriers of a warp-specialised CTA (one producer thread, consumer warps that release the stages): per stage a
// full mbarrier at full0 + 8·st (one arrival: the producer's expect_tx) and an empty one at empty0 + 8·st (one
// arrival per consumer warp), and qbar for an operand loaded once (one arrival). Thread 0 initialises them and makes
// them visible to the async proxy; then the CTA meets, before any role starts.
__device__ __forceinline__ void init_pipeline(uint32_t full0, uint32_t empty0, int stages, int consumer_warps,
                                              uint32_t qbar, int tid) {
    if (tid == 0) {
        for (int st = 0; st < stages; ++st) {
            mbar_init(full0 + 8 * st, 1);
            mbar_init(empty0 + 8 * st, consumer_warps);
        }
        mbar_init(qbar, 1);
        mbar_init_fence();
    }
    __syncthreads();
}
// One box of a rank-3 tensor map (coordinates c0 innermost .. c2) into shared memory at dst, completing on bar.
__device__ __forceinline__ void load_3d(uint32_t dst, const CUtensorMap* map, int c0, int c1, int c2, uint32_t bar) {
    asm volatile(
        "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4}], "
        "[%5];\n" ::"r"(dst),
        "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(bar)
        : "memory");
}

}  // namespace tma
}  // namespace nsa
