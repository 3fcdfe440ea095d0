// Shared steps of the experimental Hopper attention kernels (harness only, sm_90a: sel_union_wgmma.cuh,
// fa_wgmma.cuh): one warpgroup of 4 warps owns a 64-row query tile (warp w: rows 16w .. 16w + 15) with Dk = Dv =
// 128, keys in 64-key tiles in 128-byte-swizzled shared memory (nsa_wgmma.h), fp32 online softmax with base-2
// exponentials, P rounded to the input dtype (fast) or split into a high and a low term (exact P).
#pragma once

#include "nsa_wgmma.h"
#include "sel_common.cuh"

namespace nsa {
namespace wga {

using namespace nsa::tc;

constexpr int kThreads = 128;    // one warpgroup
constexpr int kRows = 64;        // query rows per CTA
constexpr int kTileKeys = 64;
constexpr int kD = 128;          // Dk = Dv
constexpr int kQBytes = kRows * kD * 2;        // two 8 KB swizzled regions
constexpr int kTileBytes = kTileKeys * kD * 2; // one K or V tile
constexpr int kStageBytes = 2 * kTileBytes;
constexpr int kSmemBytes = kQBytes + 2 * kStageBytes + 1024;   // two stages, + slack for 1024-byte alignment

// The kernels' dynamic shared memory (the host emulation maps it onto its own buffer).
#ifndef NSA_HOST_EMULATION
#define NSA_WG_DYNAMIC_SMEM(name) extern __shared__ __align__(1024) unsigned char name[]
#endif

// The 1024-byte-aligned start of the dynamic shared memory (every region of nsa_wgmma.h needs it).
__device__ __forceinline__ uint32_t aligned_smem(const void* raw) { return (smem_addr(raw) + 1023u) & ~1023u; }

// Copies rows [lo, hi) of a ROWS x 128 tile (row r at src + r * stride) into the swizzled regions at dst, zeros
// elsewhere (never read as keys: masked, or multiplied by P = 0).
template <typename T, int ROWS>
__device__ __forceinline__ void load_swizzled(uint32_t dst, const T* src, int64_t stride, int lo, int hi, int tid) {
    constexpr int kChunks = ROWS * kD / 8;
    for (int i = tid; i < kChunks; i += kThreads) {
        const int r = i / (kD / 8), c = i % (kD / 8);
        const bool valid = r >= lo && r < hi;
        cp_async16(dst + wg::swizzled_chunk<ROWS>(r, c), valid ? src + r * stride + c * 8 : src, valid);
    }
}

// A thread's share of the tile's rows: O accumulators (mma.sync's m16n8 layout, n8 tiles over Dv) and the running
// max and sum of its two rows.
struct RowState {
    float acc[kD / 8][4];
    float m[2];
    float l[2];
    __device__ __forceinline__ RowState() { nsa::sel::init_rows(acc, m, l); }
};

// Closes the cp.async group just issued (the next tile, or none) and waits for the one before it (this tile),
// then makes it visible to the tensor cores: every thread calls it.
__device__ __forceinline__ void tile_ready() {
    cp_async_commit();
    cp_async_wait<1>();
    wg::fence_async_shared();
    __syncthreads();
}

// One 64-key tile: S = Q K^T on the tensor cores; for a live warp (warp-uniform) the keys visible(nt, e) says
// (element e of n8 score tile nt: row lane/4 + 8·(e >> 1), key 8·nt + 2·(lane & 3) + (e & 1)) enter the online
// softmax (all of them unless partial) and O += P V; a warp that is not live adds P = 0 and keeps its max and sum.
template <typename T, bool EXACT, typename Visible>
__device__ __forceinline__ void tile_step(uint32_t sQ, uint32_t sK, uint32_t sV, bool live, bool partial,
                                          Visible visible, RowState& st, float scale_log2) {
    float s[kTileKeys / 8][4];
    wg::fence();
#pragma unroll
    for (int ks = 0; ks < kD / 16; ++ks) {
        wg::mma_m64n64k16_ss<T>(s, wg::desc_k_major<kRows>(sQ, ks), wg::desc_k_major<kTileKeys>(sK, ks), ks > 0);
    }
    wg::commit();
    wg::wait<0>();
    wg::fence_operands(s);
    uint32_t pa[kTileKeys / 16][4], pl[EXACT ? kTileKeys / 16 : 1][4];
    if (live) {
        if (partial) {
#pragma unroll
            for (int nt = 0; nt < kTileKeys / 8; ++nt) {
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    if (!visible(nt, e)) s[nt][e] = -INFINITY;
                }
            }
        }
        nsa::softmax::softmax_tile(s, st.m, st.l, st.acc, scale_log2);
#pragma unroll
        for (int kk = 0; kk < kTileKeys / 16; ++kk) p_frag<T, EXACT>(s, kk, pa[kk], pl[EXACT ? kk : 0]);
    } else {
#pragma unroll
        for (int kk = 0; kk < kTileKeys / 16; ++kk) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                pa[kk][e] = 0u;
                if constexpr (EXACT) pl[kk][e] = 0u;
            }
        }
    }
    wg::fence();
#pragma unroll
    for (int kk = 0; kk < kTileKeys / 16; ++kk) {
        wg::mma_m64n128k16_rs<T>(st.acc, pa[kk], wg::desc_mn_major<kTileKeys>(sV, kk), 1);
        if constexpr (EXACT) wg::mma_m64n128k16_rs<T>(st.acc, pl[kk], wg::desc_mn_major<kTileKeys>(sV, kk), 1);
    }
    wg::commit();
    wg::wait<0>();
    wg::fence_operands(st.acc);
}

// o = O / l (0 where no key was visible) and lse = m·scale + ln l (-inf then) of this thread's two rows; o_row(hf)
// is the element offset of row lane/4 + 8·hf's first column, negative for a row that is not stored.
template <typename T, typename Row>
__device__ __forceinline__ void store_rows(const AttnParams& p, Row o_row, const RowState& st, float* lse_of[2]) {
    const bool fp32 = p.out_fp32 != 0;
    const int lane = threadIdx.x & 31;
#pragma unroll
    for (int hf = 0; hf < 2; ++hf) {
        float l = st.l[hf];
        l += __shfl_xor_sync(0xffffffffu, l, 1);
        l += __shfl_xor_sync(0xffffffffu, l, 2);
        const int64_t off = o_row(hf);
        if (off < 0) continue;
        const float inv = l > 0.f ? 1.f / l : 0.f;
#pragma unroll
        for (int nt = 0; nt < kD / 8; ++nt) {
            nsa::sel::store2<T>(p.o, off + nt * 8 + 2 * (lane & 3), st.acc[nt][2 * hf] * inv,
                                st.acc[nt][2 * hf + 1] * inv, fp32);
        }
        if ((lane & 3) == 0 && lse_of[hf] != nullptr) *lse_of[hf] = l > 0.f ? st.m[hf] * p.scale + logf(l) : -INFINITY;
    }
}

}  // namespace wga
}  // namespace nsa
