package dev.nsa4j.oracle;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API loops with fused multiply-add, register-tiled over up to four heads of a group so each key or
 * value vector is loaded once for all of them. The lane count is the machine's preferred one; tails fall
 * back to {@link Math#fma}, which rounds exactly like a lane, so results do not depend on alignment.
 */
final class SimdMath implements VectorMath {
    private static final VectorSpecies<Double> SPECIES = DoubleVector.SPECIES_PREFERRED;
    private static final int LANES = SPECIES.length();

    @Override
    public double dot(double[] a, int ao, double[] b, int bo, int n) {
        DoubleVector acc = DoubleVector.zero(SPECIES);
        int i = 0;
        int bound = SPECIES.loopBound(n);
        for (; i < bound; i += LANES) {
            acc = DoubleVector.fromArray(SPECIES, a, ao + i).fma(DoubleVector.fromArray(SPECIES, b, bo + i), acc);
        }
        // lanes summed in a fixed order: reduceLanes rounds differently once intrinsified
        double[] lanes = acc.toArray();
        double s = 0;
        for (double lane : lanes) {
            s += lane;
        }
        for (; i < n; i++) {
            s = Math.fma(a[ao + i], b[bo + i], s);
        }
        return s;
    }

    @Override
    public void scores(double[] q, int qo, int qs, int heads, int dk, double[] kT, int ko, int kRow, int len,
                       double[] out, int so, int ss) {
        int hh = 0;
        for (; hh + 4 <= heads; hh += 4) {
            scores4(q, qo + hh * qs, qs, dk, kT, ko, kRow, len, out, so + hh * ss, ss);
        }
        for (; hh < heads; hh++) {
            scores1(q, qo + hh * qs, dk, kT, ko, kRow, len, out, so + hh * ss);
        }
    }

    private static void scores4(double[] q, int qo, int qs, int dk, double[] kT, int ko, int kRow, int len,
                                double[] out, int so, int ss) {
        int i = 0;
        // two key vectors at a time: eight independent fma chains hide the fma latency
        for (; i + 2 * LANES <= len; i += 2 * LANES) {
            DoubleVector a0 = DoubleVector.zero(SPECIES);
            DoubleVector a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            for (int c = 0; c < dk; c++) {
                int kr = ko + c * kRow + i;
                DoubleVector k = DoubleVector.fromArray(SPECIES, kT, kr);
                DoubleVector k2 = DoubleVector.fromArray(SPECIES, kT, kr + LANES);
                DoubleVector q0 = DoubleVector.broadcast(SPECIES, q[qo + c]);
                DoubleVector q1 = DoubleVector.broadcast(SPECIES, q[qo + qs + c]);
                DoubleVector q2 = DoubleVector.broadcast(SPECIES, q[qo + 2 * qs + c]);
                DoubleVector q3 = DoubleVector.broadcast(SPECIES, q[qo + 3 * qs + c]);
                a0 = k.fma(q0, a0);
                a1 = k.fma(q1, a1);
                a2 = k.fma(q2, a2);
                a3 = k.fma(q3, a3);
                b0 = k2.fma(q0, b0);
                b1 = k2.fma(q1, b1);
                b2 = k2.fma(q2, b2);
                b3 = k2.fma(q3, b3);
            }
            a0.intoArray(out, so + i);
            a1.intoArray(out, so + ss + i);
            a2.intoArray(out, so + 2 * ss + i);
            a3.intoArray(out, so + 3 * ss + i);
            b0.intoArray(out, so + i + LANES);
            b1.intoArray(out, so + ss + i + LANES);
            b2.intoArray(out, so + 2 * ss + i + LANES);
            b3.intoArray(out, so + 3 * ss + i + LANES);
        }
        for (; i + LANES <= len; i += LANES) {
            DoubleVector a0 = DoubleVector.zero(SPECIES);
            DoubleVector a1 = a0, a2 = a0, a3 = a0;
            for (int c = 0; c < dk; c++) {
                DoubleVector k = DoubleVector.fromArray(SPECIES, kT, ko + c * kRow + i);
                a0 = k.fma(DoubleVector.broadcast(SPECIES, q[qo + c]), a0);
                a1 = k.fma(DoubleVector.broadcast(SPECIES, q[qo + qs + c]), a1);
                a2 = k.fma(DoubleVector.broadcast(SPECIES, q[qo + 2 * qs + c]), a2);
                a3 = k.fma(DoubleVector.broadcast(SPECIES, q[qo + 3 * qs + c]), a3);
            }
            a0.intoArray(out, so + i);
            a1.intoArray(out, so + ss + i);
            a2.intoArray(out, so + 2 * ss + i);
            a3.intoArray(out, so + 3 * ss + i);
        }
        for (; i < len; i++) {
            for (int hh = 0; hh < 4; hh++) {
                out[so + hh * ss + i] = scoreTail(q, qo + hh * qs, dk, kT, ko + i, kRow);
            }
        }
    }

    private static void scores1(double[] q, int qo, int dk, double[] kT, int ko, int kRow, int len, double[] out,
                                int so) {
        int i = 0;
        for (; i + LANES <= len; i += LANES) {
            DoubleVector a0 = DoubleVector.zero(SPECIES);
            for (int c = 0; c < dk; c++) {
                a0 = DoubleVector.fromArray(SPECIES, kT, ko + c * kRow + i).fma(DoubleVector.broadcast(SPECIES, q[qo + c]), a0);
            }
            a0.intoArray(out, so + i);
        }
        for (; i < len; i++) {
            out[so + i] = scoreTail(q, qo, dk, kT, ko + i, kRow);
        }
    }

    private static double scoreTail(double[] q, int qo, int dk, double[] kT, int k, int kRow) {
        double s = 0;
        for (int c = 0; c < dk; c++) {
            s = Math.fma(kT[k + c * kRow], q[qo + c], s);
        }
        return s;
    }

    @Override
    public void weightedSum(double[] p, int po, int ps, int heads, double[] v, int vo, int vs, int len, int dv,
                            double[] out, int oo, int os) {
        int hh = 0;
        for (; hh + 4 <= heads; hh += 4) {
            weighted4(p, po + hh * ps, ps, v, vo, vs, len, dv, out, oo + hh * os, os);
        }
        for (; hh < heads; hh++) {
            weighted1(p, po + hh * ps, v, vo, vs, len, dv, out, oo + hh * os);
        }
    }

    private static void weighted4(double[] p, int po, int ps, double[] v, int vo, int vs, int len, int dv,
                                  double[] out, int oo, int os) {
        int c = 0;
        // two value vectors at a time: eight independent fma chains hide the fma latency
        for (; c + 2 * LANES <= dv; c += 2 * LANES) {
            int c2 = c + LANES;
            DoubleVector a0 = DoubleVector.fromArray(SPECIES, out, oo + c);
            DoubleVector a1 = DoubleVector.fromArray(SPECIES, out, oo + os + c);
            DoubleVector a2 = DoubleVector.fromArray(SPECIES, out, oo + 2 * os + c);
            DoubleVector a3 = DoubleVector.fromArray(SPECIES, out, oo + 3 * os + c);
            DoubleVector b0 = DoubleVector.fromArray(SPECIES, out, oo + c2);
            DoubleVector b1 = DoubleVector.fromArray(SPECIES, out, oo + os + c2);
            DoubleVector b2 = DoubleVector.fromArray(SPECIES, out, oo + 2 * os + c2);
            DoubleVector b3 = DoubleVector.fromArray(SPECIES, out, oo + 3 * os + c2);
            for (int s = 0; s < len; s++) {
                int vr = vo + s * vs;
                DoubleVector x = DoubleVector.fromArray(SPECIES, v, vr + c);
                DoubleVector y = DoubleVector.fromArray(SPECIES, v, vr + c2);
                DoubleVector p0 = DoubleVector.broadcast(SPECIES, p[po + s]);
                DoubleVector p1 = DoubleVector.broadcast(SPECIES, p[po + ps + s]);
                DoubleVector p2 = DoubleVector.broadcast(SPECIES, p[po + 2 * ps + s]);
                DoubleVector p3 = DoubleVector.broadcast(SPECIES, p[po + 3 * ps + s]);
                a0 = x.fma(p0, a0);
                a1 = x.fma(p1, a1);
                a2 = x.fma(p2, a2);
                a3 = x.fma(p3, a3);
                b0 = y.fma(p0, b0);
                b1 = y.fma(p1, b1);
                b2 = y.fma(p2, b2);
                b3 = y.fma(p3, b3);
            }
            a0.intoArray(out, oo + c);
            a1.intoArray(out, oo + os + c);
            a2.intoArray(out, oo + 2 * os + c);
            a3.intoArray(out, oo + 3 * os + c);
            b0.intoArray(out, oo + c2);
            b1.intoArray(out, oo + os + c2);
            b2.intoArray(out, oo + 2 * os + c2);
            b3.intoArray(out, oo + 3 * os + c2);
        }
        for (; c + LANES <= dv; c += LANES) {
            DoubleVector a0 = DoubleVector.fromArray(SPECIES, out, oo + c);
            DoubleVector a1 = DoubleVector.fromArray(SPECIES, out, oo + os + c);
            DoubleVector a2 = DoubleVector.fromArray(SPECIES, out, oo + 2 * os + c);
            DoubleVector a3 = DoubleVector.fromArray(SPECIES, out, oo + 3 * os + c);
            for (int s = 0; s < len; s++) {
                DoubleVector x = DoubleVector.fromArray(SPECIES, v, vo + s * vs + c);
                a0 = x.fma(DoubleVector.broadcast(SPECIES, p[po + s]), a0);
                a1 = x.fma(DoubleVector.broadcast(SPECIES, p[po + ps + s]), a1);
                a2 = x.fma(DoubleVector.broadcast(SPECIES, p[po + 2 * ps + s]), a2);
                a3 = x.fma(DoubleVector.broadcast(SPECIES, p[po + 3 * ps + s]), a3);
            }
            a0.intoArray(out, oo + c);
            a1.intoArray(out, oo + os + c);
            a2.intoArray(out, oo + 2 * os + c);
            a3.intoArray(out, oo + 3 * os + c);
        }
        for (; c < dv; c++) {
            for (int hh = 0; hh < 4; hh++) {
                out[oo + hh * os + c] = weightedTail(p, po + hh * ps, v, vo + c, vs, len, out[oo + hh * os + c]);
            }
        }
    }

    private static void weighted1(double[] p, int po, double[] v, int vo, int vs, int len, int dv, double[] out,
                                  int oo) {
        int c = 0;
        for (; c + LANES <= dv; c += LANES) {
            DoubleVector a0 = DoubleVector.fromArray(SPECIES, out, oo + c);
            for (int s = 0; s < len; s++) {
                a0 = DoubleVector.fromArray(SPECIES, v, vo + s * vs + c).fma(DoubleVector.broadcast(SPECIES, p[po + s]), a0);
            }
            a0.intoArray(out, oo + c);
        }
        for (; c < dv; c++) {
            out[oo + c] = weightedTail(p, po, v, vo + c, vs, len, out[oo + c]);
        }
    }

    private static double weightedTail(double[] p, int po, double[] v, int vc, int vs, int len, double acc) {
        for (int s = 0; s < len; s++) {
            acc = Math.fma(v[vc + s * vs], p[po + s], acc);
        }
        return acc;
    }

    private static final double LOG2E = 1.4426950408889634;
    /** ln 2 split so that k·LN2_HI is exact for |k| &lt; 2^20 (fdlibm's constants). */
    private static final double LN2_HI = 6.93147180369123816490e-01;
    private static final double LN2_LO = 1.90821492927058770002e-10;
    /** 1.5·2^52: adding it rounds to an integer, and the integer sits in the low mantissa bits. */
    private static final double SHIFTER = 0x1.8p52;
    private static final long SHIFTER_BITS = Double.doubleToRawLongBits(SHIFTER);
    /** Below this, exp is subnormal: flushed to 0 (a softmax weight under 1e-307 of the max changes nothing). */
    private static final double EXP_MIN = -708.0;
    /** 1/k! for k = 0..13: the Taylor series of exp on |r| ≤ ln2/2, truncation error below 1e-17. */
    private static final double[] TAYLOR = new double[14];

    static {
        double f = 1;
        for (int k = 0; k < TAYLOR.length; k++) {
            f = k == 0 ? 1 : f * k;
            TAYLOR[k] = 1.0 / f;
        }
    }

    /**
     * exp(x − shift) in every lane using only lane-wise IEEE operations (fma, add, shifts), so the result is
     * the same interpreted or compiled: x = k·ln2 + r, exp(r) by Horner's rule, 2^k from the exponent bits.
     * Accurate to about 1 ulp on [−708, 0]; exactly 1 at 0, 0 below −708 and for −inf, NaN for NaN.
     */
    static DoubleVector exp(DoubleVector x) {
        VectorMask<Double> tiny = x.compare(VectorOperators.LT, EXP_MIN);
        DoubleVector t = x.fma(LOG2E, SHIFTER);
        DoubleVector k = t.sub(SHIFTER);
        DoubleVector r = k.fma(DoubleVector.broadcast(SPECIES, -LN2_HI), x).add(k.mul(-LN2_LO));
        DoubleVector poly = DoubleVector.broadcast(SPECIES, TAYLOR[TAYLOR.length - 1]);
        for (int i = TAYLOR.length - 2; i >= 0; i--) {
            poly = poly.fma(r, DoubleVector.broadcast(SPECIES, TAYLOR[i]));
        }
        LongVector kl = (LongVector) t.reinterpretAsLongs();
        DoubleVector scale = kl.sub(SHIFTER_BITS).add(1023L).lanewise(VectorOperators.LSHL, 52).reinterpretAsDoubles();
        return poly.mul(scale).blend(0.0, tiny);
    }

    @Override
    public double expShift(double[] x, int off, int n, double shift) {
        DoubleVector acc = DoubleVector.zero(SPECIES);
        int i = 0;
        for (; i + LANES <= n; i += LANES) {
            DoubleVector e = exp(DoubleVector.fromArray(SPECIES, x, off + i).sub(shift));
            e.intoArray(x, off + i);
            acc = acc.add(e);
        }
        double sum = 0;
        for (double lane : acc.toArray()) {
            sum += lane; // a fixed order: reduceLanes rounds differently once intrinsified
        }
        for (; i < n; i++) {
            double e = Math.exp(x[off + i] - shift);
            x[off + i] = e;
            sum += e;
        }
        return sum;
    }
}
