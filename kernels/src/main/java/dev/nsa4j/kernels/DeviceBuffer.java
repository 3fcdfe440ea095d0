package dev.nsa4j.kernels;

import dev.nsa4j.kernels.internal.Jcu;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.JCudaDriver;

/**
 * Device memory: owned by nsa4j, borrowed from a {@link DevicePool}, or wrapping a caller's raw pointer.
 *
 * <p>Owned buffers are stream-ordered ({@code cuMemAllocAsync}/{@code cuMemFreeAsync} on the stream
 * given at allocation) where the device supports memory pools, so allocating and freeing never
 * synchronises the device; elsewhere they fall back to {@code cuMemAlloc}/{@code cuMemFree}. A zero-byte
 * buffer has address 0 and allocates nothing. {@link #close()} of a wrapped buffer does nothing.
 */
public final class DeviceBuffer implements AutoCloseable {
    private enum Kind { OWNED_ASYNC, OWNED_SYNC, POOLED, WRAPPED }

    private static final int MAX_DEVICES = 64;
    private static final Boolean[] POOLS_SUPPORTED = new Boolean[MAX_DEVICES];

    private final long address;
    private final long bytes;
    private final Kind kind;
    private final CudaStream stream;
    private final DevicePool pool;
    private boolean closed;

    private DeviceBuffer(long address, long bytes, Kind kind, CudaStream stream, DevicePool pool) {
        this.address = address;
        this.bytes = bytes;
        this.kind = kind;
        this.stream = stream;
        this.pool = pool;
    }

    /** Allocates {@code bytes} ordered on {@code stream} (usable by work enqueued on it after this call). */
    public static DeviceBuffer allocate(CudaStream stream, long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("negative buffer size " + bytes);
        }
        if (bytes == 0) {
            return new DeviceBuffer(0L, 0L, Kind.OWNED_SYNC, stream, null);
        }
        CudaContext ctx = stream.context();
        ctx.bind();
        jcuda.driver.CUdeviceptr p = new jcuda.driver.CUdeviceptr();
        if (poolsSupported(ctx.device().ordinal())) {
            Jcu.check(JCudaDriver.cuMemAllocAsync(p, bytes, stream.jcuda()), "cuMemAllocAsync(" + bytes + " bytes)");
            return new DeviceBuffer(Jcu.address(p), bytes, Kind.OWNED_ASYNC, stream, null);
        }
        Jcu.check(JCudaDriver.cuMemAlloc(p, bytes), "cuMemAlloc(" + bytes + " bytes)");
        return new DeviceBuffer(Jcu.address(p), bytes, Kind.OWNED_SYNC, stream, null);
    }

    /** Wraps a caller's device pointer; nsa4j never frees it. */
    public static DeviceBuffer wrap(long address, long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("negative buffer size " + bytes);
        }
        return new DeviceBuffer(address, bytes, Kind.WRAPPED, null, null);
    }

    static DeviceBuffer pooled(DeviceBuffer raw, long bytes, DevicePool pool) {
        return new DeviceBuffer(raw.address, bytes, Kind.POOLED, raw.stream, pool);
    }

    public long address() {
        return address;
    }

    /** Usable bytes (a pooled buffer may sit in a larger block). */
    public long byteSize() {
        return bytes;
    }

    /** True unless this wraps a caller's pointer. */
    public boolean owns() {
        return kind != Kind.WRAPPED;
    }

    /** Sets every byte to {@code value}, ordered on {@code stream}. */
    public void fill(CudaStream stream, byte value) {
        if (bytes == 0) {
            return;
        }
        stream.context().bind();
        Jcu.check(JCudaDriver.cuMemsetD8Async(Jcu.devicePtr(address), value, bytes, stream.jcuda()),
                "cuMemsetD8Async(" + bytes + " bytes)");
    }

    /**
     * Frees (stream-ordered on the allocation stream), returns to the pool, or, for a wrapped pointer,
     * does nothing. A {@code cuMemFree} fallback may wait for the device (CUDA's behaviour).
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        switch (kind) {
            case WRAPPED -> { }
            case POOLED -> pool.release(this);
            case OWNED_ASYNC -> {
                stream.context().bind();
                if (stream.isClosed()) {
                    // its stream is gone: a synchronous free (CUDA allows cuMemFree of stream-ordered memory; it
                    // waits for the work using it), never a call on a destroyed stream
                    Jcu.check(JCudaDriver.cuMemFree(Jcu.devicePtr(address)), "cuMemFree");
                } else {
                    Jcu.check(JCudaDriver.cuMemFreeAsync(Jcu.devicePtr(address), stream.jcuda()), "cuMemFreeAsync");
                }
            }
            case OWNED_SYNC -> {
                if (address != 0L) {
                    stream.context().bind();
                    Jcu.check(JCudaDriver.cuMemFree(Jcu.devicePtr(address)), "cuMemFree");
                }
            }
        }
    }

    private static boolean poolsSupported(int ordinal) {
        if (ordinal >= MAX_DEVICES) {
            return false;
        }
        synchronized (POOLS_SUPPORTED) {
            Boolean b = POOLS_SUPPORTED[ordinal];
            if (b == null) {
                CUdevice dev = new CUdevice();
                Jcu.check(JCudaDriver.cuDeviceGet(dev, ordinal), "cuDeviceGet(" + ordinal + ")");
                b = CudaDevices.attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED) != 0;
                POOLS_SUPPORTED[ordinal] = b;
            }
            return b;
        }
    }

    @Override
    public String toString() {
        return "DeviceBuffer[0x" + Long.toHexString(address) + ", " + bytes + " bytes, " + kind + "]";
    }
}
