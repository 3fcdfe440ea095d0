// GPU decode (docs/nsa-spec.md "Decode"): one new token per sequence against the device caches described by
// DecodeParams (nsa_params.h). A step is these launches on one stream, then gate_combine.cu's combine:
//   append   one thread per (b, g, feature): writes the token's k/v into its selection page, the window ring
//            and the raw ring; when a compression block completes at t (t + 1 >= l and (t + 1 - l) % d == 0)
//            the same thread emits compressed token (t + 1 - l) / d from the ring's l positions (phi = avg;
//            phi = mlp: mlp_emit, one block per (b, g), for K̃ then Ṽ)
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
#include "nsa_mlp.cuh"

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
        if (p.phi_mlp || span < 0 || span % p.block_stride != 0) continue;   // phi = mlp: mlp_emit's work
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

// phi = mlp: compressed tokens by nsa_mlp.cuh's arithmetic (compress_mlp.cu's, so a step's K̃ equals the
// prefill's and the forward's bit for bit), rounded once to the cache dtype. `which` 0: K̃ (raw_k / k_cmp into
// cmp_k, dk), 1: Ṽ (raw_v / v_cmp into cmp_v, dv). One 256-thread block per item, grid-stride.
template <typename T>
struct DecMlpSide {
    const T* raw;    // the raw ring [B * l, G, dim]
    const T* rows;   // the fill's source rows [nnz, G, dim]
    T* cmp;          // [B * cmp_cap, G, dim]
    int dim;
    __device__ DecMlpSide(const DecodeParams& p, int which)
        : raw(static_cast<const T*>(which == 0 ? p.raw_k : p.raw_v)),
          rows(static_cast<const T*>(which == 0 ? p.k_cmp : p.v_cmp)),
          cmp(static_cast<T*>(which == 0 ? p.cmp_k : p.cmp_v)), dim(which == 0 ? p.dk : p.dv) {}
};

// mlp_emit (a step, after append): the compressed token the step's token t = lengths[b] completes, from the raw
// ring's l positions; items (b, g).
template <typename T>
__device__ void decode_mlp_emit(const DecodeParams& p, int which, const MlpWeights& m) {
    __shared__ float xs[NSA_MLP_MAX_IN];
    __shared__ float hs[NSA_MLP_MAX_HIDDEN];
    const DecMlpSide<T> side(p, which);
    const int G = p.kv_heads;
    for (int64_t it = blockIdx.x; it < static_cast<int64_t>(p.batch) * G; it += gridDim.x) {
        const int b = static_cast<int>(it / G);
        const int g = static_cast<int>(it % G);
        const int64_t span = p.lengths[b] + 1 - p.block_len;
        if (span < 0 || span % p.block_stride != 0 || span / p.block_stride >= p.cmp_cap) continue;   // uniform
        const int64_t row = static_cast<int64_t>(b) * p.cmp_cap + span / p.block_stride;
        const int64_t ring0 = static_cast<int64_t>(b) * p.block_len;
        __syncthreads();   // the previous item is done with xs / hs
        mlp_compress_block<T>(
            m, p.block_len, side.dim,
            [&](int r) { return side.raw + dec_at(ring0 + (span + r) % p.block_len, G, g, side.dim, 0); }, xs, hs,
            [&](int c, float o) { side.cmp[dec_at(row, G, g, side.dim, c)] = Elem<T>::from_float(o); });
    }
}

// mlp_fill (the prefill): compressed token i of every sequence from its k_cmp / v_cmp rows, for i < S_cmp(len);
// items (b, i, g). A window past the fill's nnz rows (device cu inconsistent with the host's) is not read.
template <typename T>
__device__ void decode_mlp_fill(const DecodeParams& p, int which, const MlpWeights& m) {
    __shared__ float xs[NSA_MLP_MAX_IN];
    __shared__ float hs[NSA_MLP_MAX_HIDDEN];
    const DecMlpSide<T> side(p, which);
    const int G = p.kv_heads;
    const int64_t per_seq = static_cast<int64_t>(p.cmp_cap) * G;
    for (int64_t it = blockIdx.x; it < p.batch * per_seq; it += gridDim.x) {
        const int b = static_cast<int>(it / per_seq);
        const int64_t i = it % per_seq / G;
        const int g = static_cast<int>(it % G);
        const int64_t start = p.cu[b];
        const int64_t len = p.cu[b + 1] - start;
        const int64_t first = start + i * p.block_stride;
        if (i >= select_visible_cmp(len - 1, p.block_len, p.block_stride) || start < 0
            || first + p.block_len > p.nnz) continue;   // uniform over the block
        const int64_t row = static_cast<int64_t>(b) * p.cmp_cap + i;
        __syncthreads();
        mlp_compress_block<T>(
            m, p.block_len, side.dim, [&](int r) { return side.rows + dec_at(first + r, G, g, side.dim, 0); }, xs,
            hs, [&](int c, float o) { side.cmp[dec_at(row, G, g, side.dim, c)] = Elem<T>::from_float(o); });
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

// The tensor-core step's split partials of branch c for (b, head) row `row` of rows = B·H, over a warp: the running
// max M of the splits' lse (lanes over splits), weights w_s = exp(lse_s - M) (0 for a split with no key), the
// weighted sum of the partial outputs in ascending split order (lane: columns 4·lane + 128·j, float4 loads, four
// splits' loads in flight), normalised by L = sum w_s. Returns lse = M + ln L (-inf: no key in any split) and the
// lane's columns in o. Dv a multiple of 4, at most 256.
// The max M of the splits' lse of (branch c, row), over the warp (every lane gets it).
// nz (optional): one past the last split with a key; the splits after it (a split past the keys of a short
// sequence) weigh 0, so the merge never loads their partials.
__device__ __forceinline__ float decode_merge_max(const float* lp, int S, int64_t rows, int lane, int* nz = nullptr) {
    float M = -INFINITY;
    int last = -1;
    for (int s = lane; s < S; s += 32) {
        const float ls = lp[static_cast<int64_t>(s) * rows];
        M = fmaxf(M, ls);
        if (ls != -INFINITY) last = s;
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) {
        M = fmaxf(M, __shfl_xor_sync(0xffffffffu, M, off));
        last = max(last, __shfl_xor_sync(0xffffffffu, last, off));
    }
    if (nz != nullptr) *nz = last + 1;
    return M;
}

// The merged lse of (branch c, row) alone: decode_merge_row's M and L in its order, so both give the same value.
__device__ __forceinline__ float decode_merge_lse(const DecodeParams& p, int c, int64_t row, int64_t rows, int lane) {
    const int S = decode_splits(p, c);
    const float* lp = p.lse_part + static_cast<int64_t>(decode_split_base(p, c)) * rows + row;
    const float M = decode_merge_max(lp, S, rows, lane);
    float L = 0.f;
    if (M != -INFINITY) {
        for (int s0 = 0; s0 < S; s0 += 32) {
            const float ls = s0 + lane < S ? lp[static_cast<int64_t>(s0 + lane) * rows] : -INFINITY;
            L += ls == -INFINITY ? 0.f : expf(ls - M);
        }
    }
    L = warp_sum(L);
    return L > 0.f ? M + logf(L) : -INFINITY;
}

__device__ __forceinline__ float decode_merge_row(const DecodeParams& p, int c, int64_t row, int64_t rows, int lane,
                                                  float4 (&o)[2]) {
    const int base = decode_split_base(p, c);
    const int S = decode_splits(p, c);
    const float* lp = p.lse_part + static_cast<int64_t>(base) * rows + row;
    int nz;
    const float M = decode_merge_max(lp, S, rows, lane, &nz);
    o[0] = o[1] = make_float4(0.f, 0.f, 0.f, 0.f);
    float L = 0.f;
    if (M != -INFINITY) {
        for (int s0 = 0; s0 < nz; s0 += 32) {
            const float ls = s0 + lane < nz ? lp[static_cast<int64_t>(s0 + lane) * rows] : -INFINITY;
            const float w = ls == -INFINITY ? 0.f : expf(ls - M);
            L += w;
            const int cnt = min(32, nz - s0);
            // 8 splits' loads in flight per lane: the merge is a chain of L2 / HBM round trips, not arithmetic
#pragma unroll 8
            for (int k = 0; k < cnt; ++k) {
                const float ws = __shfl_sync(0xffffffffu, w, k);
                const float* op = p.o_part + (static_cast<int64_t>(base + s0 + k) * rows + row) * p.dv;
#pragma unroll
                for (int j = 0; j < 2; ++j) {
                    const int col = 4 * lane + 128 * j;
                    if (col < p.dv) {
                        const float4 v = *reinterpret_cast<const float4*>(op + col);
                        o[j].x = fmaf(ws, v.x, o[j].x);
                        o[j].y = fmaf(ws, v.y, o[j].y);
                        o[j].z = fmaf(ws, v.z, o[j].z);
                        o[j].w = fmaf(ws, v.w, o[j].w);
                    }
                }
            }
        }
    }
    L = warp_sum(L);
    if (L > 0.f) {
#pragma unroll
        for (int j = 0; j < 2; ++j) o[j] = make_float4(o[j].x / L, o[j].y / L, o[j].z / L, o[j].w / L);
    }
    return L > 0.f ? M + logf(L) : -INFINITY;
}

// finish (the tensor-core step's last kernel): kFinishRows (b, head) rows per block, one warp per (row, branch), so
// a row's three merges run side by side (one warp walking them in turn was three chains of L2 round trips): warp c
// of a row merges branch c's splits (o_c and lse_c written, fp32) and leaves its columns in shared memory; then the
// row's gate combine into out (gate_combine.cu's order: g_cmp·o_cmp, then fma sel, then fma win; gates and out
// contiguous [B, H, 3] / [B, H, Dv]), and block 0 advances every length (no thread of this kernel reads them).
constexpr int kFinishRows = 2;
constexpr int kFinishThreads = 32 * 3 * kFinishRows;
template <typename G, typename O>
__device__ void decode_finish(const DecodeParams& p, const G* gates, O* out) {
    __shared__ float4 s_o[kFinishRows][3][64];   // Dv <= 256: 64 float4 columns per branch
    if (blockIdx.x == 0) {
        for (int b = threadIdx.x; b < p.batch; b += blockDim.x) p.lengths[b] += 1;
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int rr = warp / 3, c = warp % 3;
    const int64_t rows = static_cast<int64_t>(p.batch) * p.heads;
    const int64_t row = static_cast<int64_t>(blockIdx.x) * kFinishRows + rr;
    float* const oc = c == 0 ? p.o_cmp : c == 1 ? p.o_sel : p.o_win;
    float* const lc = c == 0 ? p.lse_cmp : c == 1 ? p.lse_sel : p.lse_win;
    if (row < rows) {
        float4 br[2];
        const float lse = decode_merge_row(p, c, row, rows, lane, br);
        if (lane == 0) lc[row] = lse;
#pragma unroll
        for (int j = 0; j < 2; ++j) {
            const int col = 4 * lane + 128 * j;
            if (col < p.dv) {
                *reinterpret_cast<float4*>(oc + row * p.dv + col) = br[j];
                s_o[rr][c][lane + 32 * j] = br[j];
            }
        }
    }
    __syncthreads();
    if (row >= rows) return;
    const G* gp = gates + row * 3;
    const float g_cmp = load1(gp), g_sel = load1(gp + 1), g_win = load1(gp + 2);
    // the row's three warps share its columns: warp c takes float4 columns c, c + 3, ...
    for (int q = lane * 3 + c; q < p.dv / 4; q += 96) {
        const float4 av = s_o[rr][0][q], bv = s_o[rr][1][q], wv = s_o[rr][2][q];
        const float a[4] = {av.x, av.y, av.z, av.w};
        const float b[4] = {bv.x, bv.y, bv.z, bv.w};
        const float w[4] = {wv.x, wv.y, wv.z, wv.w};
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            out[row * p.dv + 4 * q + k] = Elem<O>::from_float(fmaf(g_win, w[k], fmaf(g_sel, b[k], __fmul_rn(g_cmp, a[k]))));
        }
    }
}

// select_scores (the tensor-core step): the chosen blocks of (b, g) from the scores the cmp split wrote, one
// 256-thread block per (b, g): the group's heads' lse_cmp merged from the cmp splits (a warp per head), then
// p_i = sum over the heads of exp(score - lse) into the first head's score row (thread i owns column i), then block
// importances (select_overlap_range's weights) a chunk at a time. Every warp keeps its own top-n list (nsa_topn.h:
// the reference scorer's keys, forced blocks and tie-break) over the candidates j ≡ 32·warp + lane (mod 256), and
// warp 0 then offers the lists' survivors to one list: the best keep of all are among the best keep of each, and
// the chosen set is a set of unique keys, so it does not depend on that order. One warp walking every candidate
// was a chain of 32 dependent offers per 1024 blocks (docs/decisions.md D42).
constexpr int kScoreChunk = 1024;
constexpr int kScoreMaxHeads = 256;
constexpr int kScoreWarps = 8;   // the kernel's 256 threads
__device__ void decode_select_scores(const DecodeParams& p) {
    __shared__ unsigned long long s_top[kScoreWarps + 1][kTopCap];
    __shared__ float s_sc[kScoreChunk];
    __shared__ float s_lse[kScoreMaxHeads];
    __shared__ int s_cnt[kScoreWarps];
    const int G = p.kv_heads;
    if (p.n_sel < 3 || p.n_sel > NSA_SELECT_MAX_N || G <= 0 || blockIdx.x >= p.batch * G) return;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int row = blockIdx.x;
    const int b = row / G, g = row % G;
    const int h = min(p.heads / G, kScoreMaxHeads);
    const int64_t t = p.lengths[b];
    const int ncmp = min(select_visible_cmp(t, p.block_len, p.block_stride), p.cmp_cap);
    const int cur = static_cast<int>(t / p.sel_block);
    const int n = p.n_sel, keep = n - 3;
    const bool all = cur + 1 <= n;
    const bool topk = !all && keep > 0;
    float* sc = p.scores + (static_cast<int64_t>(b) * p.heads + static_cast<int64_t>(g) * h) * p.cmp_cap;
    TopList top = topn_list(s_top[warp], keep);
    if (topk) {
        const int64_t rows = static_cast<int64_t>(p.batch) * p.heads;
        for (int hh = tid >> 5; hh < h; hh += blockDim.x >> 5) {
            const float lse = decode_merge_lse(p, 0, static_cast<int64_t>(b) * p.heads + g * h + hh, rows, lane);
            if (lane == 0) s_lse[hh] = lse;
        }
        __syncthreads();
        for (int i = tid; i < ncmp; i += blockDim.x) {
            float acc = 0.f;
#pragma unroll 8
            for (int hh = 0; hh < h; ++hh) acc += expf(sc[static_cast<int64_t>(hh) * p.cmp_cap + i] - s_lse[hh]);
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
            for (int c = 32 * warp; c < nj; c += 32 * kScoreWarps) {
                const int j = j0 + c + lane;
                const unsigned long long key = c + lane < nj ? topn_candidate(s_sc[c + lane], j, cur) : 0ull;
                topn_offer(top, keep, key, lane);
            }
            __syncthreads();
        }
        if (top.cnt > keep) topn_compact(top, keep, lane);   // each warp's best keep (fewer: all it was offered)
        if (lane == 0) s_cnt[warp] = top.cnt;
        __syncthreads();
        if (warp == 0) {
            top = topn_list(s_top[kScoreWarps], keep);
            for (int w = 0; w < kScoreWarps; ++w) {
                for (int c = 0; c < s_cnt[w]; c += 32) {
                    topn_offer(top, keep, c + lane < s_cnt[w] ? s_top[w][c + lane] : 0ull, lane);
                }
            }
        }
    }
    if (warp == 0) topn_write(p.indices + static_cast<int64_t>(row) * n, top, n, cur, all, lane);
}

__device__ void decode_advance(const DecodeParams& p) {
    for (int64_t b = global_thread(); b < p.batch; b += grid_threads()) p.lengths[b] += 1;
}

}  // namespace nsa

// nsa_decode_<dtype>_<append|fill|fill_cmp|select>, nsa_decode_<dtype>_mlp_<emit|fill> (arguments: the params,
// which, the weights; 256-thread blocks), nsa_decode_<dtype>_attend_d<DCH> (one branch of the step, head
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
    NSA_EXTERN nsa_decode_##SUFFIX##_mlp_emit(const __grid_constant__ nsa::DecodeParams p, int which,        \
                                             const __grid_constant__ nsa::MlpWeights m) {                   \
        nsa::decode_mlp_emit<T>(p, which, m);                                                               \
    }                                                                                                       \
    NSA_EXTERN nsa_decode_##SUFFIX##_mlp_fill(const __grid_constant__ nsa::DecodeParams p, int which,        \
                                             const __grid_constant__ nsa::MlpWeights m) {                   \
        nsa::decode_mlp_fill<T>(p, which, m);                                                               \
    }                                                                                                       \
    NSA_DECODE_ATTEND(SUFFIX, T, 1)                                                                         \
    NSA_DECODE_ATTEND(SUFFIX, T, 2)                                                                         \
    NSA_DECODE_ATTEND(SUFFIX, T, 4)                                                                         \
    NSA_DECODE_ATTEND(SUFFIX, T, 8)

NSA_DECODE(fp32, float)
NSA_DECODE(fp16, __half)
NSA_DECODE(bf16, __nv_bfloat16)

NSA_EXTERN nsa_decode_int32_advance(const __grid_constant__ nsa::DecodeParams p) { nsa::decode_advance(p); }
// The tensor-core step's dtype-free kernels: nsa_decode_fp32_select_scores (one 256-thread block per (b, g)) and
// nsa_decode_fp32_finish_g<gates>_o<out> (one warp per (b, head) and branch, kFinishRows rows per 192-thread block;
// arguments: the params, then the gates and out pointers).
NSA_EXTERN nsa_decode_fp32_select_scores(const __grid_constant__ nsa::DecodeParams p) {
    nsa::decode_select_scores(p);
}
#define NSA_DECODE_FINISH(GS, G, OS, O)                                                                    \
    extern "C" __global__ void __launch_bounds__(nsa::kFinishThreads) nsa_decode_fp32_finish_g##GS##_o##OS( \
        const __grid_constant__ nsa::DecodeParams p, const G* gates, O* out) {                          \
        nsa::decode_finish<G, O>(p, gates, out);                                                        \
    }
NSA_DECODE_FINISH(fp32, float, fp32, float)
NSA_DECODE_FINISH(fp32, float, fp16, __half)
NSA_DECODE_FINISH(fp32, float, bf16, __nv_bfloat16)
NSA_DECODE_FINISH(fp16, __half, fp16, __half)
NSA_DECODE_FINISH(fp16, __half, fp32, float)
NSA_DECODE_FINISH(bf16, __nv_bfloat16, bf16, __nv_bfloat16)
NSA_DECODE_FINISH(bf16, __nv_bfloat16, fp32, float)
