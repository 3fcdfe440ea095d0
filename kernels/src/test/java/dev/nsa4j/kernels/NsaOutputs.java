package dev.nsa4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import dev.nsa4j.attention.NsaResult;


/** NSA forward outputs of a GPU run against the oracle's, as every NSA-level GPU suite checks them. */
public final class NsaOutputs {
    private NsaOutputs() {
    }

    /**
     * For each of {@code outputs}: the same length, every value of {@code got} finite except an infinity that
     * {@code want} has at the same place (an empty row's lse), and MAE below {@code tol} over the rest.
     */
    public static void assertClose(NsaResult want, NsaResult got, double tol, String label, NsaResult.Output... outputs) {
        for (NsaResult.Output o : outputs) {
            double[] a = want.fp64(o);
            double[] b = got.fp64(o);
            assertEquals(a.length, b.length, label + " " + o);
            double mae = 0;
            for (int i = 0; i < a.length; i++) {
                boolean sameInf = Double.isInfinite(a[i]) && a[i] == b[i];
                assertTrue(sameInf || Double.isFinite(b[i]), label + " " + o + "[" + i + "] = " + b[i]);
                mae += sameInf ? 0 : Math.abs(a[i] - b[i]);
            }
            mae /= Math.max(1, a.length);
            assertTrue(mae < tol, label + " " + o + ": MAE " + mae + " >= " + tol);
        }
    }
}
