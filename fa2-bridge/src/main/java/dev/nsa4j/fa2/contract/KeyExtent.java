package dev.nsa4j.fa2.contract;

import java.util.Arrays;
import java.util.Objects;

/**
 * How the keys of a call relate to its queries' positions; the {@link Fa2Rule#CAUSALITY} rule reads it.
 * <ul>
 * <li>{@link #FULL}: the keys cover the whole sequence, including positions after the queries (NSA
 *     prefill). A causal-type mask must be on.</li>
 * <li>{@link Sliced}: the keys were sliced to end at or near each query (decode). Unmasked attention is
 *     right only when every slice ends exactly at its query and each sequence has one query.</li>
 * <li>{@link #INDEPENDENT}: no causal relation implied (generic or cross attention, a user's non-causal
 *     {@code nsa attend}); no causality rule.</li>
 * </ul>
 */
public sealed interface KeyExtent {
    KeyExtent FULL = new Full();
    KeyExtent INDEPENDENT = new Independent();

    /** Sliced keys; see {@link Sliced}. */
    static KeyExtent sliced(int[] sliceEnd, int[] queryPos) {
        return new Sliced(sliceEnd, queryPos);
    }

    /** The type of {@link #FULL}. */
    record Full() implements KeyExtent {
        @Override
        public String toString() {
            return "FULL";
        }
    }

    /** The type of {@link #INDEPENDENT}. */
    record Independent() implements KeyExtent {
        @Override
        public String toString() {
            return "INDEPENDENT";
        }
    }

    /**
     * Keys sliced per sequence; one entry per sequence (B entries, else a {@link Fa2Rule#SHAPE} violation).
     * Read, not copied.
     *
     * @param sliceEnd absolute position of the last key in each sequence's slice
     * @param queryPos absolute position of each sequence's query
     */
    record Sliced(int[] sliceEnd, int[] queryPos) implements KeyExtent {
        public Sliced {
            Objects.requireNonNull(sliceEnd, "sliceEnd");
            Objects.requireNonNull(queryPos, "queryPos");
        }

        @Override
        public String toString() {
            return "SLICED(sliceEnd " + Arrays.toString(sliceEnd) + ", queryPos " + Arrays.toString(queryPos) + ")";
        }
    }
}
