package dev.nsa4j.oracle;

/**
 * The fp64 inner loops of the oracle, group-centric: the h query heads of a KV group share every load of a
 * key or value. Two implementations: {@link SimdMath} on the Vector API when the JVM runs with
 * {@code --add-modules jdk.incubator.vector} (several times faster), {@link ScalarMath} otherwise. Each
 * sums in a fixed order (ascending dim for scores, ascending key for weighted sums), so each is bitwise
 * repeatable; they may differ from each other in the last bits (fused vs separate multiply-add).
 *
 * <p>Only lane-wise IEEE operations (add, multiply, fma) may be used: the Vector API's cross-lane
 * reductions and transcendental lane operations round differently before and after the JIT intrinsifies
 * them, which would break bitwise repeatability (and decode = prefill) between a cold and a warm run.
 */
interface VectorMath {
    /** Σ a[ao+i]·b[bo+i] for i in [0, n), i ascending. */
    double dot(double[] a, int ao, double[] b, int bo, int n);

    /**
     * Raw scores of {@code heads} queries against {@code len} consecutive dim-major keys:
     * {@code out[so + hh·ss + i] = Σ_c q[qo + hh·qs + c] · kT[ko + c·kRow + i]}, c ascending.
     */
    void scores(double[] q, int qo, int qs, int heads, int dk, double[] kT, int ko, int kRow, int len,
                double[] out, int so, int ss);

    /**
     * Accumulates weighted values: {@code out[oo + hh·os + c] += Σ_s p[po + hh·ps + s] · v[vo + s·vs + c]}
     * for s in [0, len) ascending and c in [0, dv).
     */
    void weightedSum(double[] p, int po, int ps, int heads, double[] v, int vo, int vs, int len, int dv,
                     double[] out, int oo, int os);

    /** {@code x[off+i] = exp(x[off+i] − shift)} for i in [0, n), each result within 2 ulp; returns their sum. */
    double expShift(double[] x, int off, int n, double shift);

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
