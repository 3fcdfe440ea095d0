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

// Block selection (NSA-SPEC "Selection branch"), varlen. One warp per (token, group); see block_select.cu.
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

}  // namespace nsa
