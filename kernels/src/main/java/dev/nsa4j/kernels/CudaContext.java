package dev.nsa4j.kernels;

import dev.nsa4j.kernels.internal.Jcu;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.JCudaDriver;

/**
 * The CUDA context nsa4j's work runs in, in one of two modes.
 *
 * <ul>
 *   <li>{@link #primary(int)}: retains the device's primary context (the one the CUDA runtime, PyTorch
 *       and most libraries share) and releases it on {@link #close()}.</li>
 *   <li>{@link #attachCurrent()}: uses whatever context is current on the calling thread, as TornadoVM's
 *       CUDA backend and other host libraries leave it. nsa4j neither creates nor destroys it; the caller
 *       passes its own stream as a raw handle ({@link CudaStream#wrap(CudaContext, long)}).</li>
 * </ul>
 *
 * <p>CUDA makes a context current per thread. Every nsa4j operation calls {@link #bind()} first, so a
 * context may be used from any thread. Closing never synchronises the device.
 */
public final class CudaContext implements AutoCloseable {
    private final CUcontext context;
    private final CUdevice device;
    private final DeviceInfo info;
    private final boolean primary;
    private volatile boolean closed;

    private CudaContext(CUcontext context, CUdevice device, DeviceInfo info, boolean primary) {
        this.context = context;
        this.device = device;
        this.info = info;
        this.primary = primary;
    }

    /** The default: the primary context of device 0. */
    public static CudaContext primary() {
        return primary(0);
    }

    /**
     * Retains the primary context of device {@code ordinal} and makes it current on this thread.
     *
     * @throws IllegalStateException when no device can be used (with discovery's reason)
     * @throws CudaException         when a driver call fails
     */
    public static CudaContext primary(int ordinal) {
        DeviceInfo info = CudaDevices.require(ordinal);
        CUdevice dev = new CUdevice();
        Jcu.check(JCudaDriver.cuDeviceGet(dev, ordinal), "cuDeviceGet(" + ordinal + ")");
        CUcontext ctx = new CUcontext();
        Jcu.check(JCudaDriver.cuDevicePrimaryCtxRetain(ctx, dev), "cuDevicePrimaryCtxRetain(" + ordinal + ")");
        Jcu.check(JCudaDriver.cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
        return new CudaContext(ctx, dev, info, true);
    }

    /**
     * Runs on the context current on the calling thread (not retained, never destroyed by nsa4j).
     *
     * @throws IllegalStateException when no context is current on this thread
     */
    public static CudaContext attachCurrent() {
        CudaDevices.Discovery d = CudaDevices.discover();
        if (!d.available()) {
            throw new IllegalStateException("no CUDA device can be used: " + d.reason());
        }
        CUcontext ctx = new CUcontext();
        Jcu.check(JCudaDriver.cuCtxGetCurrent(ctx), "cuCtxGetCurrent");
        if (Jcu.address(ctx) == 0L) {
            throw new IllegalStateException("attach mode needs a CUDA context current on the calling thread;"
                    + " none is (create or push one first, or use CudaContext.primary)");
        }
        CUdevice dev = new CUdevice();
        Jcu.check(JCudaDriver.cuCtxGetDevice(dev), "cuCtxGetDevice");
        int ordinal = ordinalOf(dev, d);
        return new CudaContext(ctx, dev, d.devices().get(ordinal), false);
    }

    /** Attaches to a context given as a raw {@code CUcontext} handle (for callers that hold one). */
    public static CudaContext attach(long rawContext) {
        if (rawContext == 0L) {
            throw new IllegalArgumentException("raw CUcontext handle is 0");
        }
        CudaDevices.Discovery d = CudaDevices.discover();
        if (!d.available()) {
            throw new IllegalStateException("no CUDA device can be used: " + d.reason());
        }
        CUcontext ctx = Jcu.context(rawContext);
        Jcu.check(JCudaDriver.cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
        CUdevice dev = new CUdevice();
        Jcu.check(JCudaDriver.cuCtxGetDevice(dev), "cuCtxGetDevice");
        return new CudaContext(ctx, dev, d.devices().get(ordinalOf(dev, d)), false);
    }

    private static int ordinalOf(CUdevice dev, CudaDevices.Discovery d) {
        long want = Jcu.address(dev);
        for (int i = 0; i < d.devices().size(); i++) {
            CUdevice candidate = new CUdevice();
            Jcu.check(JCudaDriver.cuDeviceGet(candidate, i), "cuDeviceGet(" + i + ")");
            if (Jcu.address(candidate) == want) {
                return i;
            }
        }
        throw new IllegalStateException("the current context's device is not among " + d.devices());
    }

    /** Makes this context current on the calling thread (cheap; every operation calls it). */
    public void bind() {
        if (closed) {
            throw new IllegalStateException("CUDA context of " + info + " is closed");
        }
        Jcu.check(JCudaDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
    }

    /** Free and total memory of the context's device, in bytes (cuMemGetInfo: every process's allocations count). */
    public record MemoryInfo(long free, long total) {
    }

    /** The device's free and total memory now ({@link MemoryInfo}). */
    public MemoryInfo memoryInfo() {
        bind();
        long[] free = new long[1];
        long[] total = new long[1];
        Jcu.check(JCudaDriver.cuMemGetInfo(free, total), "cuMemGetInfo");
        return new MemoryInfo(free[0], total[0]);
    }

    public DeviceInfo device() {
        return info;
    }

    /** True for a retained primary context; false in attach mode. */
    public boolean isPrimary() {
        return primary;
    }

    /** The raw {@code CUcontext} handle. */
    public long handle() {
        return Jcu.address(context);
    }

    /** Releases the primary context (attach mode: nothing to release). Does not synchronise. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (primary) {
            Jcu.check(JCudaDriver.cuDevicePrimaryCtxRelease(device), "cuDevicePrimaryCtxRelease");
        }
    }

    @Override
    public String toString() {
        return (primary ? "primary" : "attached") + " context on " + info;
    }
}
