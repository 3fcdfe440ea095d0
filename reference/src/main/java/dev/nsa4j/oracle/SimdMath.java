package dev.nsa4j.oracle;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** Vector API loops with fused multiply-add; the lane count is the machine's preferred one. */
final class SimdMath implements VectorMath {
    private static final VectorSpecies<Double> SPECIES = DoubleVector.SPECIES_PREFERRED;

    @Override
    public double dot(double[] a, int ao, double[] b, int bo, int n) {
        DoubleVector acc = DoubleVector.zero(SPECIES);
        int i = 0;
        int bound = SPECIES.loopBound(n);
        for (; i < bound; i += SPECIES.length()) {
            acc = DoubleVector.fromArray(SPECIES, a, ao + i).fma(DoubleVector.fromArray(SPECIES, b, bo + i), acc);
        }
        double s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            s = Math.fma(a[ao + i], b[bo + i], s);
        }
        return s;
    }

    @Override
    public void axpy(double alpha, double[] x, int xo, double[] y, int yo, int n) {
        DoubleVector av = DoubleVector.broadcast(SPECIES, alpha);
        int i = 0;
        int bound = SPECIES.loopBound(n);
        for (; i < bound; i += SPECIES.length()) {
            DoubleVector.fromArray(SPECIES, x, xo + i).fma(av, DoubleVector.fromArray(SPECIES, y, yo + i))
                    .intoArray(y, yo + i);
        }
        for (; i < n; i++) {
            y[yo + i] = Math.fma(alpha, x[xo + i], y[yo + i]);
        }
    }
}
