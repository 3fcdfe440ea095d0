package dev.nsa4j.bench.report;

import java.util.Locale;

/**
 * Which (query, key) pairs an attention call sees, for the benches and {@code nsa attend}. Queries sit at
 * positions {@code t = 0..Sq-1} and keys at {@code s = 0..Sk-1} of the same sequence (top-left alignment,
 * as PyTorch's {@code is_causal}); for {@link BlockCausal} the keys are compressed tokens {@code i}:
 * <pre>
 *   none          every key
 *   causal        s ≤ t
 *   window w      t - w + 1 ≤ s ≤ t            (w keys, the query's own included)
 *   block-causal  i·d + l - 1 ≤ t              (compressed token i summarises [i·d, i·d + l))
 * </pre>
 * Every rule's visible keys form one range {@code [visibleFrom(t), visibleTo(t, Sk))}.
 */
public sealed interface MaskSpec {
    /** Every key. */
    record None() implements MaskSpec {
        @Override
        public String id() {
            return "none";
        }

        @Override
        public boolean visible(int t, int s) {
            return true;
        }

        @Override
        public int visibleFrom(int t) {
            return 0;
        }

        @Override
        public int visibleTo(int t, int sk) {
            return sk;
        }
    }

    /** Key position {@code s <= t}. */
    record Causal() implements MaskSpec {
        @Override
        public String id() {
            return "causal";
        }

        @Override
        public boolean visible(int t, int s) {
            return s <= t;
        }

        @Override
        public int visibleFrom(int t) {
            return 0;
        }

        @Override
        public int visibleTo(int t, int sk) {
            return (int) Math.max(0, Math.min((long) t + 1, sk));
        }
    }

    /** The sliding window: {@code t − w + 1 <= s <= t}. */
    record Window(int window) implements MaskSpec {
        public Window {
            if (window < 1) {
                throw new IllegalArgumentException("window w must be >= 1, got " + window);
            }
        }

        @Override
        public String id() {
            return "window";
        }

        @Override
        public boolean visible(int t, int s) {
            return (long) t - window + 1 <= s && s <= t;
        }

        @Override
        public int visibleFrom(int t) {
            return (int) Math.max(0, (long) t - window + 1);
        }

        @Override
        public int visibleTo(int t, int sk) {
            return (int) Math.max(visibleFrom(t), Math.min((long) t + 1, sk));
        }
    }

    /** Compressed token {@code i} of block length {@code l} and stride {@code d} is visible iff {@code i·d + l − 1 <= t}. */
    record BlockCausal(int cmpLen, int cmpStride) implements MaskSpec {
        public BlockCausal {
            if (cmpLen < 1 || cmpStride < 1) {
                throw new IllegalArgumentException("block-causal needs l >= 1 and d >= 1, got l=" + cmpLen
                        + " d=" + cmpStride);
            }
        }

        @Override
        public String id() {
            return "block-causal";
        }

        @Override
        public boolean visible(int t, int i) {
            return (long) i * cmpStride + cmpLen - 1 <= t;
        }

        @Override
        public int visibleFrom(int t) {
            return 0;
        }

        @Override
        public int visibleTo(int t, int sk) {
            return (int) Math.min(compressedLen((long) t + 1), sk);
        }

        /** S_cmp(n): compressed tokens of {@code n} raw tokens, 0 if n &lt; l, else floor((n − l)/d) + 1. */
        public long compressedLen(long n) {
            return n < cmpLen ? 0 : (n - cmpLen) / cmpStride + 1;
        }
    }

    MaskSpec NONE = new None();
    MaskSpec CAUSAL = new Causal();

    /** {@code none}, {@code causal}, {@code window} or {@code block-causal}: the CSV's {@code mask} column. */
    String id();

    /** Whether query {@code t} sees key {@code s}: the definition above. */
    boolean visible(int t, int s);

    /** First visible key of query {@code t}. */
    int visibleFrom(int t);

    /** One past the last visible key of query {@code t} among {@code sk} keys ({@code <= visibleFrom} when none). */
    int visibleTo(int t, int sk);

    /** The CSV's {@code window} column: w for {@link Window}, else 0. */
    default int window() {
        return 0;
    }

    /** The CSV's {@code cmp_len} column: l for {@link BlockCausal}, else 0. */
    default int cmpLen() {
        return 0;
    }

    /** The CSV's {@code cmp_stride} column: d for {@link BlockCausal}, else 0. */
    default int cmpStride() {
        return 0;
    }

    /** {@code causal}, {@code window w=512}, {@code block-causal l=32 d=16}. */
    default String describe() {
        return switch (this) {
            case Window w -> "window w=" + w.window();
            case BlockCausal b -> "block-causal l=" + b.cmpLen() + " d=" + b.cmpStride();
            default -> id();
        };
    }

    static MaskSpec window(int w) {
        return new Window(w);
    }

    static MaskSpec blockCausal(int l, int d) {
        return new BlockCausal(l, d);
    }

    /**
     * The mask of a CSV row's {@code mask, window, cmp_len, cmp_stride} columns.
     *
     * @throws IllegalArgumentException for an unknown id or a parameter column that breaks the schema (set
     *                                  where the mask has none, or out of range where it has one)
     */
    static MaskSpec of(String id, int window, int cmpLen, int cmpStride) {
        MaskSpec m = switch (id.toLowerCase(Locale.ROOT)) {
            case "none" -> NONE;
            case "causal" -> CAUSAL;
            case "window" -> new Window(window);
            case "block-causal" -> new BlockCausal(cmpLen, cmpStride);
            default -> throw new IllegalArgumentException("mask '" + id
                    + "' is not one of none, causal, window, block-causal");
        };
        if (m.window() != window || m.cmpLen() != cmpLen || m.cmpStride() != cmpStride) {
            throw new IllegalArgumentException("mask " + m.id() + " needs window=" + m.window() + " cmp_len="
                    + m.cmpLen() + " cmp_stride=" + m.cmpStride() + ", got window=" + window + " cmp_len=" + cmpLen
                    + " cmp_stride=" + cmpStride);
        }
        return m;
    }
}
