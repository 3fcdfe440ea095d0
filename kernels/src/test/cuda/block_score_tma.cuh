// Experimental (the harness only, `tc_harness score`; docs/decisions.md D32): block scoring + top-n on Hopper in
// token tiles (sm_90a). The function is block_score.cu's (the NSA spec's "Selection branch": p of
// every visible compressed token summed over the group's h heads, mapped to selection blocks with the overlap
// weights, the running top-n with the forced blocks and the lower-index tie-break, sorted −1-padded indices); the
// per-token state and the top-n are score_common.cuh's and nsa_topn.h's. What differs is the tile: the rows of a
// warpgroup MMA are query tokens, not heads.
//
//   one CTA        32 consecutive query tokens of one sequence and one KV group g, all h <= 2·PAIRS heads: their Q
//                  ([32 tokens, h heads, DK], PAIRS · 16 KiB at DK = 128) stays in shared memory for the whole
//                  row, and every 64-key K̃ tile is read once for the 32 tokens (block_score_wg.cu reads it once per
//                  4 tokens)
//   warpgroup 0    the producer: one thread loads Q once and the K̃ tiles into kStages stages with the tensor memory
//                  accelerator (rank-3 tensor maps [rows, heads, DK], 128-byte swizzle, zero fill past the tensor)
//   warpgroups 1-2 consumers. A head pair k is one m64n64 MMA tile whose 64 rows are 4 slabs of 16: slab w holds
//                  tokens 8w .. 8w + 7 of head 2k in rows 0-7 and of head 2k + 1 in rows 8-15, so a thread's two
//                  accumulator rows (r and r + 8) are one token's two heads and the sum over heads is a running sum
//                  in registers (no shuffles). Consumer c multiplies the pairs c, c + 2, ... of each tile, two MMA
//                  groups in flight (one pair's exponentials while the next pair multiplies)
//   per tile       c(t, i) = Σ_h 2^(S·scale·log2 e − lse_cmp(t, h)·log2 e): the two consumers' partial sums meet in
//                  shared memory (warp w of one and warp w of the other, a 64-thread named barrier), each finishes
//                  4 of its warp's 8 tokens: their c values into a ring of the last 128 per token, then the blocks
//                  this tile completes offered to the token's top-n, one warp per token as block_score.cu does
//
// The block score of block j is Σ c(i)·ω(i, j) over i = j·l'/d + u with ω constant in j (the harness runs this
// layout only where l' % d == 0), i in [0, ncmp(t)), in ascending i with the same fmaf order as score_common.cuh, so
// the scores equal the other tc scorers' up to the fp32 order of the head sum (chosen sets differ at near ties
// only). Needs (l' + l − 1)/d + 1 <= 64, as the other scorers.
//
// Measured on an H200 against the image's wgmma scorer (block_score_wg.cu), same chosen sets up to near ties:
// paper config 64k 12.48 ms against 14.19, h = 4 at 64k 9.68 against 14.19, but 16k 1.22 against 1.20 and the fla
// shape (l = d = l' = 64) 5.69 against 5.67 at 64k, slower below. ncu at the paper config: the top-n insertions take
// about 60% of the warps' samples, the products and exponentials about 24% (docs/results/sel-kernel-h200.md).
//
// Launch: grid (ceil(max_len / 32), batch, kv_heads), 384 threads, smem_bytes(DK, PAIRS) of dynamic shared memory;
// params (BlockSelectParams, the tensor maps of q [nnz, H, DK] with boxes {64, 1, 8} and of k_cmp [nnz_cmp, G, DK]
// with boxes {64, 1, 64}).
#pragma once
#include <cuda.h>

#include "nsa_tma.h"
#include "nsa_wgmma.h"
#include "score_common.cuh"

namespace nsa {
namespace scoret {

using namespace nsa::tc;
using nsa::score::Token;
using nsa::score::token_at;

constexpr int kTok = 32;                  // query tokens per CTA
constexpr int kN = 64;                    // compressed tokens (keys) per tile
constexpr int kStages = 3;   // 4 before the top-n buffers (kTopTok) took the shared memory of one
constexpr int kConsumers = 2;
constexpr int kThreads = 128 * (1 + kConsumers);
constexpr int kQBox = 8;                  // token rows per Q box (one slab's head)
constexpr int kRing = 128;                // c values kept per token
constexpr int kRingPitch = kRing + 8;     // floats per token's ring: 4 tokens' rows fall on different banks
constexpr int kKeepTok = 4;               // tokens a consumer warp finishes
constexpr int kTopTok = 64;               // top-n buffer entries per token (nsa_topn.h: >= keep + 32, so n <= 35)
constexpr int kProducerRegs = 40;
// setmaxnreg moves registers within the CTA's own allocation (384 · 168 here): 128 · 40 + 256 · 232 = 384 · 168. An
// increase beyond what the decreases free does not fail, it hangs (96 / 208 did, in a selector variant).
constexpr int kConsumerRegs = 232;

__host__ __device__ constexpr uint32_t pair_bytes(int dk) { return 64u * dk * 2; }
__host__ __device__ constexpr uint32_t tile_bytes(int dk) { return kN * dk * 2u; }
// The exchange buffers: [parity][sender consumer][warp][8 column pairs][16 lanes] float2.
constexpr uint32_t kXBytes = 2u * kConsumers * 4 * 8 * 16 * 8;
__host__ __device__ constexpr int smem_bytes(int dk, int pairs) {
    return 1024 + pairs * static_cast<int>(pair_bytes(dk)) + kStages * static_cast<int>(tile_bytes(dk))
           + static_cast<int>(kXBytes) + kTok * kRingPitch * 4;
}

// The blocks [j0, j1) of one token offered to its top-n: P(j) = Σ_u c(j·r + u)·ω(u), u in [u0, r), r = l'/d.
__device__ __forceinline__ void offer_tile(const float* ring, int ncmp, int cur, int keep, int j0, int j1, int r,
                                           int u0, int l, int d, int lsel, float inv_l, TopList& top, int lane) {
    for (int c0 = j0; c0 < j1; c0 += 32) {
        const int j = c0 + lane;
        float sc = 0.f;
        if (j < j1) {
            for (int u = u0; u < r; ++u) {
                const int i = j * r + u;
                if (i < 0 || i >= ncmp) continue;
                const int ov = min(u * d + l, lsel) - max(u * d, 0);
                sc = fmaf(ring[i & (kRing - 1)], static_cast<float>(ov) * inv_l, sc);
            }
        }
        topn_offer(top, keep, j < j1 ? topn_candidate(sc, j, cur) : 0ull, lane);
    }
}

// The 64 threads of consumer warp w in both consumers meet (named barriers 1 .. 4).
__device__ __forceinline__ void pair_sync(int w) { asm volatile("bar.sync %0, 64;\n" ::"r"(1 + w) : "memory"); }

template <typename T, int DK, int PAIRS>
__device__ __forceinline__ void block_score_tma(const BlockSelectParams& p, const CUtensorMap* tm_q,
                                                const CUtensorMap* tm_k) {
    static_assert(DK % 64 == 0 && PAIRS % kConsumers == 0, "64-column regions; the pairs split between consumers");
    constexpr int kPP = PAIRS / kConsumers;   // pairs per consumer and tile
    extern __shared__ __align__(1024) unsigned char smem_raw[];
    __shared__ __align__(8) uint64_t s_full[kStages];
    __shared__ __align__(8) uint64_t s_empty[kStages];
    __shared__ __align__(8) uint64_t s_qbar;
    __shared__ unsigned long long s_top[kTok][kTopTok];
    const uint32_t raw = smem_addr(smem_raw);
    const uint32_t sQ = (raw + 1023u) & ~1023u;               // pair k at sQ + k · pair_bytes
    const uint32_t sK0 = sQ + PAIRS * pair_bytes(DK);          // stage st at sK0 + st · tile_bytes
    unsigned char* xbuf = smem_raw + (sK0 - raw) + kStages * tile_bytes(DK);
    float* sRing = reinterpret_cast<float*>(xbuf + kXBytes);
    const uint32_t full0 = smem_addr(s_full), empty0 = smem_addr(s_empty), qbar = smem_addr(&s_qbar);

    const int tid = threadIdx.x;
    const int wgi = tid >> 7;
    const int lane = tid & 31;
    const int b = blockIdx.y;
    const int g = blockIdx.z;
    const int h = p.heads / p.kv_heads;
    const int n = p.n_sel;
    const int keep = n - 3;
    if (h <= 0 || h > 2 * PAIRS || n < 1 || keep + 32 > kTopTok) return;   // the harness runs n <= 35 only

    const int64_t start = p.cu_seqlens[b];
    const int64_t len = p.cu_seqlens[b + 1] - start;
    const int64_t t0 = static_cast<int64_t>(gridDim.x - 1 - blockIdx.x) * kTok;   // latest tokens first
    if (t0 >= len) return;
    const int64_t cbase = p.cu_seqlens_cmp[b];
    const int64_t cend = p.cu_seqlens_cmp[b + 1];
    const int64_t tlast = min(t0 + kTok - 1, len - 1);
    const bool cta_needs = tlast / p.sel_block + 1 > n && keep > 0;
    const int ncmp_cta = cta_needs ? select_visible_cmp(tlast, p.block_len, p.block_stride) : 0;
    const int ntiles = (ncmp_cta + kN - 1) / kN;
    const bool ok = start >= 0 && cbase >= 0 && cend <= p.nnz_cmp && start + len <= p.nnz && cbase + ncmp_cta <= cend;
    if (!ok) {   // CTA-uniform, before any barrier: the consumers' warps write -1 rows
        if (wgi > 0) {
            const int w8 = (tid - 128) >> 5;   // 0 .. 7: tokens 4·w8 .. 4·w8 + 3
            for (int u = 0; u < kKeepTok; ++u) {
                const int64_t t = t0 + w8 * kKeepTok + u;
                if (t >= len) break;
                int32_t* out = p.indices + (start + t) * p.idx_tok_stride + g * p.idx_group_stride;
                for (int k = lane; k < n; k += 32) out[k] = -1;
            }
        }
        return;
    }

    if (tid == 0) {
        for (int st = 0; st < kStages; ++st) {
            nsa::tma::mbar_init(full0 + 8 * st, 1);
            nsa::tma::mbar_init(empty0 + 8 * st, 4 * kConsumers);
        }
        nsa::tma::mbar_init(qbar, 1);
        nsa::tma::mbar_init_fence();
    }
    __syncthreads();

    if (wgi == 0) {   // the producer
        asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kProducerRegs));
        if (tid == 0 && ntiles > 0) {
            nsa::tma::mbar_expect_tx(qbar, PAIRS * pair_bytes(DK));
            const int row0 = static_cast<int>(start + t0);
            for (int k = 0; k < PAIRS; ++k) {
                for (int w = 0; w < 4; ++w) {
                    for (int hb = 0; hb < 2; ++hb) {
                        // heads past h: another group's (or zero) rows, whose p the consumers drop (lse = inf)
                        const int head = min(g * h + 2 * k + hb, p.heads - 1);
#pragma unroll
                        for (int bx = 0; bx < DK / 64; ++bx) {
                            nsa::tma::load_3d(sQ + k * pair_bytes(DK) + bx * wg::kRegionBytes(64) + (16 * w + 8 * hb) * 128,
                                              tm_q, bx * 64, head, row0 + kQBox * w, qbar);
                        }
                    }
                }
            }
            for (int it = 0; it < ntiles; ++it) {
                const int st = it % kStages;
                if (it >= kStages) nsa::tma::mbar_wait(empty0 + 8 * st, ((it / kStages) - 1) & 1);
                const uint32_t full = full0 + 8 * st;
                nsa::tma::mbar_expect_tx(full, tile_bytes(DK));
#pragma unroll
                for (int bx = 0; bx < DK / 64; ++bx) {
                    nsa::tma::load_3d(sK0 + st * tile_bytes(DK) + bx * wg::kRegionBytes(kN), tm_k, bx * 64, g,
                                      static_cast<int>(cbase + it * kN), full);
                }
            }
        }
        return;
    }

    // a consumer: warp w of consumer c holds the rows of tokens 8w .. 8w + 7 (this thread's: 8w + lane / 4) and
    // finishes tokens 8w + 4c .. 8w + 4c + 3 (lanes 16c .. 16c + 15 keep their sums, the other lanes send theirs)
    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kConsumerRegs));
    const int c = wgi - 1;
    const int w = (tid >> 5) & 3;
    const int tok = 8 * w + (lane >> 2);
    const bool keeper = (lane >> 4) == c;
    const float scale_log2 = p.scale * 1.4426950408889634f;
    float lb[kPP][2];   // lse · log2 e of this thread's token, heads 2k and 2k + 1 of its pairs; +inf: p = 0
#pragma unroll
    for (int kk = 0; kk < kPP; ++kk) {
#pragma unroll
        for (int hb = 0; hb < 2; ++hb) {
            const int hr = 2 * (c + kConsumers * kk) + hb;
            const int64_t t = t0 + tok;
            lb[kk][hb] = hr < h && t < len
                             ? p.lse[(start + t) * p.lse_tok_stride + (static_cast<int64_t>(g) * h + hr) * p.lse_head_stride]
                                   * 1.4426950408889634f
                             : INFINITY;
        }
    }
    TopList top[kKeepTok];
    Token tk[kKeepTok];
#pragma unroll
    for (int u = 0; u < kKeepTok; ++u) {
        tk[u] = token_at(p, t0 + 8 * w + 4 * c + u, len, n, keep);
        top[u] = topn_list(s_top[8 * w + 4 * c + u], keep, kTopTok);
    }
    const int r = p.sel_block / p.block_stride;
    const int u0 = -((p.block_len - 1) / p.block_stride);   // the first u with u·d + l > 0
    const float inv_l = 1.f / static_cast<float>(p.block_len);
    float* ring_w = sRing + (8 * w + 4 * c) * kRingPitch;   // the rings of the tokens this warp finishes
    float2* xsend = reinterpret_cast<float2*>(xbuf) + (c * 4 + w) * 128;         // + parity · 1024
    const float2* xrecv = reinterpret_cast<const float2*>(xbuf) + ((1 - c) * 4 + w) * 128;

    if (ntiles > 0) nsa::tma::mbar_wait(qbar, 0);
    for (int it = 0; it < ntiles; ++it) {
        const int st = it % kStages;
        nsa::tma::mbar_wait(full0 + 8 * st, (it / kStages) & 1);
        const uint32_t sK = sK0 + st * tile_bytes(DK);
        float ps[kN / 8][2];
#pragma unroll
        for (int nt = 0; nt < kN / 8; ++nt) ps[nt][0] = ps[nt][1] = 0.f;
        float sa[kN / 8][4], sb[kN / 8][4];
        auto issue = [&](float (&s)[kN / 8][4], int kk) {
            const uint32_t a = sQ + (c + kConsumers * kk) * pair_bytes(DK);
            wg::fence_operands(s);
            wg::fence();
#pragma unroll
            for (int ks = 0; ks < DK / 16; ++ks) {
                wg::mma_m64n64k16_ss<T>(s, wg::desc_k_major<64>(a, ks), wg::desc_k_major<kN>(sK, ks), ks > 0);
            }
            wg::commit();
        };
        auto add = [&](const float (&s)[kN / 8][4], int kk) {
#pragma unroll
            for (int nt = 0; nt < kN / 8; ++nt) {
#pragma unroll
                for (int e = 0; e < 2; ++e) {
                    ps[nt][e] += ex2(fmaf(s[nt][e], scale_log2, -lb[kk][0]));
                    ps[nt][e] += ex2(fmaf(s[nt][e + 2], scale_log2, -lb[kk][1]));
                }
            }
        };
        issue(sa, 0);
        if constexpr (kPP > 1) issue(sb, 1);
#pragma unroll
        for (int kk = 0; kk < kPP; ++kk) {
            float (&s)[kN / 8][4] = (kk & 1) ? sb : sa;
            if (kk + 1 < kPP) wg::wait<1>(); else wg::wait<0>();
            wg::fence_operands(s);
            add(s, kk);
            if (kk + 2 < kPP) issue(s, kk + 2);
        }
        __syncwarp();
        if (lane == 0) nsa::tma::mbar_arrive(empty0 + 8 * st);   // this warp's MMAs have read the stage

        // the two consumers' sums meet; keepers add the partner's
        const int par = it & 1;
        if (!keeper) {
#pragma unroll
            for (int nt = 0; nt < kN / 8; ++nt) xsend[par * 1024 + nt * 16 + (lane & 15)] = make_float2(ps[nt][0], ps[nt][1]);
        }
        pair_sync(w);
        const int i0 = it * kN;
        if (keeper) {
            const int u = (lane >> 2) & 3;
            float* ring = ring_w + u * kRingPitch;
#pragma unroll
            for (int nt = 0; nt < kN / 8; ++nt) {
                const float2 o = xrecv[par * 1024 + nt * 16 + (lane & 15)];
                *reinterpret_cast<float2*>(ring + ((i0 + 8 * nt + 2 * (lane & 3)) & (kRing - 1)))
                    = make_float2(ps[nt][0] + o.x, ps[nt][1] + o.y);
            }
        }
        __syncwarp();
        const int fin = static_cast<int>((static_cast<int64_t>(i0) + kN) * p.block_stride / p.sel_block);
#pragma unroll
        for (int u = 0; u < kKeepTok; ++u) {
            if (tk[u].need && i0 < tk[u].ncmp) {   // warp-uniform
                const int jend = i0 + kN >= tk[u].ncmp ? tk[u].cur + 1 : min(tk[u].cur + 1, fin);
                offer_tile(ring_w + u * kRingPitch, tk[u].ncmp, tk[u].cur, keep, tk[u].jdone, jend, r, u0,
                           p.block_len, p.block_stride, p.sel_block, inv_l, top[u], lane);
                tk[u].jdone = max(tk[u].jdone, jend);
            }
        }
    }
#pragma unroll
    for (int u = 0; u < kKeepTok; ++u) {
        if (!tk[u].valid) continue;
        if (tk[u].need && tk[u].jdone < tk[u].cur + 1) {
            offer_tile(ring_w + u * kRingPitch, tk[u].ncmp, tk[u].cur, keep, tk[u].jdone, tk[u].cur + 1, r, u0,
                       p.block_len, p.block_stride, p.sel_block, inv_l, top[u], lane);
        }
        int32_t* out = p.indices + (start + tk[u].t) * p.idx_tok_stride + g * p.idx_group_stride;
        topn_write(out, top[u], n, tk[u].cur, tk[u].cur + 1 <= n, lane);
    }
}

}  // namespace scoret
}  // namespace nsa

// Symbols (the harness): nsa_block_score_tma_<dtype>_dk<DK>_h<H> for h <= H heads per group (H = 2·PAIRS: 16, 8, 4).
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)   // the harness builds sm_90a only; anything else traps
#define NSA_BLOCK_SCORE_TMA_BODY(T, DK, H) nsa::scoret::block_score_tma<T, DK, H / 2>(p, &tm_q, &tm_k);
#else
#define NSA_BLOCK_SCORE_TMA_BODY(T, DK, H) __trap();
#endif
#define NSA_BLOCK_SCORE_TMA(SUFFIX, T, DK, H)                                                                       \
    extern "C" __global__ void __launch_bounds__(nsa::scoret::kThreads, 1)                                          \
        nsa_block_score_tma_##SUFFIX##_dk##DK##_h##H(const __grid_constant__ nsa::BlockSelectParams p,              \
                                                     const __grid_constant__ CUtensorMap tm_q,                       \
                                                     const __grid_constant__ CUtensorMap tm_k) {                     \
        NSA_BLOCK_SCORE_TMA_BODY(T, DK, H)                                                                          \
    }
#define NSA_BLOCK_SCORE_TMA_HEADS(SUFFIX, T, DK) \
    NSA_BLOCK_SCORE_TMA(SUFFIX, T, DK, 16) NSA_BLOCK_SCORE_TMA(SUFFIX, T, DK, 8) NSA_BLOCK_SCORE_TMA(SUFFIX, T, DK, 4)
NSA_BLOCK_SCORE_TMA_HEADS(bf16, __nv_bfloat16, 64)
NSA_BLOCK_SCORE_TMA_HEADS(fp16, __half, 64)
NSA_BLOCK_SCORE_TMA_HEADS(bf16, __nv_bfloat16, 128)
NSA_BLOCK_SCORE_TMA_HEADS(fp16, __half, 128)
#undef NSA_BLOCK_SCORE_TMA_HEADS
#undef NSA_BLOCK_SCORE_TMA
#undef NSA_BLOCK_SCORE_TMA_BODY
