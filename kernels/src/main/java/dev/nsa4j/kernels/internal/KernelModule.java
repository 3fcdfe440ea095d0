package dev.nsa4j.kernels.internal;

import dev.nsa4j.kernels.CudaContext;
import dev.nsa4j.kernels.CudaException;
import java.util.concurrent.ConcurrentHashMap;

import jcuda.Pointer;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * The kernel image loaded into one context ({@code cuModuleLoadData}; no compilation at run time), with
 * its function table keyed by {@link KernelKey}. An unsupported key fails fast, before the driver is
 * asked, listing what the family supports.
 */
public final class KernelModule implements AutoCloseable {
    /** Threads per block of every kernel (their {@code __launch_bounds__}). */
    public static final int BLOCK = 256;
    /** Grid-stride kernels get at most this many blocks per SM; more adds nothing but launch cost. */
    static final int BLOCKS_PER_SM = 32;

    private final CudaContext context;
    private final CUmodule module;
    private final ConcurrentHashMap<String, CUfunction> functions = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Integer> raisedSmem = new ConcurrentHashMap<>();
    private boolean closed;

    private KernelModule(CudaContext context, CUmodule module) {
        this.context = context;
        this.module = module;
    }

    /**
     * Loads the image into {@code context}.
     *
     * @throws IllegalStateException when kernels were not built or the device cannot run them
     * @throws CudaException         when the driver rejects the image (for example a driver older than R580)
     */
    public static KernelModule load(CudaContext context) {
        byte[] image = KernelImage.bytes().orElseThrow(() -> new IllegalStateException(KernelImage.NOT_BUILT
                + ": the classpath has no " + KernelImage.RESOURCE + " (nvcc was missing when nsa4j was built)"));
        String why = KernelImage.unsupportedReason(context.device());
        if (why != null) {
            throw new IllegalStateException(why);
        }
        context.bind();
        CUmodule m = new CUmodule();
        Jcu.check(JCudaDriver.cuModuleLoadData(m, image), "cuModuleLoadData(" + KernelImage.RESOURCE + ", "
                + image.length + " bytes; CUDA 13 images need an R580+ driver)");
        return new KernelModule(context, m);
    }

    /**
     * Loads another module's kernel image (e.g. fa2-bridge's) into {@code context}; {@code name} names it in
     * errors. Its kernels are launched by symbol ({@link #launchSymbol}); the key-based table is this module's.
     *
     * @throws CudaException when the driver rejects the image
     */
    public static KernelModule loadImage(CudaContext context, String name, byte[] image) {
        context.bind();
        CUmodule m = new CUmodule();
        Jcu.check(JCudaDriver.cuModuleLoadData(m, image), "cuModuleLoadData(" + name + ", " + image.length
                + " bytes; CUDA 13 images need an R580+ driver)");
        return new KernelModule(context, m);
    }

    /**
     * Launches {@code symbol} on a 3-D grid with {@code smemBytes} of dynamic shared memory (the function's
     * limit is raised when it exceeds the 48 KiB default and the size raised to before), each of {@code params} (a
     * params struct, a 128-byte tensor map) passed by value as one kernel parameter, in order.
     */
    public void launchSymbol(String symbol, int gx, int gy, int gz, int block, int smemBytes, long stream,
                             byte[]... params) {
        if (closed) {
            throw new IllegalStateException("kernel module is closed");
        }
        CUfunction f = function(symbol);
        context.bind();
        if (smemBytes > 48 * 1024) {
            // raised to the largest size asked for so far (plans of one kernel may need different sizes)
            raisedSmem.compute(symbol, (s, raised) -> {
                if (raised != null && raised >= smemBytes) {
                    return raised;
                }
                Jcu.check(JCudaDriver.cuFuncSetAttribute(f,
                        jcuda.driver.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, smemBytes),
                        "cuFuncSetAttribute(" + symbol + ", max dynamic shared memory " + smemBytes + ")");
                return smemBytes;
            });
        }
        Jcu.check(JCudaDriver.cuLaunchKernel(f, gx, gy, gz, block, 1, 1, smemBytes, Jcu.stream(stream),
                kernelParams(params), null),
                "cuLaunchKernel(" + symbol + ", grid " + gx + "x" + gy + "x" + gz + ", block " + block + ", smem "
                        + smemBytes + ")");
    }

    /**
     * Launches {@code symbol} (1-D grid, no dynamic shared memory) with JCuda's kernel-parameter array
     * ({@code Pointer.to(Pointer.to(arg0), Pointer.to(arg1), ...)}): for kernels with several plain arguments,
     * such as layout probes.
     */
    @SuppressWarnings("exports") // JCuda's types: for sibling modules, which read jcuda themselves (D20)
    public void launchArgs(String symbol, int grid, int block, long stream, Pointer kernelParams) {
        launch(function(symbol), symbol, grid, block, Jcu.stream(stream), kernelParams);
    }

    private static Pointer kernelParams(byte[]... params) {
        Pointer[] each = new Pointer[params.length];
        for (int i = 0; i < params.length; i++) {
            each[i] = Pointer.to(params[i]);
        }
        return Pointer.to(each);
    }

    /** True when the image has {@code symbol} (asks the driver once; the answer is cached). */
    public boolean hasSymbol(String symbol) {
        try {
            function(symbol);
            return true;
        } catch (CudaException e) {
            return false;
        }
    }

    public CudaContext context() {
        return context;
    }

    /** The function for {@code key}; throws {@link dev.nsa4j.NsaArgumentException} for an unsupported key. */
    @SuppressWarnings("exports") // as launchArgs
    public CUfunction function(KernelKey key) {
        return function(KernelCatalog.require(key).symbol());
    }

    CUfunction function(String symbol) {
        return functions.computeIfAbsent(symbol, s -> {
            context.bind();
            CUfunction f = new CUfunction();
            Jcu.check(JCudaDriver.cuModuleGetFunction(f, module, s), "cuModuleGetFunction(" + s + ")");
            return f;
        });
    }

    /** Blocks for a grid-stride kernel over {@code work} threads' worth of items (at least 1). */
    public int gridFor(long work) {
        long blocks = (work + BLOCK - 1) / BLOCK;
        long cap = (long) context.device().smCount() * BLOCKS_PER_SM;
        return (int) Math.max(1, Math.min(blocks, cap));
    }

    /** Launches {@code key} with one params struct passed by value, on a raw stream handle. */
    public void launch(KernelKey key, int grid, long stream, byte[] params) {
        launch(key, grid, BLOCK, stream, params);
    }

    /**
     * As {@link #launch(KernelKey, int, long, byte[])} with {@code block} threads per block: for kernels whose
     * {@code __launch_bounds__} is not {@link #BLOCK} (the attention kernels use 128).
     */
    public void launch(KernelKey key, int grid, int block, long stream, byte[] params) {
        launch(function(key), key.symbol(), grid, block, Jcu.stream(stream), Pointer.to(Pointer.to(params)));
    }

    void launch(CUfunction f, String name, int grid, CUstream stream, Pointer params) {
        launch(f, name, grid, BLOCK, stream, params);
    }

    void launch(CUfunction f, String name, int grid, int block, CUstream stream, Pointer params) {
        if (closed) {
            throw new IllegalStateException("kernel module is closed");
        }
        context.bind();
        Jcu.check(JCudaDriver.cuLaunchKernel(f, grid, 1, 1, block, 1, 1, 0, stream, params, null),
                "cuLaunchKernel(" + name + ", grid " + grid + "x" + block + ")");
    }

    /** Unloads the module (wait for its kernels first: CUDA requires no launch of it to be pending). */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            context.bind();
            Jcu.check(JCudaDriver.cuModuleUnload(module), "cuModuleUnload");
        }
    }
}
