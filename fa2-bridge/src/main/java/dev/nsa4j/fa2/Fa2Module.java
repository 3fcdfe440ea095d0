package dev.nsa4j.fa2;

import java.util.Optional;

import dev.nsa4j.kernels.CudaContext;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.internal.KernelImage;
import dev.nsa4j.kernels.internal.KernelModule;

/**
 * The FA-2 kernel image (SASS sm_80 and sm_90a, built by nvcc in the Maven build and shipped as the
 * classpath resource {@link #RESOURCE}) loaded into one context. Without nvcc at build time the resource
 * is absent and the FA-2 path reports {@link #NOT_BUILT}.
 */
public final class Fa2Module implements AutoCloseable {
    public static final String RESOURCE = "/dev/nsa4j/fa2/nsa4j-fa2.fatbin";
    public static final String NOT_BUILT = "FA-2 kernels not built";

    private static volatile Optional<byte[]> cached;

    private final KernelModule module;

    private Fa2Module(KernelModule module) {
        this.module = module;
    }

    /** The image's bytes, or empty when the kernels were not built. */
    public static Optional<byte[]> image() {
        Optional<byte[]> c = cached;
        if (c == null) {
            c = KernelImage.resource(Fa2Module.class, RESOURCE);
            cached = c;
        }
        return c;
    }

    /**
     * Loads the image into {@code context}.
     *
     * @throws IllegalStateException            when the image was not built
     * @throws dev.nsa4j.kernels.CudaException when the driver rejects it
     */
    public static Fa2Module load(CudaContext context) {
        byte[] img = image().orElseThrow(() -> new IllegalStateException(NOT_BUILT + ": the classpath has no "
                + RESOURCE + " (nvcc was missing when nsa4j was built)"));
        return new Fa2Module(KernelModule.loadImage(context, RESOURCE, img));
    }

    /**
     * Enqueues the non-finite count of contiguous {@code t} (fp32, fp16 or bf16), added to the uint32 at
     * {@code counter} (zeroed by the caller): {@code nsa_fa2_nonfinite_<dtype>_v16} over 16-byte words where t's
     * address is 16-byte aligned and its element count a multiple of a word's, else the per-element kernel. The grid
     * is 8 CTAs of 256 threads per SM at most (grid-stride loops).
     */
    void countNonFinite(long stream, DeviceTensor t, long counter, int smCount) {
        long n = t.shape().numel();
        int perWord = 16 / t.dtype().byteSize();
        boolean words = t.address() % 16 == 0 && n % perWord == 0;
        long threads = words ? n / perWord : n;
        int grid = (int) Math.max(1, Math.min((threads + 255) / 256, 8L * smCount));
        module.launchSymbol("nsa_fa2_nonfinite_" + Fa2Kernels.dtypeName(t.dtype()) + (words ? "_v16" : ""), grid, 1, 1,
                256, 0, stream, new Fa2ElementwiseParams(t.address(), counter, n).toBytes());
    }

    /** The loaded module (launch by symbol). */
    public KernelModule kernels() {
        return module;
    }

    @Override
    public void close() {
        module.close();
    }
}
