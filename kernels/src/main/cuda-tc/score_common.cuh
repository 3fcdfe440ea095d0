// The steps the tensor-core block scorers share (block_score.cu: mma.sync, any h; block_score_wg.cu: Hopper
// warpgroup MMA, h <= 16): one token's state, the probabilities of a 16-head m-tile of scores, the per-token sum
// over the heads into a ring of compressed-token scores, and the selection blocks a tile completes offered to the
// token's running top-n (nsa_topn.h). The NSA spec's "Selection branch" is the function; block_score.cu's header
// explains the order of the fp32 sums.
#pragma once
#include <cfloat>
#include <cmath>

#include "nsa_mma.h"
#include "nsa_params.h"
#include "nsa_topn.h"

namespace nsa {
namespace score {

using namespace nsa::tc;

constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kTile = 64;      // compressed tokens per stage
#ifdef NSA_SCORE_STAGES
constexpr int kStages = NSA_SCORE_STAGES;   // tuning override
#else
constexpr int kStages = 2;   // 2 measured faster than 3 (more CTAs per SM), docs/results/sel-kernel-h200.md
#endif
constexpr int kRing = 2 * kTile;

template <typename T, int D>
__device__ __forceinline__ void load_tile(T* tile, const T* src, int64_t stride, int rows, int rows_valid, int tid) {
    constexpr int kChunks = D / 8;
    for (int idx = tid; idx < rows * kChunks; idx += kThreads) {
        const int r = idx / kChunks;
        const int c = idx - r * kChunks;
        const bool ok = r < rows_valid;
        cp_async16(smem_addr(tile + SmemRows<D>::offset(r, c)), ok ? src + r * stride + c * 8 : src, ok);
    }
}

// One query token of a warp: t (in its sequence), its visible compressed tokens, its current selection block, the
// blocks offered so far; need: it scores at all (some visible block is not forced in).
struct Token {
    int64_t t;
    int ncmp, cur, jdone;
    bool valid, need;
};
__device__ __forceinline__ Token token_at(const BlockSelectParams& p, int64_t t, int64_t len, int n, int keep) {
    Token k;
    k.t = t;
    k.valid = t < len;
    k.ncmp = k.valid ? select_visible_cmp(t, p.block_len, p.block_stride) : 0;
    k.cur = k.valid ? static_cast<int>(t / p.sel_block) : 0;
    k.need = k.valid && k.cur + 1 > n && keep > 0;
    k.jdone = 0;
    return k;
}

// Offers blocks [j0, j1) of one token, scored from its c ring, to its top-n list. With r = l' / d (d | l' and
// d | l, checked on the host), block j's compressed tokens are i = j·r + u for u in [u0, r), u0 = −floor((l − 1)/d),
// and ω(i, j) = (min(u·d + l, l') − max(u·d, 0)) / l depends on u only: the same terms, in the same ascending order,
// as the overlap range of nsa_topn.h, in 32-bit arithmetic (i < ncmp fits an int).
__device__ __forceinline__ void offer_blocks(const BlockSelectParams& p, const float* ring, int ncmp, int cur,
                                             int keep, int j0, int j1, TopList& top, int lane) {
    const float inv_l = 1.f / static_cast<float>(p.block_len);
    const int d = p.block_stride, r = p.sel_block / d, u0 = -((p.block_len - 1) / d);
    for (int c0 = j0; c0 < j1; c0 += 32) {
        const int j = c0 + lane;
        float sc = 0.f;
        if (j < j1) {
            for (int u = u0; u < r; ++u) {
                const int i = j * r + u;
                if (i < 0 || i >= ncmp) continue;
                const int ov = min(u * d + p.block_len, p.sel_block) - max(u * d, 0);
                sc = fmaf(ring[i & (kRing - 1)], static_cast<float>(ov) * inv_l, sc);
            }
        }
        topn_offer(top, keep, j < j1 ? topn_candidate(sc, j, cur) : 0ull, lane);
    }
}

// lse·log2 e of the lane's rows (heads) lane/4 and lane/4 + 8 of m-tile mt; +inf past h (p = 0 there).
__device__ __forceinline__ void row_lse(const BlockSelectParams& p, int64_t tok, int g, int h, int mt, int lane,
                                        float (&lb)[2]) {
#pragma unroll
    for (int hf = 0; hf < 2; ++hf) {
        const int r = mt * 16 + (lane >> 2) + 8 * hf;
        lb[hf] = r < h ? p.lse[tok * p.lse_tok_stride + (static_cast<int64_t>(g) * h + r) * p.lse_head_stride]
                             * 1.4426950408889634f
                       : INFINITY;
    }
}

// cs += p of one m-tile's scores s (mma's m16n8 accumulator layout, columns i0 + 8·nt + 2·(lane & 3) + {0, 1}):
// p = 2^(s·scale·log2 e − lb) for compressed tokens below ncmp, 0 beyond; cs[nt][c] sums the lane's two rows.
__device__ __forceinline__ void add_probs(const float (&s)[kTile / 8][4], const float (&lb)[2], int i0, int ncmp,
                                          float scale_log2, float (&cs)[kTile / 8][2], int lane) {
    if (i0 + kTile <= ncmp) {   // warp-uniform: the whole tile is visible
#pragma unroll
        for (int nt = 0; nt < kTile / 8; ++nt) {
#pragma unroll
            for (int e = 0; e < 4; ++e) cs[nt][e & 1] += ex2(fmaf(s[nt][e], scale_log2, -lb[e >> 1]));
        }
        return;
    }
#pragma unroll
    for (int nt = 0; nt < kTile / 8; ++nt) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            const int col = i0 + nt * 8 + 2 * (lane & 3) + (e & 1);
            const float pe = col < ncmp ? ex2(fmaf(s[nt][e], scale_log2, -lb[e >> 1])) : 0.f;
            cs[nt][e & 1] += pe;
        }
    }
}

// The end of tile i0 for one token: c(i) = Σ_h p(h, i) over the warp's lanes into the ring, then the blocks whose
// compressed tokens are all in ((j + 1)·l' <= (i0 + 64)·d, or all of them once this tile holds the token's last
// compressed token) offered to its top-n. The sum over the 8 lanes that hold the same columns (lane bits 2..4) is a
// reduce-scatter: each exchange halves the n8 tiles a lane carries (14 shuffles, not 48), so lane L ends with the
// sums of n8 tile L/4, columns 2·(L & 3) + {0, 1}, and the warp stores the tile's 64 sums at once.
__device__ __forceinline__ void finish_tile(const BlockSelectParams& p, float (&cs)[kTile / 8][2], float* ring, int i0,
                                            Token& k, int keep, TopList& top, int lane) {
    static_assert(kTile == 64, "the reduce-scatter below spreads 8 n8 tiles over 8 lanes");
    float c[2];
#pragma unroll
    for (int e = 0; e < 2; ++e) {
        const bool b4 = lane & 16, b3 = lane & 8, b2 = lane & 4;
        float a[4], b[2];
#pragma unroll
        for (int i = 0; i < 4; ++i) {   // a[i]: n8 tile i + 4·b4
            const float mine = b4 ? cs[i + 4][e] : cs[i][e], theirs = b4 ? cs[i][e] : cs[i + 4][e];
            a[i] = mine + __shfl_xor_sync(0xffffffffu, theirs, 16);
        }
#pragma unroll
        for (int i = 0; i < 2; ++i) {   // b[i]: n8 tile i + 2·b3 + 4·b4
            const float mine = b3 ? a[i + 2] : a[i], theirs = b3 ? a[i] : a[i + 2];
            b[i] = mine + __shfl_xor_sync(0xffffffffu, theirs, 8);
        }
        const float mine = b2 ? b[1] : b[0], theirs = b2 ? b[0] : b[1];
        c[e] = mine + __shfl_xor_sync(0xffffffffu, theirs, 4);   // n8 tile lane / 4
    }
    *reinterpret_cast<float2*>(ring + ((i0 + 8 * (lane >> 2) + 2 * (lane & 3)) & (kRing - 1))) = make_float2(c[0], c[1]);
    __syncwarp();
    const int64_t fin = (static_cast<int64_t>(i0) + kTile) * p.block_stride / p.sel_block;
    const int jend = i0 + kTile >= k.ncmp ? k.cur + 1 : static_cast<int>(min(static_cast<int64_t>(k.cur) + 1, fin));
    offer_blocks(p, ring, k.ncmp, k.cur, keep, k.jdone, jend, top, lane);
    k.jdone = max(k.jdone, jend);
}

// The token's chosen set: its remaining blocks offered (a token with no compressed token scores every block 0: the
// tie-break decides), then written sorted ascending and -1 padded into indices[start + t, g, 0..n).
__device__ __forceinline__ void finish_token(const BlockSelectParams& p, const float* ring, int64_t start, int g,
                                             Token& k, int n, int keep, TopList& top, int lane) {
    if (!k.valid) return;
    if (k.need && k.jdone < k.cur + 1) offer_blocks(p, ring, k.ncmp, k.cur, keep, k.jdone, k.cur + 1, top, lane);
    int32_t* out = p.indices + (start + k.t) * p.idx_tok_stride + g * p.idx_group_stride;
    topn_write(out, top, n, k.cur, k.cur + 1 <= n, lane);
}

}  // namespace score
}  // namespace nsa

// Defines KERNEL(name suffix, element type, DK) for both dtypes and every head dim a scorer is compiled for: each
// scorer's symbols are KERNEL's name with the suffix <dtype>_dk<DK> (TcModule.SCORE_HEAD_DIMS).
#define NSA_SCORE_KERNELS(KERNEL)                                                         \
    KERNEL(bf16, __nv_bfloat16, 64) KERNEL(fp16, __half, 64)                               \
    KERNEL(bf16, __nv_bfloat16, 128) KERNEL(fp16, __half, 128)                             \
    KERNEL(bf16, __nv_bfloat16, 192) KERNEL(fp16, __half, 192)                             \
    KERNEL(bf16, __nv_bfloat16, 256) KERNEL(fp16, __half, 256)
