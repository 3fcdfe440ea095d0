package dev.nsa4j.nsa;

import dev.nsa4j.fa2.Fa2Module;
import dev.nsa4j.kernels.CudaContext;
import dev.nsa4j.kernels.CudaException;
import dev.nsa4j.kernels.internal.KernelModule;
import dev.nsa4j.kernels.internal.TcModule;

/**
 * The kernel images a {@link GpuBackend} loaded into its context: the reference kernels' (always), FA-2's and the
 * tensor-core kernels' ({@code sel-kernel}, the tc scorer) where some route may use them, or why one is missing
 * (not built, not wished, the device cannot run it, the driver rejected it). A missing optional image is a route
 * reason, never an error.
 *
 * @param fa2Unavailable null when {@code fa2} is loaded
 * @param tcUnavailable  null when {@code tc} is loaded
 */
record GpuImages(KernelModule module, Fa2Module fa2, String fa2Unavailable, TcModule tc, String tcUnavailable)
        implements AutoCloseable {

    /**
     * Loads the images into {@code context}.
     *
     * @throws IllegalStateException when the reference kernels' image is missing or cannot run
     * @throws CudaException         when the driver rejects it
     */
    static GpuImages load(CudaContext context, boolean wantFa2, boolean wantTc) {
        KernelModule m = KernelModule.load(context);
        Fa2Module f = null;
        TcModule t = null;
        String fa2Why = "FA-2 not wished for any branch";
        String tcWhy = "tensor-core kernels not wished (parity mode, or NSA_EXACT_SCORES=1 without sel-kernel)";
        try {
            if (wantFa2) {
                try {
                    f = Fa2Module.load(context);
                    fa2Why = null;
                } catch (IllegalStateException | CudaException ex) {
                    fa2Why = "FA-2 kernels unavailable: " + ex.getMessage();
                }
            }
            if (wantTc) {
                try {
                    t = TcModule.load(context);
                    tcWhy = null;
                } catch (IllegalStateException | CudaException ex) {
                    tcWhy = "tensor-core kernels unavailable: " + ex.getMessage();
                }
            }
        } catch (RuntimeException ex) {
            new GpuImages(m, f, fa2Why, t, tcWhy).close();
            throw ex;
        }
        return new GpuImages(m, f, fa2Why, t, tcWhy);
    }

    /** These images without FA-2 (not closed: the re-plan after a non-finite FA-2 output shares them). */
    GpuImages withoutFa2(String why) {
        return new GpuImages(module, null, why, tc, tcUnavailable);
    }

    @Override
    public void close() {
        if (tc != null) {
            tc.close();
        }
        if (fa2 != null) {
            fa2.close();
        }
        module.close();
    }
}
