package dev.nsa4j.nsa;

import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceBuffer;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.tensor.HostTensor;

/**
 * Every device allocation an {@link NsaAttention} makes (plans' workspaces and constants, the host API's
 * staging), counted: after the first call of a shape the counts stay put ({@link #allocations()}).
 * Thread-safe counters; allocation itself is ordered on the given stream.
 */
public final class DeviceMemory {
    private long allocations;
    private long bytes;

    DeviceMemory() { // one per NsaAttention (GpuBackend); not for callers to create
    }

    /** A snapshot of the counters. */
    public record Stats(long allocations, long bytes) {
    }

    DeviceBuffer allocate(CudaStream stream, long n) {
        DeviceBuffer b = DeviceBuffer.allocate(stream, n);
        synchronized (this) {
            allocations++;
            bytes += n;
        }
        return b;
    }

    DeviceTensor upload(CudaStream stream, HostTensor host) {
        DeviceTensor t = DeviceTensor.upload(stream, host);
        synchronized (this) {
            allocations++;
            bytes += t.byteSize();
        }
        return t;
    }

    /** Device allocations made so far. */
    public synchronized long allocations() {
        return allocations;
    }

    /** Bytes allocated so far (not net of frees). */
    public synchronized long bytes() {
        return bytes;
    }

    public synchronized Stats stats() {
        return new Stats(allocations, bytes);
    }
}
