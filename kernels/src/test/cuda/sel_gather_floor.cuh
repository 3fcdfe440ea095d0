// The memory floor of sel-kernel's access pattern (harness only): one CTA of 128 threads per (query token, KV
// group) streams the K and V tiles (64 rows x Dk / Dv) of the token's valid chosen blocks through a two-stage
// cp.async pipeline into shared memory, exactly the bytes the token layout moves, and does no mma; each thread
// folds one element per tile into a sum so that nothing is elided. The time it takes bounds any kernel that
// reads every (token, group)'s chosen blocks from L2 / HBM without sharing them across tokens.
#pragma once
#include "nsa_mma.h"

namespace nsa::floor {

constexpr int kRows = 64, kThreads = 128, kStages = 2;

template <int DK, int DV>
__global__ void __launch_bounds__(kThreads) gather_floor(const __nv_bfloat16* __restrict__ k,
        const __nv_bfloat16* __restrict__ v, const int* __restrict__ blocks, int seq_len, int kv_heads, int n_sel,
        int lsel, float* __restrict__ sink) {
    extern __shared__ __align__(128) unsigned char smem[];
    constexpr int kTileBytes = kRows * (DK + DV) * 2;
    constexpr int kChunks = kTileBytes / 16;
    const int tok = blockIdx.x, g = blockIdx.y;
    const int t = tok % seq_len;
    const int64_t row0 = (int64_t)(tok - t);
    const int* chosen = blocks + ((int64_t)tok * kv_heads + g) * n_sel;
    const uint32_t base = (uint32_t)__cvta_generic_to_shared(smem);
    auto issue = [&](int blk, int stage) {
        for (int c = threadIdx.x; c < kChunks; c += kThreads) {
            const int kc = kRows * DK / 8;
            const bool isk = c < kc;
            const int cc = isk ? c : c - kc, per_row = (isk ? DK : DV) / 8;
            const int r = cc / per_row, col = (cc % per_row) * 8;
            const int64_t key = row0 + (int64_t)blk * lsel + r;
            const __nv_bfloat16* src = isk ? k + (key * kv_heads + g) * DK + col : v + (key * kv_heads + g) * DV + col;
            nsa::tc::cp_async16(base + stage * kTileBytes + c * 16, src, true);
        }
        nsa::tc::cp_async_commit();
    };
    int list[32], cnt = 0;
    for (int e = 0; e < n_sel && cnt < 32; ++e) {
        const int b = chosen[e];
        if (b >= 0 && b * lsel <= t) list[cnt++] = b;
    }
    float acc = 0.f;
    if (cnt > 0) issue(list[0], 0);
    for (int i = 0; i < cnt; ++i) {
        if (i + 1 < cnt) issue(list[i + 1], (i + 1) % kStages); else nsa::tc::cp_async_commit();
        nsa::tc::cp_async_wait<1>();
        __syncthreads();
        const __nv_bfloat16* tile = reinterpret_cast<const __nv_bfloat16*>(smem + (i % kStages) * kTileBytes);
        acc += __bfloat162float(tile[threadIdx.x * 8 + (i & 7)]);
        __syncthreads();
    }
    if (acc == 12345.f) sink[tok] = acc;   // never true in practice; keeps the loads
}

template <int DK, int DV> constexpr size_t smem_bytes() { return (size_t)kStages * kRows * (DK + DV) * 2; }

}  // namespace nsa::floor
