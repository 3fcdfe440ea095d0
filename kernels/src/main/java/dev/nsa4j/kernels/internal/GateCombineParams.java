package dev.nsa4j.kernels.internal;

/**
 * Mirror of {@code nsa::GateCombineParams} (nsa_params.h): raw device pointers, element strides of the
 * token and head axes of each tensor (the feature axis is contiguous), sizes.
 *
 * <p>Tensors {@code o_cmp, o_sel, o_win, out}: {@code [nnz, heads, dv]}; {@code gates}: {@code [nnz, heads, 3]}.
 * Fill it directly for raw-pointer interop and launch with {@link GateCombine#launch}.
 */
public record GateCombineParams(
        long oCmp, long oSel, long oWin, long gates, long out,
        long cmpTokStride, long cmpHeadStride,
        long selTokStride, long selHeadStride,
        long winTokStride, long winHeadStride,
        long gateTokStride, long gateHeadStride,
        long outTokStride, long outHeadStride,
        int nnz, int heads, int dv) {

    public static final StructLayout LAYOUT = StructLayout.builder("GateCombineParams")
            .pointer("o_cmp").pointer("o_sel").pointer("o_win").pointer("gates").pointer("out")
            .i64("cmp_tok_stride", "cmp_head_stride", "sel_tok_stride", "sel_head_stride",
                    "win_tok_stride", "win_head_stride", "gate_tok_stride", "gate_head_stride",
                    "out_tok_stride", "out_head_stride")
            .i32("nnz", "heads", "dv")
            .build();

    /** Contiguous {@code [nnz, heads, dv]} tensors and contiguous {@code [nnz, heads, 3]} gates. */
    public static GateCombineParams contiguous(long oCmp, long oSel, long oWin, long gates, long out,
                                               int nnz, int heads, int dv) {
        long tok = (long) heads * dv;
        return new GateCombineParams(oCmp, oSel, oWin, gates, out, tok, dv, tok, dv, tok, dv,
                3L * heads, 3, tok, dv, nnz, heads, dv);
    }

    /** The struct's bytes, little-endian, in {@link #LAYOUT}. */
    public byte[] toBytes() {
        return LAYOUT.writer()
                .pointer(oCmp).pointer(oSel).pointer(oWin).pointer(gates).pointer(out)
                .i64(cmpTokStride).i64(cmpHeadStride).i64(selTokStride).i64(selHeadStride)
                .i64(winTokStride).i64(winHeadStride).i64(gateTokStride).i64(gateHeadStride)
                .i64(outTokStride).i64(outHeadStride)
                .i32(nnz).i32(heads).i32(dv)
                .bytes();
    }
}
