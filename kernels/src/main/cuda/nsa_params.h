// Params structs: the whole host/kernel boundary of each kernel family.
//
// Each struct is plain data passed by value (`const __grid_constant__ Params p`). A Java record in
// dev.nsa4j.kernels writes the same little-endian bytes; the probe kernel nsa_params_layout (see
// nsa_layout_probe.cu) reports sizeof/offsetof of every field so a test can compare both sides.
//
// Conventions (FlashAttention's habit):
//   - device pointers are raw `void*` (dtype is a template parameter of the kernel, chosen by name);
//   - strides are int64 and in ELEMENTS; the last (feature) dimension is always contiguous;
//   - sizes are int32; optional inputs are nullable pointers;
//   - field order is: pointers, int64 strides, int32 sizes, floats. Adding a feature = adding a field
//     (then update the Java record, its StructLayout, and the probe).
#pragma once

#include <cstdint>

namespace nsa {

// o[t,h,:] = g[t,h,0]*o_cmp[t,h,:] + g[t,h,1]*o_sel[t,h,:] + g[t,h,2]*o_win[t,h,:]
// Tensors [nnz, H, Dv]; gates [nnz, H, 3] (the 3 gates contiguous).
struct GateCombineParams {
    const void* o_cmp;
    const void* o_sel;
    const void* o_win;
    const void* gates;
    void* out;

    int64_t cmp_tok_stride, cmp_head_stride;
    int64_t sel_tok_stride, sel_head_stride;
    int64_t win_tok_stride, win_head_stride;
    int64_t gate_tok_stride, gate_head_stride;
    int64_t out_tok_stride, out_head_stride;

    int32_t nnz;
    int32_t heads;
    int32_t dv;
};

// phi = avg: out[cu_cmp[b] + i, g, :] = (1/l) * sum_{j<l} k[cu[b] + i*d + j, g, :]
// Input [nnz, G, D]; output [nnz_cmp, G, D]; cu_seqlens / cu_seqlens_cmp int32 [batch + 1].
struct CompressAvgParams {
    const void* k;
    void* out;
    const int32_t* cu_seqlens;
    const int32_t* cu_seqlens_cmp;

    int64_t k_tok_stride, k_group_stride;
    int64_t out_tok_stride, out_group_stride;

    int32_t nnz;
    int32_t nnz_cmp;
    int32_t batch;
    int32_t groups;
    int32_t dim;
    int32_t block_len;     // l
    int32_t block_stride;  // d
};

// Reference attention (docs/routing.md paths `sdpa` and `sdpa-masked`), attention.cu.
// q [nnz_q, heads, dk], k [nnz_k, kv_heads, dk], v [nnz_k, kv_heads, dv]; cu_q / cu_k int32 [batch + 1].
// Which keys a query at position t may see (the NSA spec (docs/nsa-spec.md)):
enum AttnMask : int32_t {
    kMaskNone = 0,         // every key of its sequence
    kMaskCausal = 1,       // key position s <= t
    kMaskWindow = 2,       // t - window + 1 <= s <= t
    kMaskBlockCausal = 3,  // compressed key i: i * cmp_stride + cmp_len - 1 <= t
    kMaskChosen = 4,       // s <= t and s in a chosen block j, s in [j*sel_block, (j+1)*sel_block)
                           // (blocks[token, kv_head, 0..n_sel), any order, duplicates and j < 0 ignored)
};

// How the kernel walks the keys: every key with the rule tested per key (`sdpa`), or only the ranges the
// rule allows (`sdpa-masked`). Both accumulate the visible keys once each, in ascending key position
// (chosen blocks are visited in ascending block index whatever their order in `blocks`, duplicates and
// negative entries skipped), so both walks give the same bits.
enum AttnWalk : int32_t {
    kWalkAll = 0,
    kWalkRanges = 1,
};

struct AttnParams {
    const void* q;               // [nnz_q, heads, dk]
    const void* k;               // [nnz_k, kv_heads, dk]
    const void* v;               // [nnz_k, kv_heads, dv]
    void* o;                     // [nnz_q, heads, dv], dtype of q or fp32 (out_fp32)
    float* lse;                  // [nnz_q, heads] natural log-sum-exp of the scaled scores; nullable
    const int32_t* cu_q;         // [batch + 1]
    const int32_t* cu_k;         // [batch + 1]
    const int32_t* q_start;      // [batch] position of each sequence's first query; nullable = 0
    const int32_t* k_start;      // [batch] position of each sequence's first key; nullable = 0
    const int32_t* blocks;       // [nnz_q, kv_heads, n_sel] chosen blocks (kMaskChosen); nullable otherwise

    int64_t q_tok_stride, q_head_stride;
    int64_t k_tok_stride, k_head_stride;
    int64_t v_tok_stride, v_head_stride;
    int64_t o_tok_stride, o_head_stride;
    int64_t lse_tok_stride;
    int64_t blocks_tok_stride, blocks_head_stride;

    int32_t nnz_q;
    int32_t batch;
    int32_t heads;
    int32_t kv_heads;
    int32_t dk;
    int32_t dv;
    int32_t mask;       // AttnMask
    int32_t walk;       // AttnWalk
    int32_t window;     // w
    int32_t cmp_len;    // l
    int32_t cmp_stride; // d
    int32_t sel_block;  // l'
    int32_t n_sel;      // n
    int32_t out_fp32;   // 1: o is fp32

    float scale;        // softmax scale
};

// The reference backward of one attention branch (docs/nsa-spec.md §10), attention_bwd.cu: its kernels take the
// forward's AttnParams (q, k, v, cu, mask, walk; o the branch's fp32 output o_c, lse its lse, both as the forward
// wrote them) and these:
//   d_o    fp32 [nnz_q, heads, dv] contiguous: dL/do_c (= g_c · dL/do, gate_bwd writes it)
//   delta  fp32 [nnz_q, heads]: D = dL/do_c · o_c per row (the dq kernel writes it, the dk/dv kernel reads it)
//   dq     fp32 [nnz_q, heads, dk] contiguous: written, or added to when accumulate (the later branches)
//   dk, dv fp32 [nnz_k, kv_heads, dk / dv] contiguous: written
struct AttnBwdParams {
    const float* d_o;
    float* delta;
    float* dq;
    float* dk;
    float* dv;
    int32_t accumulate;
};

// The gates' backward (gate_bwd in attention_bwd.cu), one warp per (token, head) row of rows = nnz · heads, all fp32
// contiguous: d_gates[r, c] = dL/do[r] · o_c[r] and d_oc[c][r] = g_c[r] · dL/do[r] for c = cmp, sel, win (gates
// [rows, 3] the gates the forward mixed with).
struct GateBwdParams {
    const float* gates;
    const float* d_o;
    const float* o_cmp;
    const float* o_sel;
    const float* o_win;
    float* d_gates;
    float* d_o_cmp;
    float* d_o_sel;
    float* d_o_win;
    int64_t rows;
    int32_t dv;
};

// phi = avg backward (compress_avg_bwd in attention_bwd.cu): the gradient of raw token p of sequence b is
// (sum over the compressed tokens i of b whose block [i·d, i·d + l) holds p of d_cmp[cu_cmp[b] + i]) / l, fp32.
// d_cmp [nnz_cmp, groups, dim], d_raw [nnz, groups, dim], contiguous; one thread per (raw token, group, feature).
struct CompressAvgBwdParams {
    const float* d_cmp;
    float* d_raw;
    const int32_t* cu_seqlens;
    const int32_t* cu_seqlens_cmp;
    int32_t nnz;
    int32_t batch;
    int32_t groups;
    int32_t dim;
    int32_t block_len;     // l
    int32_t block_stride;  // d
};

// phi = mlp's reference backward (compress_mlp_bwd.cu), fp32 contiguous: raw k [nnz, groups, dim], d_out = dL/dK̃
// (or dL/dṼ) [nnz_cmp, groups, dim], the MLP's weights (nsa_mlp.cuh's layout); workspace x, dx [nnz_cmp, groups,
// block_len·dim] and a, dz [nnz_cmp, groups, hidden]; out d_raw [nnz, groups, dim] and the weights' gradients.
struct CompressMlpBwdParams {
    const float* k;
    const float* d_out;
    const int32_t* cu_seqlens;
    const int32_t* cu_seqlens_cmp;
    const float* pos;
    const float* w1;
    const float* b1;
    const float* w2;
    float* x;
    float* a;
    float* dz;
    float* dx;
    float* d_raw;
    float* d_pos;
    float* d_w1;
    float* d_b1;
    float* d_w2;
    float* d_b2;
    int32_t nnz;
    int32_t nnz_cmp;
    int32_t batch;
    int32_t groups;
    int32_t dim;
    int32_t block_len;     // l
    int32_t block_stride;  // d
    int32_t hidden;
};

// Block selection (the NSA spec (docs/nsa-spec.md) "Selection branch"), varlen. One warp per (token, group); see block_select.cu.
// q [nnz, H, Dk]; k_cmp [nnz_cmp, G, Dk] (q's dtype); lse [nnz, H] fp32 (natural log, of the compressed
// branch); indices out [nnz, G, n] int32; scores out [nnz, G, nb_max] fp32 or null.
struct BlockSelectParams {
    const void* q;
    const void* k_cmp;
    const float* lse;
    const int32_t* cu_seqlens;
    const int32_t* cu_seqlens_cmp;
    int32_t* indices;
    float* scores;  // nullable

    int64_t q_tok_stride, q_head_stride;
    int64_t k_tok_stride, k_group_stride;
    int64_t lse_tok_stride, lse_head_stride;
    int64_t idx_tok_stride, idx_group_stride;
    int64_t score_tok_stride, score_group_stride;

    int32_t nnz;
    int32_t nnz_cmp;
    int32_t batch;
    int32_t heads;
    int32_t kv_heads;
    int32_t dk;
    int32_t block_len;     // l
    int32_t block_stride;  // d
    int32_t sel_block;     // l'
    int32_t n_sel;         // n, 3 <= n <= NSA_SELECT_MAX_N
    int32_t nb_max;        // columns of scores

    float scale;
};

// phi = mlp (compress_mlp.cu): out[cu_cmp[b] + i, g, :] = W2·SiLU(W1·vec(block + P) + b1) + b2,
// block = k[cu[b] + i*d .. + l, g, :]. Input [nnz, G, D] (fp32/fp16/bf16); output fp32 [nnz_cmp, G, D];
// weights fp32, contiguous: pos [l, D], w1 [hidden, l*D], b1 [hidden], w2 [D, hidden], b2 [D].
struct CompressMlpParams {
    const void* k;
    float* out;
    const int32_t* cu_seqlens;
    const int32_t* cu_seqlens_cmp;
    const float* pos;
    const float* w1;
    const float* b1;
    const float* w2;
    const float* b2;

    int64_t k_tok_stride, k_group_stride;
    int64_t out_tok_stride, out_group_stride;

    int32_t nnz;
    int32_t nnz_cmp;
    int32_t batch;
    int32_t groups;
    int32_t dim;
    int32_t block_len;     // l
    int32_t block_stride;  // d
    int32_t hidden;
};

// Packed selection (docs/routing.md path `sdpa-packed`, step 1 of 2), sel_gather.cu. For each row r = (token
// tok0 + r / groups, KV group r % groups) of a chunk of `rows` query tokens: the keys s <= t of the distinct
// chosen blocks (blocks[tok, g, 0..n_sel), any order, duplicates and j < 0 ignored), in ascending position,
// copied bit for bit into packed_k [rows, groups, cap, dk] and packed_v [rows, groups, cap, dv]
// (cap = n_sel * sel_block); packed_len [rows, groups] = keys packed, packed_last = packed_len - 1;
// packed_cu_q [rows*groups + 1] = r and packed_cu_k [rows*groups + 1] = r * cap. Step 2 is the attention
// kernel over that varlen view (one query "sequence" per row, causal mask with q_start = packed_last).
struct SelGatherParams {
    const void* k;
    const void* v;
    const int32_t* cu_q;
    const int32_t* cu_k;
    const int32_t* q_start;  // nullable
    const int32_t* k_start;  // nullable
    const int32_t* blocks;
    void* packed_k;
    void* packed_v;
    int32_t* packed_len;
    int32_t* packed_last;
    int32_t* packed_cu_q;
    int32_t* packed_cu_k;

    int64_t k_tok_stride, k_group_stride;
    int64_t v_tok_stride, v_group_stride;
    int64_t blocks_tok_stride, blocks_group_stride;

    int32_t tok0;
    int32_t rows;
    int32_t batch;
    int32_t groups;
    int32_t dk;
    int32_t dv;
    int32_t sel_block;
    int32_t n_sel;
    int32_t cap;
};

// Elementwise dtype cast of n contiguous elements (cast.cu): y[i] = (O) x[i].
struct CastParams {
    const void* x;
    void* y;
    int64_t n;
};

// GPU decode (decode.cu, docs/nsa-spec.md "Decode"): the device caches of B sequences and one step's tensors,
// all contiguous, in the input dtype T unless noted. Caches:
//   sel_k / sel_v  [pages, l', G, Dk / Dv]   the selection tokens, block j of sequence b in page table[b, j]
//   table          int32 [B, table_stride]   pages; an entry outside [0, pages) holds nothing (never read)
//   win_k / win_v  [B, w, G, D]              the window ring: position s in slot s % w
//   raw_k / raw_v  [B, l, G, D]              the raw compression tokens still pending: position s in slot s % l
//   cmp_k / cmp_v  [B, cmp_cap, G, D]        the compressed tokens K̃ / Ṽ (T: fp32 for fp32 inputs)
//   lengths        int32 [B]                 tokens in the cache (t of the next step)
// A step's inputs: q [B, H, Dk], k_c [B, G, Dk], v_c [B, G, Dv] (c = cmp, sel, win); its outputs, fp32:
// o_c [B, H, Dv], lse_c [B, H], indices int32 [B, G, n] (sorted, -1 padded), reads. The prefill fill reads k_c / v_c
// as [nnz, G, D] with cu [B + 1] instead.
struct DecodeParams {
    const void* q;
    const void* k_cmp;
    const void* v_cmp;
    const void* k_sel;
    const void* v_sel;
    const void* k_win;
    const void* v_win;
    const int32_t* cu;

    void* sel_k;
    void* sel_v;
    const int32_t* table;
    void* win_k;
    void* win_v;
    void* raw_k;
    void* raw_v;
    void* cmp_k;
    void* cmp_v;
    int32_t* lengths;

    float* o_cmp;
    float* o_sel;
    float* o_win;
    float* lse_cmp;
    float* lse_sel;
    float* lse_win;
    int32_t* indices;
    int32_t* reads;        // int32 [B, G, 3]: the keys each branch of the step read for (b, g) (the reads counter)

    int32_t batch;
    int32_t nnz;           // the fill's source rows
    int32_t heads;
    int32_t kv_heads;
    int32_t dk;
    int32_t dv;
    int32_t block_len;     // l
    int32_t block_stride;  // d
    int32_t sel_block;     // l'
    int32_t n_sel;         // n, 3 <= n <= NSA_SELECT_MAX_N
    int32_t window;        // w
    int32_t pages;
    int32_t table_stride;
    int32_t cmp_cap;
    int32_t branch;        // the attend kernel's branch: 0 cmp, 1 sel, 2 win (split kernel, merge: the first one)

    float scale;

    // The tensor-core step (cuda-tc/decode_tc.cu's split kernel, decode.cu's merge and scorer); null / 0 in the
    // reference step. Split s of branch c is row split_base(c) + s of the partials.
    float* o_part;         // fp32 [split_cmp + split_sel + split_win, B, H, Dv]: each split's normalised output
    float* lse_part;       // fp32 [split_cmp + split_sel + split_win, B, H]: its lse (-inf: no key in the split)
    float* scores;         // fp32 [B, H, cmp_cap]: scale · q·K̃ of the step's query (the cmp split writes it)
    int32_t split_cmp;
    int32_t split_sel;
    int32_t split_win;
    int32_t phi_mlp;       // 1: phi = mlp, compressed tokens by mlp_emit / mlp_fill (append emits none); 0: avg
};

// The first partial row of branch c (0 cmp, 1 sel, 2 win) and its split count.
__host__ __device__ __forceinline__ int decode_split_base(const DecodeParams& p, int c) {
    return c == 0 ? 0 : c == 1 ? p.split_cmp : p.split_cmp + p.split_sel;
}
__host__ __device__ __forceinline__ int decode_splits(const DecodeParams& p, int c) {
    return c == 0 ? p.split_cmp : c == 1 ? p.split_sel : p.split_win;
}

}  // namespace nsa
