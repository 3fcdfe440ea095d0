package dev.nsa4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.kernels.GpuAvailability;
import dev.nsa4j.kernels.TestShard;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@code nsa run --device gpu} on an SM 9.0 GPU with its shipped sm90 profile and no routing flags set: the
 * route lines are those of the call, FA-2 where it ran, the reference path with the reason where it did not.
 */
@Tag("gpu")
@ExtendWith(TestShard.class)
class RunGpuTest {
    @Test
    void runPrintsWhichPathRanEachBranchAndWhy() {
        dev.nsa4j.kernels.GpuFixture.assumeGpu();
        GpuAvailability a = GpuAvailability.check(0);
        DeviceInfo dev = a.discovery().devices().get(0);
        assumeTrue(dev.ccMajor() == 9 && dev.ccMinor() == 0, "the shipped sm90 profile enables FA-2 on SM 9.0");
        assumeTrue(System.getenv().keySet().stream().noneMatch(k -> k.startsWith("NSA_USE") || k.startsWith("NSA_FA2")
                || k.startsWith("NSA_FORCE") || k.equals("NSA_PROFILE")), "routing flags set in the environment");
        // S = 1024: 63 compressed tokens (l = 32, d = 16) >= 16; w = 128 >= 16 (sm90 d128, the H100 sweep)
        RunCommandTest.Result r = RunCommandTest.cli("run", "--device", "gpu", "--dtype", "bf16", "--shape",
                "1,1024,8,2,128,128", "--window", "128");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("route win: fa2 (profile sm90 d128; window 128 >= 16; exact P; mma.sync layout "
                + "(keys 128 < NSA_FA2_HOPPER_MIN_KEYS = 512))"), r.out());
        // K̃ in bf16: the compressed branch on FA-2 too; selection on the profile's sel-kernel, scores on tensor cores
        assertTrue(r.out().contains("route cmp: fa2 (profile sm90 d128; compressed length 63 >= 16; exact P; mma.sync "
                + "layout (keys 63 < NSA_FA2_HOPPER_MIN_KEYS = 512))"), r.out());
        // a window of 512 keys and a grid that needs no split-KV: the Hopper layout (TMA, wgmma)
        RunCommandTest.Result hop = RunCommandTest.cli("run", "--device", "gpu", "--dtype", "bf16", "--shape",
                "1,2048,32,4,128,128", "--window", "512");
        assertEquals(0, hop.code(), hop.err());
        assertTrue(hop.out().contains("route win: fa2 (profile sm90 d128; window 512 >= 16; exact P; hopper layout "
                + "(SM 9.0; keys 512 >= 512))"), hop.out());
        assertTrue(r.out().contains("route sel: sel-kernel (profile sm90 d128; "), r.out());
        assertTrue(r.out().contains("plan: B=1 S=1024 bf16 (gates fp32, o fp32) on cuda:0 "), r.out());
        assertTrue(r.out().contains("gpu time: host-to-host "), r.out());
        // below the window threshold: the reference path, as a normal route
        RunCommandTest.Result small = RunCommandTest.cli("run", "--device", "gpu", "--dtype", "bf16", "--shape",
                "1,256,8,2,128,128", "--window", "8");
        assertEquals(0, small.code(), small.err());
        assertTrue(small.out().contains("route win: sdpa-masked (below NSA_FA2_MIN_LEN_WIN (8 < 16); band mask"),
                small.out());
        assertTrue(small.out().contains("route cmp: sdpa-masked (below NSA_FA2_MIN_LEN_CMP (15 < 16); "), small.out());
    }
}
