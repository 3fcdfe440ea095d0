package dev.nsa4j.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.bench.report.DecodeBenchCsv;
import dev.nsa4j.bench.report.DecodeBenchRow;
import dev.nsa4j.bench.report.NsaBenchConfig;
import dev.nsa4j.kernels.GpuFixture;
import dev.nsa4j.kernels.TestShard;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.Npy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code nsa decode --device gpu} against {@code --device cpu} on the same inputs (fp32: K̃ stays fp32 on the GPU, so
 * the decoders agree within MAE 1e-5), the graph replay bitwise equal to the eager steps, and {@code nsa bench
 * decode} on a small shape: every path of every row measured, a peer's rows joined, CSV, Markdown and PNG written.
 */
@Tag("gpu")
@ExtendWith(TestShard.class)
class DecodeGpuTest {
    /** H=8 G=2 Dk=Dv=64, l=32 d=16 l'=64 n=16 w=512 (nsa decode's defaults): steps cross blocks and pages. */
    static final String[] SHAPE = {"--batch", "3", "--prefill", "300", "--steps", "70", "--seed", "5"};

    @TempDir
    Path tmp;

    static RunCommandTest.Result decode(Path out, String... args) {
        String[] all = new String[args.length + SHAPE.length + 3];
        all[0] = "decode";
        System.arraycopy(SHAPE, 0, all, 1, SHAPE.length);
        System.arraycopy(args, 0, all, 1 + SHAPE.length, args.length);
        all[all.length - 2] = "--out";
        all[all.length - 1] = out.toString();
        return RunCommandTest.cli(all);
    }

    @Test
    void gpuStepsMatchTheCpuDecoderAndTheGraphMatchesEagerSteps() throws IOException {
        GpuFixture.assumeGpu();
        RunCommandTest.Result gpu = decode(tmp.resolve("gpu"), "--device", "gpu", "--dtype", "fp32");
        assertEquals(0, gpu.code(), gpu.err());
        assertTrue(gpu.out().contains("on the GPU (NsaGpuDecoder on "), gpu.out());
        assertTrue(gpu.out().contains("steps: 70 eager device-API steps; median "), gpu.out());
        assertTrue(gpu.out().contains("from the NSA spec's reads formula at each sequence's position"), gpu.out());
        RunCommandTest.Result graph = decode(tmp.resolve("graph"), "--device", "gpu", "--dtype", "fp32", "--graph");
        assertEquals(0, graph.code(), graph.err());
        assertTrue(graph.out().contains("steps: 70 graph replays"), graph.out());
        RunCommandTest.Result cpu = decode(tmp.resolve("cpu"), "--device", "cpu", "--dtype", "fp32");
        assertEquals(0, cpu.code(), cpu.err());
        // the same reads on both sides: the formula on the GPU, the CPU decoder's counts (equal to the formula)
        String reads = "reads over 70 steps x 3 sequences: ";
        assertEquals(line(cpu.out(), reads).split(";")[0], line(gpu.out(), reads).split(";")[0]);
        double[] g = Npy.read(tmp.resolve("gpu/o.npy"), DType.FP32).toDoubleArray();
        double[] c = Npy.read(tmp.resolve("cpu/o.npy"), DType.FP32).toDoubleArray();
        assertEquals(3 * 70 * 8 * 64, g.length);
        double mae = 0;
        for (int i = 0; i < g.length; i++) {
            mae += Math.abs(g[i] - c[i]);
        }
        mae /= g.length;
        assertTrue(mae < 1e-5, "MAE GPU vs CPU decoder " + mae);
        assertArrayEquals(g, Npy.read(tmp.resolve("graph/o.npy"), DType.FP32).toDoubleArray(), "graph vs eager");
        // bf16 caches: runs, finite
        RunCommandTest.Result bf = decode(tmp.resolve("bf16"), "--device", "gpu", "--dtype", "bf16", "--graph");
        assertEquals(0, bf.code(), bf.err());
        for (double v : Npy.read(tmp.resolve("bf16/o.npy"), DType.FP32).toDoubleArray()) {
            assertTrue(Double.isFinite(v));
        }
    }

    @Test
    void mlpGpuStepsMatchTheCpuDecoder() throws IOException {
        GpuFixture.assumeGpu();
        RunCommandTest.Result gpu = decode(tmp.resolve("mlp-gpu"), "--device", "gpu", "--dtype", "fp32", "--phi", "mlp",
                "--graph");
        assertEquals(0, gpu.code(), gpu.err());
        assertTrue(gpu.out().contains("on the GPU (NsaGpuDecoder on "), gpu.out());
        assertTrue(gpu.out().contains("phi=mlp"), gpu.out());
        RunCommandTest.Result cpu = decode(tmp.resolve("mlp-cpu"), "--device", "cpu", "--dtype", "fp32", "--phi", "mlp");
        assertEquals(0, cpu.code(), cpu.err());
        double[] g = Npy.read(tmp.resolve("mlp-gpu/o.npy"), DType.FP32).toDoubleArray();
        double[] c = Npy.read(tmp.resolve("mlp-cpu/o.npy"), DType.FP32).toDoubleArray();
        double mae = 0;
        for (int i = 0; i < g.length; i++) {
            mae += Math.abs(g[i] - c[i]);
        }
        assertTrue(mae / g.length < 1e-5, "MAE GPU vs CPU decoder, phi = mlp: " + mae / g.length);
    }

    @Test
    void benchDecodeMeasuresEveryPathAndJoinsAPeer() throws IOException {
        GpuFixture.assumeGpu();
        NsaBenchConfig c = new NsaBenchConfig("bf16", 8, 2, 64, 64, 64, 64, 64, 16, 512);
        Path peer = tmp.resolve("torch.csv");
        DecodeBenchCsv.write(peer, List.of(DecodeBenchRow.measured("torch", "flash", "some GPU", c, 2, 600, 600,
                new double[] {0.01, 0.011, 0.012}, 1, 1, 4000, "synthetic")));
        Path out = tmp.resolve("out");
        RunCommandTest.Result r = RunCommandTest.cli("bench", "decode", "--batch", "1,2", "--context", "600,2k",
                "--heads", "8", "--kv-heads", "2", "--dk", "64", "--dv", "64", "--warmup", "1", "--runs", "3",
                "--peer-csv", peer.toString(), "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        Path csv = out.resolve("decode-" + c.fileSuffix() + ".csv");
        List<DecodeBenchRow> rows = DecodeBenchCsv.read(csv);
        List<DecodeBenchRow> nsa = rows.stream().filter(x -> x.system().equals("nsa4j")).toList();
        assertEquals(2 * 2 * 3, nsa.size(), rows.toString());
        for (DecodeBenchRow x : nsa) {
            assertTrue(x.ok(), x.toString());
            assertTrue(x.medianMs() > 0 && x.hbmGbps() > 0, x.toString());   // a timing, not a speed target
            long expect = x.variant().equals("fa2-dense") ? x.batch() * (x.context() + 1L) * 2 * 128 * 2
                    : x.batch() * DecodeStepReads.kvBytes(dev.nsa4j.config.NsaConfig.builder().heads(8).kvGroups(2)
                    .headDim(64).blockLen(64).stride(64).selBlock(64).nSel(16).window(512).build(),
                    (int) x.position(), 2);
            assertEquals(expect, x.kvBytes(), x.toString());
        }
        assertEquals(1, rows.stream().filter(x -> x.system().equals("torch")).count());
        String md = Files.readString(out.resolve("decode-" + c.fileSuffix() + ".md"));
        assertTrue(md.contains("torch flash / graph"), md);
        assertTrue(Files.size(out.resolve("decode-" + c.fileSuffix() + ".png")) > 1000);
        assertTrue(r.out().contains("fa2/graph"), r.out());
        assertTrue(r.err().contains("[bench decode] B=2 ctx=2048"), r.err());
    }

    private static String line(String text, String prefix) {
        return text.lines().filter(l -> l.startsWith(prefix)).findFirst().orElseThrow(() -> new AssertionError(
                "no line '" + prefix + "' in:\n" + text));
    }
}
