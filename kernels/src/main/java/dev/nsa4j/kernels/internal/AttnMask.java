package dev.nsa4j.kernels.internal;

import dev.nsa4j.kernels.Mask;

/**
 * The reference attention kernels' C enum {@code nsa::AttnMask} (nsa_params.h): the wire codes of {@link Mask}
 * in {@link AttnParams#mask()}, for raw-params validation and for naming; the mask itself is a {@link Mask}.
 */
public enum AttnMask {
    /** Every key of the query's sequence. */
    NONE(0),
    /** Key position {@code s <= t}. */
    CAUSAL(1),
    /** {@code t − w + 1 <= s <= t} (the sliding-window branch). */
    WINDOW(2),
    /** Compressed key {@code i} is visible iff {@code i·d + l − 1 <= t} (the compression branch). */
    BLOCK_CAUSAL(3),
    /**
     * {@code s <= t} and {@code s} in a chosen selection block {@code j} ({@code [j·l', (j+1)·l')}); the blocks
     * come from an int32 {@code [nnz_q, kv_heads, n]} tensor, in any order, duplicates and negative entries
     * ignored (the selection branch).
     */
    CHOSEN(4);

    private final int code;

    AttnMask(int code) {
        this.code = code;
    }

    /** The value of the C enum. */
    public int code() {
        return code;
    }

    /** The code of a {@link Mask}. */
    public static AttnMask ofMask(Mask m) {
        return ofCode(m.code());
    }

    /** The mask with C value {@code code}, or {@code null}. */
    static AttnMask ofCode(int code) {
        for (AttnMask m : values()) {
            if (m.code == code) {
                return m;
            }
        }
        return null;
    }
}
