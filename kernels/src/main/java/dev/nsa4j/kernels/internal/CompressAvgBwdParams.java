package dev.nsa4j.kernels.internal;

/**
 * Mirror of {@code nsa::CompressAvgBwdParams} (nsa_params.h): phi = avg's backward (attention_bwd.cu, decisions
 * D43), fp32 and contiguous: {@code d_cmp [nnz_cmp, groups, dim]} (dL/dK̃ or dL/dṼ) in, {@code d_raw [nnz, groups,
 * dim]} (the raw tokens' gradient) out; {@code cu_seqlens} and {@code cu_seqlens_cmp} int32 {@code [batch + 1]}.
 */
public record CompressAvgBwdParams(long dCmp, long dRaw, long cuSeqlens, long cuSeqlensCmp, int nnz, int batch,
                                   int groups, int dim, int blockLen, int blockStride) {
    public static final StructLayout LAYOUT = StructLayout.builder("CompressAvgBwdParams")
            .pointer("d_cmp").pointer("d_raw").pointer("cu_seqlens").pointer("cu_seqlens_cmp")
            .i32("nnz", "batch", "groups", "dim", "block_len", "block_stride")
            .build();

    /** The struct's bytes, little-endian, in {@link #LAYOUT}. */
    public byte[] toBytes() {
        return LAYOUT.writer().pointer(dCmp).pointer(dRaw).pointer(cuSeqlens).pointer(cuSeqlensCmp)
                .i32(nnz).i32(batch).i32(groups).i32(dim).i32(blockLen).i32(blockStride).bytes();
    }
}
