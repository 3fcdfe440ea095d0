// The FA-2 kernels' whole host/kernel boundary: one plain struct passed by value
// (`const __grid_constant__ Fa2Params p`), mirrored byte for byte by dev.nsa4j.fa2.Fa2Params; the probe
// kernel nsa_fa2_params_layout (fa2_layout.cu) reports sizeof/offsetof of every field for the layout test.
//
// Layouts (FlashAttention's): dense q [B, Sq, H, Dk], k [B, Sk, Hkv, Dk], v [B, Sk, Hkv, Dv],
// o [B, Sq, H, Dv]; varlen (cu_q != nullptr) the same without the batch axis, sequence b owning rows
// [cu_q[b], cu_q[b + 1]) of q and [cu_k[b], cu_k[b + 1]) of k and v (kv-packed: k and v are views of one
// tensor, which needs nothing more here). lse is fp32 [.., H] with head stride 1. Strides in elements.
// Positions: query row i of sequence b sits at q_start[b] + i and key row j at k_start[b] + j (null
// arrays: 0), the reference attention's convention (a decode step passes its position); for the
// block-causal mask the key positions are compressed indices.
#pragma once

#include <cstdint>

namespace nsa {

enum Fa2Mask : int32_t {
    kFa2None = 0,         // every key of the sequence
    kFa2Causal = 1,       // s <= t
    kFa2Window = 2,       // t - window + 1 <= s <= t
    kFa2BlockCausal = 3,  // compressed key i visible iff i * cmp_stride + cmp_len - 1 <= t
};

struct Fa2Params {
    const void* q;
    const void* k;
    const void* v;
    void* o;
    float* lse;                // nullable
    const int32_t* cu_q;       // varlen: int32 [batch + 1]; null = dense
    const int32_t* cu_k;
    const int32_t* q_start;    // int32 [batch] or null (0)
    const int32_t* k_start;
    float* o_accum;            // split-KV workspace fp32 [num_splits, rows, H, Dv] (rows = nnz_q or B * Sq)
    float* lse_accum;          // fp32 [num_splits, rows, H]

    int64_t q_batch_stride, q_tok_stride, q_head_stride;
    int64_t k_batch_stride, k_tok_stride, k_head_stride;
    int64_t v_batch_stride, v_tok_stride, v_head_stride;
    int64_t o_batch_stride, o_tok_stride, o_head_stride;
    int64_t lse_batch_stride, lse_tok_stride;

    int32_t batch;
    int32_t heads;
    int32_t kv_heads;
    int32_t seqlen_q;          // dense: Sq; varlen: the longest sequence (sizes the grid)
    int32_t seqlen_k;          // dense: Sk; varlen: unused
    int32_t rows;              // dense: B * Sq; varlen: nnz_q (the accum workspace's row count)
    int32_t dk;
    int32_t dv;
    int32_t mask;              // Fa2Mask
    int32_t window;
    int32_t cmp_len;
    int32_t cmp_stride;
    int32_t out_fp32;          // 1: o is fp32; 0: o has the input dtype
    int32_t num_splits;        // 1: write o and lse; > 1: write the accum workspace (the combine kernel finishes)

    float scale;               // softmax scale
    float scale_log2;          // scale * log2(e)
};

// Element-wise helpers (fa2_support.cu): the non-finite count (x any float dtype, y a uint32 counter) and
// the fp32 -> fp16/bf16 cast (y the output), over n contiguous elements.
struct Fa2ElementwiseParams {
    const void* x;
    void* y;
    int64_t n;
};

}  // namespace nsa
