// Block scoring + top-n on Hopper in key-row tiles (SM 9.0 only: the sm_90a image; on other targets the symbols
// trap and the host never launches them; docs/decisions.md D32, D34). The function is block_score.cu's (the NSA
// spec's "Selection branch": p of every visible compressed token summed over the group's h heads, mapped to
// selection blocks with the overlap weights, the running top-n with the forced blocks and the lower-index tie-break,
// sorted −1-padded indices); the per-token state and the top-n are score_common.cuh's and nsa_topn.h's. What differs
// is the tile: the rows of the warpgroup MMA are 64 compressed tokens (keys) and its 64 columns are 4 heads × 16
// query tokens, so a thread's accumulator columns c, c + 16, c + 32, c + 48 are one token under four heads and the sum
// over the heads is a running sum in registers.
//
//   one CTA        32 consecutive query tokens of one sequence and one KV group g, all h <= H heads: their Q (H · 8
//                  KiB at DK = 128) stays in shared memory for the whole row, laid out as the B operands of the MMAs
//                  (consumer c, head quad k: rows 16·hl + token of heads 4k + hl, tokens 16c .. 16c + 15)
//   warpgroup 0    the producer: one thread loads Q once and the 64-key K̃ tiles into stages(DK, H) stages with the
//                  tensor memory accelerator (rank-3 tensor maps [rows, heads, DK], 128-byte swizzle, zero fill past
//                  the tensor)
//   warpgroups 1-2 consumers; consumer c owns tokens 16c .. 16c + 15 of the CTA. Per tile: the K̃ tile into
//                  registers once (ldmatrix: the MMA's A fragments; the stage is released at once), then one m64n64
//                  MMA per head quad (A in registers, B = the quad's Q in shared memory), two in flight (one quad's
//                  exponentials while the next multiplies): c(t, i) += 2^(S·scale·log2 e − lse_cmp(t, h)·log2 e)
//   per tile       the consumer's c values into a ring of the last 256 keys per token (shared memory, one barrier),
//                  then each warp offers the completed blocks of 4 of its tokens to their top-n 32 at a time, one
//                  lane per block (a block's nterm = r − u0 keys and weights in one unchecked loop where the whole
//                  chunk is away from the edges), deferring fewer than 32 while their keys stay in the ring. The two consumers never meet:
//                  each owns its tokens' rings and lists; the K̃ stages (2 to 4, as shared memory allows) are released
//                  as soon as both hold the tile in registers
//
// The block score of block j is Σ c(i)·ω(i, j) over i = j·l'/d + u with ω constant in j (the host routes this
// layout only where l' % d == 0: ScoreLayout.KEY_ROWS), i in [0, ncmp(t)), in ascending i with the same fmaf order as
// score_common.cuh, so the scores equal the other tc scorers' up to the fp32 order of the head sum (chosen sets
// differ at near ties only). Needs (l' + l − 1)/d + 1 <= 64, as the other scorers, and n <= 35 (the top-n buffers,
// kTopTok).
//
// Measured on an H200 against the wgmma scorer (block_score_wg.cu) in the harness, chosen sets equal up to near ties:
// paper config 64k 10.14 ms against 13.31, h = 4 at 64k 6.72 against 13.25, 16k 0.88 against 0.99; slower at the fla
// shape (l = d = l' = 64: 4.75 against 4.32 at 64k), which stays on the wgmma scorer. ncu at the paper config 16k:
// MMA and exponentials about 30% of the warp samples, compactions 11%, offers 16% (docs/results/sel-kernel-h200.md).
//
// Launch: grid (ceil(max_len / 32), batch, kv_heads), 384 threads, smem_bytes(DK, H) of dynamic shared memory;
// params (BlockSelectParams, the tensor maps of q [nnz, H, DK] with boxes {64, 1, 16} and of k_cmp [nnz_cmp, G, DK]
// with boxes {64, 1, 64}).
#pragma once
#include <cuda.h>

#include "nsa_tma.h"
#include "nsa_wgmma.h"
#include "score_common.cuh"

namespace nsa {
namespace score_kr {

using namespace nsa::tc;
using nsa::score::Token;
using nsa::score::token_at;

constexpr int kTokW = 16;                 // query tokens per consumer (one head's columns of the MMA)
constexpr int kConsumers = 2;
constexpr int kTok = kTokW * kConsumers;  // query tokens per CTA
constexpr int kN = 64;                    // compressed tokens (keys) per tile: the MMA's rows
constexpr int kQuad = 4;                  // heads per MMA (64 columns = 4 heads x 16 tokens)
constexpr int kMaxStages = 4;
constexpr int kThreads = 128 * (1 + kConsumers);
constexpr int kQBox = kTokW;              // token rows per Q box
constexpr int kRing = 256;                // c values kept per token (the offers read keys >= i0 - 128 only)
constexpr int kRingPitch = kRing + 4;     // floats per token's ring: a warp's ring writes fall on 32 banks
constexpr int kMaxTerms = 64;             // keys per block score, (l' + l - 1)/d + 1 at most
constexpr int kKeepTok = 4;               // tokens a consumer warp finishes
constexpr int kTopTok = 64;               // top-n buffer entries per token (nsa_topn.h: >= keep + 32, so n <= 35)
constexpr int kProducerRegs = 40;
// setmaxnreg moves registers within the CTA's own allocation (384 · 168 here): 128 · 40 + 256 · 232 = 384 · 168. An
// increase beyond what the decreases free does not fail, it hangs (96 / 208 did, in a selector variant).
constexpr int kConsumerRegs = 232;

// One MMA's B operand: 4 heads x 16 tokens of Q.
__host__ __device__ constexpr uint32_t quad_bytes(int dk) { return 64u * dk * 2; }
__host__ __device__ constexpr uint32_t tile_bytes(int dk) { return kN * dk * 2u; }
__host__ __device__ constexpr int fixed_bytes(int dk, int heads) {
    return 1024 + kConsumers * (heads / kQuad) * static_cast<int>(quad_bytes(dk)) + kConsumers * kTokW * kRingPitch * 4
           + heads * kTok * 4;
}
// Static shared memory (top-n buffers, weights, barriers) and the per-block limit of SM 9.0 (227 KiB).
constexpr int kStaticBytes = kTok * kTopTok * 8 + kConsumers * kMaxTerms * 4 + 8 * (2 * kMaxStages + 1);
constexpr int kSmemLimit = 232448;
// K̃ stages: as many as fit, 2 to kMaxStages (a stage is free once both consumers hold it in registers).
__host__ __device__ constexpr int stages(int dk, int heads) {
    return fixed_bytes(dk, heads) + 4 * static_cast<int>(tile_bytes(dk)) + kStaticBytes <= kSmemLimit   ? 4
           : fixed_bytes(dk, heads) + 3 * static_cast<int>(tile_bytes(dk)) + kStaticBytes <= kSmemLimit ? 3
                                                                                                   : 2;
}
__host__ __device__ constexpr int smem_bytes(int dk, int heads) {
    return fixed_bytes(dk, heads) + stages(dk, heads) * static_cast<int>(tile_bytes(dk));
}

// Blocks j0 + lane (< j1) of one token offered to its top-n: P(j) = Σ_u c(j·r + u0 + u)·wt[u] over the
// nterm = r − u0 keys of block j, r = l'/d, wt[u] = ω(u0 + u) (score_common.cuh's terms and order); keys past the sequence's start
// or the token's ncmp contribute nothing.
__device__ __forceinline__ void offer_chunk(const float* ring, const float* wt, int nterm, int ncmp, int cur, int keep,
                                            int j0, int j1, int r, int u0, TopList& top, int lane) {
    const int j = j0 + lane;
    const int ib = j * r + u0;
    float sc = 0.f;
    // warp-uniform: every block of the chunk has all its keys in [0, ncmp) (the unchecked loop), or none is trusted
    if (j0 * r + u0 >= 0 && (j1 - 1) * r + u0 + nterm <= ncmp) {
        if (j < j1) {
            for (int u = 0; u < nterm; ++u) sc = fmaf(ring[(ib + u) & (kRing - 1)], wt[u], sc);
        }
    } else if (j < j1) {
        for (int u = 0; u < nterm; ++u) {
            const int i = ib + u;
            if (i >= 0 && i < ncmp) sc = fmaf(ring[i & (kRing - 1)], wt[u], sc);
        }
    }
    topn_offer<kTopTok>(top, keep, j < j1 ? topn_candidate(sc, j, cur) : 0ull, lane);
}

// The 128 threads of consumer c meet (named barriers 1, 2).
__device__ __forceinline__ void consumer_sync(int c) { asm volatile("bar.sync %0, 128;\n" ::"r"(1 + c) : "memory"); }

template <typename T, int DK, int H>
__device__ __forceinline__ void block_score_kr(const BlockSelectParams& p, const CUtensorMap* tm_q,
                                                const CUtensorMap* tm_k) {
    static_assert(DK % 64 == 0 && H % kQuad == 0, "64-column regions; whole head quads");
    constexpr int kG = H / kQuad;   // MMAs per tile and consumer
    constexpr int kStages = stages(DK, H);
    extern __shared__ __align__(1024) unsigned char smem_raw[];
    __shared__ __align__(8) uint64_t s_full[kStages];
    __shared__ __align__(8) uint64_t s_empty[kStages];
    __shared__ __align__(8) uint64_t s_qbar;
    __shared__ unsigned long long s_top[kTok][kTopTok];
    __shared__ float s_wt[kConsumers][kMaxTerms];
    const uint32_t raw = smem_addr(smem_raw);
    const uint32_t sQ = (raw + 1023u) & ~1023u;               // quad k of consumer c at sQ + (c·kG + k) · quad_bytes
    const uint32_t sK0 = sQ + kConsumers * kG * quad_bytes(DK);   // stage st at sK0 + st · tile_bytes
    float* sRing = reinterpret_cast<float*>(smem_raw + (sK0 - raw) + kStages * tile_bytes(DK));   // [c][token][pitch]
    float* sLse = sRing + kConsumers * kTokW * kRingPitch;   // [head][kTok]: lse · log2 e, +inf where p = 0
    const uint32_t full0 = smem_addr(s_full), empty0 = smem_addr(s_empty), qbar = smem_addr(&s_qbar);

    const int tid = threadIdx.x;
    const int wgi = tid >> 7;
    const int lane = tid & 31;
    const int b = blockIdx.y;
    const int g = blockIdx.z;
    const int h = p.heads / p.kv_heads;
    const int n = p.n_sel;
    const int keep = n - 3;
    if (h <= 0 || h > H || n < 1 || keep + 32 > kTopTok) return;   // never launched so (the host's rules)

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

    nsa::tma::init_pipeline(full0, empty0, kStages, 4 * kConsumers, qbar, tid);

    if (wgi == 0) {   // the producer
        asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kProducerRegs));
        if (tid == 0 && ntiles > 0) {
            nsa::tma::mbar_expect_tx(qbar, kConsumers * kG * quad_bytes(DK));
            const int row0 = static_cast<int>(start + t0);
            for (int c = 0; c < kConsumers; ++c) {
                for (int k = 0; k < kG; ++k) {
                    for (int hl = 0; hl < kQuad; ++hl) {
                        // heads past h: another group's (or zero) rows, whose p the consumers drop (lse = inf)
                        const int head = min(g * h + kQuad * k + hl, p.heads - 1);
#pragma unroll
                        for (int bx = 0; bx < DK / 64; ++bx) {
                            nsa::tma::load_3d(sQ + (c * kG + k) * quad_bytes(DK) + bx * wg::kRegionBytes(64)
                                                  + kTokW * hl * 128,
                                              tm_q, bx * 64, head, row0 + kTokW * c, qbar);
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

    // a consumer: warp w holds keys 16w + lane/4 (+ 8) of each tile and, per head of a quad, the columns of tokens
    // 2·(lane & 3) + {0, 1, 8, 9} of the consumer's 16 (slot ts: 8·(ts >> 1) + 2·(lane & 3) + (ts & 1)); it finishes
    // tokens 4w .. 4w + 3
    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kConsumerRegs));
    const int c = wgi - 1;
    const int w = (tid >> 5) & 3;
    const int g8 = lane >> 2, q4 = lane & 3;
    const int64_t tc0 = t0 + kTokW * c;   // the consumer's first token
    for (int idx = tid & 127; idx < H * kTokW; idx += 128) {
        const int hh = idx / kTokW, tt = idx - hh * kTokW;
        const int64_t t = tc0 + tt;
        sLse[hh * kTok + kTokW * c + tt]
            = hh < h && t < len
                  ? p.lse[(start + t) * p.lse_tok_stride + (static_cast<int64_t>(g) * h + hh) * p.lse_head_stride]
                        * 1.4426950408889634f
                  : INFINITY;
    }
    int nc[4];   // visible keys of the thread's token slots (0 past the sequence, whose lse is +inf anyway)
#pragma unroll
    for (int ts = 0; ts < 4; ++ts) {
        const int64_t t = tc0 + 8 * (ts >> 1) + 2 * q4 + (ts & 1);
        nc[ts] = t < len ? select_visible_cmp(t, p.block_len, p.block_stride) : 0;
    }
    // every key of a tile below this is visible to every token of the consumer (p = 0 past the sequence by lse)
    const int nc_all = tc0 < len ? select_visible_cmp(tc0, p.block_len, p.block_stride) : 0x7fffffff;
    TopList top[kKeepTok];
    Token tk[kKeepTok];
#pragma unroll
    for (int u = 0; u < kKeepTok; ++u) {
        tk[u] = token_at(p, tc0 + 4 * w + u, len, n, keep);
        top[u] = topn_list(s_top[kTokW * c + 4 * w + u], keep, kTopTok);
    }
    const int r = p.sel_block / p.block_stride;
    const int u0 = -((p.block_len - 1) / p.block_stride);   // the first u with u·d + l > 0
    const int nterm = min(r - u0, kMaxTerms);
    const float* wt = s_wt[c];
    if ((tid & 127) < nterm) {
        const int u = u0 + (tid & 127);
        const int ov = min(u * p.block_stride + p.block_len, p.sel_block) - max(u * p.block_stride, 0);
        s_wt[c][tid & 127] = static_cast<float>(ov) * (1.f / static_cast<float>(p.block_len));
    }
    const float scale_log2 = p.scale * 1.4426950408889634f;
    float* ring_c = sRing + c * kTokW * kRingPitch;
    const float* lse_c = sLse + kTokW * c + 2 * q4;
    const uint32_t qb = sQ + c * kG * quad_bytes(DK);
    consumer_sync(c);   // the consumer's lse and weights

    if (ntiles > 0) nsa::tma::mbar_wait(qbar, 0);
    for (int it = 0; it < ntiles; ++it) {
        const int st = it % kStages;
        nsa::tma::mbar_wait(full0 + 8 * st, (it / kStages) & 1);
        const uint32_t sK = sK0 + st * tile_bytes(DK);
        uint32_t a[DK / 16][4];   // the K̃ tile as A fragments: warp w's rows 16w .. 16w + 15
#pragma unroll
        for (int ks = 0; ks < DK / 16; ++ks) {
            const int row = 16 * w + (lane & 7) + 8 * ((lane >> 3) & 1);
            ldmatrix_x4(a[ks], sK + wg::swizzled_chunk<kN>(row, 2 * ks + (lane >> 4)));
        }
        // the stage is in registers: released at once. The proxy fence orders these generic-proxy reads before the
        // producer's next TMA write into the stage (async proxy); without it the write raced the reads on the GPU
        // (chosen sets that were not near ties, in varying rows from run to run; docs/decisions.md D34)
        wg::fence_async_shared();
        __syncwarp();
        if (lane == 0) nsa::tma::mbar_arrive(empty0 + 8 * st);

        const int i0 = it * kN;
        const bool vis = i0 + kN <= nc_all;   // consumer-uniform: no key of the tile is masked
        float pc[2][4];   // c values: [key half kk: key 16w + lane/4 + 8kk][token slot]
#pragma unroll
        for (int kk = 0; kk < 2; ++kk) {
#pragma unroll
            for (int ts = 0; ts < 4; ++ts) pc[kk][ts] = 0.f;
        }
        float sa[kN / 8][4], sb[kN / 8][4];
        auto issue = [&](float (&s)[kN / 8][4], int k) {
            const uint32_t bq = qb + k * quad_bytes(DK);
            wg::fence_operands(s);
            wg::fence();
#pragma unroll
            for (int ks = 0; ks < DK / 16; ++ks) {
                wg::mma_m64n64k16_rs<T>(s, a[ks], wg::desc_k_major<64>(bq, ks), ks > 0);
            }
            wg::commit();
        };
        auto add = [&](const float (&s)[kN / 8][4], int k) {
#pragma unroll
            for (int nt = 0; nt < kN / 8; ++nt) {
                // columns 8nt + 2·(lane & 3) + {0, 1}: head 4k + nt/2, token slots 2·(nt & 1) + {0, 1}
                const float2 lb
                    = *reinterpret_cast<const float2*>(lse_c + (kQuad * k + (nt >> 1)) * kTok + 8 * (nt & 1));
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int kk = e >> 1, ts = 2 * (nt & 1) + (e & 1);
                    float pe = ex2(fmaf(s[nt][e], scale_log2, -((e & 1) ? lb.y : lb.x)));
                    if (!vis) pe = i0 + 16 * w + g8 + 8 * kk < nc[ts] ? pe : 0.f;
                    pc[kk][ts] += pe;
                }
            }
        };
        issue(sa, 0);
        if constexpr (kG > 1) issue(sb, 1);
#pragma unroll
        for (int k = 0; k < kG; ++k) {
            float (&s)[kN / 8][4] = (k & 1) ? sb : sa;
            if (k + 1 < kG) wg::wait<1>(); else wg::wait<0>();
            wg::fence_operands(s);
            add(s, k);
            if (k + 2 < kG) issue(s, k + 2);
        }

        // no barrier before the write: the slots of keys i0 .. i0 + 63 held keys i0 - 256 .. i0 - 193, and a warp
        // still in the last tile's offers reads keys >= i0 - 192 (the deferral rule below: a tile's offers read
        // keys >= its i0 - 128)
#pragma unroll
        for (int kk = 0; kk < 2; ++kk) {
#pragma unroll
            for (int ts = 0; ts < 4; ++ts) {
                ring_c[(8 * (ts >> 1) + 2 * q4 + (ts & 1)) * kRingPitch + ((i0 + 16 * w + g8 + 8 * kk) & (kRing - 1))]
                    = pc[kk][ts];
            }
        }
        consumer_sync(c);
        const int fin = static_cast<int>((static_cast<int64_t>(i0) + kN) * p.block_stride / p.sel_block);
#pragma unroll
        for (int u = 0; u < kKeepTok; ++u) {
            Token& k = tk[u];
            if (!k.need || i0 >= k.ncmp) continue;   // warp-uniform
            // blocks [jdone, jend) are complete; they are offered 32 at a time, the rest deferred while their keys
            // stay in the ring through the next tile (first key >= i0 − 64), all of them once the token's keys end
            const bool last = i0 + kN >= k.ncmp;
            const int jend = last ? k.cur + 1 : min(k.cur + 1, fin);
            while (k.jdone < jend && (last || jend - k.jdone >= 32 || k.jdone * r + u0 < i0 - kN)) {
                const int j1 = min(jend, k.jdone + 32);
                offer_chunk(ring_c + (4 * w + u) * kRingPitch, wt, nterm, k.ncmp, k.cur, keep, k.jdone, j1, r, u0,
                            top[u], lane);
                k.jdone = j1;
            }
        }
    }
#pragma unroll
    for (int u = 0; u < kKeepTok; ++u) {
        if (!tk[u].valid) continue;
        // blocks past the last tile (keys beyond ncmp score 0; none when a tile held the token's last key)
        for (; tk[u].need && tk[u].jdone < tk[u].cur + 1; tk[u].jdone += 32) {
            offer_chunk(ring_c + (4 * w + u) * kRingPitch, wt, nterm, tk[u].ncmp, tk[u].cur, keep, tk[u].jdone,
                        tk[u].cur + 1, r, u0, top[u], lane);
        }
        int32_t* out = p.indices + (start + tk[u].t) * p.idx_tok_stride + g * p.idx_group_stride;
        topn_write<kTopTok>(out, top[u], n, tk[u].cur, tk[u].cur + 1 <= n, lane);
    }
}

}  // namespace score_kr
}  // namespace nsa

// Symbols: nsa_block_score_kr_<dtype>_dk128_h<H> for h <= H heads per group (16, 8, 4).
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define NSA_BLOCK_SCORE_KR_BODY(T, DK, H) nsa::score_kr::block_score_kr<T, DK, H>(p, &tm_q, &tm_k);
#else
#define NSA_BLOCK_SCORE_KR_BODY(T, DK, H) __trap();
#endif
#define NSA_BLOCK_SCORE_KR(SUFFIX, T, DK, H)                                                                       \
    extern "C" __global__ void __launch_bounds__(nsa::score_kr::kThreads, 1)                                          \
        nsa_block_score_kr_##SUFFIX##_dk##DK##_h##H(const __grid_constant__ nsa::BlockSelectParams p,              \
                                                     const __grid_constant__ CUtensorMap tm_q,                       \
                                                     const __grid_constant__ CUtensorMap tm_k) {                     \
        NSA_BLOCK_SCORE_KR_BODY(T, DK, H)                                                                          \
    }
#define NSA_BLOCK_SCORE_KR_HEADS(SUFFIX, T, DK) \
    NSA_BLOCK_SCORE_KR(SUFFIX, T, DK, 16) NSA_BLOCK_SCORE_KR(SUFFIX, T, DK, 8) NSA_BLOCK_SCORE_KR(SUFFIX, T, DK, 4)
// Dk 128 only: each symbol costs ptxas about 11 s, and CI builds the image on 2 cores in its 15 minutes (Dk 64 and the
// other head dims stay on the wgmma scorer; the kernel itself takes any DK % 64 == 0 whose stages fit)
NSA_BLOCK_SCORE_KR_HEADS(bf16, __nv_bfloat16, 128)
NSA_BLOCK_SCORE_KR_HEADS(fp16, __half, 128)
#undef NSA_BLOCK_SCORE_KR_HEADS
#undef NSA_BLOCK_SCORE_KR
#undef NSA_BLOCK_SCORE_KR_BODY
