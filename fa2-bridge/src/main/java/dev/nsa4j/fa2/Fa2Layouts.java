package dev.nsa4j.fa2;

import java.util.List;

import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.internal.LayoutProbe;
import dev.nsa4j.kernels.internal.ParamsLayouts;
import dev.nsa4j.kernels.internal.StructLayout;

/**
 * The FA-2 params structs' Java layouts in the order the probe kernel {@code nsa_fa2_params_layout}
 * (fa2_support.cu) reports them, and the probe's runner.
 */
public final class Fa2Layouts {
    public static final List<StructLayout> ALL = List.of(Fa2Params.LAYOUT, Fa2ElementwiseParams.LAYOUT);

    private Fa2Layouts() {
    }

    /** What the probe should write: [count, (sizeof, offsets...) per struct]. */
    public static long[] expectedProbe() {
        return ParamsLayouts.expectedProbe(ALL);
    }

    /** Runs the probe on the device (waits for {@code stream}) and returns what it wrote, trimmed to its count. */
    public static long[] probe(Fa2Module module, CudaStream stream) {
        return LayoutProbe.run(module.kernels(), "nsa_fa2_params_layout", stream);
    }
}
