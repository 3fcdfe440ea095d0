package dev.nsa4j.oracle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The SIMD loops against the plain ones, and the SIMD exp against Math.exp. */
class VectorMathTest {
    private final VectorMath simd = new SimdMath();
    private final VectorMath scalar = new ScalarMath();

    @Test
    void testsRunWithTheVectorModule() {
        assertInstanceOf(SimdMath.class, Kernels.MATH, "surefire passes --add-modules=jdk.incubator.vector");
    }

    @Test
    void simdExpIsWithinTwoUlpOfMathExp() {
        SplittableRandom r = new SplittableRandom(3);
        double worst = 0;
        for (int i = 0; i < 200_000; i++) {
            double x = i < 1000 ? -i * 0.708 : -r.nextDouble() * (i % 2 == 0 ? 708 : 30);
            double[] a = {x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x};
            simd.expShift(a, 0, 16, 0.0);
            double want = Math.exp(x);
            for (double got : a) {
                double ulps = Math.abs(got - want) / Math.ulp(want);
                worst = Math.max(worst, ulps);
            }
        }
        assertTrue(worst <= 2, "worst error " + worst + " ulp");
    }

    @Test
    void simdExpEdgeValues() {
        double[] a = {0.0, -0.0, -708.0, -709.0, Double.NEGATIVE_INFINITY, Double.NaN, -1e-300, -745.2,
            0, 0, 0, 0, 0, 0, 0, 0};
        double sum = simd.expShift(a, 0, 16, 0.0);
        assertEquals(1.0, a[0], 0.0);
        assertEquals(1.0, a[1], 0.0);
        assertEquals(Math.exp(-708.0), a[2], 2 * Math.ulp(Math.exp(-708.0)));
        assertEquals(0.0, a[3], 0.0, "subnormal results flush to 0");
        assertEquals(0.0, a[4], 0.0);
        assertTrue(Double.isNaN(a[5]));
        assertEquals(1.0, a[6], 0.0);
        assertEquals(0.0, a[7], 0.0);
        assertTrue(Double.isNaN(sum));
    }

    @ParameterizedTest(name = "heads={0} dk={1} len={2}")
    @CsvSource({"1,8,3", "4,64,64", "4,64,67", "5,16,17", "8,128,130", "2,7,9", "16,32,1"})
    void simdLoopsMatchThePlainOnes(int heads, int dk, int len) {
        SplittableRandom r = new SplittableRandom(heads * 1000L + dk * 10L + len);
        int kRow = len + 5;
        double[] q = r.doubles(heads * dk + 3).map(v -> v - 0.5).toArray();
        double[] kT = r.doubles(dk * kRow + 3).map(v -> v - 0.5).toArray();
        double[] a = new double[heads * (len + 2)];
        double[] b = new double[heads * (len + 2)];
        simd.scores(q, 3, dk, heads, dk, kT, 3, kRow, len, a, 0, len + 2);
        scalar.scores(q, 3, dk, heads, dk, kT, 3, kRow, len, b, 0, len + 2);
        for (int i = 0; i < a.length; i++) {
            assertEquals(b[i], a[i], 1e-13, "score " + i);
        }
        int dv = dk + 1;
        double[] v = r.doubles((len + 1) * dv * 2).toArray();
        double[] p = r.doubles(heads * (len + 2)).toArray();
        double[] oa = new double[heads * dv];
        double[] ob = new double[heads * dv];
        simd.weightedSum(p, 0, len + 2, heads, v, dv, 2 * dv, len, dv, oa, 0, dv);
        scalar.weightedSum(p, 0, len + 2, heads, v, dv, 2 * dv, len, dv, ob, 0, dv);
        for (int i = 0; i < oa.length; i++) {
            assertEquals(ob[i], oa[i], 1e-12, "weighted sum " + i);
        }
        double[] e1 = r.doubles(len + 9).map(x -> -20 * x).toArray();
        double[] e2 = e1.clone();
        double s1 = simd.expShift(e1, 1, len + 8, -0.5);
        double s2 = scalar.expShift(e2, 1, len + 8, -0.5);
        assertEquals(s2, s1, 1e-14 * s2);
        assertEquals(simd.dot(q, 0, kT, 1, dk), scalar.dot(q, 0, kT, 1, dk), 1e-13);
    }
}
