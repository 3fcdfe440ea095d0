package dev.nsa4j.kernels.internal;

/**
 * Mirror of {@code nsa::CompressAvgParams} (nsa_params.h).
 *
 * <p>{@code k}: {@code [nnz, groups, dim]}; {@code out}: {@code [nnzCmp, groups, dim]}; {@code cuSeqlens} and
 * {@code cuSeqlensCmp}: int32 {@code [batch + 1]} device arrays (see {@link CompressionPlan}); strides in
 * elements; {@code blockLen} = l, {@code blockStride} = d. Launch with {@link CompressAvg#launch}.
 */
public record CompressAvgParams(
        long k, long out, long cuSeqlens, long cuSeqlensCmp,
        long kTokStride, long kGroupStride, long outTokStride, long outGroupStride,
        int nnz, int nnzCmp, int batch, int groups, int dim, int blockLen, int blockStride) {

    public static final StructLayout LAYOUT = StructLayout.builder("CompressAvgParams")
            .pointer("k").pointer("out").pointer("cu_seqlens").pointer("cu_seqlens_cmp")
            .i64("k_tok_stride", "k_group_stride", "out_tok_stride", "out_group_stride")
            .i32("nnz", "nnz_cmp", "batch", "groups", "dim", "block_len", "block_stride")
            .build();

    public byte[] toBytes() {
        return LAYOUT.writer()
                .pointer(k).pointer(out).pointer(cuSeqlens).pointer(cuSeqlensCmp)
                .i64(kTokStride).i64(kGroupStride).i64(outTokStride).i64(outGroupStride)
                .i32(nnz).i32(nnzCmp).i32(batch).i32(groups).i32(dim).i32(blockLen).i32(blockStride)
                .bytes();
    }
}
