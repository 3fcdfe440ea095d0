package dev.nsa4j.bench.report;

import dev.nsa4j.kernels.Mask;

/**
 * The number of visible (query, key) pairs of a mask ({@link Mask}), in closed form and exact long
 * arithmetic, and the forward FLOP count the benches report from it. Queries sit at {@code 0..Sq-1}, keys at
 * {@code 0..Sk-1} (for block-causal: {@code Sk} compressed keys). Counted per key, whose visible queries are
 * one range:
 * <pre>
 *   none           Sq · Sk
 *   causal         Σ_{s &lt; m} (Sq − s)                        m = min(Sq, Sk)
 *   window w       Σ_{s &lt; m} min(Sq − s, w)
 *   block-causal   Σ_{i &lt; m} (Sq − i·d − l + 1)              m = min(Sk, S_cmp(Sq))
 * </pre>
 * The same formulas are in {@code bench/peers/torch_sdpa.py}; both are tested against brute force.
 */
public final class VisiblePairs {
    private VisiblePairs() {}

    /** Visible pairs summed over {@code batch} sequences of {@code sq} queries and {@code sk} keys (one head). */
    public static long count(Mask mask, int batch, int sq, int sk) {
        if (batch < 0 || sq < 0 || sk < 0) {
            throw new IllegalArgumentException("negative size: batch=" + batch + " sq=" + sq + " sk=" + sk);
        }
        return Math.multiplyExact(batch, perSequence(mask, sq, sk));
    }

    /** Visible pairs of one sequence (one head). */
    public static long perSequence(Mask mask, int sq, int sk) {
        long q = sq;
        long m = Math.min(q, sk);
        return switch (mask) {
            case Mask.None n -> q * sk;
            case Mask.Causal c -> m * q - triangle(m);
            case Mask.Window w -> {
                long k = Math.clamp(q - w.w() + 1, 0, m);   // keys that see a full window of w queries
                yield k * w.w() + (m - k) * q - (triangle(m) - triangle(k));
            }
            case Mask.BlockCausal b -> {
                long mc = Math.min(sk, MaskText.compressedLen(b, q));
                yield mc * (q - b.l() + 1) - b.d() * triangle(mc);
            }
            case Mask.Chosen c -> throw new IllegalArgumentException("visible pairs of chosen blocks depend on the index set");
        };
    }

    /** 0 + 1 + ... + (m − 1). */
    private static long triangle(long m) {
        return m * (m - 1) / 2;
    }

    /** Forward FLOPs: {@code 2 · heads · pairs · (Dk + Dv)} (QKᵀ and PV; = 4·H·pairs·D when Dk = Dv). */
    public static long flops(long pairs, int heads, int dk, int dv) {
        return Math.multiplyExact(Math.multiplyExact(2L * heads, pairs), (long) dk + dv);
    }
}
