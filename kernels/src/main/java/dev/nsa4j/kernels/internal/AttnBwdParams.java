package dev.nsa4j.kernels.internal;

/**
 * Mirror of {@code nsa::AttnBwdParams} (nsa_params.h): what the reference backward of one attention branch
 * (attention_bwd.cu, decisions D43) takes beside the forward's {@link AttnParams}. Raw device pointers, all fp32 and
 * contiguous: {@code d_o [nnz_q, heads, dv]} (dL/do of the branch), {@code delta [nnz_q, heads]} (written by the dq
 * kernel, read by the dk/dv kernel), {@code dq [nnz_q, heads, dk]}, {@code dk [nnz_k, kv_heads, dk]},
 * {@code dv [nnz_k, kv_heads, dv]}.
 *
 * @param accumulate 1: the dq kernel adds to dq (the second and third branch); 0: it writes dq
 */
public record AttnBwdParams(long dO, long delta, long dq, long dk, long dv, int accumulate) {
    public static final StructLayout LAYOUT = StructLayout.builder("AttnBwdParams")
            .pointer("d_o").pointer("delta").pointer("dq").pointer("dk").pointer("dv")
            .i32("accumulate")
            .build();

    /** The struct's bytes, little-endian, in {@link #LAYOUT}. */
    public byte[] toBytes() {
        return LAYOUT.writer().pointer(dO).pointer(delta).pointer(dq).pointer(dk).pointer(dv).i32(accumulate).bytes();
    }
}
