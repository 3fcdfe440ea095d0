// Probe: sizeof and offsetof of every field of every params struct, for the Java layout test.
//
// out[0] = number of int64 values written (including out[0]); then, per struct in the order of
// dev.nsa4j.kernels.ParamsLayouts.ALL: sizeof, then offsetof of each field in declaration order.
// If `capacity` is too small nothing but out[0] = -(needed) is written.
#include <cstddef>
#include "nsa_params.h"

#define NSA_PROBE_LIST(S, F)                                                                  \
    S(nsa::GateCombineParams)                                                                 \
    F(nsa::GateCombineParams, o_cmp) F(nsa::GateCombineParams, o_sel)                         \
    F(nsa::GateCombineParams, o_win) F(nsa::GateCombineParams, gates)                         \
    F(nsa::GateCombineParams, out)                                                            \
    F(nsa::GateCombineParams, cmp_tok_stride) F(nsa::GateCombineParams, cmp_head_stride)      \
    F(nsa::GateCombineParams, sel_tok_stride) F(nsa::GateCombineParams, sel_head_stride)      \
    F(nsa::GateCombineParams, win_tok_stride) F(nsa::GateCombineParams, win_head_stride)      \
    F(nsa::GateCombineParams, gate_tok_stride) F(nsa::GateCombineParams, gate_head_stride)    \
    F(nsa::GateCombineParams, out_tok_stride) F(nsa::GateCombineParams, out_head_stride)      \
    F(nsa::GateCombineParams, nnz) F(nsa::GateCombineParams, heads) F(nsa::GateCombineParams, dv) \
    S(nsa::CompressAvgParams)                                                                 \
    F(nsa::CompressAvgParams, k) F(nsa::CompressAvgParams, out)                               \
    F(nsa::CompressAvgParams, cu_seqlens) F(nsa::CompressAvgParams, cu_seqlens_cmp)           \
    F(nsa::CompressAvgParams, k_tok_stride) F(nsa::CompressAvgParams, k_group_stride)         \
    F(nsa::CompressAvgParams, out_tok_stride) F(nsa::CompressAvgParams, out_group_stride)     \
    F(nsa::CompressAvgParams, nnz) F(nsa::CompressAvgParams, nnz_cmp)                         \
    F(nsa::CompressAvgParams, batch) F(nsa::CompressAvgParams, groups)                        \
    F(nsa::CompressAvgParams, dim) F(nsa::CompressAvgParams, block_len)                       \
    F(nsa::CompressAvgParams, block_stride) \
    S(nsa::AttnParams) \
    F(nsa::AttnParams, q) F(nsa::AttnParams, k) F(nsa::AttnParams, v) \
    F(nsa::AttnParams, o) F(nsa::AttnParams, lse) F(nsa::AttnParams, cu_q) \
    F(nsa::AttnParams, cu_k) F(nsa::AttnParams, q_start) F(nsa::AttnParams, k_start) \
    F(nsa::AttnParams, blocks) F(nsa::AttnParams, q_tok_stride) F(nsa::AttnParams, q_head_stride) \
    F(nsa::AttnParams, k_tok_stride) F(nsa::AttnParams, k_head_stride) F(nsa::AttnParams, v_tok_stride) \
    F(nsa::AttnParams, v_head_stride) F(nsa::AttnParams, o_tok_stride) F(nsa::AttnParams, o_head_stride) \
    F(nsa::AttnParams, lse_tok_stride) F(nsa::AttnParams, blocks_tok_stride) F(nsa::AttnParams, blocks_head_stride) \
    F(nsa::AttnParams, nnz_q) F(nsa::AttnParams, batch) F(nsa::AttnParams, heads) \
    F(nsa::AttnParams, kv_heads) F(nsa::AttnParams, dk) F(nsa::AttnParams, dv) \
    F(nsa::AttnParams, mask) F(nsa::AttnParams, walk) F(nsa::AttnParams, window) \
    F(nsa::AttnParams, cmp_len) F(nsa::AttnParams, cmp_stride) F(nsa::AttnParams, sel_block) \
    F(nsa::AttnParams, n_sel) F(nsa::AttnParams, out_fp32) F(nsa::AttnParams, scale) \
    S(nsa::BlockSelectParams)                                                                 \
    F(nsa::BlockSelectParams, q) F(nsa::BlockSelectParams, k_cmp) F(nsa::BlockSelectParams, lse) \
    F(nsa::BlockSelectParams, cu_seqlens) F(nsa::BlockSelectParams, cu_seqlens_cmp)           \
    F(nsa::BlockSelectParams, indices) F(nsa::BlockSelectParams, scores)                      \
    F(nsa::BlockSelectParams, q_tok_stride) F(nsa::BlockSelectParams, q_head_stride)          \
    F(nsa::BlockSelectParams, k_tok_stride) F(nsa::BlockSelectParams, k_group_stride)         \
    F(nsa::BlockSelectParams, lse_tok_stride) F(nsa::BlockSelectParams, lse_head_stride)      \
    F(nsa::BlockSelectParams, idx_tok_stride) F(nsa::BlockSelectParams, idx_group_stride)     \
    F(nsa::BlockSelectParams, score_tok_stride) F(nsa::BlockSelectParams, score_group_stride) \
    F(nsa::BlockSelectParams, nnz) F(nsa::BlockSelectParams, nnz_cmp)                         \
    F(nsa::BlockSelectParams, batch) F(nsa::BlockSelectParams, heads)                         \
    F(nsa::BlockSelectParams, kv_heads) F(nsa::BlockSelectParams, dk)                         \
    F(nsa::BlockSelectParams, block_len) F(nsa::BlockSelectParams, block_stride)              \
    F(nsa::BlockSelectParams, sel_block) F(nsa::BlockSelectParams, n_sel)                     \
    F(nsa::BlockSelectParams, nb_max) F(nsa::BlockSelectParams, scale)                        \
    S(nsa::CompressMlpParams)                                                                 \
    F(nsa::CompressMlpParams, k) F(nsa::CompressMlpParams, out)                               \
    F(nsa::CompressMlpParams, cu_seqlens) F(nsa::CompressMlpParams, cu_seqlens_cmp)           \
    F(nsa::CompressMlpParams, pos) F(nsa::CompressMlpParams, w1) F(nsa::CompressMlpParams, b1) \
    F(nsa::CompressMlpParams, w2) F(nsa::CompressMlpParams, b2)                               \
    F(nsa::CompressMlpParams, k_tok_stride) F(nsa::CompressMlpParams, k_group_stride)         \
    F(nsa::CompressMlpParams, out_tok_stride) F(nsa::CompressMlpParams, out_group_stride)     \
    F(nsa::CompressMlpParams, nnz) F(nsa::CompressMlpParams, nnz_cmp)                         \
    F(nsa::CompressMlpParams, batch) F(nsa::CompressMlpParams, groups)                        \
    F(nsa::CompressMlpParams, dim) F(nsa::CompressMlpParams, block_len)                       \
    F(nsa::CompressMlpParams, block_stride) F(nsa::CompressMlpParams, hidden) \
    S(nsa::SelGatherParams) \
    F(nsa::SelGatherParams, k) F(nsa::SelGatherParams, v) F(nsa::SelGatherParams, cu_q) \
    F(nsa::SelGatherParams, cu_k) F(nsa::SelGatherParams, q_start) F(nsa::SelGatherParams, k_start) \
    F(nsa::SelGatherParams, blocks) F(nsa::SelGatherParams, packed_k) F(nsa::SelGatherParams, packed_v) \
    F(nsa::SelGatherParams, packed_len) F(nsa::SelGatherParams, packed_last) \
    F(nsa::SelGatherParams, packed_cu_q) F(nsa::SelGatherParams, packed_cu_k) \
    F(nsa::SelGatherParams, k_tok_stride) F(nsa::SelGatherParams, k_group_stride) \
    F(nsa::SelGatherParams, v_tok_stride) F(nsa::SelGatherParams, v_group_stride) \
    F(nsa::SelGatherParams, blocks_tok_stride) F(nsa::SelGatherParams, blocks_group_stride) \
    F(nsa::SelGatherParams, tok0) F(nsa::SelGatherParams, rows) F(nsa::SelGatherParams, batch) \
    F(nsa::SelGatherParams, groups) F(nsa::SelGatherParams, dk) F(nsa::SelGatherParams, dv) \
    F(nsa::SelGatherParams, sel_block) F(nsa::SelGatherParams, n_sel) F(nsa::SelGatherParams, cap) \
    S(nsa::CastParams) F(nsa::CastParams, x) F(nsa::CastParams, y) F(nsa::CastParams, n) \
    S(nsa::DecodeParams) \
    F(nsa::DecodeParams, q) F(nsa::DecodeParams, k_cmp) F(nsa::DecodeParams, v_cmp) F(nsa::DecodeParams, k_sel) \
    F(nsa::DecodeParams, v_sel) F(nsa::DecodeParams, k_win) F(nsa::DecodeParams, v_win) F(nsa::DecodeParams, cu) \
    F(nsa::DecodeParams, sel_k) F(nsa::DecodeParams, sel_v) F(nsa::DecodeParams, table) \
    F(nsa::DecodeParams, win_k) F(nsa::DecodeParams, win_v) F(nsa::DecodeParams, raw_k) \
    F(nsa::DecodeParams, raw_v) F(nsa::DecodeParams, cmp_k) F(nsa::DecodeParams, cmp_v) \
    F(nsa::DecodeParams, lengths) F(nsa::DecodeParams, o_cmp) F(nsa::DecodeParams, o_sel) \
    F(nsa::DecodeParams, o_win) F(nsa::DecodeParams, lse_cmp) F(nsa::DecodeParams, lse_sel) \
    F(nsa::DecodeParams, lse_win) F(nsa::DecodeParams, indices) F(nsa::DecodeParams, reads) \
    F(nsa::DecodeParams, batch) \
    F(nsa::DecodeParams, nnz) F(nsa::DecodeParams, heads) F(nsa::DecodeParams, kv_heads) \
    F(nsa::DecodeParams, dk) F(nsa::DecodeParams, dv) F(nsa::DecodeParams, block_len) \
    F(nsa::DecodeParams, block_stride) F(nsa::DecodeParams, sel_block) F(nsa::DecodeParams, n_sel) \
    F(nsa::DecodeParams, window) F(nsa::DecodeParams, pages) F(nsa::DecodeParams, table_stride) \
    F(nsa::DecodeParams, cmp_cap) F(nsa::DecodeParams, branch) F(nsa::DecodeParams, scale) \
    F(nsa::DecodeParams, o_part) F(nsa::DecodeParams, lse_part) F(nsa::DecodeParams, scores) \
    F(nsa::DecodeParams, split_cmp) F(nsa::DecodeParams, split_sel) F(nsa::DecodeParams, split_win) \
    F(nsa::DecodeParams, phi_mlp) \
    S(nsa::AttnBwdParams) \
    F(nsa::AttnBwdParams, d_o) F(nsa::AttnBwdParams, delta) F(nsa::AttnBwdParams, dq) F(nsa::AttnBwdParams, dk) \
    F(nsa::AttnBwdParams, dv) F(nsa::AttnBwdParams, accumulate) \
    S(nsa::GateBwdParams) \
    F(nsa::GateBwdParams, gates) F(nsa::GateBwdParams, d_o) F(nsa::GateBwdParams, o_cmp) F(nsa::GateBwdParams, o_sel) \
    F(nsa::GateBwdParams, o_win) F(nsa::GateBwdParams, d_gates) F(nsa::GateBwdParams, d_o_cmp) \
    F(nsa::GateBwdParams, d_o_sel) F(nsa::GateBwdParams, d_o_win) F(nsa::GateBwdParams, rows) F(nsa::GateBwdParams, dv) \
    S(nsa::CompressAvgBwdParams) \
    F(nsa::CompressAvgBwdParams, d_cmp) F(nsa::CompressAvgBwdParams, d_raw) F(nsa::CompressAvgBwdParams, cu_seqlens) \
    F(nsa::CompressAvgBwdParams, cu_seqlens_cmp) F(nsa::CompressAvgBwdParams, nnz) F(nsa::CompressAvgBwdParams, batch) \
    F(nsa::CompressAvgBwdParams, groups) F(nsa::CompressAvgBwdParams, dim) F(nsa::CompressAvgBwdParams, block_len) \
    F(nsa::CompressAvgBwdParams, block_stride) \
    S(nsa::CompressMlpBwdParams) \
    F(nsa::CompressMlpBwdParams, k) F(nsa::CompressMlpBwdParams, d_out) F(nsa::CompressMlpBwdParams, cu_seqlens) \
    F(nsa::CompressMlpBwdParams, cu_seqlens_cmp) F(nsa::CompressMlpBwdParams, pos) F(nsa::CompressMlpBwdParams, w1) \
    F(nsa::CompressMlpBwdParams, b1) F(nsa::CompressMlpBwdParams, w2) F(nsa::CompressMlpBwdParams, x) \
    F(nsa::CompressMlpBwdParams, a) F(nsa::CompressMlpBwdParams, dz) F(nsa::CompressMlpBwdParams, dx) \
    F(nsa::CompressMlpBwdParams, d_raw) F(nsa::CompressMlpBwdParams, d_pos) F(nsa::CompressMlpBwdParams, d_w1) \
    F(nsa::CompressMlpBwdParams, d_b1) F(nsa::CompressMlpBwdParams, d_w2) F(nsa::CompressMlpBwdParams, d_b2) \
    F(nsa::CompressMlpBwdParams, nnz) F(nsa::CompressMlpBwdParams, nnz_cmp) F(nsa::CompressMlpBwdParams, batch) \
    F(nsa::CompressMlpBwdParams, groups) F(nsa::CompressMlpBwdParams, dim) F(nsa::CompressMlpBwdParams, block_len) \
    F(nsa::CompressMlpBwdParams, block_stride) F(nsa::CompressMlpBwdParams, hidden)

extern "C" __global__ void nsa_params_layout(int64_t* out, int capacity) {
    if (threadIdx.x != 0 || blockIdx.x != 0) return;
#define NSA_COUNT_S(T) +1
#define NSA_COUNT_F(T, f) +1
    constexpr int needed = 1 NSA_PROBE_LIST(NSA_COUNT_S, NSA_COUNT_F);
    if (capacity < needed) {
        if (capacity > 0) out[0] = -needed;
        return;
    }
    int n = 1;
#define NSA_WRITE_S(T) out[n++] = static_cast<int64_t>(sizeof(T));
#define NSA_WRITE_F(T, f) out[n++] = static_cast<int64_t>(offsetof(T, f));
    NSA_PROBE_LIST(NSA_WRITE_S, NSA_WRITE_F)
    out[0] = n;
}
