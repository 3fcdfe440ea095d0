package dev.nsa4j.kernels;

import dev.nsa4j.kernels.internal.AttnMask;
import dev.nsa4j.kernels.internal.AttnSpec;

/**
 * Which keys a query sees, by absolute position (query at position t, keys at positions j): the one mask type of
 * nsa4j, used by the reference kernels' specs ({@link AttnSpec}), the FA-2 contract and routing.
 * {@link #CAUSAL}, {@link Window}, {@link BlockCausal} and {@link Chosen} are the causal-type masks. Parameters
 * are not checked here: the consumers name a bad one with every other violation (the FA-2 contract's SHAPE
 * rule, the reference kernels' checks). {@link #code()} is the value of the reference kernels' C enum
 * ({@code nsa::AttnMask}).
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

    /** Chosen selection blocks of {@code selBlock} (l') tokens: keys {@code j <= t} in a block of the call's index set. */
    static Mask chosen(int selBlock) {
        return new Chosen(selBlock);
    }

    /** The value of the reference kernels' C enum {@code nsa::AttnMask} (none 0, causal 1, window 2, block-causal 3, chosen 4). */
    default int code() {
        return switch (this) {
            case None n -> 0;
            case Causal c -> 1;
            case Window w -> 2;
            case BlockCausal b -> 3;
            case Chosen c -> 4;
        };
    }

    /** True for the causal-type masks (causal, window, block-causal, chosen). */
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

    /**
     * The chosen blocks of the selection branch (the blocks themselves are an int32 tensor of the call).
     *
     * @param selBlock selection block length l', {@code >= 1}
     */
    record Chosen(int selBlock) implements Mask {
        @Override
        public String toString() {
            return "CHOSEN(" + selBlock + ")";
        }
    }
}
