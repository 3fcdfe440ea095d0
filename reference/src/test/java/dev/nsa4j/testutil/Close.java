package dev.nsa4j.testutil;

import static org.junit.jupiter.api.Assertions.fail;

/** Element-wise comparisons with messages that say where and by how much. */
public final class Close {
    /** fp64 agreement between the oracle and the brute force: relative 1e-12 (absolute near 0). */
    public static final double FP64_TOL = 1e-12;

    private Close() {}

    /** |actual − expected| <= tol·(1 + |expected|) everywhere; infinities must match exactly; no NaN. */
    public static void assertAllClose(double[] expected, double[] actual, double tol, String what) {
        if (expected.length != actual.length) {
            fail(what + ": length " + actual.length + ", expected " + expected.length);
        }
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i];
            double a = actual[i];
            if (Double.isNaN(a)) {
                fail(what + ": NaN at flat index " + i + " (expected " + e + ")");
            }
            if (Double.isInfinite(e) || Double.isInfinite(a)) {
                if (e != a) {
                    fail(what + ": at flat index " + i + " expected " + e + " but was " + a);
                }
                continue;
            }
            if (!(Math.abs(a - e) <= tol * (1 + Math.abs(e)))) {
                fail(what + ": at flat index " + i + " expected " + e + " but was " + a + " (diff "
                        + Math.abs(a - e) + ", tol " + tol + ")");
            }
        }
    }

    /** Bitwise equality of two fp64 arrays (NaN payloads and −0 included). */
    public static void assertBitwise(double[] expected, double[] actual, String what) {
        if (expected.length != actual.length) {
            fail(what + ": length " + actual.length + ", expected " + expected.length);
        }
        for (int i = 0; i < expected.length; i++) {
            if (Double.doubleToRawLongBits(expected[i]) != Double.doubleToRawLongBits(actual[i])) {
                fail(what + ": not bitwise equal at flat index " + i + ": expected " + expected[i] + " but was "
                        + actual[i]);
            }
        }
    }
}
