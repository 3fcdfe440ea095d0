package dev.nsa4j.oracle;

import jdk.incubator.vector.DoubleVector;
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
}
