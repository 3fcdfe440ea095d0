package dev.nsa4j.kernels.internal;

/**
 * How the reference attention kernels walk the keys ({@code nsa::AttnWalk}). Both walks add the visible keys
 * once each in ascending position, so they give the same bits; they differ only in the work done.
 */
public enum AttnWalk {
    /** Every key of the sequence, the mask tested per key: docs/routing.md path {@code sdpa}. */
    ALL(0),
    /** Only the key ranges the mask allows (band, prefix, chosen blocks): path {@code sdpa-masked}. */
    RANGES(1);

    private final int code;

    AttnWalk(int code) {
        this.code = code;
    }

    /** The value of the C enum. */
    public int code() {
        return code;
    }

    static AttnWalk ofCode(int code) {
        for (AttnWalk w : values()) {
            if (w.code == code) {
                return w;
            }
        }
        return null;
    }
}
