package dev.nsa4j.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.attention.GateOverride;
import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.oracle.NsaOracle;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import dev.nsa4j.tensor.Npy;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code nsa decode} on the CPU decoder: step j's output is row S + j of the oracle's forward over S + k tokens
 * (bitwise: the CPU decoder reuses the prefill loops), from random inputs and from .npy files, the reads line, and
 * the usage errors.
 */
class DecodeCommandTest {
    /** RunCommandTest's config (H=4 G=2 Dk=8 Dv=6 l=4 d=2 l'=4 n=3 w=5). */
    static final String[] CFG = {"--block-len", "4", "--stride", "2", "--sel-block", "4", "--n-sel", "3", "--window",
        "5"};
    static final String[] SHAPE = {"--heads", "4", "--kv-heads", "2", "--dk", "8", "--dv", "6"};

    @TempDir
    Path tmp;

    static RunCommandTest.Result decode(String... args) {
        List<String> a = new ArrayList<>(List.of("decode"));
        a.addAll(List.of(CFG));
        a.addAll(List.of(args));
        return RunCommandTest.cli(a.toArray(String[]::new));
    }

    static String[] with(String[] a, String... b) {
        List<String> l = new ArrayList<>(List.of(a));
        l.addAll(List.of(b));
        return l.toArray(String[]::new);
    }

    @Test
    void cpuStepsAreTheRowsOfTheLongerForward() throws IOException {
        Path out = tmp.resolve("out");
        RunCommandTest.Result r = decode(with(SHAPE, "--device", "cpu", "--batch", "2", "--prefill", "20", "--steps",
                "6", "--seed", "3", "--out", out.toString()));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("on the CPU (NsaDecoder: requested)"), r.out());
        assertTrue(r.out().contains("shape: B=2 prefill S=20 steps k=6 H=4 G=2 Dk=8 Dv=6"), r.out());
        assertTrue(r.out().contains("steps: 6 CPU steps; median "), r.out());
        assertTrue(r.out().contains("tokens/s (B·k / wall)"), r.out());
        // t = 25: ncmp = (26 - 4) / 2 + 1 = 12 per group; cur = 6 > n - 1: 2·4 + (25 % 4 + 1) = 10; window 5
        assertTrue(r.out().contains("reads of the last step (t = 25), per sequence: compressed 24, selected 20, window 10"),
                r.out());
        assertTrue(r.out().contains("counted by the CPU decoder (DecodeReads); the closed form gives the same at every "
                + "step"), r.out());
        HostTensor o = Npy.read(out.resolve("o.npy"), DType.FP32);
        assertArrayEquals(new int[] {2, 6, 4, 6}, o.shape().dims());
        NsaConfig cfg = RunCommandTest.CFG;
        NsaInputs all = RandomInputs.draw(new ShapeSpec(2, 26, 4, 2, 8, 6), DType.FP32, 3);
        HostTensor want = new NsaOracle(cfg).forward(all, DType.FP32, GateOverride.NONE).o();
        assertArrayEquals(DecodeInputs.tokens(want, 20, 6).toDoubleArray(), o.toDoubleArray());
    }

    @Test
    void npyInputsArePrefillThenStepsAndMatchNsaRun() throws IOException {
        NsaInputs in = RunCommandTest.inputs(7, 1, 15);
        Path dir = RunCommandTest.save(tmp.resolve("in"), in);
        Path got = tmp.resolve("got");
        RunCommandTest.Result r = decode("--device", "cpu", "--inputs", dir.toString(), "--prefill", "10", "--out",
                got.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("shape: B=1 prefill S=10 steps k=5 H=4 G=2 Dk=8 Dv=6"), r.out());
        Path ran = tmp.resolve("ran");
        RunCommandTest.Result run = RunCommandTest.cli(RunCommandTest.args("--inputs", dir.toString(), "--out",
                ran.toString()));
        assertEquals(0, run.code(), run.err());
        HostTensor full = Npy.read(ran.resolve("o.npy"), DType.FP32);
        assertArrayEquals(DecodeInputs.tokens(full, 10, 5).toDoubleArray(),
                Npy.read(got.resolve("o.npy"), DType.FP32).toDoubleArray());
        // --steps alone: the prefill is the rest
        RunCommandTest.Result k3 = decode("--device", "cpu", "--inputs", dir.toString(), "--steps", "3");
        assertEquals(0, k3.code(), k3.err());
        assertTrue(k3.out().contains("prefill S=12 steps k=3"), k3.out());
    }

    @Test
    void mlpAndLowPrecisionDecodeOnTheCpu() {
        RunCommandTest.Result r = decode(with(SHAPE, "--device", "cpu", "--phi", "mlp", "--dtype", "bf16", "--prefill",
                "9", "--steps", "3"));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("phi=mlp"), r.out());
        assertTrue(r.out().contains("nsa decode: random inputs, seed 0, bf16, on the CPU"), r.out());
    }

    @Test
    void usageErrorsAreNamedBeforeAnyWork() throws IOException {
        BenchCommandTest.assertUsage(decode(with(SHAPE, "--steps", "0")), "--prefill and --steps must be >= 1");
        BenchCommandTest.assertUsage(decode("--heads", "6", "--kv-heads", "4"), "H % G == 0");
        BenchCommandTest.assertUsage(decode(with(SHAPE, "--device", "cpu", "--graph")),
                "--graph replays a CUDA graph: it needs the GPU decoder (this run is on the CPU)");
        BenchCommandTest.assertUsage(decode(with(SHAPE, "--dtype", "int32")), "'int32' is not fp32, fp16 or bf16");
        Path dir = RunCommandTest.save(tmp.resolve("in"), RunCommandTest.inputs(8, 1, 6));
        BenchCommandTest.assertUsage(decode("--inputs", dir.toString(), "--batch", "2"),
                "come from the .npy files with --inputs");
        BenchCommandTest.assertUsage(decode("--device", "cpu", "--inputs", dir.toString(), "--prefill", "4", "--steps",
                "3"), "S + k <= T = 6");
        NsaInputs dense = RunCommandTest.inputs(9, 7);
        NsaInputs varlen = NsaInputs.builder().q(dense.q()).cmp(dense.kCmp(), dense.vCmp())
                .sel(dense.kSel(), dense.vSel()).win(dense.kWin(), dense.vWin()).gates(dense.gates())
                .cuSeqlens(HostTensor.ofInts(new int[] {0, 3, 7}, 3)).build();
        Path vdir = RunCommandTest.save(tmp.resolve("varlen"), varlen);
        BenchCommandTest.assertUsage(decode("--device", "cpu", "--inputs", vdir.toString()), "cu_seqlens",
                "nsa decode takes a dense [B,T,...] call");
    }

    @Test
    void contiguousPrefixHoldsTheSameTokensAsTheView() {
        NsaInputs all = RandomInputs.draw(new ShapeSpec(3, 11, 4, 2, 8, 6), DType.BF16, 1);
        DecodeInputs in = DecodeInputs.of(all);
        NsaInputs view = in.prefix(7), copy = in.contiguousPrefix(7);
        assertTrue(copy.q().isContiguous() && copy.kWin().isContiguous() && copy.gates().isContiguous());
        assertArrayEquals(view.q().toDoubleArray(), copy.q().toDoubleArray());
        assertArrayEquals(view.vSel().toDoubleArray(), copy.vSel().toDoubleArray());
        assertArrayEquals(view.gates().toDoubleArray(), copy.gates().toDoubleArray());
        assertArrayEquals(new int[] {3, 7, 2, 6}, copy.vCmp().shape().dims());
        assertArrayEquals(in.token(9).kCmp().toDoubleArray(), DecodeInputs.copyTokens(all.kCmp(), 9, 1).toDoubleArray());
    }

    @Test
    void helpListsDecode() {
        RunCommandTest.Result r = RunCommandTest.cli("--help");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("decode   Prefill B sequences of S tokens"), r.out());
        RunCommandTest.Result bench = RunCommandTest.cli("bench", "--help");
        assertTrue(bench.out().contains("decode (the NSA decode step"), bench.out());
    }
}
