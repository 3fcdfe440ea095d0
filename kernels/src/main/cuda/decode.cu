// GPU decode (docs/nsa-spec.md "Decode"): one new token per sequence against the device caches described by
// DecodeParams (nsa_params.h). A step is these launches on one stream, then gate_combine.cu's combine:
//   append   one thread per (b, g, feature): writes the token's k/v into its selection page, the window ring
//            and the raw ring; when a compression block completes at t (t + 1 >= l and (t + 1 - l) % d == 0)
//            the same thread emits compressed token (t + 1 - l) / d from the ring's l positions (phi = avg)
//   attend   (branch cmp) one warp per (b, head): the ncmp(t) visible compressed tokens (o_cmp, lse_cmp)
//   select   one warp per (b, g): block scores + top-n, the reference scorer's rules (nsa_select_row.cuh)
//   attend   (branch sel) one warp per (b, head): the chosen blocks' tokens <= t, read through the block table
//   attend   (branch win) one warp per (b, head): the window's min(w, t + 1) positions, read from the ring
//   advance  lengths[b] += 1
// Each attend writes the keys its branch added for (b, g) to reads[b, g, branch] (the reads counter, from the keys
// the loop really visited).
// The prefill fills the caches with fill (the k/v rows of a varlen batch) and fill_cmp (K̃ / Ṽ). Compressed
// tokens are the fp32 sum over ascending positions and one IEEE division by l, compress_avg.cu's arithmetic, so
// a step's K̃ equals the prefill's bit for bit. The attention rows are the reference attention's
// (nsa_attn_row.cuh): keys in ascending position, so a branch of a step adds the keys row t of a prefill adds.
//
// Bounds: every index comes from lengths, cu, the table and the sizes in the params. A table entry outside
// [0, pages) or a compressed token past cmp_cap is skipped (neither read nor written); the host plans pages and
// capacity before a step, so in a valid call neither happens.
#include "nsa_params.h"
#include "nsa_dtype.h"
#include "nsa_launch.h"
#include "nsa_attn_row.cuh"
#include "nsa_select_row.cuh"

namespace nsa {

constexpr int kDecodeWarps = 4;   // (b, head) rows per block of the attention kernels
constexpr int kDecodeSelectWarps = 256 / 32;

enum DecodeBranch { kDecodeCmp = 0, kDecodeSel = 1, kDecodeWin = 2 };

// Element offset of (row, g, c) in a contiguous [rows, G, D] tensor.
__device__ __forceinline__ int64_t dec_at(int64_t row, int groups, int g, int dim, int c) {
    return (row * groups + g) * dim + c;
}

// The page of selection block j of sequence b, or -1 when the table holds none.
__device__ __forceinline__ int dec_page(const DecodeParams& p, int b, int64_t j) {
    if (j < 0 || j >= p.table_stride) return -1;
    const int pg = p.table[static_cast<int64_t>(b) * p.table_stride + j];
    return pg >= 0 && pg < p.pages ? pg : -1;
}

// Copies feature c of group g of source row src (k/v of each branch) into the caches as position pos of
// sequence b, whose length is len once the token is in: the selection page always, the window ring and the raw
// ring only for the positions a later step still reads (the last w, the last l).
template <typename T>
__device__ __forceinline__ void dec_store(const DecodeParams& p, int b, int64_t pos, int64_t len, int g, int c,
                                          int64_t src) {
    const int G = p.kv_heads;
    const bool kd = c < p.dk;
    const bool vd = c < p.dv;
    const int pg = dec_page(p, b, pos / p.sel_block);
    if (pg >= 0) {
        const int64_t row = static_cast<int64_t>(pg) * p.sel_block + pos % p.sel_block;
        if (kd) static_cast<T*>(p.sel_k)[dec_at(row, G, g, p.dk, c)] = static_cast<const T*>(p.k_sel)[dec_at(src, G, g, p.dk, c)];
        if (vd) static_cast<T*>(p.sel_v)[dec_at(row, G, g, p.dv, c)] = static_cast<const T*>(p.v_sel)[dec_at(src, G, g, p.dv, c)];
    }
    if (pos >= len - p.window) {
        const int64_t row = static_cast<int64_t>(b) * p.window + pos % p.window;
        if (kd) static_cast<T*>(p.win_k)[dec_at(row, G, g, p.dk, c)] = static_cast<const T*>(p.k_win)[dec_at(src, G, g, p.dk, c)];
        if (vd) static_cast<T*>(p.win_v)[dec_at(row, G, g, p.dv, c)] = static_cast<const T*>(p.v_win)[dec_at(src, G, g, p.dv, c)];
    }
    if (pos >= len - p.block_len) {
        const int64_t row = static_cast<int64_t>(b) * p.block_len + pos % p.block_len;
        if (kd) static_cast<T*>(p.raw_k)[dec_at(row, G, g, p.dk, c)] = static_cast<const T*>(p.k_cmp)[dec_at(src, G, g, p.dk, c)];
        if (vd) static_cast<T*>(p.raw_v)[dec_at(row, G, g, p.dv, c)] = static_cast<const T*>(p.v_cmp)[dec_at(src, G, g, p.dv, c)];
    }
}

// Compressed token i of sequence b (feature c of group g of a [.., G, dim] tensor): the mean of the l rows
// first, first + 1, .. of x, row r at x + row_of(r) (ascending fp32 sum, one division), stored into cmp.
template <typename T, typename RowOf>
__device__ __forceinline__ void dec_emit(const T* x, RowOf row_of, int64_t first, int l, int groups, int g, int dim,
                                         int c, T* cmp, int64_t cmp_row) {
    float acc = 0.f;
    for (int j = 0; j < l; ++j) acc = __fadd_rn(acc, load1(x + dec_at(row_of(first + j), groups, g, dim, c)));
    cmp[dec_at(cmp_row, groups, g, dim, c)] = Elem<T>::from_float(__fdiv_rn(acc, static_cast<float>(l)));
}

// append: the step's token t = lengths[b] into the caches, and the compressed token it completes.
template <typename T>
__device__ void decode_append(const DecodeParams& p) {
    const int G = p.kv_heads;
    const int dmax = max(p.dk, p.dv);
    const int64_t total = static_cast<int64_t>(p.batch) * G * dmax;
    for (int64_t e = global_thread(); e < total; e += grid_threads()) {
        const int b = static_cast<int>(e / (static_cast<int64_t>(G) * dmax));
        const int g = static_cast<int>(e / dmax % G);
        const int c = static_cast<int>(e % dmax);
        const int64_t t = p.lengths[b];
        dec_store<T>(p, b, t, t + 1, g, c, b);
        const int64_t span = t + 1 - p.block_len;
        if (span < 0 || span % p.block_stride != 0) continue;
        const int64_t i = span / p.block_stride;
        if (i >= p.cmp_cap) continue;
        const int64_t ring0 = static_cast<int64_t>(b) * p.block_len;
        auto ring = [&](int64_t pos) { return ring0 + pos % p.block_len; };
        const int64_t row = static_cast<int64_t>(b) * p.cmp_cap + i;
        if (c < p.dk) dec_emit<T>(static_cast<const T*>(p.raw_k), ring, span, p.block_len, G, g, p.dk, c, static_cast<T*>(p.cmp_k), row);
        if (c < p.dv) dec_emit<T>(static_cast<const T*>(p.raw_v), ring, span, p.block_len, G, g, p.dv, c, static_cast<T*>(p.cmp_v), row);
    }
}

// fill: the rows of a varlen batch (k_c / v_c [nnz, G, D], cu [B + 1]) into the caches.
template <typename T>
__device__ void decode_fill(const DecodeParams& p) {
    const int G = p.kv_heads;
    const int dmax = max(p.dk, p.dv);
    const int64_t total = static_cast<int64_t>(p.nnz) * G * dmax;
    for (int64_t e = global_thread(); e < total; e += grid_threads()) {
        const int64_t r = e / (static_cast<int64_t>(G) * dmax);
        const int g = static_cast<int>(e / dmax % G);
        const int c = static_cast<int>(e % dmax);
        const int b = select_find_sequence(p.cu, p.batch, r);
        const int64_t start = p.cu[b];
        const int64_t len = p.cu[b + 1] - start;
        if (r < start || r - start >= len) continue;   // device cu inconsistent with the host's: write nothing
        dec_store<T>(p, b, r - start, len, g, c, r);
    }
}

// fill_cmp: compressed token i of every sequence from its k_cmp / v_cmp rows, for i < S_cmp(len).
template <typename T>
__device__ void decode_fill_cmp(const DecodeParams& p) {
    const int G = p.kv_heads;
    const int dmax = max(p.dk, p.dv);
    const int64_t per_seq = static_cast<int64_t>(p.cmp_cap) * G * dmax;
    const int64_t total = p.batch * per_seq;
    for (int64_t e = global_thread(); e < total; e += grid_threads()) {
        const int b = static_cast<int>(e / per_seq);
        const int64_t i = e % per_seq / (static_cast<int64_t>(G) * dmax);
        const int g = static_cast<int>(e / dmax % G);
        const int c = static_cast<int>(e % dmax);
        const int64_t start = p.cu[b];
        const int64_t len = p.cu[b + 1] - start;
        if (i >= select_visible_cmp(len - 1, p.block_len, p.block_stride)) continue;
        auto rows = [&](int64_t pos) { return start + pos; };
        const int64_t row = static_cast<int64_t>(b) * p.cmp_cap + i;
        if (c < p.dk) dec_emit<T>(static_cast<const T*>(p.k_cmp), rows, i * p.block_stride, p.block_len, G, g, p.dk, c, static_cast<T*>(p.cmp_k), row);
        if (c < p.dv) dec_emit<T>(static_cast<const T*>(p.v_cmp), rows, i * p.block_stride, p.block_len, G, g, p.dv, c, static_cast<T*>(p.cmp_v), row);
    }
}

// Branch p.branch (kDecodeCmp, kDecodeSel, kDecodeWin) for query t = lengths[b], head h: one warp per (b, head).
template <typename T, int DCH>
__device__ void decode_attend(const DecodeParams& p) {
    const int lane = threadIdx.x & 31;
    const int64_t row = static_cast<int64_t>(blockIdx.x) * kDecodeWarps + (threadIdx.x >> 5);
    if (row >= static_cast<int64_t>(p.batch) * p.heads) return;
    const int b = static_cast<int>(row / p.heads);
    const int h = static_cast<int>(row % p.heads);
    const int G = p.kv_heads;
    const int g = h / (p.heads / G);
    const int64_t t = p.lengths[b];
    Row<T, DCH> r;
    row_init<T, DCH>(r, static_cast<const T*>(p.q) + row * p.dk, p.dk, lane);
    float* o;
    float* lse;
    int64_t touched = 0;   // keys added: the reads counter
    if (p.branch == kDecodeCmp) {
        const int n = min(select_visible_cmp(t, p.block_len, p.block_stride), p.cmp_cap);
        touched = n;
        const T* k = static_cast<const T*>(p.cmp_k);
        const T* v = static_cast<const T*>(p.cmp_v);
        const int64_t row0 = static_cast<int64_t>(b) * p.cmp_cap;
        for (int i = 0; i < n; ++i) {
            row_add<T, DCH>(r, lane, k + dec_at(row0 + i, G, g, p.dk, 0), v + dec_at(row0 + i, G, g, p.dv, 0), p.dk,
                            p.dv, p.scale);
        }
        o = p.o_cmp;
        lse = p.lse_cmp;
    } else if (p.branch == kDecodeSel) {
        // distinct chosen blocks in ascending index (attention.cu's walk), tokens s <= t of each
        const int32_t* blk = p.indices + (static_cast<int64_t>(b) * G + g) * p.n_sel;
        const T* k = static_cast<const T*>(p.sel_k);
        const T* v = static_cast<const T*>(p.sel_v);
        int prev = -1;
        for (;;) {
            int j = INT_MAX;
            for (int e = 0; e < p.n_sel; ++e) {
                const int x = blk[e];
                if (x > prev && x < j) j = x;
            }
            if (j == INT_MAX) break;
            prev = j;
            const int64_t lo = static_cast<int64_t>(j) * p.sel_block;
            if (lo > t) break;
            const int pg = dec_page(p, b, j);
            if (pg < 0) continue;
            const int hi = static_cast<int>(min(static_cast<int64_t>(p.sel_block), t + 1 - lo));
            const int64_t page0 = static_cast<int64_t>(pg) * p.sel_block;
            touched += hi;
            for (int s = 0; s < hi; ++s) {
                row_add<T, DCH>(r, lane, k + dec_at(page0 + s, G, g, p.dk, 0), v + dec_at(page0 + s, G, g, p.dv, 0),
                                p.dk, p.dv, p.scale);
            }
        }
        o = p.o_sel;
        lse = p.lse_sel;
    } else {
        const T* k = static_cast<const T*>(p.win_k);
        const T* v = static_cast<const T*>(p.win_v);
        const int64_t ring0 = static_cast<int64_t>(b) * p.window;
        touched = t + 1 - max(static_cast<int64_t>(0), t - p.window + 1);
        for (int64_t s = max(static_cast<int64_t>(0), t - p.window + 1); s <= t; ++s) {
            const int64_t slot = ring0 + s % p.window;
            row_add<T, DCH>(r, lane, k + dec_at(slot, G, g, p.dk, 0), v + dec_at(slot, G, g, p.dv, 0), p.dk, p.dv,
                            p.scale);
        }
        o = p.o_win;
        lse = p.lse_win;
    }
    row_store<float, T, DCH>(r, lane, o + row * p.dv, p.dv, lse + row);
    if (p.reads != nullptr && lane == 0 && h % (p.heads / G) == 0) {
        p.reads[(static_cast<int64_t>(b) * G + g) * 3 + p.branch] = static_cast<int32_t>(touched);
    }
}

// select: the chosen blocks of query t = lengths[b] for group g, one warp per (b, g), from q, the cached K̃ and
// lse_cmp of this step.
template <typename T>
__device__ void decode_select(const DecodeParams& p) {
    __shared__ unsigned long long s_top[kDecodeSelectWarps][kTopCap];
    if (p.n_sel < 3 || p.n_sel > NSA_SELECT_MAX_N || p.kv_heads <= 0) return;
    const int lane = threadIdx.x & 31;
    const int G = p.kv_heads;
    const int h = p.heads / G;
    BlockSelectParams sp{};
    sp.q_head_stride = p.dk;
    sp.k_tok_stride = static_cast<int64_t>(G) * p.dk;
    sp.lse_head_stride = 1;
    sp.dk = p.dk;
    sp.block_len = p.block_len;
    sp.block_stride = p.block_stride;
    sp.sel_block = p.sel_block;
    sp.n_sel = p.n_sel;
    sp.scale = p.scale;
    const int64_t rows = static_cast<int64_t>(p.batch) * G;
    for (int64_t row = global_thread() >> 5; row < rows; row += grid_threads() >> 5) {   // warp-uniform
        const int b = static_cast<int>(row / G);
        const int g = static_cast<int>(row % G);
        const int64_t t = p.lengths[b];
        const int ncmp = min(select_visible_cmp(t, p.block_len, p.block_stride), p.cmp_cap);
        const int64_t head0 = static_cast<int64_t>(b) * p.heads + static_cast<int64_t>(g) * h;
        select_row<T>(sp, static_cast<const T*>(p.q) + head0 * p.dk, p.lse_cmp + head0,
                      static_cast<const T*>(p.cmp_k) + dec_at(static_cast<int64_t>(b) * p.cmp_cap, G, g, p.dk, 0),
                      static_cast<int>(t), ncmp, h, p.indices + row * p.n_sel, nullptr,
                      s_top[(threadIdx.x >> 5) % kDecodeSelectWarps], lane);
        __syncwarp();
    }
}

// merge (the tensor-core step): branch p.branch + blockIdx.y's split partials of (b, head) into o_c / lse_c, one
// warp per (b, head): weights 2^(lse_s - M) over the splits in ascending order (a fixed order: deterministic).
__device__ void decode_merge(const DecodeParams& p) {
    const int lane = threadIdx.x & 31;
    const int64_t row = static_cast<int64_t>(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5);
    const int64_t rows = static_cast<int64_t>(p.batch) * p.heads;
    if (row >= rows) return;
    const int branch = p.branch + static_cast<int>(blockIdx.y);
    const int base = decode_split_base(p, branch);
    const int S = decode_splits(p, branch);
    float M = -INFINITY;
    for (int s = lane; s < S; s += 32) M = fmaxf(M, p.lse_part[(base + s) * rows + row]);
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) M = fmaxf(M, __shfl_xor_sync(0xffffffffu, M, off));
    float* o = branch == kDecodeCmp ? p.o_cmp : branch == kDecodeSel ? p.o_sel : p.o_win;
    float* lse = branch == kDecodeCmp ? p.lse_cmp : branch == kDecodeSel ? p.lse_sel : p.lse_win;
    float L = 0.f;
    for (int c0 = 0; c0 < p.dv; c0 += 32) {
        const int c = c0 + lane;
        float acc = 0.f;
        L = 0.f;
        if (M != -INFINITY) {
            for (int s = 0; s < S; ++s) {
                const float ls = p.lse_part[(base + s) * rows + row];
                if (ls == -INFINITY) continue;
                const float w = expf(ls - M);
                L += w;
                if (c < p.dv) acc = fmaf(w, p.o_part[((base + s) * rows + row) * p.dv + c], acc);
            }
        }
        if (c < p.dv) o[row * p.dv + c] = L > 0.f ? acc / L : 0.f;
    }
    if (lane == 0) lse[row] = L > 0.f ? M + logf(L) : -INFINITY;
}

// select_scores (the tensor-core step): the chosen blocks of (b, g) from the scores the cmp split wrote and the
// merged lse_cmp, one 256-thread block per (b, g): p_i = sum over the group's heads of exp(score - lse) into the
// first head's score row (thread i owns column i), then block importances (select_overlap_range's weights) a chunk
// at a time, offered to warp 0's top-n (nsa_topn.h: the reference scorer's keys, forced blocks and tie-break).
constexpr int kScoreChunk = 1024;
__device__ void decode_select_scores(const DecodeParams& p) {
    __shared__ unsigned long long s_top[kTopCap];
    __shared__ float s_sc[kScoreChunk];
    const int G = p.kv_heads;
    if (p.n_sel < 3 || p.n_sel > NSA_SELECT_MAX_N || G <= 0 || blockIdx.x >= p.batch * G) return;
    const int tid = threadIdx.x, lane = tid & 31;
    const int row = blockIdx.x;
    const int b = row / G, g = row % G;
    const int h = p.heads / G;
    const int64_t t = p.lengths[b];
    const int ncmp = min(select_visible_cmp(t, p.block_len, p.block_stride), p.cmp_cap);
    const int cur = static_cast<int>(t / p.sel_block);
    const int n = p.n_sel, keep = n - 3;
    const bool all = cur + 1 <= n;
    const bool topk = !all && keep > 0;
    float* sc = p.scores + (static_cast<int64_t>(b) * p.heads + static_cast<int64_t>(g) * h) * p.cmp_cap;
    const float* lse = p.lse_cmp + static_cast<int64_t>(b) * p.heads + static_cast<int64_t>(g) * h;
    TopList top = topn_list(s_top, keep);
    if (topk) {
        for (int i = tid; i < ncmp; i += blockDim.x) {
            float acc = 0.f;
            for (int hh = 0; hh < h; ++hh) acc += expf(sc[static_cast<int64_t>(hh) * p.cmp_cap + i] - lse[hh]);
            sc[i] = acc;
        }
        __syncthreads();
        const float lf = static_cast<float>(p.block_len);
        for (int j0 = 0; j0 <= cur; j0 += kScoreChunk) {
            const int nj = min(kScoreChunk, cur + 1 - j0);
            for (int x = tid; x < nj; x += blockDim.x) {
                const int64_t j = j0 + x;
                int64_t lo, hi;
                select_overlap_range(j, p.block_len, p.block_stride, p.sel_block, ncmp, lo, hi);
                const int64_t bs = j * p.sel_block, be = bs + p.sel_block;
                float acc = 0.f;
                for (int64_t i = lo; i < hi; ++i) {
                    const int64_t st = i * p.block_stride;
                    const int64_t ov = min(st + p.block_len, be) - max(st, bs);
                    acc = __fmaf_rn(sc[i], __fdiv_rn(static_cast<float>(ov), lf), acc);
                }
                s_sc[x] = acc;
            }
            __syncthreads();
            if (tid < 32) {
                for (int c = 0; c < nj; c += 32) {
                    const int j = j0 + c + lane;
                    const unsigned long long key = c + lane < nj ? topn_candidate(s_sc[c + lane], j, cur) : 0ull;
                    topn_offer(top, keep, key, lane);
                }
            }
            __syncthreads();
        }
    }
    if (tid < 32) topn_write(p.indices + static_cast<int64_t>(row) * n, top, n, cur, all, lane);
}

__device__ void decode_advance(const DecodeParams& p) {
    for (int64_t b = global_thread(); b < p.batch; b += grid_threads()) p.lengths[b] += 1;
}

}  // namespace nsa

// nsa_decode_<dtype>_<append|fill|fill_cmp|select>, nsa_decode_<dtype>_attend_d<DCH> (one branch of the step, head
// dims up to 32·DCH; 128-thread blocks), nsa_decode_int32_advance.
#define NSA_DECODE_ATTEND(SUFFIX, T, DCH)                                                                   \
    extern "C" __global__ void __launch_bounds__(32 * nsa::kDecodeWarps)                                    \
        nsa_decode_##SUFFIX##_attend_d##DCH(const __grid_constant__ nsa::DecodeParams p) {                  \
        nsa::decode_attend<T, DCH>(p);                                                                      \
    }
#define NSA_DECODE(SUFFIX, T)                                                                               \
    NSA_EXTERN nsa_decode_##SUFFIX##_append(const __grid_constant__ nsa::DecodeParams p) { nsa::decode_append<T>(p); } \
    NSA_EXTERN nsa_decode_##SUFFIX##_fill(const __grid_constant__ nsa::DecodeParams p) { nsa::decode_fill<T>(p); }     \
    NSA_EXTERN nsa_decode_##SUFFIX##_fill_cmp(const __grid_constant__ nsa::DecodeParams p) {                \
        nsa::decode_fill_cmp<T>(p);                                                                         \
    }                                                                                                       \
    NSA_EXTERN nsa_decode_##SUFFIX##_select(const __grid_constant__ nsa::DecodeParams p) { nsa::decode_select<T>(p); } \
    NSA_DECODE_ATTEND(SUFFIX, T, 1)                                                                         \
    NSA_DECODE_ATTEND(SUFFIX, T, 2)                                                                         \
    NSA_DECODE_ATTEND(SUFFIX, T, 4)                                                                         \
    NSA_DECODE_ATTEND(SUFFIX, T, 8)

NSA_DECODE(fp32, float)
NSA_DECODE(fp16, __half)
NSA_DECODE(bf16, __nv_bfloat16)

NSA_EXTERN nsa_decode_int32_advance(const __grid_constant__ nsa::DecodeParams p) { nsa::decode_advance(p); }
// The tensor-core step's fp32 kernels: nsa_decode_fp32_merge (grid (ceil(B·H / warps), branches)) and
// nsa_decode_fp32_select_scores (one 256-thread block per (b, g)).
NSA_EXTERN nsa_decode_fp32_merge(const __grid_constant__ nsa::DecodeParams p) { nsa::decode_merge(p); }
NSA_EXTERN nsa_decode_fp32_select_scores(const __grid_constant__ nsa::DecodeParams p) {
    nsa::decode_select_scores(p);
}
