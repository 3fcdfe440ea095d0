// An experimental Hopper variant of sel-kernel's union layout (harness only: -DNSA_SEL_WGMMA, sm_90a; on an H200
// 8-15% slower than the mma.sync union layout, docs/results/sel-kernel-h200.md). Same CTA as the union layout (sel_union.cu): 4 consecutive query tokens of one KV group, warp w = token w
// with its 16 heads, the union of the tokens' chosen blocks streamed once through two cp.async stages. The four
// warps' 16-row tiles form one 64-row warpgroup tile, so each 64-key tile is two warpgroup MMAs:
//   S[64 x 64] = Q[64 x Dk] K^T      wgmma m64n64k16, Q and K K-major in shared memory (128-byte swizzle)
//   O[64 x Dv] += P[64 x 64] V       wgmma m64n128k16, P in registers (mma.sync's A fragments), V MN-major
// A warp whose token did not choose the tile (or sees none of its keys) takes part in both MMAs with P = 0 and
// leaves its running max and sum alone, so each token's result still depends on its own blocks only, visited in
// ascending key order. Dk = Dv = 128, fp16 / bf16, h rows of 16 per CTA as the union layout.
//
// The union prologue repeats sel_union.cu's (the image's kernels stay byte-identical while this is an experiment;
// it moves into a shared function when a measured win takes this kernel into the image).
#pragma once

#include <climits>

#include "wg_attention.cuh"

namespace nsa {
namespace selw {

using namespace nsa::tc;
using nsa::sel::sequence_of;

constexpr int kTok = 4;
constexpr int kThreads = wga::kThreads;
constexpr int kRows = 16;        // heads per warp
constexpr int kTileKeys = wga::kTileKeys;
constexpr int kD = wga::kD;
constexpr int kMaxBlocks = 64;        // n (as sel_union.cu)
constexpr int kNotKept = INT_MIN;
constexpr int kSmemBytes = wga::kSmemBytes;

template <typename T, bool EXACT>
__device__ __forceinline__ void fwd(const AttnParams& p) {
    NSA_WG_DYNAMIC_SMEM(smem_raw);
    const uint32_t sQ = wga::aligned_smem(smem_raw);
    auto stage_k = [&](int i) { return sQ + wga::kQBytes + (i & 1) * wga::kStageBytes; };
    __shared__ int s_row[kTok * kMaxBlocks];
    __shared__ uint32_t s_first[kTok * kMaxBlocks];
    __shared__ int s_key[kTok * kMaxBlocks];
    __shared__ uint32_t s_mask[kTok * kMaxBlocks];
    __shared__ int s_lo[kTok], s_hi[kTok];
    __shared__ int s_nunion;

    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int lane = tid & 31;
    const int h = p.heads / p.kv_heads;
    const int chunks = (h + kRows - 1) / kRows;
    const int g = blockIdx.y / chunks;
    const int head0 = g * h + (blockIdx.y - g * chunks) * kRows;
    const int rows = min(kRows, g * h + h - head0);
    const int tok = blockIdx.x * kTok + warp;
    const bool active = tok < p.nnz_q;
    const int n = min(p.n_sel, kMaxBlocks);
    const int sel = p.sel_block;
    const float scale_log2 = p.scale * 1.4426950408889634f;
    if (tid == 0) s_nunion = 0;

    // the union of the tokens' chosen blocks (as sel_union.cu)
    int vlo = INT_MAX, vhi = INT_MIN;
    if (active) {
        const int b = sequence_of(p.cu_q, p.batch, tok);
        const int64_t t = static_cast<int64_t>(p.q_start != nullptr ? p.q_start[b] : 0) + (tok - p.cu_q[b]);
        const int64_t k0 = p.cu_k[b];
        const int64_t kpos0 = p.k_start != nullptr ? p.k_start[b] : 0;
        const int64_t kend = kpos0 + (p.cu_k[b + 1] - k0);
        vlo = static_cast<int>(k0);
        vhi = static_cast<int>(k0 + max(static_cast<int64_t>(0), min(t + 1, kend) - kpos0));
        const int32_t* blk = p.blocks + static_cast<int64_t>(tok) * p.blocks_tok_stride + g * p.blocks_head_stride;
        for (int e = lane; e < n; e += 32) {
            const int j = blk[e];
            const int64_t lo = static_cast<int64_t>(j) * sel;
            bool keep = j >= 0 && lo <= t && lo < kend && lo + sel > kpos0;
            for (int f = 0; f < e && keep; ++f) keep = blk[f] != j;
            s_row[warp * n + e] = keep ? static_cast<int>(k0 + (lo - kpos0)) : kNotKept;
        }
    } else {
        for (int e = lane; e < n; e += 32) s_row[warp * n + e] = kNotKept;
    }
    if (lane == 0) {
        s_lo[warp] = vlo;
        s_hi[warp] = vhi;
    }
    __syncthreads();
    const int entries = kTok * n;
    for (int e = tid; e < entries; e += kThreads) {
        const int r = s_row[e];
        uint32_t mask = 0;
        bool first = r != kNotKept;
        if (first) {
            for (int w = 0; w < kTok; ++w) {
                for (int f = 0; f < n; ++f) {
                    if (s_row[w * n + f] == r) {
                        mask |= 1u << w;
                        first = first && w * n + f >= e;
                    }
                }
            }
        }
        s_first[e] = first ? mask : 0u;
    }
    __syncthreads();
    for (int e = tid; e < entries; e += kThreads) {
        const uint32_t mask = s_first[e];
        if (mask == 0u) continue;
        const int r = s_row[e];
        int rank = 0;
        for (int f = 0; f < entries; ++f) rank += s_first[f] != 0u && s_row[f] < r;
        s_key[rank] = r;
        s_mask[rank] = mask;
        atomicAdd(&s_nunion, 1);
    }
    int ld_lo = INT_MAX, ld_hi = INT_MIN;
#pragma unroll
    for (int w = 0; w < kTok; ++w) {
        ld_lo = min(ld_lo, s_lo[w]);
        ld_hi = max(ld_hi, s_hi[w]);
    }
    __syncthreads();
    const int sub = sel / kTileKeys;
    const int ntiles = s_nunion * sub;

    const T* gK = static_cast<const T*>(p.k) + g * p.k_head_stride;
    const T* gV = static_cast<const T*>(p.v) + g * p.v_head_stride;
    auto tile_base = [&](int i) { return s_key[i / sub] + (i % sub) * kTileKeys; };
    auto load_tile = [&](int i) {
        const int base = tile_base(i);
        const int lo = max(0, ld_lo - base), hi = min(kTileKeys, ld_hi - base);
        wga::load_swizzled<T, kTileKeys>(stage_k(i), gK + static_cast<int64_t>(base) * p.k_tok_stride,
                                         p.k_tok_stride, lo, hi, tid);
        wga::load_swizzled<T, kTileKeys>(stage_k(i) + wga::kTileBytes, gV + static_cast<int64_t>(base) * p.v_tok_stride,
                                         p.v_tok_stride, lo, hi, tid);
    };
    if (ntiles > 0) {
        // Q: 64 rows, row 16w + r = head head0 + r of token blockIdx.x·4 + w (zeros past the heads or the tokens)
        for (int i = tid; i < kTok * kRows * kD / 8; i += kThreads) {
            const int rr = i / (kD / 8), c = i % (kD / 8);
            const int w = rr / kRows, r = rr % kRows;
            const int tw = blockIdx.x * kTok + w;
            const bool valid = tw < p.nnz_q && r < rows;
            const T* src = static_cast<const T*>(p.q) + static_cast<int64_t>(valid ? tw : 0) * p.q_tok_stride
                           + (head0 + (valid ? r : 0)) * p.q_head_stride + c * 8;
            cp_async16(sQ + wg::swizzled_chunk<kTok * kRows>(rr, c), src, valid);
        }
        load_tile(0);
    }
    cp_async_commit();

    wga::RowState st;
    const uint32_t bit = 1u << warp;

    for (int i = 0; i < ntiles; ++i) {
        if (i + 1 < ntiles) load_tile(i + 1);   // into the stage tile i - 1 used
        wga::tile_ready();   // tile i (and Q) landed, visible to the tensor cores
        const uint32_t sK = stage_k(i);
        const int base = tile_base(i);
        const bool mine = (s_mask[i / sub] & bit) != 0u && base < vhi && base + kTileKeys > vlo;   // warp-uniform
        wga::tile_step<T, EXACT>(sQ, sK, sK + wga::kTileBytes, mine, base < vlo || base + kTileKeys > vhi,
                                 [&](int nt, int e) {
                                     const int kr = base + nt * 8 + 2 * (lane & 3) + (e & 1);
                                     return kr >= vlo && kr < vhi;
                                 },
                                 st, scale_log2);
        __syncthreads();   // every warp is done with this stage before the next iteration refills it
    }
    cp_async_wait_all();

    float* lse_of[2];
#pragma unroll
    for (int hf = 0; hf < 2; ++hf) {
        const int r = (lane >> 2) + 8 * hf;
        lse_of[hf] = active && r < rows && p.lse != nullptr
                         ? p.lse + static_cast<int64_t>(tok) * p.lse_tok_stride + head0 + r : nullptr;
    }
    wga::store_rows<T>(p, [&](int hf) -> int64_t {
        const int r = (lane >> 2) + 8 * hf;
        return active && r < rows ? static_cast<int64_t>(tok) * p.o_tok_stride + (head0 + r) * p.o_head_stride : -1;
    }, st, lse_of);
}

}  // namespace selw
}  // namespace nsa

#ifndef NSA_SELW_MINB
#define NSA_SELW_MINB 2
#endif
extern "C" __global__ void __launch_bounds__(nsa::selw::kThreads, NSA_SELW_MINB)
    nsa_sel_wgmma_bf16_dk128_dv128(const __grid_constant__ nsa::AttnParams p) {
    nsa::selw::fwd<__nv_bfloat16, false>(p);
}
extern "C" __global__ void __launch_bounds__(nsa::selw::kThreads, NSA_SELW_MINB)
    nsa_sel_wgmma_bf16_dk128_dv128_exact(const __grid_constant__ nsa::AttnParams p) {
    nsa::selw::fwd<__nv_bfloat16, true>(p);
}
