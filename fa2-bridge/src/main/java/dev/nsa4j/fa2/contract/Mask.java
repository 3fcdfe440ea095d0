package dev.nsa4j.fa2.contract;

/**
 * Which keys a query sees, by absolute position (query at position t, keys at positions j).
 * {@link #CAUSAL}, {@link Window} and {@link BlockCausal} are the causal-type masks; parameters below 1
 * break the {@link Fa2Rule#SHAPE} rule (fatal), checked by the contract rather than here so that it can
 * report them with every other violation.
 */
public sealed interface Mask {
    /** Every key. */
    Mask NONE = new None();
    /** Keys with {@code j <= t}. */
    Mask CAUSAL = new Causal();

    /** The sliding window of the win branch: keys with {@code t - w < j <= t}. */
    static Mask window(int w) {
        return new Window(w);
    }

    /** The cmp branch over compressed keys: block i (positions {@code i*d .. i*d+l-1}) is seen iff {@code i*d + l - 1 <= t}. */
    static Mask blockCausal(int l, int d) {
        return new BlockCausal(l, d);
    }

    /** True for the causal-type masks (causal, window, block-causal). */
    default boolean causal() {
        return !(this instanceof None);
    }

    /** The type of {@link #NONE}. */
    record None() implements Mask {
        @Override
        public String toString() {
            return "NONE";
        }
    }

    /** The type of {@link #CAUSAL}. */
    record Causal() implements Mask {
        @Override
        public String toString() {
            return "CAUSAL";
        }
    }

    /**
     * A sliding window.
     *
     * @param w window length, {@code >= 1}
     */
    record Window(int w) implements Mask {
        @Override
        public String toString() {
            return "WINDOW(" + w + ")";
        }
    }

    /**
     * Block-causal over compressed keys.
     *
     * @param l compression block length, {@code >= 1}
     * @param d compression stride, {@code >= 1}
     */
    record BlockCausal(int l, int d) implements Mask {
        @Override
        public String toString() {
            return "BLOCK_CAUSAL(" + l + ", " + d + ")";
        }
    }
}
