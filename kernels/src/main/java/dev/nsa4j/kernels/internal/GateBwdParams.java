package dev.nsa4j.kernels.internal;

/**
 * Mirror of {@code nsa::GateBwdParams} (nsa_params.h): the gates' backward (attention_bwd.cu, decisions D43) over
 * {@code rows} = nnz · heads (token, head) rows, every tensor fp32 and contiguous: {@code gates [rows, 3]} (the
 * gates the forward mixed with), {@code d_o [rows, dv]} (dL/do), the branch outputs {@code o_c [rows, dv]}; out
 * {@code d_gates [rows, 3]} and {@code d_o_c [rows, dv]} = g_c · dL/do.
 */
public record GateBwdParams(long gates, long dO, long oCmp, long oSel, long oWin, long dGates, long dOCmp, long dOSel,
                            long dOWin, long rows, int dv) {
    public static final StructLayout LAYOUT = StructLayout.builder("GateBwdParams")
            .pointer("gates").pointer("d_o").pointer("o_cmp").pointer("o_sel").pointer("o_win").pointer("d_gates")
            .pointer("d_o_cmp").pointer("d_o_sel").pointer("d_o_win")
            .i64("rows")
            .i32("dv")
            .build();

    /** The struct's bytes, little-endian, in {@link #LAYOUT}. */
    public byte[] toBytes() {
        return LAYOUT.writer().pointer(gates).pointer(dO).pointer(oCmp).pointer(oSel).pointer(oWin).pointer(dGates)
                .pointer(dOCmp).pointer(dOSel).pointer(dOWin).i64(rows).i32(dv).bytes();
    }
}
