// Block scoring + top-n on tensor cores, fused (the NSA spec (docs/nsa-spec.md) "Selection branch"; the
// fp32 reference with the oracle's exact order is block_select.cu).
//
// One CTA of 4 warps serves 4·TPW consecutive query tokens of one sequence and one KV group g, TPW tokens per
// warp: the compressed keys K̃ stream through a double-buffered cp.async pipeline in tiles of 64 and are shared
// by all the CTA's tokens (and, within a warp, each K̃ fragment by its TPW tokens). The image holds TPW = 1:
// TPW = 2 halves the K̃ reads per token but costs registers and CTAs per SM, and measured slower on an H200
// (docs/results/sel-kernel-h200.md); the template keeps the option for other GPUs.
// For a tile, a warp computes for each of its tokens
//   S = Q K̃^T            mma.sync m16n8k16 over the group's h heads (M; 16·ceil(h/16) rows, rows past h zero)
//   p(h, i) = 2^(S·scale·log2 e − lse_cmp(h)·log2 e)   (0 for compressed tokens i >= ncmp(t))
//   c(i) = Σ_h p(h, i)     (the quad's rows, then a butterfly over the lanes holding the same columns)
// into a ring of the last 128 c values. No [S, S_cmp] tensor reaches global memory. As soon as a selection
// block's compressed tokens are all in (in ascending block order), its score
//   P(j) = Σ_{i overlapping j} c(i) · ω(i, j),   ω(i, j) = |[i·d, i·d + l) ∩ [j·l', (j+1)·l')| / l
// (one term of weight 1 when l = d = l') is offered to the token's running top-n (nsa_topn.h: the forced blocks
// and the lower-index tie-break), so the working set per token is constant for any length. The chosen set
// is written sorted ascending and -1 padded into indices[t, g, 0..n). Tokens whose every block is chosen
// (cur + 1 <= n) compute no score at all. Needs (l' + l − 1)/d + 1 <= 64 (a block's compressed tokens span at
// most one tile back; the host checks).
//
// Against the reference this reorders fp32 sums (dot products by the mma's k-steps, the head sum before the
// block sum) and uses ex2.approx: scores differ by a few ulps, so chosen sets can differ only where two
// blocks' scores are that close (a near tie); the parity mode uses the reference kernel.
//
// Dynamic shared memory (smem_bytes below, what the host passes): 2 K̃ stages [64, DK], the tokens' Q
// [16·ceil(h/16), DK] each, their c rings. A CTA whose cu arrays are inconsistent (the host never plans that)
// writes -1 indices, never out of bounds.
#include "score_common.cuh"

namespace nsa {
namespace score {

// Bytes of dynamic shared memory for head dim dk, h heads per group, tpw tokens per warp.
__host__ __device__ constexpr int smem_bytes(int dk, int h, int tpw) {
    return (kStages * kTile + kWarps * tpw * 16 * ((h + 15) / 16)) * dk * 2 + kWarps * tpw * kRing * 4;
}

template <typename T, int DK, int TPW>
__device__ __forceinline__ void block_score(const BlockSelectParams& p) {
    constexpr int kTok = kWarps * TPW;
    NSA_TC_DYNAMIC_SMEM(smem);
    __shared__ unsigned long long s_top[kTok][kTopCap];   // each token's top-n buffer (nsa_topn.h)
    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int lane = tid & 31;
    const int b = blockIdx.y;
    const int g = blockIdx.z;
    const int h = p.heads / p.kv_heads;
    const int mt_count = (h + 15) / 16;
    const int qrows = 16 * mt_count;
    const int n = p.n_sel;
    const int keep = n - 3;
    if (h <= 0 || n < 1 || n > NSA_SELECT_MAX_N) return;
    TopList top[TPW];
#pragma unroll
    for (int tw = 0; tw < TPW; ++tw) top[tw] = topn_list(s_top[warp * TPW + tw], keep);

    const int64_t start = p.cu_seqlens[b];
    const int64_t len = p.cu_seqlens[b + 1] - start;
    const int64_t t0 = static_cast<int64_t>(gridDim.x - 1 - blockIdx.x) * kTok;   // latest tokens first
    if (t0 >= len) return;
    const int64_t cbase = p.cu_seqlens_cmp[b];
    const int64_t cend = p.cu_seqlens_cmp[b + 1];

    // This warp's tokens. A token needs scores unless every visible block is chosen; that is monotone in t, so
    // the CTA's last token decides whether any does.
    Token tk[TPW];
#pragma unroll
    for (int tw = 0; tw < TPW; ++tw) tk[tw] = token_at(p, t0 + warp * TPW + tw, len, n, keep);
    const int64_t tlast = min(t0 + kTok - 1, len - 1);
    const bool cta_needs = tlast / p.sel_block + 1 > n && keep > 0;
    const int ncmp_cta = cta_needs ? select_visible_cmp(tlast, p.block_len, p.block_stride) : 0;
    const int ntiles = (ncmp_cta + kTile - 1) / kTile;

    T* sK = reinterpret_cast<T*>(smem);
    T* sQ = sK + kStages * kTile * DK;
    float* sRing = reinterpret_cast<float*>(sQ + kTok * qrows * DK);

    const bool ok = start >= 0 && cbase >= 0 && cend <= p.nnz_cmp && start + len <= p.nnz && cbase + ncmp_cta <= cend;
    if (!ok) {   // uniform
#pragma unroll
        for (int tw = 0; tw < TPW; ++tw) {
            if (!tk[tw].valid) continue;
            int32_t* out = p.indices + (start + tk[tw].t) * p.idx_tok_stride + g * p.idx_group_stride;
            for (int k = lane; k < n; k += 32) out[k] = -1;
        }
        return;
    }

    const T* gK = static_cast<const T*>(p.k_cmp) + cbase * p.k_tok_stride + g * p.k_group_stride;
    if (ntiles > 0) {
        // Q of the CTA's tokens: token slot w (warp w / TPW, w % TPW), rows r < h are heads g·h + r.
        constexpr int kChunks = DK / 8;
        const T* gQ = static_cast<const T*>(p.q) + (start + t0) * p.q_tok_stride + static_cast<int64_t>(g) * h * p.q_head_stride;
        for (int idx = tid; idx < kTok * qrows * kChunks; idx += kThreads) {
            const int rr = idx / kChunks;
            const int cc = idx - rr * kChunks;
            const int w = rr / qrows;
            const int r = rr - w * qrows;
            const bool okq = t0 + w < len && r < h;
            const T* src = okq ? gQ + w * p.q_tok_stride + r * p.q_head_stride + cc * 8 : gQ;
            cp_async16(smem_addr(sQ + w * qrows * DK + SmemRows<DK>::offset(r, cc)), src, okq);
        }
    }
#pragma unroll
    for (int st = 0; st < kStages - 1; ++st) {
        if (st < ntiles) {
            load_tile<T, DK>(sK + st * kTile * DK, gK + static_cast<int64_t>(st) * kTile * p.k_tok_stride, p.k_tok_stride,
                             kTile, ncmp_cta - st * kTile, tid);
        }
        cp_async_commit();
    }

    const float scale_log2 = p.scale * 1.4426950408889634f;

    for (int it = 0; it < ntiles; ++it) {
        const int nx = it + kStages - 1;
        if (nx < ntiles) {
            load_tile<T, DK>(sK + (nx % kStages) * kTile * DK, gK + static_cast<int64_t>(nx) * kTile * p.k_tok_stride,
                             p.k_tok_stride, kTile, ncmp_cta - nx * kTile, tid);
        }
        cp_async_commit();
        cp_async_wait<kStages - 1>();
        __syncthreads();
        const T* tK = sK + (it % kStages) * kTile * DK;
        const int i0 = it * kTile;
        bool work = false;
#pragma unroll
        for (int tw = 0; tw < TPW; ++tw) work |= tk[tw].need && i0 < tk[tw].ncmp;
        if (work) {   // warp-uniform
            float cs[TPW][kTile / 8][2];
#pragma unroll
            for (int tw = 0; tw < TPW; ++tw) {
#pragma unroll
                for (int nt = 0; nt < kTile / 8; ++nt) cs[tw][nt][0] = cs[tw][nt][1] = 0.f;
            }
            for (int mt = 0; mt < mt_count; ++mt) {
                float s[TPW][kTile / 8][4];
#pragma unroll
                for (int tw = 0; tw < TPW; ++tw) {
#pragma unroll
                    for (int nt = 0; nt < kTile / 8; ++nt) {
#pragma unroll
                        for (int e = 0; e < 4; ++e) s[tw][nt][e] = 0.f;
                    }
                }
#pragma unroll
                for (int ks = 0; ks < DK / 16; ++ks) {
                    uint32_t a[TPW][4];
#pragma unroll
                    for (int tw = 0; tw < TPW; ++tw) {
                        ldmatrix_x4(a[tw], smem_addr(sQ + (warp * TPW + tw) * qrows * DK
                                                     + SmemRows<DK>::offset(mt * 16 + (lane & 15), ks * 2 + (lane >> 4))));
                    }
#pragma unroll
                    for (int np = 0; np < kTile / 16; ++np) {
                        uint32_t bk[4];
                        ldmatrix_x4(bk, smem_addr(tK + SmemRows<DK>::offset(np * 16 + (lane & 7) + ((lane >> 4) << 3),
                                                                            ks * 2 + ((lane >> 3) & 1))));
#pragma unroll
                        for (int tw = 0; tw < TPW; ++tw) {
                            mma16816<T>(s[tw][2 * np], a[tw], bk[0], bk[1]);
                            mma16816<T>(s[tw][2 * np + 1], a[tw], bk[2], bk[3]);
                        }
                    }
                }
#pragma unroll
                for (int tw = 0; tw < TPW; ++tw) {
                    if (!(tk[tw].need && i0 < tk[tw].ncmp)) continue;
                    float lb[2];
                    row_lse(p, start + tk[tw].t, g, h, mt, lane, lb);
                    add_probs(s[tw], lb, i0, tk[tw].ncmp, scale_log2, cs[tw], lane);
                }
            }
#pragma unroll
            for (int tw = 0; tw < TPW; ++tw) {
                if (!(tk[tw].need && i0 < tk[tw].ncmp)) continue;
                finish_tile(p, cs[tw], sRing + (warp * TPW + tw) * kRing, i0, tk[tw], keep, top[tw], lane);
            }
        }
        __syncthreads();   // this stage is refilled by a later iteration's prefetch
    }

#pragma unroll
    for (int tw = 0; tw < TPW; ++tw) {
        finish_token(p, sRing + (warp * TPW + tw) * kRing, start, g, tk[tw], n, keep, top[tw], lane);
    }
}

}  // namespace score
}  // namespace nsa

// Symbols: nsa_block_score_<dtype>_dk<DK>; grid (ceil(max_len / 4), batch, kv_heads), 128 threads,
// smem_bytes(DK, h, 1) = (2·64 + 4·16·ceil(h/16))·DK·2 + 4·128·4 bytes of dynamic shared memory (and 4·kTopCap·8
// static: the top-n buffers).
#define NSA_BLOCK_SCORE(SUFFIX, T, DK)                                                                  \
    extern "C" __global__ void __launch_bounds__(nsa::score::kThreads)                                   \
        nsa_block_score_##SUFFIX##_dk##DK(const __grid_constant__ nsa::BlockSelectParams p) {            \
        nsa::score::block_score<T, DK, 1>(p);                                                           \
    }
NSA_SCORE_KERNELS(NSA_BLOCK_SCORE)
#undef NSA_BLOCK_SCORE
