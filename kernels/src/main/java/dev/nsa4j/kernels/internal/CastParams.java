package dev.nsa4j.kernels.internal;

/** Mirror of {@code nsa::CastParams} (nsa_params.h): {@code n} contiguous elements from {@code x} to {@code y}. */
public record CastParams(long x, long y, long n) {
    public static final StructLayout LAYOUT = StructLayout.builder("CastParams")
            .pointer("x").pointer("y").i64("n").build();

    /** The struct's bytes, little-endian, in {@link #LAYOUT}. */
    public byte[] toBytes() {
        return LAYOUT.writer().pointer(x).pointer(y).i64(n).bytes();
    }
}
