package dev.nsa4j.testutil;

import java.util.Arrays;

/**
 * Test-side definitions of NSA written straight from docs/nsa-spec.md with plain loops, independent of the
 * oracle: dense masked softmax attention, avg compression, and the masks of the three branches.
 */
public final class BruteForce {
    private BruteForce() {}

    /** Output and log-sum-exp of one masked attention. */
    public record Attention(double[][] out, double[] lse) {}

    /**
     * Dense softmax attention in fp64: out[t] = Σ_s softmax_s(scale·q_t·k_s over mask[t][s]) v_s.
     * A fully masked row gives a zero output and lse = −inf.
     */
    public static Attention attend(double[][] q, double[][] k, double[][] v, boolean[][] mask, double scale) {
        return attend(q, k, v, v.length == 0 ? 0 : v[0].length, mask, scale);
    }

    /** As above, with the value dim given (needed when there are no keys at all). */
    public static Attention attend(double[][] q, double[][] k, double[][] v, int dv, boolean[][] mask,
                                   double scale) {
        int s = q.length;
        double[][] out = new double[s][];
        double[] lse = new double[s];
        for (int t = 0; t < s; t++) {
            double[] scores = new double[k.length];
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < k.length; j++) {
                if (!mask[t][j]) {
                    continue;
                }
                double dot = 0;
                for (int c = 0; c < q[t].length; c++) {
                    dot += q[t][c] * k[j][c];
                }
                scores[j] = scale * dot;
                max = Math.max(max, scores[j]);
            }
            out[t] = new double[dv];
            if (max == Double.NEGATIVE_INFINITY) {
                lse[t] = Double.NEGATIVE_INFINITY;
                continue;
            }
            double sum = 0;
            for (int j = 0; j < k.length; j++) {
                if (mask[t][j]) {
                    sum += Math.exp(scores[j] - max);
                }
            }
            for (int j = 0; j < k.length; j++) {
                if (mask[t][j]) {
                    double p = Math.exp(scores[j] - max) / sum;
                    for (int c = 0; c < out[t].length; c++) {
                        out[t][c] += p * v[j][c];
                    }
                }
            }
            lse[t] = max + Math.log(sum);
        }
        return new Attention(out, lse);
    }

    /** Softmax probabilities of one query over the masked keys (0 where masked). */
    public static double[] probs(double[] q, double[][] k, boolean[] mask, double scale) {
        double[] p = new double[k.length];
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < k.length; j++) {
            if (mask[j]) {
                double dot = 0;
                for (int c = 0; c < q.length; c++) {
                    dot += q[c] * k[j][c];
                }
                p[j] = scale * dot;
                max = Math.max(max, p[j]);
            }
        }
        double sum = 0;
        for (int j = 0; j < k.length; j++) {
            p[j] = mask[j] ? Math.exp(p[j] - max) : 0;
            sum += p[j];
        }
        for (int j = 0; j < k.length; j++) {
            p[j] = sum == 0 ? 0 : p[j] / sum;
        }
        return p;
    }

    /** Number of compressed tokens: every i with span [i·d, i·d + l) inside [0, s), counted one by one. */
    public static int compressedCount(int s, int l, int d) {
        int n = 0;
        while ((long) n * d + l <= s) {
            n++;
        }
        return n;
    }

    /** phi = avg: row i is the mean of x over [i·d, i·d + l). */
    public static double[][] avgCompress(double[][] x, int l, int d) {
        int n = compressedCount(x.length, l, d);
        int dim = x.length == 0 ? 0 : x[0].length;
        double[][] out = new double[n][dim];
        for (int i = 0; i < n; i++) {
            for (int r = 0; r < l; r++) {
                for (int c = 0; c < dim; c++) {
                    out[i][c] += x[i * d + r][c];
                }
            }
            for (int c = 0; c < dim; c++) {
                out[i][c] /= l;
            }
        }
        return out;
    }

    /** Causal mask over raw tokens: s <= t. */
    public static boolean[][] causalMask(int s) {
        return bandMask(s, Integer.MAX_VALUE);
    }

    /** Sliding-window mask: s in [max(0, t − w + 1), t]. */
    public static boolean[][] bandMask(int s, int w) {
        boolean[][] m = new boolean[s][s];
        for (int t = 0; t < s; t++) {
            for (int j = 0; j < s; j++) {
                m[t][j] = j <= t && (long) t - j < w;
            }
        }
        return m;
    }

    /** Block-causal mask over compressed tokens: i visible to t iff i·d + l − 1 <= t. */
    public static boolean[][] blockCausalMask(int s, int nCmp, int l, int d) {
        boolean[][] m = new boolean[s][nCmp];
        for (int t = 0; t < s; t++) {
            for (int i = 0; i < nCmp; i++) {
                m[t][i] = (long) i * d + l - 1 <= t;
            }
        }
        return m;
    }

    /**
     * Mask of the selection branch: token j visible to t iff j <= t and j lies in one of the blocks listed
     * in {@code chosen[t]} (entries −1 and blocks past the sequence are ignored, duplicates harmless).
     */
    public static boolean[][] chosenBlockMask(int s, int[][] chosen, int lp) {
        boolean[][] m = new boolean[s][s];
        for (int t = 0; t < s; t++) {
            for (int blk : chosen[t]) {
                if (blk < 0) {
                    continue;
                }
                for (int j = blk * lp; j < (blk + 1) * lp && j < s; j++) {
                    m[t][j] = j <= t;
                }
            }
        }
        return m;
    }

    /** ω(i, j): the fraction of compressed token i's span [i·d, i·d + l) lying in block [j·l', (j+1)·l'), by counting. */
    public static double overlap(int i, int j, int l, int d, int lp) {
        int inside = 0;
        for (int p = i * d; p < i * d + l; p++) {
            if (p >= j * lp && p < (j + 1) * lp) {
                inside++;
            }
        }
        return (double) inside / l;
    }

    /**
     * I(t, g) from the spec: forced blocks 0, floor(t/l'), floor(t/l') − 1, then the best remaining
     * candidates by fp32 score with ties to the lower index; sorted ascending, −1 padded to n.
     *
     * @param groupScore P(t, g, j) for every candidate j in 0..floor(t/l')
     */
    public static int[] choose(int t, int lp, int n, double[] groupScore) {
        int cur = t / lp;
        java.util.List<Integer> chosen = new java.util.ArrayList<>();
        chosen.add(0);
        if (!chosen.contains(cur)) {
            chosen.add(cur);
        }
        if (cur - 1 >= 0 && !chosen.contains(cur - 1)) {
            chosen.add(cur - 1);
        }
        while (chosen.size() < n) {
            int best = -1;
            for (int j = 0; j <= cur; j++) {
                if (chosen.contains(j)) {
                    continue;
                }
                if (best < 0 || (float) groupScore[j] > (float) groupScore[best]) {
                    best = j;
                }
            }
            if (best < 0) {
                break;
            }
            chosen.add(best);
        }
        int[] out = new int[n];
        Arrays.fill(out, -1);
        int[] sorted = chosen.stream().mapToInt(Integer::intValue).sorted().toArray();
        System.arraycopy(sorted, 0, out, 0, sorted.length);
        return out;
    }
}
