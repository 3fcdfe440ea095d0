package dev.nsa4j.kernels;

/**
 * Which keys a query at position {@code t} may see in the reference attention kernels ({@code nsa::AttnMask} in
 * nsa_params.h; NSA-SPEC.md). Codes are the C enum's values.
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
