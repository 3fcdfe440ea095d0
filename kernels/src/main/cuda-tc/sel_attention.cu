// sel-kernel, token layout: the group-centric selection attention on tensor cores (docs/routing.md path
// `sel-kernel`; the union layout of several tokens is sel_union.cu).
//
// One CTA of 4 warps computes one query token t against the chosen blocks of its KV group g for up to 16
// query heads of that group at once: the heads are the M dimension of the mma tile (h < 16: the rows past h
// are zero and never stored; h > 16: blockIdx.y also picks the 16-head chunk), so every chosen block's K
// and V are loaded once per token and group and used by every head. The chosen set is read from
// blocks[t, g, 0..n) with set semantics (negative entries, duplicates and blocks starting after t ignored),
// sorted ascending in shared memory, so caller-supplied indices in any order give the same bits as sorted
// ones. Keys are visited as 64-key tiles (a chosen block of l' = 64·k keys is k tiles). Per tile:
//   S = Q K^T       mma.sync m16n8k16, the keys split among the warps (warp w: keys [16w, 16w + 16)), Q fragments
//                   in registers (Dk <= 192); the tile's row maxima are combined across the warps
//   online softmax  fp32, base-2 exponentials, one running max m per head for the CTA, a sum l per (warp, head)
//   P               rounded to the input dtype (fast) or split into a high and a low term (exact P), written to
//                   shared memory
//   O += P V        the output columns split among the warps (warp w: columns [w·Dv/4, (w+1)·Dv/4)) over all 64
//                   keys, Dv/16 fp32 accumulators per thread, no merge at the end
// K and V have one shared-memory buffer each, loaded FA-2 style with cp.async: V(i) streams in while S(i) is
// computed, K(i + 1) while P(i)·V(i) is. This "split-N" arrangement replaced a first token layout with the keys
// split among warps for P·V too (Dv/2 accumulators per thread, two K/V stages, a merge at the end): half the
// shared memory and registers, more resident CTAs, 6-13% faster on the H200 (docs/decisions.md D26). Keys s > t
// of the current block are masked. o = O / l (0 when no key is visible), lse = m·scale + ln l (natural log; -inf
// when none). The partition of the work among warps is fixed, so the result is deterministic.
//
// Preconditions (checked on the host, dev.nsa4j.kernels.op.SelKernelOp): fp16/bf16 q, k, v with 16-byte
// aligned rows and token/head strides that are multiples of 8 elements; l' a multiple of 64; n <= 64;
// heads a multiple of kv_heads. Every address comes from cu_q/cu_k and the sizes; key rows outside
// the sequence are zero-filled on load and never read.
#include <cfloat>
#include <climits>
#include <cmath>

#include "nsa_mma.h"
#include "nsa_params.h"
#include "sel_common.cuh"

namespace nsa {
namespace sel {

using namespace nsa::tc;

constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kTileKeys = 64;          // keys per pipeline stage
constexpr int kWarpKeys = kTileKeys / kWarps;
constexpr int kRows = 16;              // heads per CTA (one m16 tile)
constexpr int kMaxBlocks = 64;         // n
constexpr int kMaxTiles = 256;         // n · l' / 64 (the host checks l' <= 256)

// The chosen set of token tok in group g: valid entries (0 <= j, block starts at or before t and before the keys'
// end kend, after their start kpos0), first occurrence only, ranked ascending into s_blocks; s_base gets each 64-key
// tile's first key position. Returns the number of tiles. Every thread calls it; s_base is complete after the
// caller's next barrier.
__device__ __forceinline__ int chosen_tiles(const AttnParams& p, int tok, int g, int64_t t, int64_t kpos0, int64_t kend,
                                            int* s_blocks, int* s_base) {
    const int tid = threadIdx.x;
    const int32_t* blk = p.blocks + static_cast<int64_t>(tok) * p.blocks_tok_stride + g * p.blocks_head_stride;
    const int n = min(p.n_sel, kMaxBlocks);
    int j = -1;
    bool keep = false;
    if (tid < n) {
        j = blk[tid];
        const int64_t lo = static_cast<int64_t>(j) * p.sel_block;
        keep = j >= 0 && lo <= t && lo < kend && lo + p.sel_block > kpos0;
        for (int e = 0; e < tid && keep; ++e) keep = blk[e] != j;
    }
    const int nblocks = __syncthreads_count(keep);
    if (keep) {
        int rank = 0;
        for (int e = 0; e < n; ++e) {
            const int o = blk[e];
            bool first = true;
            for (int f = 0; f < e && first; ++f) first = blk[f] != o;
            const int64_t lo = static_cast<int64_t>(o) * p.sel_block;
            rank += first && o >= 0 && o < j && lo <= t && lo < kend && lo + p.sel_block > kpos0;
        }
        s_blocks[rank] = j;
    }
    const int sub = p.sel_block / kTileKeys;   // tiles per chosen block
    const int ntiles = min(nblocks * sub, kMaxTiles);
    __syncthreads();   // s_blocks
    for (int i = tid; i < ntiles; i += kThreads) s_base[i] = s_blocks[i / sub] * p.sel_block + (i % sub) * kTileKeys;
    return ntiles;
}

// Dynamic shared memory: the Q tile of 16 heads, one K and one V tile of 64 keys, the P tile (and its low term).
template <int DK, int DV>
struct Layout {
    static constexpr int kQElems = kRows * DK;
    static constexpr int kKElems = kTileKeys * DK;
    static constexpr int kVElems = kTileKeys * DV;
    static constexpr int kPElems = kRows * kTileKeys;   // one P tile (two with exact P: high and low terms)
    static constexpr int kBytes = (kQElems + kKElems + kVElems + 2 * kPElems) * 2;
    // Q fragments in registers unless they would crowd out the rest (Dk = Dv = 256: read from shared memory)
    static constexpr bool kQRegs = DK * DV <= 192 * 128;
};

template <typename T, int DK, int DV, bool EXACT>
__device__ __forceinline__ void fwd(const AttnParams& p) {
    using L = Layout<DK, DV>;
    constexpr int kCols = DV / kWarps;   // output columns per warp
    constexpr int kOT = kCols / 8;
    static_assert(kCols % 16 == 0, "each warp's output columns must be whole 16-wide V fragments");
    NSA_TC_DYNAMIC_SMEM(smem);
    T* sQ = reinterpret_cast<T*>(smem);
    T* sK = sQ + L::kQElems;
    T* sV = sK + L::kKElems;
    T* sP = sV + L::kVElems;
    T* sPl = sP + L::kPElems;
    __shared__ int s_blocks[kMaxBlocks];
    __shared__ int s_base[kMaxTiles];
    __shared__ float s_max[kWarps][kRows];
    __shared__ float s_sum[kWarps][kRows];

    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int lane = tid & 31;
    const int tok = blockIdx.x;
    const HeadChunk hc = head_chunk(p);
    const int g = hc.g, head0 = hc.head0, rows = hc.rows;
    const TokenKeys tk = token_keys(p, tok);
    const int64_t t = tk.t, k0 = tk.k0, kpos0 = tk.kpos0, kend = tk.kend;
    const float scale_log2 = p.scale * 1.4426950408889634f;

    const int ntiles = chosen_tiles(p, tok, g, t, kpos0, kend, s_blocks, s_base);
    const T* gQ = static_cast<const T*>(p.q) + static_cast<int64_t>(tok) * p.q_tok_stride + head0 * p.q_head_stride;
    const T* gK = static_cast<const T*>(p.k) + g * p.k_head_stride;
    const T* gV = static_cast<const T*>(p.v) + g * p.v_head_stride;
    const int vis_lo = static_cast<int>(kpos0);
    const int vis_hi = static_cast<int>(min(t + 1, kend));
    __syncthreads();

    auto range = [&](int i, int& lo, int& hi, int64_t& row) {
        const int base = s_base[i];
        lo = max(0, vis_lo - base);
        hi = min(kTileKeys, vis_hi - base);
        row = k0 + (base - kpos0);
    };
    if (ntiles > 0) {
        load_rows<T, DK, kRows, kThreads>(sQ, gQ, p.q_head_stride, 0, rows, tid);
        int lo, hi;
        int64_t row;
        range(0, lo, hi, row);
        load_rows<T, DK, kTileKeys, kThreads>(sK, gK + row * p.k_tok_stride, p.k_tok_stride, lo, hi, tid);
    }
    cp_async_commit();

    float acc[kOT][4], m_i[2], l_i[2];
    init_rows(acc, m_i, l_i);
    uint32_t qf[L::kQRegs ? DK / 16 : 1][4];

    for (int i = 0; i < ntiles; ++i) {
        cp_async_wait_all();
        __syncthreads();   // K(i) (and Q) landed; every warp is done with V(i - 1) and P(i - 1)
        {
            int lo, hi;
            int64_t row;
            range(i, lo, hi, row);
            load_rows<T, DV, kTileKeys, kThreads>(sV, gV + row * p.v_tok_stride, p.v_tok_stride, lo, hi, tid);
            cp_async_commit();
        }
        if (L::kQRegs && i == 0) {
#pragma unroll
            for (int ks = 0; ks < (L::kQRegs ? DK / 16 : 0); ++ks) {
                ldmatrix_x4(qf[ks], smem_addr(sQ + SmemRows<DK>::offset(lane & 15, ks * 2 + (lane >> 4))));
            }
        }
        const int base = s_base[i] + warp * kWarpKeys;
        float s[2][4];
#pragma unroll
        for (int nt = 0; nt < 2; ++nt) {
#pragma unroll
            for (int e = 0; e < 4; ++e) s[nt][e] = -INFINITY;
        }
        if (base < vis_hi && base + kWarpKeys > vis_lo) {   // warp-uniform
            float s2[2][4];
#pragma unroll
            for (int nt = 0; nt < 2; ++nt) {
#pragma unroll
                for (int e = 0; e < 4; ++e) s[nt][e] = s2[nt][e] = 0.f;
            }
#pragma unroll
            for (int ks = 0; ks < DK / 16; ++ks) {
                uint32_t a[4];
                if constexpr (L::kQRegs) {
#pragma unroll
                    for (int e = 0; e < 4; ++e) a[e] = qf[ks][e];
                } else {
                    ldmatrix_x4(a, smem_addr(sQ + SmemRows<DK>::offset(lane & 15, ks * 2 + (lane >> 4))));
                }
                uint32_t bk[4];
                ldmatrix_x4(bk, smem_addr(sK + SmemRows<DK>::offset(warp * kWarpKeys + (lane & 7) + ((lane >> 4) << 3),
                                                                    ks * 2 + ((lane >> 3) & 1))));
                if (ks & 1) {
                    mma16816<T>(s2[0], a, bk[0], bk[1]);
                    mma16816<T>(s2[1], a, bk[2], bk[3]);
                } else {
                    mma16816<T>(s[0], a, bk[0], bk[1]);
                    mma16816<T>(s[1], a, bk[2], bk[3]);
                }
            }
#pragma unroll
            for (int nt = 0; nt < 2; ++nt) {
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int sp = base + nt * 8 + 2 * (lane & 3) + (e & 1);
                    s[nt][e] = sp >= vis_hi || sp < vis_lo ? -INFINITY : s[nt][e] + s2[nt][e];
                }
            }
        }
        // the tile's row maxima across the four warps
#pragma unroll
        for (int hf = 0; hf < 2; ++hf) {
            float mx = fmaxf(fmaxf(s[0][2 * hf], s[0][2 * hf + 1]), fmaxf(s[1][2 * hf], s[1][2 * hf + 1]));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            if ((lane & 3) == 0) s_max[warp][(lane >> 2) + 8 * hf] = mx;
        }
        __syncthreads();
#pragma unroll
        for (int hf = 0; hf < 2; ++hf) {
            const int r = (lane >> 2) + 8 * hf;
            const float mt = fmaxf(fmaxf(s_max[0][r], s_max[1][r]), fmaxf(s_max[2][r], s_max[3][r]));
            softmax_update(s, hf, mt, m_i, l_i, acc, scale_log2);
            // P (this warp's 16 keys) into the shared P tile, rows r, columns 16·warp + 8·nt + 2·(lane & 3)
#pragma unroll
            for (int nt = 0; nt < 2; ++nt) {
                const int col = warp * kWarpKeys + nt * 8 + 2 * (lane & 3);
                const int off = SmemRows<kTileKeys>::offset(r, col >> 3) + (col & 7);
                uint32_t hi, lo;
                if constexpr (EXACT) {
                    split2<T>(s[nt][2 * hf], s[nt][2 * hf + 1], hi, lo);
                    *reinterpret_cast<uint32_t*>(sPl + off) = lo;
                } else {
                    hi = Half2<T>::pack(s[nt][2 * hf], s[nt][2 * hf + 1]);
                }
                *reinterpret_cast<uint32_t*>(sP + off) = hi;
            }
        }
        cp_async_wait_all();
        __syncthreads();   // V(i) and the whole P tile are in; every warp is done with K(i)
        if (i + 1 < ntiles) {
            int lo, hi;
            int64_t row;
            range(i + 1, lo, hi, row);
            load_rows<T, DK, kTileKeys, kThreads>(sK, gK + row * p.k_tok_stride, p.k_tok_stride, lo, hi, tid);
        }
        cp_async_commit();
        // O[:, warp's columns] += P V over the tile's 64 keys
#pragma unroll
        for (int kk = 0; kk < kTileKeys / 16; ++kk) {
            uint32_t pa[4], pl[4];
            ldmatrix_x4(pa, smem_addr(sP + SmemRows<kTileKeys>::offset(lane & 15, kk * 2 + (lane >> 4))));
            if constexpr (EXACT) {
                ldmatrix_x4(pl, smem_addr(sPl + SmemRows<kTileKeys>::offset(lane & 15, kk * 2 + (lane >> 4))));
            }
#pragma unroll
            for (int dp = 0; dp < kCols / 16; ++dp) {
                uint32_t bv[4];
                ldmatrix_x4_trans(bv, smem_addr(sV + SmemRows<DV>::offset(kk * 16 + (lane & 7) + (((lane >> 3) & 1) << 3),
                                                                         (warp * kCols) / 8 + dp * 2 + (lane >> 4))));
                mma16816<T>(acc[2 * dp], pa, bv[0], bv[1]);
                mma16816<T>(acc[2 * dp + 1], pa, bv[2], bv[3]);
                if constexpr (EXACT) {
                    mma16816<T>(acc[2 * dp], pl, bv[0], bv[1]);
                    mma16816<T>(acc[2 * dp + 1], pl, bv[2], bv[3]);
                }
            }
        }
    }
    cp_async_wait_all();

    // l: each warp summed P over its own keys; the row's total is the sum over the warps (one max for all)
#pragma unroll
    for (int hf = 0; hf < 2; ++hf) {
        float l = l_i[hf];
        l += __shfl_xor_sync(0xffffffffu, l, 1);
        l += __shfl_xor_sync(0xffffffffu, l, 2);
        if ((lane & 3) == 0) s_sum[warp][(lane >> 2) + 8 * hf] = l;
    }
    __syncthreads();
    const bool fp32 = p.out_fp32 != 0;
#pragma unroll
    for (int hf = 0; hf < 2; ++hf) {
        const int r = (lane >> 2) + 8 * hf;
        if (r >= rows) continue;
        const float l = s_sum[0][r] + s_sum[1][r] + s_sum[2][r] + s_sum[3][r];
        const float inv = l > 0.f ? 1.f / l : 0.f;
        const int64_t off = static_cast<int64_t>(tok) * p.o_tok_stride + (head0 + r) * p.o_head_stride
                            + warp * kCols + 2 * (lane & 3);
#pragma unroll
        for (int nt = 0; nt < kOT; ++nt) {
            store2<T>(p.o, off + nt * 8, acc[nt][2 * hf] * inv, acc[nt][2 * hf + 1] * inv, fp32);
        }
        if (warp == 0 && (lane & 3) == 0 && p.lse != nullptr) {
            p.lse[static_cast<int64_t>(tok) * p.lse_tok_stride + head0 + r] =
                l > 0.f ? m_i[hf] * p.scale + logf(l) : -INFINITY;
        }
    }
}

// Dynamic shared memory of the (dk, dv) variant (0 when there is none): what the host passes at launch.
inline constexpr int smem_bytes(int dk, int dv) {
    return dk == 64 && dv == 64 ? Layout<64, 64>::kBytes
         : dk == 128 && dv == 128 ? Layout<128, 128>::kBytes
         : dk == 192 && dv == 128 ? Layout<192, 128>::kBytes
         : dk == 256 && dv == 256 ? Layout<256, 256>::kBytes : 0;
}

}  // namespace sel
}  // namespace nsa

// Symbols: nsa_sel_kernel_<dtype>_dk<DK>_dv<DV>[_exact]; grid (nnz_q, kv_heads · ceil(h / 16)), 128 threads,
// Layout<DK, DV>::kBytes = (16·DK + 64·(DK + DV) + 2·16·64)·2 bytes of dynamic shared memory (smem_bytes above).
// Minimum CTAs per SM by variant: the most that compile without register spills (64/64: 118 registers; 128/128
// at 4 CTAs spills 52-64 bytes and measured fastest so; 192/128: 3, 168 registers; 256/256: 2, 217 registers,
// as many as its 78 KB of shared memory allow).
#define NSA_SEL_KERNEL(SUFFIX, T, DK, DV, MINB)                                                              \
    extern "C" __global__ void __launch_bounds__(nsa::sel::kThreads, MINB)                                    \
        nsa_sel_kernel_##SUFFIX##_dk##DK##_dv##DV(const __grid_constant__ nsa::AttnParams p) {                \
        nsa::sel::fwd<T, DK, DV, false>(p);                                                                   \
    }                                                                                                        \
    extern "C" __global__ void __launch_bounds__(nsa::sel::kThreads, MINB)                                    \
        nsa_sel_kernel_##SUFFIX##_dk##DK##_dv##DV##_exact(const __grid_constant__ nsa::AttnParams p) {        \
        nsa::sel::fwd<T, DK, DV, true>(p);                                                                    \
    }

#define NSA_SEL_KERNEL_DTYPES(DK, DV, MINB)                 \
    NSA_SEL_KERNEL(bf16, __nv_bfloat16, DK, DV, MINB)       \
    NSA_SEL_KERNEL(fp16, __half, DK, DV, MINB)

NSA_SEL_KERNEL_DTYPES(64, 64, 4)
NSA_SEL_KERNEL_DTYPES(128, 128, 4)
NSA_SEL_KERNEL_DTYPES(192, 128, 3)
NSA_SEL_KERNEL_DTYPES(256, 256, 2)
