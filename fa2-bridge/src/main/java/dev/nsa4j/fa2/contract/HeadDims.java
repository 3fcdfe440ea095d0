package dev.nsa4j.fa2.contract;

/**
 * A (Dk, Dv) pair of head dims, as the FA-2 kernels are compiled for (see {@link Fa2Contract#COMPILED_DIMS}).
 *
 * @param dk query/key head dim
 * @param dv value/output head dim
 */
public record HeadDims(int dk, int dv) {
    /** The pair with {@code dk == dv == d}. */
    public static HeadDims of(int d) {
        return new HeadDims(d, d);
    }

    /** {@code (192,128)}. */
    @Override
    public String toString() {
        return "(" + dk + "," + dv + ")";
    }
}
