package dev.nsa4j.fa2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import dev.nsa4j.fa2.Fa2Audit.Probe;
import dev.nsa4j.fa2.Fa2Audit.Report;
import dev.nsa4j.fa2.Fa2Audit.Status;
import dev.nsa4j.fa2.contract.Fa2Options;
import dev.nsa4j.kernels.CudaDevices;
import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.kernels.GpuFixture;
import dev.nsa4j.kernels.TestShard;

/**
 * The FA-2 audit on GPU 0: every probe the contract allows runs FA-2 and matches sdpa (MAE <= 1e-5): all 12
 * on SM 9.0, the 8 with head dims up to 128 on SM 8.0 / 8.6 (the others blocked by the head_dim rule).
 */
@Tag("gpu")
@ExtendWith(TestShard.class)
class Fa2AuditGpuTest {
    static DeviceInfo gpuWithFa2Image() {
        GpuFixture.assumeGpu();
        if (Fa2Module.image().isEmpty()) {
            if (GpuFixture.gpuRequired()) {
                fail("NSA_REQUIRE_GPU is set but the FA-2 image was not built");
            }
            assumeTrue(false, "the FA-2 image was not built (no nvcc)");
        }
        DeviceInfo dev = CudaDevices.require(0);
        assumeTrue(dev.sm() == 80 || dev.sm() == 86 || dev.sm() == 90,
                () -> "FA-2 probes run on SM 8.0, 8.6, 9.0; this is sm_" + dev.sm());
        return dev;
    }

    @Test
    void everyAllowedProbeMatchesSdpa() {
        DeviceInfo dev = gpuWithFa2Image();
        Report r = Fa2Audit.run(0, Fa2Options.defaults(), "test");
        String all = String.join("\n", r.describe());
        assertEquals(dev, r.device(), all);
        assertEquals(null, r.unavailable(), all);
        assertTrue(r.image().present() && r.image().runsHere(), all);
        assertTrue(r.versions().cudaDriver() >= 13000, all);
        int expected = dev.ccMajor() >= 9 ? 12 : 8;
        assertEquals(expected, r.count(Status.PASSED), all);
        assertEquals(12 - expected, r.count(Status.BLOCKED), all);
        for (Probe p : r.probes()) {
            if (p.status() == Status.PASSED) {
                assertTrue(p.mae() <= Fa2Audit.MAE_LIMIT, p::describe);
            } else {
                assertTrue(p.probe().headDim() > 128 && p.reason().contains("head_dim"), p::describe);
            }
        }
        assertTrue(r.ready(), all);
        assertEquals("FA-2 ready on cuda:0 (sm_" + dev.sm() + "): " + expected + "/12 probes passed"
                + (expected < 12 ? "; 4 blocked by the contract" : ""), r.verdict());
    }

    @Test
    void theAuditLeavesNothingBehindAndRepeats() {
        gpuWithFa2Image();
        Report a = Fa2Audit.run(0, Fa2Options.defaults(), "test");
        Report b = Fa2Audit.run(0, Fa2Options.defaults(), "test");
        assertEquals(a.count(Status.PASSED), b.count(Status.PASSED), () -> String.join("\n", b.describe()));
        for (int i = 0; i < a.probes().size(); i++) {
            assertEquals(a.probes().get(i).mae(), b.probes().get(i).mae(), 0.0, "same inputs, deterministic kernels");
        }
    }
}
