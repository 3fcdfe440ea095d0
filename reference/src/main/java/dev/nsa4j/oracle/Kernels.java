package dev.nsa4j.oracle;

/** The fp64 inner loops shared by every oracle computation. Fixed summation order: bitwise repeatable. */
final class Kernels {
    private Kernels() {}

    static double dot(double[] a, int ao, double[] b, int bo, int n) {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0;
        for (; i + 3 < n; i += 4) {
            s0 += a[ao + i] * b[bo + i];
            s1 += a[ao + i + 1] * b[bo + i + 1];
            s2 += a[ao + i + 2] * b[bo + i + 2];
            s3 += a[ao + i + 3] * b[bo + i + 3];
        }
        for (; i < n; i++) {
            s0 += a[ao + i] * b[bo + i];
        }
        return (s0 + s1) + (s2 + s3);
    }

    /** y[yo..yo+n) += alpha * x[xo..xo+n). */
    static void axpy(double alpha, double[] x, int xo, double[] y, int yo, int n) {
        for (int i = 0; i < n; i++) {
            y[yo + i] += alpha * x[xo + i];
        }
    }

    /**
     * Softmax attention of one query over the key tokens in {@code ranges} (pairs [start, end), ascending,
     * disjoint): out = Σ softmax(scale · q·k_s) v_s. Leaves the normalised probabilities in
     * {@code probs[0..count)} in key order. Returns the natural log-sum-exp of the scaled scores, or
     * {@code -inf} with a zero output when there is no key.
     */
    static double attend(double[] q, int qo, int dk, double scale, KvView kv, int dv,
                         int[] ranges, int nRanges, double[] probs, double[] out, int oo) {
        int count = 0;
        double max = Double.NEGATIVE_INFINITY;
        for (int r = 0; r < nRanges; r++) {
            for (int s = ranges[2 * r]; s < ranges[2 * r + 1]; s++) {
                double sc = scale * dot(q, qo, kv.k(), kv.kOff() + s * kv.kStride(), dk);
                probs[count++] = sc;
                if (sc > max) {
                    max = sc;
                }
            }
        }
        java.util.Arrays.fill(out, oo, oo + dv, 0.0);
        if (count == 0) {
            return Double.NEGATIVE_INFINITY;
        }
        if (max == Double.NEGATIVE_INFINITY || Double.isNaN(max)) {
            max = 0; // all scores -inf (or NaN): let exp produce the IEEE result without inf - inf
        }
        double sum = 0;
        for (int i = 0; i < count; i++) {
            double e = Math.exp(probs[i] - max);
            probs[i] = e;
            sum += e;
        }
        int i = 0;
        for (int r = 0; r < nRanges; r++) {
            for (int s = ranges[2 * r]; s < ranges[2 * r + 1]; s++) {
                axpy(probs[i++], kv.v(), kv.vOff() + s * kv.vStride(), out, oo, dv);
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
}
