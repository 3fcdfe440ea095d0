package dev.nsa4j.oracle;

/** Plain loops, for JVMs without the Vector API module. */
final class ScalarMath implements VectorMath {
    @Override
    public double dot(double[] a, int ao, double[] b, int bo, int n) {
        double s = 0;
        for (int i = 0; i < n; i++) {
            s += a[ao + i] * b[bo + i];
        }
        return s;
    }

    @Override
    public void scores(double[] q, int qo, int qs, int heads, int dk, double[] kT, int ko, int kRow, int len,
                       double[] out, int so, int ss) {
        for (int hh = 0; hh < heads; hh++) {
            int o = so + hh * ss;
            java.util.Arrays.fill(out, o, o + len, 0.0);
            for (int c = 0; c < dk; c++) {
                double qc = q[qo + hh * qs + c];
                int k = ko + c * kRow;
                for (int i = 0; i < len; i++) {
                    out[o + i] += qc * kT[k + i];
                }
            }
        }
    }

    @Override
    public void weightedSum(double[] p, int po, int ps, int heads, double[] v, int vo, int vs, int len, int dv,
                            double[] out, int oo, int os) {
        for (int hh = 0; hh < heads; hh++) {
            for (int s = 0; s < len; s++) {
                double w = p[po + hh * ps + s];
                int vr = vo + s * vs;
                int o = oo + hh * os;
                for (int c = 0; c < dv; c++) {
                    out[o + c] += w * v[vr + c];
                }
            }
        }
    }

    @Override
    public double expShift(double[] x, int off, int n, double shift) {
        double sum = 0;
        for (int i = 0; i < n; i++) {
            double e = Math.exp(x[off + i] - shift);
            x[off + i] = e;
            sum += e;
        }
        return sum;
    }
}
