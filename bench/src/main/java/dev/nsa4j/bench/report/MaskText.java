package dev.nsa4j.bench.report;

import java.util.Locale;

import dev.nsa4j.kernels.Mask;

/**
 * The benches' view of the one mask type ({@link Mask}): its text form (the attention bench CSV's {@code mask,
 * window, cmp_len, cmp_stride} columns, the CLI) and which (query, key) pairs it lets through, for the CPU attention
 * of {@code nsa attend} and the FLOP counts. Queries sit at positions {@code t = 0..Sq-1} and keys at
 * {@code s = 0..Sk-1} of the same sequence (top-left alignment, as PyTorch's {@code is_causal}); for
 * {@link Mask.BlockCausal} the keys are compressed tokens {@code i}:
 * <pre>
 *   none          every key
 *   causal        s ≤ t
 *   window w      t - w + 1 ≤ s ≤ t            (w keys, the query's own included)
 *   block-causal  i·d + l - 1 ≤ t              (compressed token i summarises [i·d, i·d + l))
 * </pre>
 * Every rule's visible keys form one range {@code [visibleFrom(t), visibleTo(t, Sk))}. The chosen-block mask has
 * no text form and no range (its keys depend on the index set): the methods here refuse it.
 */
public final class MaskText {
    private MaskText() {
    }

    /** A window of {@code w} keys, checked: {@code w >= 1}. */
    public static Mask.Window checkedWindow(int w) {
        if (w < 1) {
            throw new IllegalArgumentException("window w must be >= 1, got " + w);
        }
        return new Mask.Window(w);
    }

    /** Block-causal over compressed keys, checked: {@code l >= 1}, {@code d >= 1}. */
    public static Mask.BlockCausal checkedBlockCausal(int l, int d) {
        if (l < 1 || d < 1) {
            throw new IllegalArgumentException("block-causal needs l >= 1 and d >= 1, got l=" + l + " d=" + d);
        }
        return new Mask.BlockCausal(l, d);
    }

    /** {@code none}, {@code causal}, {@code window} or {@code block-causal}: the CSV's {@code mask} column. */
    public static String id(Mask m) {
        return switch (m) {
            case Mask.None n -> "none";
            case Mask.Causal c -> "causal";
            case Mask.Window w -> "window";
            case Mask.BlockCausal b -> "block-causal";
            case Mask.Chosen c -> throw chosen();
        };
    }

    /** {@code causal}, {@code window w=512}, {@code block-causal l=32 d=16}. */
    public static String describe(Mask m) {
        return switch (m) {
            case Mask.Window w -> "window w=" + w.w();
            case Mask.BlockCausal b -> "block-causal l=" + b.l() + " d=" + b.d();
            default -> id(m);
        };
    }

    /** The CSV's {@code window} column: w for a window, else 0. */
    public static int window(Mask m) {
        return m instanceof Mask.Window w ? w.w() : 0;
    }

    /** The CSV's {@code cmp_len} column: l for block-causal, else 0. */
    public static int cmpLen(Mask m) {
        return m instanceof Mask.BlockCausal b ? b.l() : 0;
    }

    /** The CSV's {@code cmp_stride} column: d for block-causal, else 0. */
    public static int cmpStride(Mask m) {
        return m instanceof Mask.BlockCausal b ? b.d() : 0;
    }

    /** S_cmp(n): compressed tokens of {@code n} raw tokens, 0 if n &lt; l, else floor((n − l)/d) + 1. */
    public static long compressedLen(Mask.BlockCausal b, long n) {
        return n < b.l() ? 0 : (n - b.l()) / b.d() + 1;
    }

    /** Whether query {@code t} sees key {@code s}: the definition above. */
    public static boolean visible(Mask m, int t, int s) {
        return switch (m) {
            case Mask.None n -> true;
            case Mask.Causal c -> s <= t;
            case Mask.Window w -> s <= t && s >= t - w.w() + 1;
            case Mask.BlockCausal b -> (long) s * b.d() + b.l() - 1 <= t;
            case Mask.Chosen c -> throw chosen();
        };
    }

    /** First visible key of query {@code t}. */
    public static int visibleFrom(Mask m, int t) {
        return m instanceof Mask.Window w ? Math.max(0, t - w.w() + 1) : 0;
    }

    /** One past the last visible key of query {@code t} among {@code sk} keys ({@code <= visibleFrom} when none). */
    public static int visibleTo(Mask m, int t, int sk) {
        return switch (m) {
            case Mask.None n -> sk;
            case Mask.Causal c -> (int) Math.max(0, Math.min((long) t + 1, sk));
            case Mask.Window w -> (int) Math.max(visibleFrom(m, t), Math.min((long) t + 1, sk));
            case Mask.BlockCausal b -> (int) Math.min(compressedLen(b, (long) t + 1), sk);
            case Mask.Chosen c -> throw chosen();
        };
    }

    /**
     * The mask of a CSV row's {@code mask, window, cmp_len, cmp_stride} columns.
     *
     * @throws IllegalArgumentException for an unknown id or a parameter column that breaks the schema (set
     *                                  where the mask has none, or out of range where it has one)
     */
    public static Mask of(String id, int window, int cmpLen, int cmpStride) {
        Mask m = switch (id.toLowerCase(Locale.ROOT)) {
            case "none" -> Mask.NONE;
            case "causal" -> Mask.CAUSAL;
            case "window" -> checkedWindow(window);
            case "block-causal" -> checkedBlockCausal(cmpLen, cmpStride);
            default -> throw new IllegalArgumentException("mask '" + id
                    + "' is not one of none, causal, window, block-causal");
        };
        if (window(m) != window || cmpLen(m) != cmpLen || cmpStride(m) != cmpStride) {
            throw new IllegalArgumentException("mask " + id(m) + " needs window=" + window(m) + " cmp_len="
                    + cmpLen(m) + " cmp_stride=" + cmpStride(m) + ", got window=" + window + " cmp_len=" + cmpLen
                    + " cmp_stride=" + cmpStride);
        }
        return m;
    }

    private static IllegalArgumentException chosen() {
        return new IllegalArgumentException("the chosen-block mask has no text form or key range in the benches");
    }
}
