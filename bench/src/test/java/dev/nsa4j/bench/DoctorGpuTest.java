package dev.nsa4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.nsa4j.fa2.Fa2Module;
import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.kernels.GpuAvailability;
import dev.nsa4j.kernels.TestShard;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** {@code nsa doctor} on GPU 0 (SM 8.0, 8.6 or 9.0, FA-2 image built, no FA-2 flags set): FA-2 ready. */
@Tag("gpu")
@ExtendWith(TestShard.class)
class DoctorGpuTest {
    @Test
    void doctorSaysFa2IsReady() {
        dev.nsa4j.kernels.GpuFixture.assumeGpu();   // NSA_REQUIRE_GPU=1 turns the skip into a failure
        GpuAvailability a = GpuAvailability.check(0);
        assumeTrue(a.available(), () -> "GPU unavailable: " + a.reason());
        assumeTrue(Fa2Module.image().isPresent(), "FA-2 image not built");
        DeviceInfo dev = a.discovery().devices().get(0);
        assumeTrue(dev.sm() == 80 || dev.sm() == 86 || dev.sm() == 90, () -> "FA-2 probes run on SM 8.0, 8.6, 9.0");
        assumeTrue(System.getenv("NSA_FA2_ALLOW_D_GT_128") == null && System.getenv("NSA_FA2_FORCE") == null
                && System.getenv("NSA_DEVICE") == null, "FA-2 flags set in the environment");
        RunCommandTest.Result r = RunCommandTest.cli("doctor", "--device", "0");
        assertEquals(0, r.code(), r.err());
        String out = r.out();
        assertTrue(out.startsWith("device:       " + dev + "\n"), out);
        assertTrue(out.contains("\n  fp16 d128  passed   MAE "), out);
        assertTrue(out.contains("\nrouting (head dim 128):\n  device: " + dev + ", driver CUDA "), out);
        String verdict = out.strip().lines().reduce((x, y) -> y).orElseThrow();
        assertEquals(dev.sm() == 90 ? "FA-2 ready on cuda:0 (sm_90): 12/12 probes passed"
                : "FA-2 ready on cuda:0 (sm_" + dev.sm() + "): 8/12 probes passed; 4 blocked by the contract", verdict);
    }
}
