package dev.nsa4j.kernels.internal;

/**
 * Mirror of {@code nsa::AttnParams} (nsa_params.h): the reference attention kernels' whole argument.
 *
 * <p>{@code q [nnzQ, heads, dk]}, {@code k [nnz_k, kvHeads, dk]}, {@code v [nnz_k, kvHeads, dv]}, {@code o [nnzQ, heads, dv]}
 * in q's dtype or fp32 ({@code outFp32 = 1}), {@code lse} fp32 {@code [nnzQ, heads]} (head stride 1) or 0,
 * {@code cuQ}/{@code cuK} int32 {@code [batch + 1]}, {@code qStart}/{@code kStart} int32 {@code [batch]} (position of
 * each sequence's first query/key) or 0 for position 0, {@code blocks} int32 {@code [nnzQ, kvHeads, nSel]} (last
 * axis contiguous) for {@link AttnMask#CHOSEN}, else 0. Strides in elements; {@code mask} and {@code walk} are the
 * codes of {@link AttnMask} and {@link AttnWalk}. Fill it directly for raw-pointer interop and launch with
 * {@link Attention#launch}.
 */
public record AttnParams(
        long q, long k, long v, long o, long lse, long cuQ, long cuK, long qStart, long kStart, long blocks,
        long qTokStride, long qHeadStride, long kTokStride, long kHeadStride, long vTokStride, long vHeadStride, long oTokStride, long oHeadStride, long lseTokStride, long blocksTokStride, long blocksHeadStride,
        int nnzQ, int batch, int heads, int kvHeads, int dk, int dv, int mask, int walk, int window, int cmpLen, int cmpStride, int selBlock, int nSel, int outFp32,
        float scale) {

    public static final StructLayout LAYOUT = StructLayout.builder("AttnParams")
            .pointer("q").pointer("k").pointer("v").pointer("o").pointer("lse").pointer("cu_q").pointer("cu_k").pointer("q_start").pointer("k_start").pointer("blocks")
            .i64("q_tok_stride", "q_head_stride", "k_tok_stride", "k_head_stride", "v_tok_stride", "v_head_stride", "o_tok_stride", "o_head_stride", "lse_tok_stride", "blocks_tok_stride", "blocks_head_stride")
            .i32("nnz_q", "batch", "heads", "kv_heads", "dk", "dv", "mask", "walk", "window", "cmp_len", "cmp_stride", "sel_block", "n_sel", "out_fp32")
            .f32("scale")
            .build();

    /** The struct's bytes, little-endian, in {@link #LAYOUT}. */
    public byte[] toBytes() {
        return LAYOUT.writer()
                .pointer(q).pointer(k).pointer(v).pointer(o).pointer(lse).pointer(cuQ).pointer(cuK).pointer(qStart).pointer(kStart).pointer(blocks)
                .i64(qTokStride).i64(qHeadStride).i64(kTokStride).i64(kHeadStride).i64(vTokStride).i64(vHeadStride).i64(oTokStride).i64(oHeadStride).i64(lseTokStride).i64(blocksTokStride).i64(blocksHeadStride)
                .i32(nnzQ).i32(batch).i32(heads).i32(kvHeads).i32(dk).i32(dv).i32(mask).i32(walk).i32(window).i32(cmpLen).i32(cmpStride).i32(selBlock).i32(nSel).i32(outFp32)
                .f32(scale)
                .bytes();
    }
}
