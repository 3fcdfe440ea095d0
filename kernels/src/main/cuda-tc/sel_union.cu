// sel-kernel, union layout: the group-centric selection attention for TOK consecutive query tokens per CTA
// (docs/routing.md path `sel-kernel`, docs/decisions.md D26).
//
// One CTA of TOK warps serves tokens blockIdx.x·TOK + w (warp w) of one KV group g, up to 16 query heads of
// that group each (the heads are the M rows of the warp's mma tiles: h < 16 pads rows, h > 16 takes the
// 16-head chunk of blockIdx.y). The CTA streams the UNION of its tokens' chosen blocks through a multi-stage
// cp.async pipeline, each block once; warp w computes a block only when its token chose it. Neighbouring
// tokens of one selection block share its forced blocks (0, current, previous) and, on real attention, most others,
// so a block is read from L2/HBM once per CTA instead of once per token: the selection is bound by those
// bytes, not by the tensor cores (docs/results/sel-kernel-h200.md).
//
// Each warp computes its 16 rows against all 64 keys of a tile (FA-2 style: S = Q K^T on mma.sync m16n8k16,
// online softmax in fp32 with base-2 exponentials, O += P V with P rounded to the input dtype or, exact P,
// split into a high and a low term), keeps the whole O row block in registers and needs no merge with other
// warps. A warp visits exactly its token's chosen tiles in ascending key order whatever tokens share the
// CTA, so a token's output does not depend on its neighbours and equal inputs give equal bits.
//
// Set semantics on the indices as sel_attention.cu: negative entries, duplicates and blocks starting after t
// or outside the sequence's keys are ignored; any order gives the same bits. The union is keyed by the key
// ROW of a block's first key, so tokens of different sequences (varlen) never share a block by accident.
//
// Preconditions (checked on the host, dev.nsa4j.kernels.op.SelKernelOp): fp16/bf16 q, k, v with 16-byte
// aligned rows and token/head strides that are multiples of 8 elements; l' a multiple of 64 up to 256;
// n <= 64; heads a multiple of kv_heads; key rows below 2^31.
#include <cfloat>
#include <climits>
#include <cmath>

#include "nsa_mma.h"
#include "nsa_params.h"
#include "sel_common.cuh"

namespace nsa {
namespace selu {

using namespace nsa::tc;
using nsa::sel::head_chunk;
using nsa::sel::HeadChunk;
using nsa::sel::init_rows;
using nsa::sel::load_rows;
using nsa::sel::q_frags;
using nsa::sel::store_rows;
using nsa::sel::token_keys;
using nsa::sel::TokenKeys;
using nsa::sel::warp_tile;

constexpr int kTileKeys = 64;    // keys per pipeline stage
constexpr int kRows = 16;        // heads per warp (one m16 tile)
constexpr int kMaxBlocks = 64;   // n
constexpr int kNotKept = INT_MIN;

template <int DK, int DV, int TOK, int STAGES>
struct Layout {
    static constexpr int kThreads = 32 * TOK;
    // Q fragments in registers unless they would crowd out the O accumulator (Dk = Dv = 256).
    static constexpr bool kQRegs = DK * DV <= 192 * 128;
    static constexpr int kQElems = kQRegs ? 0 : TOK * kRows * DK;
    static constexpr int kKElems = kTileKeys * DK;
    static constexpr int kStageElems = kTileKeys * (DK + DV);
    static constexpr int kBytes = (kQElems + STAGES * kStageElems) * 2;
    static constexpr int kEntries = TOK * kMaxBlocks;
    static_assert(TOK >= 1 && TOK <= 32, "a token mask is one 32-bit word");
    static_assert(STAGES >= 2, "the pipeline needs two stages");
};

template <typename T, int DK, int DV, bool EXACT, int TOK, int STAGES>
__device__ __forceinline__ void fwd(const AttnParams& p) {
    using L = Layout<DK, DV, TOK, STAGES>;
    constexpr int kThreads = L::kThreads;
    constexpr int kOT = DV / 8;       // n8 output tiles per row block
    NSA_TC_DYNAMIC_SMEM(smem);
    T* sQ = reinterpret_cast<T*>(smem);
    T* sStage = sQ + L::kQElems;
    __shared__ int s_row[L::kEntries];         // entry (token w, slot e): key row of the block's first key
    __shared__ uint32_t s_first[L::kEntries];  // token mask of a first occurrence, 0 otherwise
    __shared__ int s_key[L::kEntries];         // the union, ascending
    __shared__ uint32_t s_mask[L::kEntries];   // tokens that chose s_key[i]
    __shared__ int s_lo[TOK], s_hi[TOK];       // visible key rows per token
    __shared__ int s_nunion;

    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int lane = tid & 31;
    const HeadChunk hc = head_chunk(p);
    const int g = hc.g, head0 = hc.head0, rows = hc.rows;
    const int tok = blockIdx.x * TOK + warp;
    const bool active = tok < p.nnz_q;
    const int n = min(p.n_sel, kMaxBlocks);
    const int sel = p.sel_block;
    const float scale_log2 = p.scale * 1.4426950408889634f;
    if (tid == 0) s_nunion = 0;

    // This warp's token: its visible key rows [vlo, vhi) (the sequence's keys at positions <= t) and its
    // valid chosen blocks (first occurrences only) as key rows.
    int vlo = INT_MAX, vhi = INT_MIN;
    if (active) {
        const TokenKeys tk = token_keys(p, tok);
        const int64_t t = tk.t, k0 = tk.k0, kpos0 = tk.kpos0, kend = tk.kend;
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
    __syncthreads();   // s_row, s_lo, s_hi, s_nunion

    // The union: each entry's first occurrence across the CTA's tokens carries the mask of every token that
    // chose the block; its rank among the first occurrences orders the union ascending.
    const int entries = TOK * n;
    for (int e = tid; e < entries; e += kThreads) {
        const int r = s_row[e];
        uint32_t mask = 0;
        bool first = r != kNotKept;
        if (first) {
            for (int w = 0; w < TOK; ++w) {
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
    __syncthreads();   // s_first
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
    int ld_lo = INT_MAX, ld_hi = INT_MIN;   // rows some token of the CTA may see (others are zero-filled)
#pragma unroll
    for (int w = 0; w < TOK; ++w) {
        ld_lo = min(ld_lo, s_lo[w]);
        ld_hi = max(ld_hi, s_hi[w]);
    }
    __syncthreads();   // s_key, s_mask, s_nunion
    const int sub = sel / kTileKeys;   // tiles per chosen block
    const int ntiles = s_nunion * sub;

    const T* gK = static_cast<const T*>(p.k) + g * p.k_head_stride;
    const T* gV = static_cast<const T*>(p.v) + g * p.v_head_stride;
    auto tile_base = [&](int i) { return s_key[i / sub] + (i % sub) * kTileKeys; };   // key row of tile row 0
    auto load_tile = [&](int i) {
        T* sK = sStage + (i % STAGES) * L::kStageElems;
        T* sV = sK + L::kKElems;
        const int base = tile_base(i);
        const int lo = max(0, ld_lo - base), hi = min(kTileKeys, ld_hi - base);
        load_rows<T, DK, kTileKeys, kThreads>(sK, gK + static_cast<int64_t>(base) * p.k_tok_stride, p.k_tok_stride,
                                              lo, hi, tid);
        load_rows<T, DV, kTileKeys, kThreads>(sV, gV + static_cast<int64_t>(base) * p.v_tok_stride, p.v_tok_stride,
                                              lo, hi, tid);
    };

    const T* gQ = static_cast<const T*>(p.q) + static_cast<int64_t>(active ? tok : 0) * p.q_tok_stride
                  + head0 * p.q_head_stride;
    uint32_t qf[L::kQRegs ? DK / 16 : 1][4];
    T* sQw = sQ + warp * kRows * DK;
    if constexpr (L::kQRegs) {
        q_frags<T, DK>(qf, gQ, p.q_head_stride, active ? rows : 0, lane);
    } else if (ntiles > 0) {
        load_rows<T, DK, kRows, 32>(sQw, gQ, p.q_head_stride, 0, active ? rows : 0, lane);
    }
#pragma unroll
    for (int st = 0; st < STAGES - 1; ++st) {   // tiles 0 .. STAGES - 2 (Q with tile 0), one group each
        if (st < ntiles) load_tile(st);
        cp_async_commit();
    }

    float acc[kOT][4], m_i[2], l_i[2];
    init_rows(acc, m_i, l_i);
    const uint32_t bit = 1u << warp;

    for (int i = 0; i < ntiles; ++i) {
        if (i + STAGES - 1 < ntiles) load_tile(i + STAGES - 1);   // into the stage tile i - 1 used
        cp_async_commit();                                        // (possibly empty: uniform counting)
        cp_async_wait<STAGES - 1>();
        __syncthreads();   // tile i (and Q) landed
        const int base = tile_base(i);
        // warp-uniform: this warp's token chose the tile and sees some key of it
        if ((s_mask[i / sub] & bit) != 0u && base < vhi && base + kTileKeys > vlo) {
            const T* sK = sStage + (i % STAGES) * L::kStageElems;
            const T* sV = sK + L::kKElems;
            auto qa = [&](int ks, uint32_t (&a)[4]) {
                if constexpr (L::kQRegs) {
#pragma unroll
                    for (int e = 0; e < 4; ++e) a[e] = qf[ks][e];
                } else {
                    ldmatrix_x4(a, smem_addr(sQw + SmemRows<DK>::offset(lane & 15, ks * 2 + (lane >> 4))));
                }
            };
            warp_tile<T, DK, DV, kTileKeys, EXACT, SmemRows<DK>, SmemRows<DV>>(qa, sK, sV, base, vlo, vhi, m_i, l_i,
                                                                               acc, scale_log2, lane);
        }
        __syncthreads();   // every warp is done with this stage before the next iteration refills it
    }
    cp_async_wait_all();

    store_rows<T>(p, acc, m_i, l_i, tok, head0, active ? rows : 0, lane);
}

}  // namespace selu
}  // namespace nsa

// Dynamic shared memory of the (dk, dv) variant with the image's layout (0 when there is none).
namespace nsa::selu {
constexpr int kTok = 4;      // tokens (warps) per CTA
constexpr int kStages = 2;   // 4 tokens and 2 stages measured fastest on an H200 (docs/results/sel-kernel-h200.md)
inline constexpr int smem_bytes(int dk, int dv) {
    return dk == 64 && dv == 64 ? Layout<64, 64, kTok, kStages>::kBytes
         : dk == 128 && dv == 128 ? Layout<128, 128, kTok, kStages>::kBytes
         : dk == 192 && dv == 128 ? Layout<192, 128, kTok, kStages>::kBytes
         : dk == 256 && dv == 256 ? Layout<256, 256, kTok, kStages>::kBytes : 0;
}
}  // namespace nsa::selu

// Symbols: nsa_sel_union_<dtype>_dk<DK>_dv<DV>[_exact]; grid (ceil(nnz_q / 4), kv_heads · ceil(h / 16)), 128
// threads, smem_bytes(DK, DV) = (Dk·Dv > 192·128 ? 4·16·Dk : 0 + 2·64·(Dk + Dv))·2 bytes of dynamic shared memory.
// Minimum CTAs per SM by variant (register caps 168 / 168 / 255 / 255): 3 / 3 / 2 / 1 as the shared memory allows.
#define NSA_SEL_UNION_KERNEL(SUFFIX, T, DK, DV, MINB)                                                          \
    extern "C" __global__ void __launch_bounds__(32 * nsa::selu::kTok, MINB)                                  \
        nsa_sel_union_##SUFFIX##_dk##DK##_dv##DV(const __grid_constant__ nsa::AttnParams p) {                \
        nsa::selu::fwd<T, DK, DV, false, nsa::selu::kTok, nsa::selu::kStages>(p);                             \
    }                                                                                                        \
    extern "C" __global__ void __launch_bounds__(32 * nsa::selu::kTok, MINB)                                  \
        nsa_sel_union_##SUFFIX##_dk##DK##_dv##DV##_exact(const __grid_constant__ nsa::AttnParams p) {        \
        nsa::selu::fwd<T, DK, DV, true, nsa::selu::kTok, nsa::selu::kStages>(p);                              \
    }
#define NSA_SEL_UNION_DTYPES(DK, DV, MINB)                 \
    NSA_SEL_UNION_KERNEL(bf16, __nv_bfloat16, DK, DV, MINB) \
    NSA_SEL_UNION_KERNEL(fp16, __half, DK, DV, MINB)
NSA_SEL_UNION_DTYPES(64, 64, 3)
NSA_SEL_UNION_DTYPES(128, 128, 3)
NSA_SEL_UNION_DTYPES(192, 128, 2)
NSA_SEL_UNION_DTYPES(256, 256, 1)

#ifdef NSA_SEL_UNION_TUNE
// Tuning build (the harness: -DNSA_SEL_UNION_TUNE): bf16 128/128 with the layout given by the macros below.
#ifndef NSA_SELU_TOK
#define NSA_SELU_TOK 4
#endif
#ifndef NSA_SELU_STAGES
#define NSA_SELU_STAGES 2
#endif
#ifndef NSA_SELU_MINB
#define NSA_SELU_MINB 3
#endif
namespace nsa::selu {
inline constexpr int harness_smem_bytes() { return Layout<128, 128, NSA_SELU_TOK, NSA_SELU_STAGES>::kBytes; }
}
extern "C" __global__ void __launch_bounds__(32 * NSA_SELU_TOK, NSA_SELU_MINB)
    nsa_sel_union_tune_bf16_dk128_dv128(const __grid_constant__ nsa::AttnParams p) {
    nsa::selu::fwd<__nv_bfloat16, 128, 128, false, NSA_SELU_TOK, NSA_SELU_STAGES>(p);
}
extern "C" __global__ void __launch_bounds__(32 * NSA_SELU_TOK, NSA_SELU_MINB)
    nsa_sel_union_tune_bf16_dk128_dv128_exact(const __grid_constant__ nsa::AttnParams p) {
    nsa::selu::fwd<__nv_bfloat16, 128, 128, true, NSA_SELU_TOK, NSA_SELU_STAGES>(p);
}
#endif
