// The GPU decode step on tensor cores (docs/nsa-spec.md "Decode"; the reference step is cuda/decode.cu): one branch
// of the step's attention for one query per sequence, split over its keys (flash decoding), all h query heads of a
// KV group in one m16 tile so that every cached key and value is read once per (sequence, group).
//
// Grid (x, y, z) = (splits, B · G · ceil(h / 16), branches): blockIdx.z picks branch p.branch + z (0 cmp, 1 sel,
// 2 win), blockIdx.x its split s (CTAs past the branch's split count exit), blockIdx.y the (sequence, group, head
// chunk). A branch's visible keys for query t = lengths[b] are numbered 0..N-1 in ascending position:
//   cmp  the ncmp(t) compressed tokens, K̃/Ṽ row b · cmp_cap + k
//   sel  the tokens <= t of the chosen blocks (indices[b, g], sorted ascending, -1 padded, as the step's scorer
//        writes them; an entry equal to the one before it, negative or past t is skipped), block after block; key k is token k % l' of the k / l'-th block, read from its page
//        table[b, block] (a block without a page is masked: read as zeros, never scored)
//   win  positions max(0, t - w + 1)..t, ring slot b · w + position % w
// Split s takes keys [s·c, min(N, (s+1)·c)) with c = ceil(N / splits) rounded up to 64, so the grid is fixed while
// the lengths grow (a step captured into a CUDA graph stays valid). Warp w of the CTA walks the 16-key tiles
// s·c + 16·(w + 4i): cp.async into its own two stages of K and V, then sel_common.cuh's warp_tile (S = Q K^T, the
// online softmax, O += P V with P rounded once or, EXACT, split into a high and a low term). The four warps'
// states are merged in shared memory and the CTA writes its normalised partial o and lse (-inf for no key) to
// o_part / lse_part row decode_split_base(branch) + s; decode.cu's merge combines the splits in a fixed order, so
// the step is deterministic. The cmp branch also writes scale · q·K̃ of every visible token to scores [B, H,
// cmp_cap], which decode.cu's scorer turns into block importances (no second pass over K̃). Split 0 of the first head
// chunk writes the branch's visible keys N to reads[b, g, branch] (the step's reads counter).
//
// Bounds: lengths, the table and the indices are the only data-dependent addresses; a page outside [0, pages) or
// a token past cmp_cap is never read. Preconditions (checked on the host, Decode.checkTc): fp16 / bf16 caches,
// (Dk, Dv) compiled below, h = H / G heads per group.
#include <cfloat>
#include <cmath>

#include "nsa_mma.h"
#include "nsa_params.h"
#include "nsa_topn.h"
#include "sel_common.cuh"

namespace nsa {
namespace dtc {

using namespace nsa::tc;
using nsa::sel::q_frags;
using nsa::sel::warp_tile;

constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kKeys = 16;                     // keys per warp tile
constexpr int kAlign = kKeys * kWarps;        // a split's keys are a multiple of this
constexpr int kMaxSel = NSA_SELECT_MAX_N;

// Dynamic shared memory: per warp two stages of kKeys K rows and kKeys V rows; reused by the merge (per warp 16 x
// Dv fp32 accumulators), which is never larger.
template <int DK, int DV>
struct Layout {
    static constexpr int kStage = kKeys * (DK + DV);   // elements
    static constexpr int kBytes = kWarps * 2 * kStage * 2;
    static_assert(kWarps * 16 * DV * 4 <= kBytes, "the merge reuses the stages");
};

// Where key k of the CTA's branch lives (cache row, or -1 when absent), and how many keys are visible.
struct Keys {
    int branch;
    int64_t n;         // visible keys
    int64_t row0;      // cmp: b · cmp_cap; win: b · w
    int64_t first;     // win: the first visible position
    int window, sel_block;
    const int* pages;  // sel: the page of each chosen block (shared memory)

    // 32-bit division where the operands fit (always, short of a cache past 2^31 tokens): a 64-bit divide is a
    // subroutine of about 70 instructions, and this runs once per key of a tile
    __device__ __forceinline__ int64_t row(int64_t k) const {
        if (branch == 0) return row0 + k;
        if (branch == 2) {
            const int64_t pos = first + k;
            return row0 + (pos <= INT32_MAX ? static_cast<int64_t>(static_cast<uint32_t>(pos) % static_cast<uint32_t>(window))
                                            : pos % window);
        }
        int64_t blk, off;
        if (k <= INT32_MAX) {
            const uint32_t k32 = static_cast<uint32_t>(k), l32 = static_cast<uint32_t>(sel_block);
            blk = k32 / l32;
            off = k32 - static_cast<uint32_t>(blk) * l32;
        } else {
            blk = k / sel_block;
            off = k - blk * sel_block;
        }
        const int pg = pages[blk];
        return pg < 0 ? -1 : static_cast<int64_t>(pg) * sel_block + off;
    }
};

// Copies the warp's tile of kKeys keys from `base` (rows of keys >= hi or absent are zero-filled, never read).
// Returns the tile's absent keys (bit k: key base + k < hi has no row, a sel block without a page), for every lane.
template <typename T, int DK, int DV>
__device__ __forceinline__ unsigned load_tile(T* sK, T* sV, const T* gK, const T* gV, int64_t stride_k, int64_t stride_v,
                                          const Keys& keys, int64_t base, int64_t hi, int lane) {
    int64_t mine = -1;
    if (lane < kKeys && base + lane < hi) mine = keys.row(base + lane);
    constexpr int kCk = DK / 8, kCv = DV / 8;
    static_assert((kKeys * kCk) % 32 == 0 && (kKeys * kCv) % 32 == 0, "tile chunks must divide among the lanes");
#pragma unroll
    for (int i = 0; i < kKeys * kCk / 32; ++i) {
        const int idx = lane + 32 * i;
        const int r = idx / kCk, c = idx % kCk;
        const int64_t row = __shfl_sync(0xffffffffu, mine, r);
        cp_async16(smem_addr(sK + SmemRows<DK>::offset(r, c)), row >= 0 ? gK + row * stride_k + c * 8 : gK, row >= 0);
    }
#pragma unroll
    for (int i = 0; i < kKeys * kCv / 32; ++i) {
        const int idx = lane + 32 * i;
        const int r = idx / kCv, c = idx % kCv;
        const int64_t row = __shfl_sync(0xffffffffu, mine, r);
        cp_async16(smem_addr(sV + SmemRows<DV>::offset(r, c)), row >= 0 ? gV + row * stride_v + c * 8 : gV, row >= 0);
    }
    return __ballot_sync(0xffffffffu, lane < kKeys && base + lane < hi && mine < 0);
}

template <typename T, int DK, int DV, bool EXACT>
__device__ __forceinline__ void split(const DecodeParams& p) {
    using L = Layout<DK, DV>;
    NSA_TC_DYNAMIC_SMEM(smem);
    __shared__ int s_pages[kMaxSel];
    __shared__ int s_nblk;
    __shared__ int s_last;
    __shared__ float s_m[kWarps][16];
    __shared__ float s_l[kWarps][16];

    const int branch = p.branch + static_cast<int>(blockIdx.z);
    const int splits = decode_splits(p, branch);
    const int s = blockIdx.x;
    if (s >= splits) return;   // CTA-uniform
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int G = p.kv_heads;
    const int h = p.heads / G;
    const int chunks = (h + 15) / 16;
    const int bg = blockIdx.y / chunks;
    const int b = bg / G, g = bg % G;
    const int head0 = g * h + (blockIdx.y - bg * chunks) * 16;
    const int rows = min(16, g * h + h - head0);
    const int64_t t = p.lengths[b];

    Keys keys{};
    keys.branch = branch;
    keys.window = p.window;
    keys.sel_block = p.sel_block;
    keys.pages = s_pages;
    const T* gK;
    const T* gV;
    if (branch == 0) {
        keys.n = min(select_visible_cmp(t, p.block_len, p.block_stride), p.cmp_cap);
        keys.row0 = static_cast<int64_t>(b) * p.cmp_cap;
        gK = static_cast<const T*>(p.cmp_k);
        gV = static_cast<const T*>(p.cmp_v);
    } else if (branch == 1) {
        if (warp == 0) {   // the chosen blocks, ascending and distinct, that start at or before t; their pages
            const int32_t* blk = p.indices + static_cast<int64_t>(bg) * p.n_sel;
            const int n = min(p.n_sel, kMaxSel);
            int nb = 0, last = -1;
            for (int e0 = 0; e0 < n; e0 += 32) {   // the scorer's rows are sorted: a repeat follows its first
                const int e = e0 + lane;
                const int j = e < n ? blk[e] : -1;
                const int before = e > 0 && e < n ? blk[e - 1] : -1;
                const bool ok = j >= 0 && j > before && static_cast<int64_t>(j) * p.sel_block <= t;
                int pg = -1;
                if (ok && j < p.table_stride) {
                    pg = p.table[static_cast<int64_t>(b) * p.table_stride + j];
                    if (pg < 0 || pg >= p.pages) pg = -1;
                }
                const unsigned m = __ballot_sync(0xffffffffu, ok);
                if (ok) s_pages[nb + __popc(m & ((1u << lane) - 1u))] = pg;
                nb += __popc(m);
                int mx = ok ? j : -1;
#pragma unroll
                for (int off = 16; off > 0; off >>= 1) mx = max(mx, __shfl_xor_sync(0xffffffffu, mx, off));
                last = max(last, mx);
            }
            if (lane == 0) {
                s_nblk = nb;
                s_last = last;
            }
        }
        __syncthreads();
        const int nb = s_nblk;
        keys.n = nb == 0 ? 0
                         : static_cast<int64_t>(nb - 1) * p.sel_block
                               + min(static_cast<int64_t>(p.sel_block), t + 1 - static_cast<int64_t>(s_last) * p.sel_block);
        gK = static_cast<const T*>(p.sel_k);
        gV = static_cast<const T*>(p.sel_v);
    } else {
        keys.first = max(static_cast<int64_t>(0), t - p.window + 1);
        keys.n = t + 1 - keys.first;
        keys.row0 = static_cast<int64_t>(b) * p.window;
        gK = static_cast<const T*>(p.win_k);
        gV = static_cast<const T*>(p.win_v);
    }
    const int64_t stride_k = static_cast<int64_t>(G) * p.dk;
    const int64_t stride_v = static_cast<int64_t>(G) * p.dv;
    gK += static_cast<int64_t>(g) * p.dk;
    gV += static_cast<int64_t>(g) * p.dv;
    int64_t per = (keys.n + splits - 1) / splits;
    per = (per + kAlign - 1) / kAlign * kAlign;
    if (p.reads != nullptr && s == 0 && blockIdx.y % chunks == 0 && tid == 0) {
        p.reads[static_cast<int64_t>(bg) * 3 + branch] = static_cast<int32_t>(keys.n);   // the reads counter
    }
    const int64_t lo = min(keys.n, s * per);
    const int64_t hi = min(keys.n, lo + per);

    T* sK0 = reinterpret_cast<T*>(smem) + warp * 2 * L::kStage;
    auto stageK = [&](int st) { return sK0 + st * L::kStage; };
    auto stageV = [&](int st) { return sK0 + st * L::kStage + kKeys * DK; };

    uint32_t qf[DK / 16][4];
    q_frags<T, DK>(qf, static_cast<const T*>(p.q) + (static_cast<int64_t>(b) * p.heads + head0) * p.dk, p.dk, rows,
                   lane);
    auto qa = [&](int ks, uint32_t (&a)[4]) {
#pragma unroll
        for (int e = 0; e < 4; ++e) a[e] = qf[ks][e];
    };
    float acc[DV / 8][4], m_i[2], l_i[2];
    nsa::softmax::init_rows(acc, m_i, l_i);
    const float scale_log2 = p.scale * 1.4426950408889634f;

    // the warp's tiles: lo + 16·(warp + 4i) < hi
    const int64_t first = lo + static_cast<int64_t>(warp) * kKeys;
    const int ntiles = first < hi ? static_cast<int>((hi - first + kAlign - 1) / kAlign) : 0;
    unsigned absent = 0u, absent_next = 0u;   // load_tile's masks of the tile in use and of the one in flight
    if (ntiles > 0) absent = load_tile<T, DK, DV>(stageK(0), stageV(0), gK, gV, stride_k, stride_v, keys, first, hi, lane);
    cp_async_commit();
    float* score_rows = branch == 0 ? p.scores + (static_cast<int64_t>(b) * p.heads + head0) * p.cmp_cap : nullptr;
    for (int i = 0; i < ntiles; ++i) {
        const int64_t base = first + static_cast<int64_t>(i) * kAlign;
        if (i + 1 < ntiles) {
            absent_next = load_tile<T, DK, DV>(stageK((i + 1) & 1), stageV((i + 1) & 1), gK, gV, stride_k, stride_v,
                                               keys, base + kAlign, hi, lane);
        }
        cp_async_commit();
        cp_async_wait<1>();
        __syncwarp();
        // keys in tile coordinates: [0, hi - base) visible
        const int vhi = static_cast<int>(min(static_cast<int64_t>(kKeys), hi - base));
        auto hook = [&](float (&sc)[kKeys / 8][4]) {
#pragma unroll
            for (int nt = 0; nt < kKeys / 8; ++nt) {
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int kr = nt * 8 + 2 * (lane & 3) + (e & 1);
                    const int r = (lane >> 2) + 8 * (e >> 1);
                    if (kr >= vhi) continue;
                    if ((absent >> kr) & 1u) {
                        sc[nt][e] = -INFINITY;   // a block without a page: never scored
                    } else if (score_rows != nullptr && r < rows) {
                        score_rows[static_cast<int64_t>(r) * p.cmp_cap + base + kr] = sc[nt][e] * p.scale;
                    }
                }
            }
        };
        warp_tile<T, DK, DV, kKeys, EXACT, SmemRows<DK>, SmemRows<DV>>(qa, stageK(i & 1), stageV(i & 1), 0, 0, vhi,
                                                                       m_i, l_i, acc, scale_log2, lane, hook);
        __syncwarp();   // every lane is done with this stage before the next load overwrites it
        absent = absent_next;
    }
    cp_async_wait_all();

    // merge the four warps: o = sum_w 2^((m_w - M) scale_log2) acc_w / L, L the same sum of the l_w
#pragma unroll
    for (int hf = 0; hf < 2; ++hf) {
        float l = l_i[hf];
        l += __shfl_xor_sync(0xffffffffu, l, 1);
        l += __shfl_xor_sync(0xffffffffu, l, 2);
        if ((lane & 3) == 0) {
            s_m[warp][(lane >> 2) + 8 * hf] = m_i[hf];
            s_l[warp][(lane >> 2) + 8 * hf] = l;
        }
    }
    __syncthreads();   // every warp is past its loop: the stages are free
    float* sAcc = reinterpret_cast<float*>(smem);   // [warp][16][DV]
#pragma unroll
    for (int nt = 0; nt < DV / 8; ++nt) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            const int r = (lane >> 2) + 8 * (e >> 1);
            const int c = nt * 8 + 2 * (lane & 3) + (e & 1);
            sAcc[(warp * 16 + r) * DV + c] = acc[nt][e];
        }
    }
    __syncthreads();
    const int64_t prow = static_cast<int64_t>(decode_split_base(p, branch) + s) * p.batch + b;
    for (int x = tid; x < 16 * DV; x += kThreads) {
        const int r = x / DV, c = x % DV;
        if (r >= rows) continue;
        float M = -INFINITY;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) M = fmaxf(M, s_m[w][r]);
        float lsum = 0.f, o = 0.f;
        if (M != -INFINITY) {
#pragma unroll
            for (int w = 0; w < kWarps; ++w) {
                const float f = s_m[w][r] == -INFINITY ? 0.f : ex2((s_m[w][r] - M) * scale_log2);
                lsum = fmaf(f, s_l[w][r], lsum);
                o = fmaf(f, sAcc[(w * 16 + r) * DV + c], o);
            }
        }
        const int64_t orow = prow * p.heads + head0 + r;
        p.o_part[orow * p.dv + c] = lsum > 0.f ? o / lsum : 0.f;
        if (c == 0) p.lse_part[orow] = lsum > 0.f ? M * p.scale + logf(lsum) : -INFINITY;
    }
}

}  // namespace dtc
}  // namespace nsa

// Symbols: nsa_decode_split_<dtype>_dk<DK>_dv<DV>[_exact]; 128 threads, Layout<DK, DV>::kBytes = 256·(DK + DV)
// bytes of dynamic shared memory (TcGeometry.decodeSplitSmem). The kernel issues a dependent chain of mma,
// softmax and shuffle instructions per 16-key tile (ncu on the H200: most stalls wait on a fixed-latency
// dependency, not on memory), so resident warps are what hides it: three CTAs per SM where three stages fit
// (Dk + Dv <= 256: 64 KB each; 168 registers, no spill), two above.
#define NSA_DECODE_SPLIT_MIN_CTAS(DK, DV) ((DK) + (DV) <= 256 ? 3 : 2)
#define NSA_DECODE_SPLIT(SUFFIX, T, DK, DV)                                                                  \
    extern "C" __global__ void __launch_bounds__(nsa::dtc::kThreads, NSA_DECODE_SPLIT_MIN_CTAS(DK, DV))       \
        nsa_decode_split_##SUFFIX##_dk##DK##_dv##DV(const __grid_constant__ nsa::DecodeParams p) {            \
        nsa::dtc::split<T, DK, DV, false>(p);                                                                 \
    }                                                                                                        \
    extern "C" __global__ void __launch_bounds__(nsa::dtc::kThreads, NSA_DECODE_SPLIT_MIN_CTAS(DK, DV))       \
        nsa_decode_split_##SUFFIX##_dk##DK##_dv##DV##_exact(const __grid_constant__ nsa::DecodeParams p) {    \
        nsa::dtc::split<T, DK, DV, true>(p);                                                                  \
    }
#define NSA_DECODE_SPLIT_DTYPES(DK, DV)                  \
    NSA_DECODE_SPLIT(bf16, __nv_bfloat16, DK, DV)        \
    NSA_DECODE_SPLIT(fp16, __half, DK, DV)

NSA_DECODE_SPLIT_DTYPES(64, 64)
NSA_DECODE_SPLIT_DTYPES(128, 128)
NSA_DECODE_SPLIT_DTYPES(192, 128)
