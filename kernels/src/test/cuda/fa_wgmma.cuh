// An experimental Hopper flash-attention forward for NSA's dense-pattern branches (harness only: -DNSA_FA_WGMMA,
// sm_90a; on an H200 within a few percent of FA-2 either way, docs/results/sel-kernel-h200.md): the window branch (keys t - w + 1 .. t) and the compressed branch (compressed key i
// visible when i·d + l - 1 <= t), Dk = Dv = 128, fp16 / bf16, varlen through cu_q / cu_k (positions from 0, no
// q_start / k_start). One CTA of one warpgroup takes 64 consecutive query tokens of one query head (the KV head
// is head / (heads / kv_heads)) and streams the key tiles that any of its rows may see through two cp.async
// stages; each tile is wga::tile_step (two warpgroup MMAs). Rows past the sequence are never stored.
// It is measured against nsa4j's reference attention (`sdpa-masked`) on the same inputs and against the FA-2
// kernels' times in nsa bench nsa; the FA-2 kernels (fa2-bridge) stay the image's branch kernels.
#pragma once

#include "fa_tiles.h"
#include "wg_attention.cuh"

namespace nsa {
namespace faw {

using namespace nsa::tc;
using nsa::wga::kD;
using nsa::wga::kRows;
using nsa::wga::kThreads;
using nsa::wga::kTileKeys;

// grid (ceil(max query length / 64), heads, batch)
template <typename T, bool EXACT>
__device__ __forceinline__ void fwd(const AttnParams& p) {
    NSA_WG_DYNAMIC_SMEM(smem_raw);
    const uint32_t sQ = wga::aligned_smem(smem_raw);
    auto stage_k = [&](int i) { return sQ + wga::kQBytes + (i & 1) * wga::kStageBytes; };
    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int lane = tid & 31;
    const int head = blockIdx.y;
    const int kvh = head / (p.heads / p.kv_heads);
    const int b = blockIdx.z;
    const int q0 = p.cu_q[b], nq = p.cu_q[b + 1] - q0;
    const int k0 = p.cu_k[b], nk = p.cu_k[b + 1] - k0;
    const int t0 = blockIdx.x * kRows;
    if (t0 >= nq) return;   // CTA-uniform
    const int t1 = min(nq, t0 + kRows);
    int klo, khi;
    row_keys(p, t0, t1, nk, klo, khi);
    const int ntiles = khi > klo ? (khi - klo + kTileKeys - 1) / kTileKeys : 0;
    const float scale_log2 = p.scale * 1.4426950408889634f;

    const T* gQ = static_cast<const T*>(p.q) + static_cast<int64_t>(q0 + t0) * p.q_tok_stride + head * p.q_head_stride;
    const T* gK = static_cast<const T*>(p.k) + static_cast<int64_t>(k0) * p.k_tok_stride + kvh * p.k_head_stride;
    const T* gV = static_cast<const T*>(p.v) + static_cast<int64_t>(k0) * p.v_tok_stride + kvh * p.v_head_stride;
    auto load_tile = [&](int i) {
        const int base = klo + i * kTileKeys;
        const int hi = min(kTileKeys, khi - base);
        wga::load_swizzled<T, kTileKeys>(stage_k(i), gK + static_cast<int64_t>(base) * p.k_tok_stride, p.k_tok_stride,
                                         0, hi, tid);
        wga::load_swizzled<T, kTileKeys>(stage_k(i) + wga::kTileBytes, gV + static_cast<int64_t>(base) * p.v_tok_stride,
                                         p.v_tok_stride, 0, hi, tid);
    };
    if (ntiles > 0) {
        wga::load_swizzled<T, kRows>(sQ, gQ, p.q_tok_stride, 0, t1 - t0, tid);
        load_tile(0);
    }
    cp_async_commit();

    wga::RowState st;
    const int row0 = t0 + warp * 16 + (lane >> 2);   // this thread's rows: row0 and row0 + 8
    const int wlo = t0 + warp * 16, whi = min(t1, wlo + 16);   // the warp's rows

    for (int i = 0; i < ntiles; ++i) {
        if (i + 1 < ntiles) load_tile(i + 1);
        wga::tile_ready();
        const uint32_t sK = stage_k(i);
        const int base = klo + i * kTileKeys;
        const WarpTile wt = warp_tile(p, wlo, whi, 16, base, kTileKeys, khi, nk);   // warp-uniform
        wga::tile_step<T, EXACT>(sQ, sK, sK + wga::kTileBytes, wt.live, !wt.full,
                                 [&](int nt, int e) {
                                     const int s = base + nt * 8 + 2 * (lane & 3) + (e & 1);
                                     const int t = row0 + 8 * (e >> 1);
                                     return t < t1 && s < khi && visible(p, t, s);
                                 },
                                 st, scale_log2);
        __syncthreads();
    }
    cp_async_wait_all();

    float* lse_of[2];
#pragma unroll
    for (int hf = 0; hf < 2; ++hf) {
        const int t = row0 + 8 * hf;
        lse_of[hf] = t < t1 && p.lse != nullptr ? p.lse + static_cast<int64_t>(q0 + t) * p.lse_tok_stride + head
                                                : nullptr;
    }
    wga::store_rows<T>(p, [&](int hf) -> int64_t {
        const int t = row0 + 8 * hf;
        return t < t1 ? static_cast<int64_t>(q0 + t) * p.o_tok_stride + head * p.o_head_stride : -1;
    }, st, lse_of);
}

}  // namespace faw
}  // namespace nsa

#ifndef NSA_FAW_MINB
#define NSA_FAW_MINB 2
#endif
extern "C" __global__ void __launch_bounds__(nsa::wga::kThreads, NSA_FAW_MINB)
    nsa_fa_wgmma_bf16_d128(const __grid_constant__ nsa::AttnParams p) {
    nsa::faw::fwd<__nv_bfloat16, false>(p);
}
extern "C" __global__ void __launch_bounds__(nsa::wga::kThreads, NSA_FAW_MINB)
    nsa_fa_wgmma_bf16_d128_exact(const __grid_constant__ nsa::AttnParams p) {
    nsa::faw::fwd<__nv_bfloat16, true>(p);
}
