package dev.nsa4j.kernels.internal;

/**
 * Mirror of {@code nsa::CompressMlpParams} (nsa_params.h).
 *
 * <p>{@code k}: {@code [nnz, groups, dim]} (fp32/fp16/bf16); {@code out}: fp32 {@code [nnzCmp, groups, dim]};
 * {@code cuSeqlens}/{@code cuSeqlensCmp}: int32 {@code [batch + 1]} device arrays (see {@link CompressionPlan});
 * weights fp32, contiguous: {@code pos [l, D]}, {@code w1 [hidden, l·D]}, {@code b1 [hidden]},
 * {@code w2 [D, hidden]}, {@code b2 [D]}; strides in elements. Launch with {@link CompressMlp#launch}.
 */
public record CompressMlpParams(
        long k, long out, long cuSeqlens, long cuSeqlensCmp, long pos, long w1, long b1, long w2, long b2,
        long kTokStride, long kGroupStride, long outTokStride, long outGroupStride,
        int nnz, int nnzCmp, int batch, int groups, int dim, int blockLen, int blockStride, int hidden) {

    public static final StructLayout LAYOUT = StructLayout.builder("CompressMlpParams")
            .pointer("k").pointer("out").pointer("cu_seqlens").pointer("cu_seqlens_cmp")
            .pointer("pos").pointer("w1").pointer("b1").pointer("w2").pointer("b2")
            .i64("k_tok_stride", "k_group_stride", "out_tok_stride", "out_group_stride")
            .i32("nnz", "nnz_cmp", "batch", "groups", "dim", "block_len", "block_stride", "hidden")
            .build();

    public byte[] toBytes() {
        return LAYOUT.writer()
                .pointer(k).pointer(out).pointer(cuSeqlens).pointer(cuSeqlensCmp)
                .pointer(pos).pointer(w1).pointer(b1).pointer(w2).pointer(b2)
                .i64(kTokStride).i64(kGroupStride).i64(outTokStride).i64(outGroupStride)
                .i32(nnz).i32(nnzCmp).i32(batch).i32(groups).i32(dim).i32(blockLen).i32(blockStride).i32(hidden)
                .bytes();
    }
}
