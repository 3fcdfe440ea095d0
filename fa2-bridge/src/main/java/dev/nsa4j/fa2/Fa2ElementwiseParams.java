package dev.nsa4j.fa2;

import dev.nsa4j.kernels.internal.StructLayout;

/** Mirror of {@code nsa::Fa2ElementwiseParams} (fa2_params.h): the non-finite count and the fp32 cast. */
public record Fa2ElementwiseParams(long x, long y, long n) {
    public static final StructLayout LAYOUT = StructLayout.builder("Fa2ElementwiseParams")
            .pointer("x").pointer("y").i64("n").build();

    public byte[] toBytes() {
        return LAYOUT.writer().pointer(x).pointer(y).i64(n).bytes();
    }
}
