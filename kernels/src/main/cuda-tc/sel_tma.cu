// sel-kernel, TMA layout (SM 9.0; docs/routing.md path `sel-kernel`, dev.nsa4j.kernels.op.SelLayout.TMA): one warp
// per CTA computes one query token against the chosen blocks of its KV group for up to 16 heads (the M rows of its
// mma tiles), the K and V tiles of the chosen blocks streamed into shared memory by the tensor memory accelerator
// (cp.async.bulk.tensor, one elected lane, STAGES stages, one mbarrier each) instead of cp.async from every lane.
//
// Why: the token and union layouts spend their lanes' issue slots and their registers on cp.async addresses and
// meet at CTA barriers; at 64k they reach 55-60% of the gather floor. A warp that only waits on an mbarrier and
// computes keeps STAGES - 1 tiles in flight at no instruction cost, so several such warps per SM keep the L2 busy
// while the tensor cores run (H200, fla shape, 64k: 1.6x the token layout, docs/decisions.md).
//
// Math as sel_union.cu (FA-2 per warp: S = Q K^T on mma.sync m16n8k16, online softmax in fp32 with base-2
// exponentials, O += P V with P rounded or split into a high and a low term); set semantics on the indices as
// sel_attention.cu (negative entries, duplicates and blocks outside [kpos0, min(t + 1, kend)) ignored; visited in
// ascending order, so any index order gives the same bits). Shared-memory tiles are the TMA's 128-byte swizzle: a
// TILE-key tile of D columns is D / 64 boxes of TILE rows x 128 bytes, chunk c of row r at (c ^ (r & 7)) in its box.
// Rows outside the tensor are zero-filled by the TMA; V rows outside the token's visible keys are zeroed before
// P·V (their P is 0, and 0 · NaN would not be).
//
// Launch (dev.nsa4j.kernels.internal.TcGeometry): grid (nnz_q, G · ceil(h / 16)), 32 threads, smem_bytes<DK, DV>()
// of dynamic shared memory; params (AttnParams, tensor map of k, tensor map of v), the maps rank 3 over
// [nnz_k, G, D] (innermost first: D, G, nnz_k; byte strides of a head and a token), boxes {64, 1, kTile}, 128-byte
// swizzle, zero fill (dev.nsa4j.kernels.internal.TensorMaps). Preconditions as sel_attention.cu's, with Dk, Dv
// multiples of 64 (64/64, 128/128, 192/128). The SM 8.x image's symbols trap: SelLayout never picks them there.
#include <cfloat>
#include <climits>
#include <cmath>

#include "nsa_mma.h"
#include "nsa_params.h"
#include "nsa_tma.h"
#include "sel_common.cuh"

namespace nsa {
namespace selt {

using namespace nsa::tc;
using nsa::sel::head_chunk;
using nsa::sel::HeadChunk;
using nsa::sel::init_rows;
using nsa::sel::q_frags;
using nsa::sel::store_rows;
using nsa::sel::token_keys;
using nsa::sel::TokenKeys;
using nsa::sel::warp_tile;
using nsa::tma::mbar_expect_tx;
using nsa::tma::mbar_init;
using nsa::tma::mbar_wait;

constexpr int kBoxCols = 64;     // columns per TMA box (128 bytes, the swizzle's span)
constexpr int kMaxBlocks = 64;   // n
constexpr int kMaxTiles = 512;   // n · l' / TILE

// Element offset of (row r, 16-byte chunk c) in a TILE-key tile of D columns laid out by the TMA (128-byte swizzle).
template <int D, int TILE>
struct TmaRows {
    static_assert(D % kBoxCols == 0, "head dim must be a multiple of 64");
    static constexpr int kBoxes = D / kBoxCols;
    __device__ __forceinline__ static int offset(int r, int c) {
        return (c >> 3) * (TILE * kBoxCols) + r * kBoxCols + (((c & 7) ^ (r & 7)) << 3);
    }
};

template <int DK, int DV, int STAGES, int TILE>
struct Layout {
    static constexpr int kKElems = TILE * DK;
    static constexpr int kStageElems = TILE * (DK + DV);
    static constexpr int kStageBytes = kStageElems * 2;
    static constexpr int kBytes = STAGES * kStageBytes + 1024;   // + slack to align the stages to 1024 bytes
};

template <typename T, int DK, int DV, bool EXACT, int STAGES, int TILE>
__device__ __forceinline__ void fwd(const AttnParams& p, const CUtensorMap* tm_k, const CUtensorMap* tm_v) {
    using L = Layout<DK, DV, STAGES, TILE>;
    constexpr int kTileKeys = TILE;
    static_assert(TILE == 32 || TILE == 64, "tiles of 32 or 64 keys");
    constexpr int kOT = DV / 8;
    NSA_TC_DYNAMIC_SMEM(smem_raw);
    T* sStage = reinterpret_cast<T*>((reinterpret_cast<uintptr_t>(smem_raw) + 1023) & ~uintptr_t(1023));
    __shared__ __align__(8) uint64_t s_bar[STAGES];
    __shared__ int s_j[kMaxBlocks];
    __shared__ int s_blocks[kMaxBlocks];
    __shared__ int s_base[kMaxTiles];

    const int lane = threadIdx.x;
    const int tok = blockIdx.x;
    const HeadChunk hc = head_chunk(p);
    const int g = hc.g, head0 = hc.head0, rows = hc.rows;
    const TokenKeys tk = token_keys(p, tok);
    const int64_t t = tk.t, k0 = tk.k0, kpos0 = tk.kpos0, kend = tk.kend;
    const int vis_lo = static_cast<int>(kpos0);
    const int vis_hi = static_cast<int>(min(t + 1, kend));
    const float scale_log2 = p.scale * 1.4426950408889634f;
    const uint32_t bar0 = smem_addr(s_bar);
    if (lane == 0) {
        for (int st = 0; st < STAGES; ++st) mbar_init(bar0 + 8 * st, 1);
        nsa::tma::mbar_init_fence();
    }

    // The chosen set: valid first occurrences, ranked ascending into s_blocks.
    const int32_t* blk = p.blocks + static_cast<int64_t>(tok) * p.blocks_tok_stride + g * p.blocks_head_stride;
    const int n = min(p.n_sel, kMaxBlocks);
    const int sel = p.sel_block;
    int mine[2] = {INT_MAX, INT_MAX};
#pragma unroll
    for (int u = 0; u < 2; ++u) {
        const int e = lane + 32 * u;
        if (e < n) {
            const int j = blk[e];
            const int64_t lo = static_cast<int64_t>(j) * sel;
            bool keep = j >= 0 && lo <= t && lo < kend && lo + sel > kpos0;
            for (int f = 0; f < e && keep; ++f) keep = blk[f] != j;
            mine[u] = keep ? j : INT_MAX;
            s_j[e] = mine[u];
        }
    }
    __syncwarp();
    int nblocks = 0;
#pragma unroll
    for (int u = 0; u < 2; ++u) {
        const int j = mine[u];
        nblocks += __popc(__ballot_sync(0xffffffffu, j != INT_MAX));
        if (j != INT_MAX) {
            int rank = 0;
            for (int f = 0; f < n; ++f) rank += s_j[f] < j;
            s_blocks[rank] = j;
        }
    }
    const int sub = sel / kTileKeys;
    const int ntiles = min(nblocks * sub, kMaxTiles);
    __syncwarp();
    for (int i = lane; i < ntiles; i += 32) s_base[i] = s_blocks[i / sub] * sel + (i % sub) * kTileKeys;
    __syncwarp();

    auto issue = [&](int i) {   // lane 0: tile i into stage i % STAGES
        const int st = i % STAGES;
        const uint32_t bar = bar0 + 8 * st;
        const uint32_t dk = smem_addr(sStage + st * L::kStageElems);
        const uint32_t dv = dk + L::kKElems * 2;
        const int row = static_cast<int>(k0 + (s_base[i] - kpos0));
        mbar_expect_tx(bar, L::kStageBytes);
#pragma unroll
        for (int bx = 0; bx < DK / kBoxCols; ++bx) {
            nsa::tma::load_3d(dk + bx * kTileKeys * kBoxCols * 2, tm_k, bx * kBoxCols, g, row, bar);
        }
#pragma unroll
        for (int bx = 0; bx < DV / kBoxCols; ++bx) {
            nsa::tma::load_3d(dv + bx * kTileKeys * kBoxCols * 2, tm_v, bx * kBoxCols, g, row, bar);
        }
    };
    if (lane == 0) {
        for (int i = 0; i < STAGES && i < ntiles; ++i) issue(i);
    }

    // Q fragments straight from global memory (rows past h are zero)
    const T* gQ = static_cast<const T*>(p.q) + static_cast<int64_t>(tok) * p.q_tok_stride + head0 * p.q_head_stride;
    uint32_t qf[DK / 16][4];
    q_frags<T, DK>(qf, gQ, p.q_head_stride, rows, lane);

    float acc[kOT][4], m_i[2], l_i[2];
    init_rows(acc, m_i, l_i);

    for (int i = 0; i < ntiles; ++i) {
        const int st = i % STAGES;
        mbar_wait(bar0 + 8 * st, (i / STAGES) & 1);
        T* sK = sStage + st * L::kStageElems;
        T* sV = sK + L::kKElems;
        const int base = s_base[i];
        const bool partial = base < vis_lo || base + kTileKeys > vis_hi;
        if (partial) {   // V rows the token does not see: zero (P is 0 there; keeps NaN / Inf out of P·V)
            for (int x = lane; x < kTileKeys * (DV / 8); x += 32) {
                const int r = x / (DV / 8), c = x % (DV / 8);
                if (base + r < vis_lo || base + r >= vis_hi) {
                    *reinterpret_cast<uint4*>(sV + TmaRows<DV, TILE>::offset(r, c)) = make_uint4(0u, 0u, 0u, 0u);
                }
            }
            __syncwarp();
        }
        auto qa = [&](int ks, uint32_t (&a)[4]) {
#pragma unroll
            for (int e = 0; e < 4; ++e) a[e] = qf[ks][e];
        };
        warp_tile<T, DK, DV, kTileKeys, EXACT, TmaRows<DK, TILE>, TmaRows<DV, TILE>>(qa, sK, sV, base, vis_lo, vis_hi,
                                                                                     m_i, l_i, acc, scale_log2, lane);
        // every lane is done with stage st (and its generic writes are ordered before the TMA's) before it refills
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
        __syncwarp();
        if (lane == 0 && i + STAGES < ntiles) issue(i + STAGES);
    }

    store_rows<T>(p, acc, m_i, l_i, tok, head0, rows, lane);
}

// The image's layout: 32-key tiles in 2 stages (measured against 64-key tiles and 3 / 4 stages on the H200,
// docs/results/sel-kernel-h200.md).
constexpr int kTile = 32;
constexpr int kStages = 2;
template <int DK, int DV>
inline constexpr int smem_bytes() { return Layout<DK, DV, kStages, kTile>::kBytes; }

}  // namespace selt
}  // namespace nsa

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define NSA_SEL_TMA_BODY(T, DK, DV, EXACT, STAGES, TILE) nsa::selt::fwd<T, DK, DV, EXACT, STAGES, TILE>(p, &tm_k, &tm_v);
#else
#define NSA_SEL_TMA_BODY(T, DK, DV, EXACT, STAGES, TILE) __trap();
#endif
// Symbols: nsa_sel_tma_<dtype>_dk<DK>_dv<DV>[_exact]
#define NSA_SEL_TMA_KERNEL(NAME, T, DK, DV, EXACT, STAGES, TILE, MINB)                                         \
    extern "C" __global__ void __launch_bounds__(32, MINB)                                                    \
        NAME(const __grid_constant__ nsa::AttnParams p, const __grid_constant__ CUtensorMap tm_k,             \
             const __grid_constant__ CUtensorMap tm_v) {                                                       \
        NSA_SEL_TMA_BODY(T, DK, DV, EXACT, STAGES, TILE)                                                       \
    }
#define NSA_SEL_TMA_HEADS(SUFFIX, T, DK, DV, MINB)                                                              \
    NSA_SEL_TMA_KERNEL(nsa_sel_tma_##SUFFIX##_dk##DK##_dv##DV, T, DK, DV, false, nsa::selt::kStages,            \
                       nsa::selt::kTile, MINB)                                                                  \
    NSA_SEL_TMA_KERNEL(nsa_sel_tma_##SUFFIX##_dk##DK##_dv##DV##_exact, T, DK, DV, true, nsa::selt::kStages,     \
                       nsa::selt::kTile, MINB)
#define NSA_SEL_TMA_DTYPES(DK, DV, MINB)                 \
    NSA_SEL_TMA_HEADS(bf16, __nv_bfloat16, DK, DV, MINB) \
    NSA_SEL_TMA_HEADS(fp16, __half, DK, DV, MINB)
NSA_SEL_TMA_DTYPES(64, 64, 6)
NSA_SEL_TMA_DTYPES(128, 128, 6)
NSA_SEL_TMA_DTYPES(192, 128, 4)
#undef NSA_SEL_TMA_DTYPES
#undef NSA_SEL_TMA_HEADS

#ifdef NSA_SEL_TMA_TUNE
// Tuning build (the harness: -DNSA_SEL_TMA_TUNE): bf16 128/128 with the layout given by the macros below.
#ifndef NSA_SELT_STAGES
#define NSA_SELT_STAGES 2
#endif
#ifndef NSA_SELT_TILE
#define NSA_SELT_TILE 32
#endif
#ifndef NSA_SELT_MINB
#define NSA_SELT_MINB 6
#endif
namespace nsa::selt {
inline constexpr int harness_smem_bytes() { return Layout<128, 128, NSA_SELT_STAGES, NSA_SELT_TILE>::kBytes; }
}
NSA_SEL_TMA_KERNEL(nsa_sel_tma_tune_bf16_dk128_dv128, __nv_bfloat16, 128, 128, false, NSA_SELT_STAGES, NSA_SELT_TILE,
                   NSA_SELT_MINB)
NSA_SEL_TMA_KERNEL(nsa_sel_tma_tune_bf16_dk128_dv128_exact, __nv_bfloat16, 128, 128, true, NSA_SELT_STAGES,
                   NSA_SELT_TILE, NSA_SELT_MINB)
#endif
#undef NSA_SEL_TMA_KERNEL
#undef NSA_SEL_TMA_BODY
