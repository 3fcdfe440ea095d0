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

    /** y[yo..yo+n) += alpha * x[xo..xo+n). */
    static void axpy(double alpha, double[] x, int xo, double[] y, int yo, int n) {
        MATH.axpy(alpha, x, xo, y, yo, n);
    }

    /**
     * Softmax attention of one query over the key tokens in {@code ranges} (pairs [start, end), ascending,
     * disjoint): out = Σ softmax(scale · q·k_s) v_s. Each score sums q[c]·k_s[c] over c ascending.
     * Leaves the normalised probabilities in {@code probs[0..count)} in key order. Returns the natural
     * log-sum-exp of the scaled scores, or {@code -inf} with a zero output when there is no key.
     */
    static double attend(double[] q, int qo, int dk, double scale, KvView kv, int dv,
                         int[] ranges, int nRanges, double[] probs, double[] out, int oo) {
        int count = 0;
        double[] kT = kv.kT();
        for (int r = 0; r < nRanges; r++) {
            int start = ranges[2 * r];
            int len = ranges[2 * r + 1] - start;
            Arrays.fill(probs, count, count + len, 0.0);
            for (int c = 0; c < dk; c++) {
                axpy(q[qo + c], kT, kv.kOff() + c * kv.kRow() + start, probs, count, len);
            }
            count += len;
        }
        Arrays.fill(out, oo, oo + dv, 0.0);
        if (count == 0) {
            return Double.NEGATIVE_INFINITY;
        }
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < count; i++) {
            double sc = scale * probs[i];
            probs[i] = sc;
            if (sc > max) {
                max = sc;
            }
        }
        if (max == Double.NEGATIVE_INFINITY) {
            max = 0; // every score -inf or NaN: let exp give the IEEE result without inf - inf
        }
        double sum = 0;
        for (int i = 0; i < count; i++) {
            double e = Math.exp(probs[i] - max);
            probs[i] = e;
            sum += e;
        }
        int i = 0;
        double[] v = kv.v();
        for (int r = 0; r < nRanges; r++) {
            for (int s = ranges[2 * r]; s < ranges[2 * r + 1]; s++) {
                axpy(probs[i++], v, kv.vOff() + s * kv.vStride(), out, oo, dv);
            }
        }
        for (int c = 0; c < dv; c++) {
            out[oo + c] /= sum;
        }
        for (int j = 0; j < count; j++) {
            probs[j] /= sum;
        }
        return max + Math.log(sum);
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
