package dev.nsa4j.parity;

import dev.nsa4j.tensor.HostTensor;
import java.util.Arrays;
import java.util.Objects;

/**
 * Compares the outputs of two paths on the same inputs (docs/routing.md "Acceptance"; docs/architecture.md "Testing").
 *
 * <p><b>Two-path rule</b> ({@link #compare}): pass iff {@code MAE < tolerance} (default
 * {@link #DEFAULT_TOLERANCE} = 1e-5, for fp32 outputs) and neither side holds a NaN or an infinity.
 *
 * <p><b>lse rule</b> ({@link #lse()}): for log-sum-exp outputs, where a row with no visible key is
 * {@code -inf} by definition, {@code -inf} on both sides at the same element counts as equal (difference 0);
 * {@code -inf} on one side only is a mismatch, counted in {@code infA}/{@code infB}, and fails.
 *
 * <p><b>Oracle rule</b> ({@link #againstOracle}, FlashAttention's own test rule): for fast half-precision
 * modes, pass iff the fast path's MAE against the fp64 oracle is at most {@code factor} (default
 * {@link #ORACLE_FACTOR} = 2) times the MAE of a baseline computed at the same precision, both free of
 * NaN/Inf.
 *
 * <p>Relative error is {@code |a − b| / max(|b|, relFloor)} with B the reference side: the floor (default
 * {@link #DEFAULT_REL_FLOOR} = 1e-6, about the absolute error an fp32 reduction of O(1) values reaches)
 * keeps near-zero reference values from turning a harmless absolute error into a huge relative one.
 *
 * <p>Inputs: {@code float[]}, {@code double[]} or {@link HostTensor} (fp32, fp16, bf16 or int32, read exactly
 * as double in row-major order, any strides). Both sides must have the same length (tensors: the same dims),
 * else {@link IllegalArgumentException}. Immutable and thread-safe.
 *
 * @param tolerance      the MAE bound of the two-path rule, > 0
 * @param negInfMatches  true for the lse rule
 * @param relFloor       the floor of the relative error's denominator, > 0
 */
public record ParityHarness(double tolerance, boolean negInfMatches, double relFloor) {
    /** docs/routing.md: "MAE &lt; 1e-5 on fp32 outputs, no NaN/Inf". */
    public static final double DEFAULT_TOLERANCE = 1e-5;
    /** Denominator floor of the relative error. */
    public static final double DEFAULT_REL_FLOOR = 1e-6;
    /** The oracle rule's ratio: at most twice the same-precision baseline's error. */
    public static final double ORACLE_FACTOR = 2.0;

    public ParityHarness {
        if (!(tolerance > 0) || Double.isInfinite(tolerance)) {
            throw new IllegalArgumentException("tolerance must be finite and > 0, got " + tolerance);
        }
        if (!(relFloor > 0) || Double.isInfinite(relFloor)) {
            throw new IllegalArgumentException("relFloor must be finite and > 0, got " + relFloor);
        }
    }

    /** The default rule for outputs: MAE &lt; 1e-5, no NaN/Inf. */
    public static ParityHarness outputs() {
        return new ParityHarness(DEFAULT_TOLERANCE, false, DEFAULT_REL_FLOOR);
    }

    /** The rule for log-sum-exp outputs: as {@link #outputs()}, with matched {@code -inf} counting as equal. */
    public static ParityHarness lse() {
        return new ParityHarness(DEFAULT_TOLERANCE, true, DEFAULT_REL_FLOOR);
    }

    /** The same rule with another MAE bound. */
    public ParityHarness withTolerance(double mae) {
        return new ParityHarness(mae, negInfMatches, relFloor);
    }

    public ParityReport compare(String what, String pathA, double[] a, String pathB, double[] b) {
        Stats s = stats(a, b);
        boolean pass = s.nonFinite() == 0 && s.mae < tolerance;
        return s.report(what, pathA, pathB, tolerance, null, pass);
    }

    public ParityReport compare(String what, String pathA, float[] a, String pathB, float[] b) {
        return compare(what, pathA, widen(a), pathB, widen(b));
    }

    /** Tensors of any dtype and strides with the same dims, compared in row-major order. */
    public ParityReport compare(String what, String pathA, HostTensor a, String pathB, HostTensor b) {
        requireSameDims(a, b, pathA, pathB);
        return compare(what, pathA, a.toDoubleArray(), pathB, b.toDoubleArray());
    }

    /**
     * The oracle rule: {@code fast} passes iff {@code MAE(fast, oracle) <= factor · MAE(baseline, oracle)} and
     * neither {@code fast}, {@code baseline} nor {@code oracle} holds a NaN or an unmatched infinity. The
     * report carries the fast path's statistics against the oracle ({@code pathA} = {@code fastPath},
     * {@code pathB} = {@code oraclePath}), {@code tolerance} = {@code factor ·} the baseline's MAE, and the
     * baseline's error in {@link ParityReport#baseline()}. This harness's own {@code tolerance} is not used.
     *
     * @param factor the allowed ratio, finite and > 0 ({@link #ORACLE_FACTOR})
     */
    public ParityReport againstOracle(String what, String oraclePath, double[] oracle, String fastPath, double[] fast,
                                      String baselinePath, double[] baseline, double factor) {
        return againstOracle(what, oraclePath, oracle, fastPath, fast, baselinePath, baseline, factor, 0);
    }

    /**
     * As {@link #againstOracle(String, String, double[], String, double[], String, double[], double)} with an
     * absolute floor: pass when {@code mae(fast) <= factor · mae(baseline) + atol}. FlashAttention's tests add
     * such a term ({@code fwd_atol}, twice the rounding noise of the output at the reference's magnitude) so
     * that a baseline that happens to be exact (one visible key: the output is a copy of v) does not demand
     * an exact fast path; {@link #roundingFloor} computes it the same way.
     *
     * @param atol the absolute floor, finite and >= 0
     */
    public ParityReport againstOracle(String what, String oraclePath, double[] oracle, String fastPath, double[] fast,
                                      String baselinePath, double[] baseline, double factor, double atol) {
        if (!(atol >= 0) || Double.isInfinite(atol)) {
            throw new IllegalArgumentException("atol must be finite and >= 0, got " + atol);
        }
        if (!(factor > 0) || Double.isInfinite(factor)) {
            throw new IllegalArgumentException("factor must be finite and > 0, got " + factor);
        }
        Objects.requireNonNull(baselinePath, "baselinePath");
        Stats f = stats(fast, oracle);
        Stats b = stats(baseline, oracle);
        double bound = factor * b.mae + atol;
        var base = new ParityReport.Baseline(baselinePath, b.mae, b.maxAbs, b.nanA + b.infA, factor, atol);
        boolean pass = f.nonFinite() == 0 && b.nonFinite() == 0 && f.mae <= bound;
        return f.report(what, fastPath, oraclePath, bound, base, pass);
    }

    /**
     * FlashAttention's {@code fwd_atol} for fp32 outputs: twice the largest rounding noise at the magnitude of
     * {@code reference}, {@code 2 · max |fl(fl(x + 0.3) - 0.3) - x|} with {@code x = fl(reference)} (about
     * 1.2e-7 for values near 1: two orders below the 1e-5 parity bar).
     */
    public static double roundingFloor(double[] reference) {
        double max = 0;
        for (double r : reference) {
            float x = (float) r;
            if (Float.isFinite(x)) {
                float y = (x + 0.3f) - 0.3f;
                max = Math.max(max, Math.abs((double) y - x));
            }
        }
        return 2 * max;
    }

    /** {@link #againstOracle(String, String, double[], String, double[], String, double[], double)} on tensors. */
    public ParityReport againstOracle(String what, String oraclePath, HostTensor oracle, String fastPath,
                                      HostTensor fast, String baselinePath, HostTensor baseline, double factor) {
        requireSameDims(fast, oracle, fastPath, oraclePath);
        requireSameDims(baseline, oracle, baselinePath, oraclePath);
        return againstOracle(what, oraclePath, oracle.toDoubleArray(), fastPath, fast.toDoubleArray(), baselinePath,
                baseline.toDoubleArray(), factor);
    }

    private static void requireSameDims(HostTensor a, HostTensor b, String pathA, String pathB) {
        Objects.requireNonNull(a, pathA);
        Objects.requireNonNull(b, pathB);
        if (!a.shape().sameDims(b.shape())) {
            throw new IllegalArgumentException("cannot compare " + pathA + " " + Arrays.toString(a.shape().dims())
                    + " with " + pathB + " " + Arrays.toString(b.shape().dims()) + ": dims differ");
        }
    }

    private static double[] widen(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    /** Accumulated statistics of A against the reference B. */
    private static final class Stats {
        long n;
        long compared;
        double sum;
        double mae;
        double maxAbs;
        double maxRel;
        long arg = -1;
        long nanA, infA, nanB, infB;

        long nonFinite() {
            return nanA + infA + nanB + infB;
        }

        ParityReport report(String what, String pathA, String pathB, double tol, ParityReport.Baseline base,
                            boolean pass) {
            return new ParityReport(what, pathA, pathB, n, mae, maxAbs, maxRel, arg, nanA, infA, nanB, infB, tol,
                    base, pass);
        }
    }

    private Stats stats(double[] a, double[] b) {
        Objects.requireNonNull(a, "a");
        Objects.requireNonNull(b, "b");
        if (a.length != b.length) {
            throw new IllegalArgumentException("cannot compare outputs of " + a.length + " and " + b.length
                    + " elements");
        }
        Stats s = new Stats();
        s.n = a.length;
        for (int i = 0; i < a.length; i++) {
            double x = a[i];
            double y = b[i];
            if (negInfMatches && x == Double.NEGATIVE_INFINITY && y == Double.NEGATIVE_INFINITY) {
                s.compared++;
                continue;
            }
            boolean skip = false;
            if (Double.isNaN(x)) {
                s.nanA++;
                skip = true;
            } else if (Double.isInfinite(x)) {
                s.infA++;
                skip = true;
            }
            if (Double.isNaN(y)) {
                s.nanB++;
                skip = true;
            } else if (Double.isInfinite(y)) {
                s.infB++;
                skip = true;
            }
            if (skip) {
                continue;
            }
            double d = Math.abs(x - y);
            s.compared++;
            s.sum += d;
            if (s.arg < 0 || d > s.maxAbs) {
                s.maxAbs = d;
                s.arg = i;
            }
            s.maxRel = Math.max(s.maxRel, d / Math.max(Math.abs(y), relFloor));
        }
        s.mae = s.compared == 0 ? 0 : s.sum / s.compared;
        return s;
    }
}
