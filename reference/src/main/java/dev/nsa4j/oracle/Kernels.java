package dev.nsa4j.oracle;

import java.util.Arrays;

/** The fp64 inner loops shared by every oracle computation. Fixed summation order: bitwise repeatable. */
final class Kernels {
    private Kernels() {}

    /** The loops for this JVM: SIMD when {@code jdk.incubator.vector} is present. */
    static final VectorMath MATH = VectorMath.pick();

    static double dot(double[] a, int ao, double[] b, int bo, int n) {
        return MATH.dot(a, ao, b, bo, n);
    }

    /**
     * Softmax attention of the {@code heads} query heads of one group (q of head hh at
     * {@code qo + hh·dk}) over the key tokens in {@code ranges} (pairs [start, end), ascending, disjoint):
     * out_hh = Σ softmax(scale · q_hh·k_s) v_s, written at {@code oo + hh·dv}; the natural log-sum-exp of
     * the scaled scores at {@code lse[lo + hh]}, or {@code -inf} with a zero output when there is no key.
     * With {@code normalise}, leaves each head's probabilities, in key order, at {@code probs[hh·stride ..]}.
     */
    static void attendGroup(double[] q, int qo, int heads, int dk, double scale, KvView kv, int dv,
                            int[] ranges, int nRanges, double[] probs, int stride, double[] out, int oo,
                            double[] lse, int lo, boolean normalise) {
        int count = 0;
        for (int r = 0; r < nRanges; r++) {
            int start = ranges[2 * r];
            int len = ranges[2 * r + 1] - start;
            MATH.scores(q, qo, dk, heads, dk, kv.kT(), kv.kOff() + start, kv.kRow(), len, probs, count, stride);
            count += len;
        }
        Arrays.fill(out, oo, oo + heads * dv, 0.0);
        if (count == 0) {
            Arrays.fill(lse, lo, lo + heads, Double.NEGATIVE_INFINITY);
            return;
        }
        double[] sums = new double[heads];
        for (int hh = 0; hh < heads; hh++) {
            int p = hh * stride;
            double max = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < count; i++) {
                double sc = scale * probs[p + i];
                probs[p + i] = sc;
                if (sc > max) {
                    max = sc;
                }
            }
            if (max == Double.NEGATIVE_INFINITY) {
                max = 0; // every score -inf or NaN: let exp give the IEEE result without inf - inf
            }
            double sum = MATH.expShift(probs, p, count, max);
            sums[hh] = sum;
            lse[lo + hh] = max + Math.log(sum);
        }
        int done = 0;
        for (int r = 0; r < nRanges; r++) {
            int start = ranges[2 * r];
            int len = ranges[2 * r + 1] - start;
            MATH.weightedSum(probs, done, stride, heads, kv.v(), kv.vOff() + start * kv.vStride(), kv.vStride(), len,
                    dv, out, oo, dv);
            done += len;
        }
        for (int hh = 0; hh < heads; hh++) {
            double sum = sums[hh];
            for (int c = 0; c < dv; c++) {
                out[oo + hh * dv + c] /= sum;
            }
            if (normalise) {
                int p = hh * stride;
                for (int j = 0; j < count; j++) {
                    probs[p + j] /= sum;
                }
            }
        }
    }

    /**
     * Transposes the token-major {@code [tokens, G, D]} rows of one sequence into dim-major segments,
     * one per group: element c of token s of group g goes to {@code dst[dstOff + (g*D + c)*len + s]}.
     */
    static void transposeSequence(double[] src, int firstToken, int len, int groups, int dim, double[] dst,
                                  int dstOff) {
        for (int s = 0; s < len; s++) {
            int so = ((firstToken + s) * groups) * dim;
            for (int gc = 0; gc < groups * dim; gc++) {
                dst[dstOff + gc * len + s] = src[so + gc];
            }
        }
    }
}
