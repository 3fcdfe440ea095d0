package dev.nsa4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.nsa4j.bench.report.MaskText;
import dev.nsa4j.kernels.Mask;
import dev.nsa4j.kernels.GpuAvailability;
import dev.nsa4j.kernels.TestShard;
import dev.nsa4j.parity.ParityAssert;
import dev.nsa4j.parity.ParityHarness;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import dev.nsa4j.tensor.Npy;
import dev.nsa4j.tensor.Shape;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@code nsa attend} on the GPU paths {@code sdpa} and {@code sdpa-masked} against its {@code cpu} path on the
 * same dtype-rounded inputs, through the parity harness (MAE < 1e-5 on the fp32 outputs, no NaN/Inf; lse with
 * matched -inf). Skips without a usable GPU; {@code NSA_REQUIRE_GPU=1} turns the skip into a failure.
 */
@Tag("gpu")
@ExtendWith(TestShard.class)
class AttendGpuTest {
    @TempDir
    Path tmp;

    @BeforeAll
    static void assumeGpu() {
        GpuAvailability a = GpuAvailability.check();
        String req = System.getProperty("nsa.require.gpu", System.getenv("NSA_REQUIRE_GPU"));
        if (!a.available() && req != null && List.of("1", "true", "yes", "on").contains(req.toLowerCase(Locale.ROOT))) {
            fail("NSA_REQUIRE_GPU is set but the GPU path is unavailable: " + a.reason());
        }
        assumeTrue(a.available(), () -> "GPU unavailable: " + a.reason());
    }

    static Stream<Arguments> matrix() {
        List<Mask> masks = List.of(Mask.NONE, Mask.CAUSAL, MaskText.checkedWindow(17), MaskText.checkedBlockCausal(16, 8));
        List<Arguments> all = Stream.of(AttendPath.SDPA, AttendPath.SDPA_MASKED).flatMap(p -> masks.stream().flatMap(m ->
                Stream.of(DType.FP32, DType.FP16, DType.BF16).map(d -> Arguments.of(p, m, d)))).toList();
        return TestShard.cases(all);
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("matrix")
    void gpuPathsMatchTheCpuPath(AttendPath path, Mask mask, DType dtype) {
        ShapeSpec s = ShapeSpec.parse("2,130,8,2,64,48", ShapeSpec.ATTEND_FORMAT);
        int sk = mask instanceof Mask.BlockCausal b ? (int) MaskText.compressedLen(b, 130) : 130;
        AttendInputs in = AttendInputs.random(s, sk, 11).cast(dtype);
        assertParity(path + " " + MaskText.describe(mask) + " " + dtype, in, mask, path);
    }

    @Test
    void varlenWithEmptyAndKeylessSequences() {
        int[] cuQ = {0, 0, 1, 70, 140, 141};
        int[] cuK = {0, 3, 3, 90, 90, 200};
        Random r = new Random(3);
        HostTensor q = HostTensor.of(DType.FP32, r.doubles(141 * 4 * 32, -1, 1).toArray(), 141, 4, 32);
        HostTensor k = HostTensor.of(DType.FP32, r.doubles(200 * 4 * 32, -1, 1).toArray(), 200, 4, 32);
        HostTensor v = HostTensor.of(DType.FP32, r.doubles(200 * 4 * 16, -1, 1).toArray(), 200, 4, 16);
        AttendInputs in = new AttendInputs(q, k, v, cuQ, cuK, true, -1, -1);
        for (Mask m : List.of(Mask.NONE, Mask.CAUSAL, MaskText.checkedWindow(5), MaskText.checkedBlockCausal(4, 2))) {
            for (AttendPath p : List.of(AttendPath.SDPA, AttendPath.SDPA_MASKED)) {
                assertParity("varlen " + p + " " + MaskText.describe(m), in, m, p);
            }
        }
    }

    static void assertParity(String what, AttendInputs in, Mask mask, AttendPath path) {
        double scale = 1 / Math.sqrt(in.dk());
        AttendOutput cpu = AttendCommand.compute(AttendPath.CPU, in, mask, scale);
        AttendOutput gpu = AttendCommand.compute(path, in, mask, scale);
        ParityAssert.assertParity(List.of(
                ParityHarness.outputs().compare(what + " o", path.id(), gpu.o(), "cpu", cpu.o()),
                ParityHarness.lse().compare(what + " lse", path.id(), gpu.lse(), "cpu", cpu.lse())));
    }

    @Test
    void commandWritesTheGpuPathsOutputsAndSaysSo() throws IOException {
        Path in = tmp.resolve("in");
        RunCommandTest.Result r = AttendCommandTest.cli("--random", "1,100,4,4,64,64", "--inputs", in.toString(),
                "--causal", "--out", tmp.resolve("gpu").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("route: attention -> sdpa-masked (default where a GPU can serve the call)"), r.out());
        RunCommandTest.Result c = AttendCommandTest.cli("--inputs", in.toString(), "--causal", "--path", "cpu",
                "--out", tmp.resolve("cpu").toString());
        assertEquals(0, c.code(), c.err());
        for (String f : List.of("o", "lse")) {
            HostTensor g = Npy.read(tmp.resolve("gpu").resolve(f + ".npy"));
            HostTensor h = Npy.read(tmp.resolve("cpu").resolve(f + ".npy"));
            ParityAssert.assertParity(ParityHarness.lse().compare(f, "sdpa-masked", g, "cpu", h));
        }
        assertTrue(Files.exists(in.resolve("q.npy")));
        assertEquals(Shape.of(1, 100, 4, 64), Npy.read(tmp.resolve("gpu/o.npy")).shape());
    }

    static Stream<Arguments> fa2Matrix() {
        List<Mask> masks = List.of(Mask.NONE, Mask.CAUSAL, MaskText.checkedWindow(17), MaskText.checkedBlockCausal(16, 8));
        List<Arguments> all = masks.stream().flatMap(m -> Stream.of(DType.FP16, DType.BF16).map(d -> Arguments.of(m, d)))
                .toList();
        return TestShard.cases(all);
    }

    /** Path fa2 in exact-P mode against the fp64 CPU path on the same rounded inputs; FA-2 must really run. */
    @ParameterizedTest(name = "fa2 {0} {1}")
    @MethodSource("fa2Matrix")
    void fa2PathMatchesTheCpuPath(Mask mask, DType dtype) {
        ShapeSpec s = ShapeSpec.parse("2,130,8,2,64,64", ShapeSpec.ATTEND_FORMAT);
        int sk = mask instanceof Mask.BlockCausal b ? (int) MaskText.compressedLen(b, 130) : 130;
        AttendInputs in = AttendInputs.random(s, sk, 13).cast(dtype);
        double scale = 1 / Math.sqrt(in.dk());
        AttendOutput cpu = AttendCommand.compute(AttendPath.CPU, in, mask, scale);
        GpuAttention.Fa2Result r = GpuAttention.runFa2(in, mask, scale, true, dev.nsa4j.nsa.Flags.defaults());
        assertFalse(r.outcome().fellBack(), r.outcome().reason());
        String what = "fa2 " + MaskText.describe(mask) + " " + dtype;
        ParityAssert.assertParity(List.of(
                ParityHarness.outputs().compare(what + " o", "fa2", r.output().o(), "cpu", cpu.o()),
                ParityHarness.lse().compare(what + " lse", "fa2", r.output().lse(), "cpu", cpu.lse())));
    }

    @Test
    void fa2CommandSaysWhatRanAndWhy() {
        RunCommandTest.Result ok = AttendCommandTest.cli("--random", "1,100,4,4,64,64", "--causal", "--path", "fa2",
                "--dtype", "bf16");
        assertEquals(0, ok.code(), ok.err());
        assertTrue(ok.out().contains("route: attention -> fa2 (requested, fast mode (P rounded once))"), ok.out());
        RunCommandTest.Result fp32 = AttendCommandTest.cli("--random", "1,100,4,4,64,64", "--causal", "--path", "fa2");
        assertEquals(0, fp32.code(), fp32.err());
        assertTrue(fp32.out().contains("route: attention -> sdpa-masked (fa2 blocked: dtype: "), fp32.out());
    }
}
