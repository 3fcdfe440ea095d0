package dev.nsa4j.nsa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.kernels.CudaContext;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.GpuSuite;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The GPU decoder's device memory: what it allocates equals its plan ({@link DecodeCachePlan#deviceBytes}: the
 * caches, a step's outputs, the tensor-core step's workspace), the device's free memory drops by about that much
 * when it opens, and 10 000 steps replayed from a CUDA graph (pages taken from the pool as sequences enter new
 * blocks) leave the free memory where it was. cuMemGetInfo counts every process on the device: run this class
 * alone on its GPU.
 */
@Tag("gpu")
class GpuDecodeMemoryGpuTest extends GpuSuite {
    private static final long MIB = 1L << 20;

    @Test
    void memoryIsThePlanAndStaysFlatOverTenThousandSteps() {
        NsaConfig cfg = NsaConfig.builder().heads(16).kvGroups(2).headDims(64, 64).blockLen(32).stride(16)
                .selBlock(64).nSel(16).window(512).build();
        int[] lens = {100, 0, 37, 1000};
        int steps = 10_000;
        int cap = 1000 + steps;
        DecodeBatch pre = DecodeBatch.random(cfg, DType.BF16, new int[] {lens[0] + 1, lens[1] + 1, lens[2] + 1,
                lens[3] + 1}, new Random(5));
        List<DeviceTensor> dev = new ArrayList<>();
        try (NsaAttention nsa = PipelineModes.SEL_KERNEL.open(cfg, null);
             CudaStream s = CudaStream.create(nsa.context())) {
            CudaContext ctx = nsa.context();
            s.synchronize();
            long free0 = ctx.memoryInfo().free();
            try (NsaGpuDecoder dec = NsaGpuDecoder.open(nsa, lens.length, cap, DType.BF16)) {
                assertTrue(dec.tensorCoreStep(), dec.route());
                long planned = dec.plan().deviceBytes(dec.splits());
                assertEquals(planned, dec.deviceBytes(), "allocated bytes against the plan");
                long free1 = ctx.memoryInfo().free();
                System.out.printf(Locale.ROOT, "decoder: planned %d bytes, free memory dropped by %d%n", planned,
                        free0 - free1);
                assertTrue(free0 - free1 >= planned - 2 * MIB && free0 - free1 <= planned + 64 * MIB,
                        "free memory dropped by " + (free0 - free1) + " bytes for a plan of " + planned);
                dec.prefill(pre.prefix(lens).inputs());
                for (HostTensor h : pre.stepTensors(lens, 0)) {
                    dev.add(DeviceTensor.upload(s, h));
                }
                DeviceTensor o = DeviceTensor.allocate(s, DType.BF16, lens.length, 1, cfg.heads(), cfg.headDimV());
                dev.add(o);
                NsaDeviceInputs in = NsaDeviceInputs.builder().q(dev.get(0)).cmp(dev.get(1), dev.get(2))
                        .sel(dev.get(3), dev.get(4)).win(dev.get(5), dev.get(6)).gates(dev.get(7)).build();
                try (NsaGpuDecoder.StepGraph g = dec.capture(s, in, o)) {
                    g.replay(s);
                    s.synchronize();
                    long before = ctx.memoryInfo().free();
                    for (int i = 1; i < steps; i++) {
                        g.replay(s);
                    }
                    s.synchronize();
                    long after = ctx.memoryInfo().free();
                    System.out.printf(Locale.ROOT, "%d replays: free memory %d -> %d%n", steps - 1, before, after);
                    assertTrue(Math.abs(after - before) <= 2 * MIB, "free memory moved by " + (after - before));
                }
                assertEquals(lens[3] + steps, dec.length(3));
                assertTrue(java.util.Arrays.stream(o.toHost(s).toDoubleArray()).allMatch(Double::isFinite));
            } finally {
                for (DeviceTensor t : dev) {
                    t.close();
                }
                s.synchronize();
            }
        }
    }
}
