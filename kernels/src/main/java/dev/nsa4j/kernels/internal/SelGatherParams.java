package dev.nsa4j.kernels.internal;

/**
 * Mirror of {@code nsa::SelGatherParams} (nsa_params.h): the gather step of the packed selection path
 * ({@link SelPacked}, docs/routing.md {@code sdpa-packed}).
 *
 * <p>{@code k [nnz_k, groups, dk]}, {@code v [nnz_k, groups, dv]}, {@code cuQ}/{@code cuK} int32 {@code [batch + 1]},
 * {@code qStart}/{@code kStart} int32 {@code [batch]} or 0, {@code blocks} int32 {@code [nnz_q, groups, nSel]}; for the
 * chunk of {@code rows} query tokens starting at {@code tok0}: {@code packedK [rows, groups, cap, dk]},
 * {@code packedV [rows, groups, cap, dv]} (k's dtype), {@code packedLen}/{@code packedLast} int32
 * {@code [rows, groups]}, {@code packedCuQ}/{@code packedCuK} int32 {@code [rows·groups + 1]}; {@code cap = nSel·selBlock}.
 * Strides in elements.
 */
public record SelGatherParams(
        long k, long v, long cuQ, long cuK, long qStart, long kStart, long blocks,
        long packedK, long packedV, long packedLen, long packedLast, long packedCuQ, long packedCuK,
        long kTokStride, long kGroupStride, long vTokStride, long vGroupStride, long blocksTokStride,
        long blocksGroupStride,
        int tok0, int rows, int batch, int groups, int dk, int dv, int selBlock, int nSel, int cap) {

    public static final StructLayout LAYOUT = StructLayout.builder("SelGatherParams")
            .pointer("k").pointer("v").pointer("cu_q").pointer("cu_k").pointer("q_start").pointer("k_start")
            .pointer("blocks").pointer("packed_k").pointer("packed_v").pointer("packed_len").pointer("packed_last")
            .pointer("packed_cu_q").pointer("packed_cu_k")
            .i64("k_tok_stride", "k_group_stride", "v_tok_stride", "v_group_stride", "blocks_tok_stride",
                    "blocks_group_stride")
            .i32("tok0", "rows", "batch", "groups", "dk", "dv", "sel_block", "n_sel", "cap")
            .build();

    /** The struct's bytes, little-endian, in {@link #LAYOUT}. */
    public byte[] toBytes() {
        return LAYOUT.writer()
                .pointer(k).pointer(v).pointer(cuQ).pointer(cuK).pointer(qStart).pointer(kStart).pointer(blocks)
                .pointer(packedK).pointer(packedV).pointer(packedLen).pointer(packedLast).pointer(packedCuQ)
                .pointer(packedCuK)
                .i64(kTokStride).i64(kGroupStride).i64(vTokStride).i64(vGroupStride).i64(blocksTokStride)
                .i64(blocksGroupStride)
                .i32(tok0).i32(rows).i32(batch).i32(groups).i32(dk).i32(dv).i32(selBlock).i32(nSel).i32(cap)
                .bytes();
    }
}
