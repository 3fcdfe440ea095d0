package dev.nsa4j.kernels.internal;

import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceBuffer;
import dev.nsa4j.kernels.DeviceTensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import dev.nsa4j.tensor.DType;
import jcuda.Pointer;
import jcuda.driver.JCudaDriver;

/**
 * Runs the device probe {@code nsa_params_layout}: the device compiler's sizeof/offsetof of every params
 * struct, to compare with {@link ParamsLayouts} (a mismatch would make every kernel read garbage).
 */
public final class LayoutProbe {
    static final int CAPACITY = 512;

    private LayoutProbe() {
    }

    /** The probe's output, trimmed to the count it reports in element 0 (waits for {@code stream}). */
    public static long[] run(KernelModule module, CudaStream stream) {
        return run(module, KernelCatalog.LAYOUT_PROBE_SYMBOL, stream);
    }

    /**
     * Runs a probe kernel {@code symbol(int64_t* out, int capacity)} of {@code module} (this module's or another
     * image's, e.g. fa2-bridge's {@code nsa_fa2_params_layout}) and returns its output trimmed to the count it
     * reports in element 0 (waits for {@code stream}).
     */
    public static long[] run(KernelModule module, String symbol, CudaStream stream) {
        try (DeviceTensor buf = DeviceTensor.allocate(stream, DType.FP32, CAPACITY * 2)) {
            // the probe writes only what it reports; zero the rest so the whole copy below reads defined bytes
            DeviceBuffer.wrap(buf.address(), buf.byteSize()).fill(stream, (byte) 0);
            Pointer args = Pointer.to(Pointer.to(Jcu.devicePtr(buf.address())), Pointer.to(new int[]{CAPACITY}));
            module.launch(module.function(symbol), symbol, 1, Jcu.stream(stream.handle()), args);
            MemorySegment host = Arena.ofAuto().allocate(CAPACITY * 8L, 16);
            stream.context().bind();
            Jcu.check(JCudaDriver.cuMemcpyDtoHAsync(Pointer.to(host.asByteBuffer()), Jcu.devicePtr(buf.address()),
                    CAPACITY * 8L, Jcu.stream(stream.handle())), "cuMemcpyDtoHAsync(probe)");
            stream.synchronize();
            long n = host.getAtIndex(ValueLayout.JAVA_LONG, 0);
            if (n < 1 || n > CAPACITY) {
                return new long[]{n};
            }
            long[] out = new long[(int) n];
            MemorySegment.copy(host, ValueLayout.JAVA_LONG, 0, out, 0, (int) n);
            return out;
        }
    }
}
