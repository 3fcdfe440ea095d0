package dev.nsa4j.fa2;

import java.util.List;

import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceBuffer;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.ParamsLayouts;
import dev.nsa4j.kernels.StructLayout;
import dev.nsa4j.tensor.DType;
import jcuda.Pointer;

/**
 * The FA-2 params structs' Java layouts in the order the probe kernel {@code nsa_fa2_params_layout}
 * (fa2_support.cu) reports them, and the probe's runner.
 */
public final class Fa2Layouts {
    public static final List<StructLayout> ALL = List.of(Fa2Params.LAYOUT, Fa2ElementwiseParams.LAYOUT);
    static final int CAPACITY = 128;

    private Fa2Layouts() {
    }

    /** What the probe should write: [count, (sizeof, offsets...) per struct]. */
    public static long[] expectedProbe() {
        return ParamsLayouts.expectedProbe(ALL);
    }

    /** Runs the probe on the device (waits for {@code stream}) and returns what it wrote, trimmed to its count. */
    public static long[] probe(Fa2Module module, CudaStream stream) {
        try (DeviceTensor buf = DeviceTensor.allocate(stream, DType.INT32, CAPACITY * 2)) {
            DeviceBuffer.wrap(buf.address(), buf.byteSize()).fill(stream, (byte) 0);
            module.kernels().launchArgs("nsa_fa2_params_layout", 1, 32, stream.handle(),
                    Pointer.to(Pointer.to(new long[]{buf.address()}), Pointer.to(new int[]{CAPACITY})));
            int[] words = buf.toHost(stream).toIntArray();
            long n = (words[0] & 0xffffffffL) | ((long) words[1] << 32);
            if (n < 1 || n > CAPACITY) {
                return new long[]{n};
            }
            long[] out = new long[(int) n];
            for (int i = 0; i < n; i++) {
                out[i] = (words[2 * i] & 0xffffffffL) | ((long) words[2 * i + 1] << 32);
            }
            return out;
        }
    }

}
