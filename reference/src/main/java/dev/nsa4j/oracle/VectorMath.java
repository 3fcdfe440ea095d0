package dev.nsa4j.oracle;

/**
 * The two fp64 inner loops of the oracle. Two implementations: {@link SimdMath} on the Vector API when the
 * JVM was started with {@code --add-modules jdk.incubator.vector} (about 4x faster), {@link ScalarMath}
 * otherwise. Each is deterministic on a given machine; they may differ from each other in the last bits.
 */
interface VectorMath {
    /** Σ a[ao+i]·b[bo+i] for i in [0, n). */
    double dot(double[] a, int ao, double[] b, int bo, int n);

    /** y[yo+i] += alpha·x[xo+i] for i in [0, n). */
    void axpy(double alpha, double[] x, int xo, double[] y, int yo, int n);

    /** The implementation this JVM can run: SIMD when the incubator module is present. */
    static VectorMath pick() {
        boolean simd = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()
                && !Boolean.getBoolean("nsa.oracle.scalar");
        if (simd) {
            try {
                return (VectorMath) Class.forName("dev.nsa4j.oracle.SimdMath").getDeclaredConstructor().newInstance();
            } catch (ReflectiveOperationException | LinkageError e) {
                return new ScalarMath();
            }
        }
        return new ScalarMath();
    }
}
