package dev.nsa4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@code nsa bench attention|nsa|selection|thresholds}: bad shapes, masks and sweeps are usage errors, before any GPU work. */
class BenchCommandTest {
    static RunCommandTest.Result bench(String... args) {
        return RunCommandTest.subcommand("bench", args);
    }

    static void assertUsage(RunCommandTest.Result r, String... fragments) {
        assertEquals(2, r.code(), r.err());
        for (String f : fragments) {
            assertTrue(r.err().contains(f), () -> "expected '" + f + "' in: " + r.err());
        }
    }

    @Test
    void attentionShapesAndMasksAreChecked() {
        assertUsage(bench("attention", "--shapes", "1,2,x,4"), "nsa bench attention", "--shapes 1,2,x,4",
                "'x' is not a positive integer");
        assertUsage(bench("attention", "--shapes", "1,2,3"), "is not B,H,S,D or B,H,Hkv,S,D");
        assertUsage(bench("attention", "--shapes", "1,6,4,64,64"), "H = 6 is not a multiple of Hkv = 4");
        assertUsage(bench("attention", "--shapes", "1,2,64,64", "--mask", "window:0"), "window: '0'");
        assertUsage(bench("attention", "--shapes", "1,2,64,64", "--mask", "block-causal:32"), "is not L,D");
        assertUsage(bench("attention", "--mask", "diagonal"), "is not causal, none, window:W or block-causal:L,D");
        assertUsage(bench("attention", "--dtype", "fp32"), "--dtype fp32 is not bf16 or fp16");
    }

    @Test
    void nsaBenchShapesConfigAndCountsAreChecked() {
        assertUsage(bench("nsa", "--shapes", "4"), "--shapes '4'", "(B,S)");
        assertUsage(bench("nsa", "--shapes", "4,0"), "B and S must be >= 1");
        assertUsage(bench("nsa", "--dtype", "fp32"), "--dtype fp32 is not bf16 or fp16");
        assertUsage(bench("nsa", "--heads", "6", "--kv-heads", "4"), "H");
        assertUsage(bench("nsa", "--repeat", "0"), "--repeat >= 1");
    }

    /** Without a GPU the command refuses to run (exit 2) and says why, before drawing any input. */
    @Test
    void nsaBenchNeedsAGpu() {
        org.junit.jupiter.api.Assumptions.assumeFalse(dev.nsa4j.kernels.GpuAvailability.check().available(),
                "this machine has a GPU");
        RunCommandTest.Result r = bench("nsa", "--shapes", "1,64", "--heads", "4", "--kv-heads", "2", "--dk", "32",
                "--dv", "32");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("GPU"), r.err());
    }

    @Test
    void selectionBenchArgumentsAreCheckedBeforeAnyGpuWork() {
        assertUsage(bench("selection", "--shapes", "4"), "--shapes '4'", "(B,S)");
        assertUsage(bench("selection", "--paths", "sel-kernel,flash"), "--paths: 'flash' is not one of");
        assertUsage(bench("selection", "--shapes", "1,64 1,128", "--indices", "x.bin"), "--indices holds the blocks of one shape");
        assertUsage(bench("selection", "--n-sel", "2"), "n >= 3");
        assertUsage(bench("selection", "--dtype", "fp32"), "--dtype fp32 is not bf16 or fp16");
        org.junit.jupiter.api.Assumptions.assumeFalse(dev.nsa4j.kernels.GpuAvailability.check().available(),
                "this machine has a GPU");
        assertUsage(bench("selection", "--shapes", "1,64", "--heads", "4", "--kv-heads", "2"),
                "nsa bench selection needs a GPU");
    }

    @Test
    void thresholdSweepsAreChecked() {
        assertUsage(bench("thresholds", "--heads", "16"), "--heads: '16' is not H,Hkv");
        assertUsage(bench("thresholds", "--heads", "16,5"), "H = 16 is not a multiple of Hkv = 5");
        assertUsage(bench("thresholds", "--lengths", "16,0"), "must be >= 1");
        assertUsage(bench("thresholds", "--cmp", "32"), "--cmp", "is not L,D");
    }
}
