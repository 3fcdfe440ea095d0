package dev.nsa4j.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.attention.GateOverride;
import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.attention.NsaResult;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.oracle.NsaOracle;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import dev.nsa4j.tensor.Npy;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunCommandTest {
    static final NsaConfig CFG = NsaConfig.builder().heads(4).kvGroups(2).headDims(8, 6).blockLen(4).stride(2)
            .selBlock(4).nSel(3).window(5).build();
    static final String[] CFG_ARGS = {"--block-len", "4", "--stride", "2", "--sel-block", "4", "--n-sel", "3",
            "--window", "5", "--device", "cpu"};

    @TempDir
    Path tmp;

    record Result(int code, String out, String err) {}

    static Result cli(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = NsaCli.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Result(code, out.toString(), err.toString());
    }

    /** {@code nsa NAME ARGS}. */
    static Result subcommand(String name, String... args) {
        String[] all = new String[args.length + 1];
        all[0] = name;
        System.arraycopy(args, 0, all, 1, args.length);
        return cli(all);
    }

    static String[] args(String... extra) {
        List<String> a = new ArrayList<>(List.of("run"));
        a.addAll(List.of(CFG_ARGS));
        a.addAll(List.of(extra));
        return a.toArray(String[]::new);
    }

    static HostTensor random(Random r, DType dt, int... dims) {
        HostTensor t = HostTensor.zeros(dt, dims);
        double[] v = new double[(int) t.numel()];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextDouble() * 2 - 1;
        }
        t.copyFrom(v);
        return t;
    }

    /** Dense [B,S,...] (tokens = {B, S}) or varlen [nnz,...] (tokens = {nnz}) inputs. */
    static NsaInputs inputs(long seed, int... tokens) {
        Random r = new Random(seed);
        HostTensor gates = random(r, DType.FP32, cat(tokens, 4, 3));
        gates.copyFrom(java.util.Arrays.stream(gates.toDoubleArray()).map(Math::abs).toArray());
        return NsaInputs.builder().q(random(r, DType.FP32, cat(tokens, 4, 8)))
                .cmp(random(r, DType.FP32, cat(tokens, 2, 8)), random(r, DType.FP32, cat(tokens, 2, 6)))
                .sel(random(r, DType.FP32, cat(tokens, 2, 8)), random(r, DType.FP32, cat(tokens, 2, 6)))
                .win(random(r, DType.FP32, cat(tokens, 2, 8)), random(r, DType.FP32, cat(tokens, 2, 6)))
                .gates(gates).build();
    }

    static int[] cat(int[] a, int... b) {
        int[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    static Path save(Path dir, NsaInputs in) throws IOException {
        Files.createDirectories(dir);
        Npy.write(dir.resolve("q.npy"), in.q());
        Npy.write(dir.resolve("k_cmp.npy"), in.kCmp());
        Npy.write(dir.resolve("v_cmp.npy"), in.vCmp());
        Npy.write(dir.resolve("k_sel.npy"), in.kSel());
        Npy.write(dir.resolve("v_sel.npy"), in.vSel());
        Npy.write(dir.resolve("k_win.npy"), in.kWin());
        Npy.write(dir.resolve("v_win.npy"), in.vWin());
        Npy.write(dir.resolve("gates.npy"), in.gates());
        if (in.cuSeqlens() != null) {
            Npy.write(dir.resolve("cu_seqlens.npy"), in.cuSeqlens());
        }
        if (in.indices() != null) {
            Npy.write(dir.resolve("indices.npy"), in.indices());
        }
        return dir;
    }

    static void assertMatchesOracle(NsaInputs in, Path out) throws IOException {
        NsaResult want = new NsaOracle(CFG).forward(in, DType.FP32, GateOverride.NONE);
        assertArrayEquals(want.o().toDoubleArray(), Npy.read(out.resolve("o.npy"), DType.FP32).toDoubleArray());
        assertArrayEquals(want.oCmp().toDoubleArray(), Npy.read(out.resolve("o_cmp.npy"), DType.FP32).toDoubleArray());
        assertArrayEquals(want.oSel().toDoubleArray(), Npy.read(out.resolve("o_sel.npy"), DType.FP32).toDoubleArray());
        assertArrayEquals(want.oWin().toDoubleArray(), Npy.read(out.resolve("o_win.npy"), DType.FP32).toDoubleArray());
        HostTensor idx = Npy.read(out.resolve("indices.npy"), DType.INT32);
        assertArrayEquals(want.indices().shape().dims(), idx.shape().dims());
        assertArrayEquals(want.indices().toIntArray(), idx.toIntArray());
    }

    /** -v/--verbose (one mixin in every command that has it) adds the stack trace to a usage error. */
    @Test
    void verboseAddsTheStackTraceInEveryCommandThatHasIt() {
        String[][] bad = {{"run", "--shape", "1,2"}, {"attend", "--random", "1,4,1,1,4,4", "--scale", "-1"},
                {"routing", "--head-dim", "0"}, {"doctor", "--device", "cpu"}};
        for (String[] b : bad) {
            Result quiet = cli(b);
            assertEquals(2, quiet.code(), quiet.err());
            assertFalse(quiet.err().contains("\tat "), () -> String.join(" ", b) + ": " + quiet.err());
            // before the bad value: picocli stops parsing at the first error
            String[] withV = Stream.concat(Stream.of(b[0], "--verbose"), Stream.of(b).skip(1)).toArray(String[]::new);
            Result loud = cli(withV);
            assertEquals(2, loud.code(), loud.err());
            assertTrue(loud.err().contains("\tat "), () -> String.join(" ", withV) + ": " + loud.err());
            assertTrue(cli(b[0], "--help").out().contains("NSA-LOG lines on stderr"), b[0]);
        }
    }

    @Test
    void runsNpyInputsAndWritesTheOraclesOutputs() throws IOException {
        NsaInputs in = inputs(1, 2, 13);
        Path dir = save(tmp.resolve("in"), in);
        Path out = tmp.resolve("out");
        Result r = cli(args("--inputs", dir.toString(), "--out", out.toString()));
        assertEquals(0, r.code(), r.err());
        assertMatchesOracle(in, out);
        assertTrue(r.out().contains("shape: B=2 S=13 H=4 G=2 Dk=8 Dv=6"), r.out());
        assertTrue(r.out().contains("route cmp: cpu (requested)"), r.out());
        assertTrue(r.out().contains("route win: cpu (requested)"), r.out());
        assertTrue(r.out().contains("wrote o.npy, indices.npy, o_cmp.npy, o_sel.npy, o_win.npy"), r.out());
        assertEquals("", r.err());
        assertNoTempLeft();
    }

    @Test
    void varlenThroughCuSeqlens() throws IOException {
        NsaInputs dense = inputs(2, 14);
        NsaInputs in = NsaInputs.builder().q(dense.q()).cmp(dense.kCmp(), dense.vCmp()).sel(dense.kSel(), dense.vSel())
                .win(dense.kWin(), dense.vWin()).gates(dense.gates())
                .cuSeqlens(HostTensor.ofInts(new int[] {0, 5, 5, 6, 14}, 5)).build();
        Path out = tmp.resolve("out");
        Result r = cli(args("--inputs", save(tmp.resolve("in"), in).toString(), "--out", out.toString()));
        assertEquals(0, r.code(), r.err());
        assertMatchesOracle(in, out);
        assertTrue(r.out().contains("shape: varlen B=4 nnz=14"), r.out());
    }

    @Test
    void callerIndicesAreUsed() throws IOException {
        NsaInputs base = inputs(3, 1, 9);
        int[] idx = new int[9 * 2 * 3];
        java.util.Arrays.fill(idx, -1);
        for (int i = 0; i < idx.length; i += 3) {
            idx[i] = 0;
        }
        NsaInputs in = NsaInputs.builder().q(base.q()).cmp(base.kCmp(), base.vCmp()).sel(base.kSel(), base.vSel())
                .win(base.kWin(), base.vWin()).gates(base.gates()).indices(HostTensor.ofInts(idx, 1, 9, 2, 3)).build();
        Path out = tmp.resolve("out");
        Result r = cli(args("--inputs", save(tmp.resolve("in"), in).toString(), "--out", out.toString()));
        assertEquals(0, r.code(), r.err());
        assertArrayEquals(idx, Npy.read(out.resolve("indices.npy")).toIntArray());
        assertMatchesOracle(in, out);
    }

    @Test
    void missingFileIsNamed() throws IOException {
        Path dir = save(tmp.resolve("in"), inputs(4, 1, 8));
        Files.delete(dir.resolve("k_sel.npy"));
        Path out = tmp.resolve("out");
        Result r = cli(args("--inputs", dir.toString(), "--out", out.toString()));
        assertEquals(2, r.code());
        assertTrue(r.err().contains(dir.resolve("k_sel.npy") + ": rule 'file exists' broken: no such file"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertFalse(Files.exists(out));
        assertNoTempLeft();

        Result noDir = cli(args("--inputs", tmp.resolve("nope").toString()));
        assertEquals(2, noDir.code());
        assertTrue(noDir.err().contains("no such directory"), noDir.err());
    }

    @Test
    void wrongShapeNamesTheTensorExpectedAndActual() throws IOException {
        NsaInputs in = inputs(5, 1, 8);
        Path dir = save(tmp.resolve("in"), in);
        Npy.write(dir.resolve("k_win.npy"), random(new Random(0), DType.FP32, 1, 8, 2, 7));
        Result r = cli(args("--inputs", dir.toString()));
        assertEquals(2, r.code());
        assertTrue(r.err().contains("k_win: rule 'shape [B,S,G,Dk]' broken: expected [1, 8, 2, 8]"), r.err());
        assertTrue(r.err().contains("got [1, 8, 2, 7]"), r.err());

        Npy.write(dir.resolve("k_win.npy"), in.kWin());
        Npy.write(dir.resolve("q.npy"), random(new Random(0), DType.FP32, 8, 4, 8));
        Result rank = cli(args("--inputs", dir.toString()));
        assertEquals(2, rank.code());
        assertTrue(rank.err().contains("q.npy is 3-D [8, 4, 8], expected 4-D [B,S,H,Dk]"), rank.err());
    }

    @Test
    void wrongDtypeNamesTheFile() throws IOException {
        NsaInputs in = inputs(6, 1, 8);
        Path dir = save(tmp.resolve("in"), in);
        Npy.write(dir.resolve("gates.npy"), in.gates().to(DType.FP16));
        Result r = cli(args("--inputs", dir.toString()));
        assertEquals(2, r.code());
        assertTrue(r.err().contains(dir.resolve("gates.npy") + ": rule 'dtype float32 ('<f4')' broken: "
                + "expected float32 ('<f4'), got float16 ('<f2')"), r.err());

        Npy.write(dir.resolve("gates.npy"), in.gates());
        Npy.write(dir.resolve("cu_seqlens.npy"), HostTensor.ofFloats(new float[] {0, 8}, 2));
        Result cu = cli(args("--inputs", dir.toString()));
        assertEquals(2, cu.code());
        assertTrue(cu.err().contains("cu_seqlens.npy: rule 'dtype int32 ('<i4')' broken"), cu.err());
    }

    @Test
    void shapeParseErrors() {
        String[][] cases = {
            {"1,2,3", "expected 6 comma-separated positive integers B,S,H,G,Dk,Dv"},
            {"1,a,4,2,8,8", "S = 'a' is not an integer"},
            {"1,0,4,2,8,8", "S = 0 must be positive"},
            {"1,8,4,3,8,8", "H = 4 is not a multiple of G = 3"},
            {"", "expected 6 comma-separated"},
        };
        for (String[] c : cases) {
            Result r = cli(args("--shape", c[0]));
            assertEquals(2, r.code(), c[0]);
            assertTrue(r.err().startsWith("nsa run: Invalid value for option '--shape': "), r.err());
            assertTrue(r.err().contains(c[1]), r.err());
        }
    }

    @Test
    void usageErrors() throws IOException {
        Result unknown = cli("run", "--bogus");
        assertEquals(2, unknown.code());
        assertTrue(unknown.err().contains("Unknown option: '--bogus'"), unknown.err());
        Path dir = save(tmp.resolve("in"), inputs(7, 1, 8));
        Result both = cli(args("--inputs", dir.toString(), "--shape", "1,8,4,2,8,6"));
        assertEquals(2, both.code());
        assertTrue(both.err().contains("--shape cannot be combined with --inputs"), both.err());
        assertEquals(2, cli("run", "--phi", "max").code());
        assertEquals(2, cli("run", "--dtype", "int32").code());
        assertEquals(2, cli("run", "--device", "tpu").code());
        Result gpu = cli("run", "--device", "gpu", "--shape", "1,8,4,2,8,8");
        dev.nsa4j.kernels.GpuAvailability here = dev.nsa4j.kernels.GpuAvailability.check();
        if (here.available()) {
            assertEquals(0, gpu.code(), gpu.err());
            assertTrue(gpu.out().contains("route sel: sdpa-packed"), gpu.out());
        } else {
            assertEquals(2, gpu.code());
            assertTrue(gpu.err().contains("rule 'GPU paths available'") && gpu.err().contains(here.reason())
                    && gpu.err().contains("--device cpu"), gpu.err());
        }
        Result cfg = cli("run", "--shape", "1,8,4,2,8,8", "--stride", "3");
        assertEquals(2, cfg.code());
        assertTrue(cfg.err().contains("config.stride"), cfg.err());
        Files.writeString(tmp.resolve("file"), "x");
        assertEquals(2, cli(args("--shape", "1,8,4,2,8,8", "--out", tmp.resolve("file").toString())).code());
        assertEquals(2, cli().code());
        assertEquals(0, cli("version").code());
    }

    @Test
    void randomRunsInEveryDtypeAndPhi() {
        for (String dt : new String[] {"fp32", "fp16", "bf16"}) {
            Result r = cli(args("--shape", "2,9,4,2,8,6", "--dtype", dt, "--seed", "3"));
            assertEquals(0, r.code(), r.err());
            assertTrue(r.out().contains("random inputs, seed 3, " + dt), r.out());
            assertTrue(r.out().contains("route sel: cpu (requested)"), r.out());
            assertTrue(r.out().matches("(?s).*time: [0-9.]+ ms \\([0-9.e+-]+ GFLOP, [0-9.e+-]+ GFLOP/s; [0-9]+ cores\\).*"), r.out());
        }
        Result mlp = cli(args("--shape", "1,9,4,2,8,6", "--phi", "mlp"));
        assertEquals(0, mlp.code(), mlp.err());
        assertTrue(mlp.out().contains("phi=mlp"), mlp.out());
    }

    @Test
    void outIsAllOrNothing() throws IOException {
        NsaInputs in = inputs(8, 1, 8);
        Path dir = save(tmp.resolve("in"), in);
        Path out = tmp.resolve("out");
        Files.createDirectories(out);
        Files.writeString(out.resolve("o.npy"), "old o");
        Files.writeString(out.resolve("notes.txt"), "keep me");
        Files.createDirectory(out.resolve("o_sel.npy"));
        Result r = cli(args("--inputs", dir.toString(), "--out", out.toString()));
        assertEquals(1, r.code());
        assertTrue(r.err().contains("o_sel.npy exists and is not a regular file"), r.err());
        assertEquals("old o", Files.readString(out.resolve("o.npy")));
        assertEquals("keep me", Files.readString(out.resolve("notes.txt")));
        try (Stream<Path> s = Files.list(out)) {
            assertEquals(3, s.count());
        }
        assertNoTempLeft();

        // an input error leaves the existing output untouched
        Files.delete(out.resolve("o_sel.npy"));
        Files.delete(dir.resolve("gates.npy"));
        assertEquals(2, cli(args("--inputs", dir.toString(), "--out", out.toString())).code());
        assertEquals("old o", Files.readString(out.resolve("o.npy")));

        // a good run replaces the outputs and keeps other files
        Npy.write(dir.resolve("gates.npy"), in.gates());
        assertEquals(0, cli(args("--inputs", dir.toString(), "--out", out.toString())).code());
        assertMatchesOracle(in, out);
        assertEquals("keep me", Files.readString(out.resolve("notes.txt")));
        assertNoTempLeft();
    }

    @Test
    void atomicOutputRollsBackWhenAMoveFails() throws IOException {
        Path out = tmp.resolve("o2");
        Files.createDirectories(out);
        Files.writeString(out.resolve("a.npy"), "old a");
        java.util.Map<String, HostTensor> files = new java.util.LinkedHashMap<>();
        files.put("a", HostTensor.ofFloats(new float[] {1}, 1));
        files.put("b", HostTensor.zeros(DType.BF16, 1)); // Npy refuses bf16: fails while writing the temp dir
        assertTrue(assertThrowsAny(() -> AtomicOutput.write(out, files)));
        assertEquals("old a", Files.readString(out.resolve("a.npy")));
        assertFalse(Files.exists(out.resolve("b.npy")));
        assertNoTempLeft();
    }

    private static boolean assertThrowsAny(org.junit.jupiter.api.function.Executable e) {
        try {
            e.execute();
            return false;
        } catch (Throwable t) {
            return true;
        }
    }

    private void assertNoTempLeft() throws IOException {
        try (Stream<Path> s = Files.list(tmp)) {
            List<String> left = s.map(p -> p.getFileName().toString()).filter(n -> n.contains(".tmp-")).toList();
            assertTrue(left.isEmpty(), left.toString());
        }
    }
}
