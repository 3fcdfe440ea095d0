package dev.nsa4j.oracle;

import dev.nsa4j.config.NsaConfig;
import java.util.Arrays;

/**
 * Block importance and top-n (the NSA spec (docs/nsa-spec.md) "Selection branch"): overlap-weighted scores from the compressed
 * probabilities, summed over the heads of a group, then the forced blocks plus the best remaining
 * candidates, ties to the lower index, scores compared in fp32.
 */
final class BlockSelector {
    private final NsaConfig cfg;
    private final long[] keys;

    BlockSelector(NsaConfig cfg, int maxBlocks) {
        this.cfg = cfg;
        this.keys = new long[Math.max(maxBlocks, 1)];
    }

    /**
     * Adds one head's compressed probabilities {@code p[off..off+ncmp)} to the group scores, each token's mass
     * split over the selection blocks its span [i·d, i·d + l) overlaps, in proportion to the overlap.
     */
    void accumulate(double[] p, int off, int ncmp, double[] groupScores) {
        int l = cfg.blockLen();
        int d = cfg.stride();
        int lp = cfg.selBlock();
        for (int i = 0; i < ncmp; i++) {
            double pi = p[off + i];
            int start = i * d;
            int end = start + l;
            int j0 = start / lp;
            int boundary = (j0 + 1) * lp;
            if (end <= boundary) {
                groupScores[j0] += pi;
            } else {
                // l <= l' so a span meets at most two blocks
                groupScores[j0] += pi * ((double) (boundary - start) / l);
                groupScores[j0 + 1] += pi * ((double) (end - boundary) / l);
            }
        }
    }

    /**
     * Chooses I(t, g) for a query at position t from scores over its candidate blocks 0..floor(t/l').
     * Writes the chosen blocks sorted ascending into {@code out[off..off+n)}, padded with -1.
     */
    void choose(int t, double[] groupScores, int[] out, int off) {
        int n = cfg.nSel();
        int cur = t / cfg.selBlock();
        int candidates = cur + 1;
        if (candidates <= n) {
            for (int j = 0; j < n; j++) {
                out[off + j] = j < candidates ? j : -1;
            }
            return;
        }
        // forced: 0, cur, cur - 1 (cur >= n >= 3 here, so all three exist and differ)
        int m = 0;
        for (int j = 1; j < cur - 1; j++) {
            // higher fp32 score first, then lower index; fp32 scores are >= 0 so their bits order like values
            int bits = Math.max(0, Float.floatToIntBits((float) groupScores[j]));
            keys[m++] = ((long) (Integer.MAX_VALUE - bits) << 32) | j;
        }
        Arrays.sort(keys, 0, m);
        int take = n - 3;
        int w = off;
        out[w++] = 0;
        for (int k = 0; k < take; k++) {
            out[w++] = (int) keys[k];
        }
        out[w++] = cur - 1;
        out[w++] = cur;
        Arrays.sort(out, off, off + n);
    }
}
