package dev.nsa4j.kernels.internal;

/**
 * Mirror of {@code nsa::BlockSelectParams} (nsa_params.h).
 *
 * <p>{@code q}: {@code [nnz, H, Dk]}; {@code kCmp}: {@code [nnzCmp, G, Dk]} (q's dtype); {@code lse}: fp32
 * {@code [nnz, H]}; {@code cuSeqlens}/{@code cuSeqlensCmp}: int32 {@code [batch + 1]} (see {@link CompressionPlan});
 * {@code indices}: int32 {@code [nnz, G, n]}; {@code scores}: fp32 {@code [nnz, G, nbMax]} or 0. Strides in
 * elements; {@code blockLen} = l, {@code blockStride} = d, {@code selBlock} = l', {@code nSel} = n. Launch with
 * {@link BlockSelect#launch}.
 */
public record BlockSelectParams(
        long q, long kCmp, long lse, long cuSeqlens, long cuSeqlensCmp, long indices, long scores,
        long qTokStride, long qHeadStride, long kTokStride, long kGroupStride,
        long lseTokStride, long lseHeadStride, long idxTokStride, long idxGroupStride,
        long scoreTokStride, long scoreGroupStride,
        int nnz, int nnzCmp, int batch, int heads, int kvHeads, int dk,
        int blockLen, int blockStride, int selBlock, int nSel, int nbMax,
        float scale) {

    public static final StructLayout LAYOUT = StructLayout.builder("BlockSelectParams")
            .pointer("q").pointer("k_cmp").pointer("lse").pointer("cu_seqlens").pointer("cu_seqlens_cmp")
            .pointer("indices").pointer("scores")
            .i64("q_tok_stride", "q_head_stride", "k_tok_stride", "k_group_stride", "lse_tok_stride",
                    "lse_head_stride", "idx_tok_stride", "idx_group_stride", "score_tok_stride", "score_group_stride")
            .i32("nnz", "nnz_cmp", "batch", "heads", "kv_heads", "dk", "block_len", "block_stride", "sel_block",
                    "n_sel", "nb_max")
            .f32("scale")
            .build();

    public byte[] toBytes() {
        return LAYOUT.writer()
                .pointer(q).pointer(kCmp).pointer(lse).pointer(cuSeqlens).pointer(cuSeqlensCmp)
                .pointer(indices).pointer(scores)
                .i64(qTokStride).i64(qHeadStride).i64(kTokStride).i64(kGroupStride)
                .i64(lseTokStride).i64(lseHeadStride).i64(idxTokStride).i64(idxGroupStride)
                .i64(scoreTokStride).i64(scoreGroupStride)
                .i32(nnz).i32(nnzCmp).i32(batch).i32(heads).i32(kvHeads).i32(dk)
                .i32(blockLen).i32(blockStride).i32(selBlock).i32(nSel).i32(nbMax)
                .f32(scale)
                .bytes();
    }
}
