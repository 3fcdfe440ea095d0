package dev.nsa4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.fa2.Fa2Attention;
import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.Shape;

import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code nsa bench decode}: its lists, config and counts are usage errors before any GPU work; no GPU, no run. */
class BenchDecodeCommandTest {
    static RunCommandTest.Result decode(String... args) {
        String[] all = new String[args.length + 2];
        all[0] = "bench";
        all[1] = "decode";
        System.arraycopy(args, 0, all, 2, args.length);
        return RunCommandTest.cli(all);
    }

    @Test
    void listsConfigAndCountsAreChecked() {
        BenchCommandTest.assertUsage(decode("--context", "2k,0"), "nsa bench decode", "--context: '0' is not a positive "
                + "integer (k = 1024 allowed, e.g. 128k)");
        BenchCommandTest.assertUsage(decode("--context", "2x"), "'2x' is not a positive integer");
        BenchCommandTest.assertUsage(decode("--batch", "0"), "--batch: B = 0 must be >= 1");
        BenchCommandTest.assertUsage(decode("--skip", "64"), "--skip '64' is not B,CTX");
        BenchCommandTest.assertUsage(decode("--paper", "--block-len", "32"), "--paper sets l = 32, d = 16");
        BenchCommandTest.assertUsage(decode("--paths", "nsa-graph,flash"), "--paths: 'flash' is not one of");
        BenchCommandTest.assertUsage(decode("--runs", "0"), "--runs >= 1");
        BenchCommandTest.assertUsage(decode("--dtype", "fp32"), "--dtype fp32 is not bf16 or fp16");
        BenchCommandTest.assertUsage(decode("--heads", "6", "--kv-heads", "4"), "heads");
    }

    @Test
    void contextsTakeAKSuffix() {
        assertEquals(List.of(2048, 131072, 1000), BenchDecodeCommand.parseContexts(
                new picocli.CommandLine(new BenchDecodeCommand()).getCommandSpec(), "--context",
                List.of("2k", "128K", "1000")));
    }

    /**
     * The dense FA-2 decode call the bench makes (host-only planning, fake addresses): launchable at every default
     * (B, ctx) on an SM 9.0 device, one query per sequence over ctx + 1 keys, split-KV where the grid is small.
     */
    @Test
    void denseDecodePlanIsLaunchableAtTheBenchShapes() {
        DeviceInfo h200 = new DeviceInfo(0, "NVIDIA H200", 9, 0, 132, 150_000_000_000L, 232448);
        for (int b : new int[] {1, 8, 64}) {
            for (int ctx : new int[] {2048, 8192, 16384, 65536, 131072}) {
                Fa2Attention.Plan p = DecodeBenchRun.densePlan(h200, t(0x10000000L, b, 1, 64, 128),
                        t(0x20000000L, b, ctx + 1, 4, 128), t(0x40000000L, b, ctx + 1, 4, 128),
                        t(0x80000000L, b, 1, 64, 128));
                assertTrue(p.launchable(), () -> "B=" + b + " ctx=" + ctx + ": " + p.verdict().reason());
                if (b == 1) {
                    assertTrue(p.splits() > 1, "B=1 ctx=" + ctx + ": split-KV expected, got " + p.splits());
                }
            }
        }
    }

    private static DeviceTensor t(long address, int... dims) {
        return DeviceTensor.wrap(address, DType.BF16, Shape.of(dims));
    }

    /** Without a GPU the command refuses to run (exit 2) and names the rule, before any work. */
    @Test
    void needsAGpu() {
        org.junit.jupiter.api.Assumptions.assumeFalse(dev.nsa4j.kernels.GpuAvailability.check().available(),
                "this machine has a GPU");
        BenchCommandTest.assertUsage(decode("--batch", "1", "--context", "256"), "nsa bench decode needs a GPU (the GPU "
                + "decoder and FA-2 run on CUDA only; the CPU decoder is nsa decode --device cpu)");
    }
}
