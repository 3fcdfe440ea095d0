// Block scoring + top-n on Hopper's warpgroup MMA (SM 9.0 only: the sm_90a image; on other targets the symbols
// trap and the host never launches them). The function, the grid and the per-token steps are block_score.cu's
// (score_common.cuh); what differs is the score product: one CTA is one warpgroup whose four warps hold the h <= 16
// heads of four consecutive tokens as the 64 rows of one tile (warp w: token t0 + w, rows 16w + r = heads g·h + r,
// zero rows past h), so each 64-key K̃ tile is multiplied against all four tokens by eight m64n64k16 wgmma with
// both operands in 128-byte-swizzled shared memory (nsa_wgmma.h, wg_layout.h), instead of each warp re-reading
// the tile through ldmatrix for its own token. The accumulator fragment of a warp is mma.sync's m16n8 layout, so
// the probabilities, the head sum, the block scores and the top-n are the shared steps, in the same fp32 order
// per product: chosen sets equal block_score.cu's except where the products' sums round differently (a near tie).
//
// Dynamic shared memory (wg_smem_bytes, what the host passes): 1024 bytes of alignment slack, the Q tile
// [64, DK], kStages K̃ stages [64, DK], four rings of 128 fp32.
#include "score_common.cuh"
#include "nsa_wgmma.h"

namespace nsa {
namespace score {

constexpr int kWgRows = 4 * 16;   // four tokens x 16 head rows

// The pipelined tuning variant's K̃ stages (PIPE below; the harness: -DNSA_SCORE_WG_TUNE, not in the image).
constexpr int kPipeStages = 3;

__host__ __device__ constexpr int wg_smem_bytes(int dk, bool pipe = false) {
    return 1024 + (kWgRows + (pipe ? kPipeStages : kStages) * kTile) * dk * 2 + kWarps * kRing * 4;
}

// Rows [0, 64) of a 64 x DK swizzled tile at dst: row r from src(r), or zeros where src(r) is null (then the copy
// names base and reads nothing).
template <typename T, int DK, typename Src>
__device__ __forceinline__ void load_wg_rows(uint32_t dst, const T* base, Src src, int tid) {
    constexpr int kChunks = DK / 8;
    for (int i = tid; i < 64 * kChunks; i += kThreads) {
        const int r = i / kChunks, c = i - r * kChunks;
        const T* row = src(r);
        cp_async16(dst + wg::swizzled_chunk<64>(r, c), row != nullptr ? row + c * 8 : base, row != nullptr);
    }
}

// PIPE (tuning only): the MMAs of tile it + 1 run while the epilogue of tile it does, through two accumulator sets
// and three K̃ stages (tile it + 2 loading). One barrier per tile: at the top of step it, tile it + 1 has landed for
// every thread and every thread is past step it - 1 (which waited for tile it's MMAs, tile it - 1's before), so
// tile it + 2 may refill tile it - 1's stage (the spare MMAs of the last steps read only the last tile's stage,
// never refilled).
template <typename T, int DK, bool PIPE = false>
__device__ __forceinline__ void block_score_wg(const BlockSelectParams& p) {
    static_assert(DK % 64 == 0, "the swizzled tiles hold 64-column regions");
    constexpr int kSt = PIPE ? kPipeStages : kStages;
    NSA_TC_DYNAMIC_SMEM(smem);
    const uint32_t raw = smem_addr(smem);
    const uint32_t sQ = (raw + 1023u) & ~1023u;
    const uint32_t sK0 = sQ + kWgRows * DK * 2;
    float* sRing = reinterpret_cast<float*>(smem + (sK0 - raw) + kSt * kTile * DK * 2);
    __shared__ unsigned long long s_top[kWarps][kTopCap];   // each token's top-n buffer (nsa_topn.h)
    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int lane = tid & 31;
    const int b = blockIdx.y;
    const int g = blockIdx.z;
    const int h = p.heads / p.kv_heads;
    const int n = p.n_sel;
    const int keep = n - 3;
    if (h <= 0 || h > 16 || n < 1 || n > NSA_SELECT_MAX_N) return;
    TopList top = topn_list(s_top[warp], keep);

    const int64_t start = p.cu_seqlens[b];
    const int64_t len = p.cu_seqlens[b + 1] - start;
    const int64_t t0 = static_cast<int64_t>(gridDim.x - 1 - blockIdx.x) * kWarps;   // latest tokens first
    if (t0 >= len) return;
    const int64_t cbase = p.cu_seqlens_cmp[b];
    const int64_t cend = p.cu_seqlens_cmp[b + 1];

    Token tk = token_at(p, t0 + warp, len, n, keep);
    const int64_t tlast = min(t0 + kWarps - 1, len - 1);
    const bool cta_needs = tlast / p.sel_block + 1 > n && keep > 0;
    const int ncmp_cta = cta_needs ? select_visible_cmp(tlast, p.block_len, p.block_stride) : 0;
    const int ntiles = (ncmp_cta + kTile - 1) / kTile;

    const bool ok = start >= 0 && cbase >= 0 && cend <= p.nnz_cmp && start + len <= p.nnz && cbase + ncmp_cta <= cend;
    if (!ok) {   // uniform
        if (tk.valid) {
            int32_t* out = p.indices + (start + tk.t) * p.idx_tok_stride + g * p.idx_group_stride;
            for (int k = lane; k < n; k += 32) out[k] = -1;
        }
        return;
    }

    const T* gK = static_cast<const T*>(p.k_cmp) + cbase * p.k_tok_stride + g * p.k_group_stride;
    auto load_stage = [&](int it) {
        const int i0 = it * kTile;
        load_wg_rows<T, DK>(sK0 + (it % kSt) * kTile * DK * 2, gK, [&](int r) -> const T* {
            return i0 + r < ncmp_cta ? gK + static_cast<int64_t>(i0 + r) * p.k_tok_stride : nullptr;
        }, tid);
    };
    if (ntiles > 0) {
        const T* gQ = static_cast<const T*>(p.q) + (start + t0) * p.q_tok_stride + static_cast<int64_t>(g) * h * p.q_head_stride;
        load_wg_rows<T, DK>(sQ, gQ, [&](int r) -> const T* {
            const int w = r >> 4, hr = r & 15;
            return t0 + w < len && hr < h ? gQ + w * p.q_tok_stride + hr * p.q_head_stride : nullptr;
        }, tid);
    }
    if constexpr (!PIPE) {
#pragma unroll
        for (int st = 0; st < kStages - 1; ++st) {
            if (st < ntiles) load_stage(st);
            cp_async_commit();
        }
    }
    const float scale_log2 = p.scale * 1.4426950408889634f;
    float lb[2];
    if (tk.need) row_lse(p, start + tk.t, g, h, 0, lane, lb);
    float* ring = sRing + warp * kRing;

    auto epilogue = [&](int it, const float (&sc)[kTile / 8][4]) {   // tile it's scores, final in registers
        const int i0 = it * kTile;
        if (tk.need && i0 < tk.ncmp) {   // warp-uniform
            float cs[kTile / 8][2];
#pragma unroll
            for (int nt = 0; nt < kTile / 8; ++nt) cs[nt][0] = cs[nt][1] = 0.f;
            add_probs(sc, lb, i0, tk.ncmp, scale_log2, cs, lane);
            finish_tile(p, cs, ring, i0, tk, keep, top, lane);
        }
    };

    auto issue = [&](int it, float (&s)[kTile / 8][4]) {   // (the pinning after a wait is the caller's)
        wg::fence_operands(s);
        wg::fence();
#pragma unroll
        for (int ks = 0; ks < DK / 16; ++ks) {
            wg::mma_m64n64k16_ss<T>(s, wg::desc_k_major<kWgRows>(sQ, ks),
                                    wg::desc_k_major<kTile>(sK0 + (it % kSt) * kTile * DK * 2, ks), ks > 0);
        }
        wg::commit();
    };

    if constexpr (!PIPE) {
        for (int it = 0; it < ntiles; ++it) {
            const int nx = it + kStages - 1;
            if (nx < ntiles) load_stage(nx);
            cp_async_commit();
            cp_async_wait<kStages - 1>();
            wg::fence_async_shared();
            __syncthreads();
            const uint32_t sK = sK0 + (it % kStages) * kTile * DK * 2;
            float s[kTile / 8][4];
            wg::fence();
#pragma unroll
            for (int ks = 0; ks < DK / 16; ++ks) {
                wg::mma_m64n64k16_ss<T>(s, wg::desc_k_major<kWgRows>(sQ, ks), wg::desc_k_major<kTile>(sK, ks), ks > 0);
            }
            wg::commit();
            wg::wait<0>();
            wg::fence_operands(s);
            // epilogue()'s steps, written out: the image's instruction stream as measured and tested (calling the
            // lambda here compiles to different SASS)
            const int i0 = it * kTile;
            if (tk.need && i0 < tk.ncmp) {   // warp-uniform
                float cs[kTile / 8][2];
#pragma unroll
                for (int nt = 0; nt < kTile / 8; ++nt) cs[nt][0] = cs[nt][1] = 0.f;
                add_probs(s, lb, i0, tk.ncmp, scale_log2, cs, lane);
                finish_tile(p, cs, ring, i0, tk, keep, top, lane);
            }
            __syncthreads();   // this stage is refilled by a later iteration's prefetch
        }
    } else {
        // What ptxas needs to keep the MMAs asynchronous (else it serialises them, warnings C7518 / C7514): no
        // warpgroup MMA under a branch (the prologue and every step issue unconditionally; past the last tile a step
        // multiplies the last tile's stage again and its epilogue skips, i0 >= ncmp: at most two spare MMA groups per
        // CTA), and none in flight across the loop's back edge (each step waits for its MMAs after the epilogue of
        // the previous tile, which ran while they did).
        if (ntiles > 0) load_stage(0);
        cp_async_commit();
        if (ntiles > 1) load_stage(1);
        cp_async_commit();
        cp_async_wait<1>();
        wg::fence_async_shared();
        __syncthreads();
        float sa[kTile / 8][4], sb[kTile / 8][4];
        issue(0, sa);
        wg::wait<0>();
        wg::fence_operands(sa);
        auto step = [&](int it, float (&cur)[kTile / 8][4], float (&nxt)[kTile / 8][4]) {
            cp_async_wait<0>();
            wg::fence_async_shared();
            __syncthreads();
            if (it + 2 < ntiles) load_stage(it + 2);
            cp_async_commit();
            issue(min(it + 1, max(ntiles - 1, 0)), nxt);
            epilogue(it, cur);   // while tile it + 1's MMAs run
            wg::wait<0>();
            wg::fence_operands(nxt);
        };
        for (int it = 0; it < ntiles; it += 2) {   // two steps per trip: the accumulator sets stay in registers
            step(it, sa, sb);
            step(it + 1, sb, sa);
        }
    }
    cp_async_wait_all();
    finish_token(p, ring, start, g, tk, n, keep, top, lane);
}

}  // namespace score
}  // namespace nsa

// Symbols: nsa_block_score_wg_<dtype>_dk<DK>; the grid of nsa_block_score_* (ceil(max_len / 4), batch, kv_heads),
// 128 threads, wg_smem_bytes(DK) = 1024 + (64 + 2·64)·DK·2 + 4·128·4 bytes of dynamic shared memory (and 4·kTopCap·8
// static: the top-n buffers); h <= 16.
#if defined(__CUDA_ARCH_FEAT_SM90_ALL) || defined(NSA_HOST_EMULATION)
#define NSA_BLOCK_SCORE_WG_BODY(T, DK) nsa::score::block_score_wg<T, DK>(p);
#define NSA_BLOCK_SCORE_WG_BODY_PIPE nsa::score::block_score_wg<__nv_bfloat16, 128, true>(p);
#else
#define NSA_BLOCK_SCORE_WG_BODY(T, DK) __trap();
#define NSA_BLOCK_SCORE_WG_BODY_PIPE __trap();
#endif
#define NSA_BLOCK_SCORE_WG(SUFFIX, T, DK)                                                                 \
    extern "C" __global__ void __launch_bounds__(nsa::score::kThreads)                                     \
        nsa_block_score_wg_##SUFFIX##_dk##DK(const __grid_constant__ nsa::BlockSelectParams p) {           \
        NSA_BLOCK_SCORE_WG_BODY(T, DK)                                                                     \
    }
NSA_SCORE_KERNELS(NSA_BLOCK_SCORE_WG)
#undef NSA_BLOCK_SCORE_WG
#ifdef NSA_SCORE_WG_TUNE
extern "C" __global__ void __launch_bounds__(nsa::score::kThreads)
    nsa_block_score_wg_pipe_bf16_dk128(const __grid_constant__ nsa::BlockSelectParams p) {
    NSA_BLOCK_SCORE_WG_BODY_PIPE
}
#endif
#undef NSA_BLOCK_SCORE_WG_BODY
#undef NSA_BLOCK_SCORE_WG_BODY_PIPE
