package dev.nsa4j.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.attention.GateOverride;
import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.attention.NsaResult;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.oracle.NsaBackward;
import dev.nsa4j.oracle.NsaOracle;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import dev.nsa4j.tensor.Npy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code nsa grad} (CPU): the files it writes, equal to the library's backward, and its errors. */
class GradCommandTest {
    private static final String[] SHAPE = {"--shape", "2,24,4,2,8,6", "--block-len", "4", "--stride", "2",
        "--sel-block", "4", "--n-sel", "3", "--window", "6", "--seed", "9"};

    @TempDir
    Path tmp;

    private static String[] with(String[] base, String... extra) {
        String[] all = new String[base.length + extra.length + 1];
        all[0] = "grad";
        System.arraycopy(base, 0, all, 1, base.length);
        System.arraycopy(extra, 0, all, 1 + base.length, extra.length);
        return all;
    }

    @Test
    void writesTheInputsAndEveryGradientEqualToTheLibrarysBackward() throws IOException {
        Path out = tmp.resolve("g");
        RunCommandTest.Result r = RunCommandTest.cli(with(SHAPE, "--out", out.toString()));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("on the CPU oracle (fp64)"), r.out());
        assertTrue(r.out().contains("d_gates"), r.out());
        for (String f : new String[] {"o", "indices", "grad_o", "q", "k_cmp", "gates", "dq", "dk_cmp", "dv_cmp",
            "dk_sel", "dv_sel", "dk_win", "dv_win", "d_gates"}) {
            assertTrue(Files.exists(out.resolve(f + ".npy")), f);
        }
        assertFalse(Files.exists(out.resolve("phi_k_w1.npy")), "no mlp weights for phi = avg");
        // the library on the files the command wrote gives the gradients it wrote
        NsaConfig cfg = NsaConfig.builder().heads(4).kvGroups(2).headDims(8, 6).blockLen(4).stride(2).selBlock(4)
                .nSel(3).window(6).build();
        NsaInputs in = NsaInputs.builder().q(npy(out, "q")).cmp(npy(out, "k_cmp"), npy(out, "v_cmp"))
                .sel(npy(out, "k_sel"), npy(out, "v_sel")).win(npy(out, "k_win"), npy(out, "v_win"))
                .gates(npy(out, "gates")).build();
        NsaResult fwd = new NsaOracle(cfg).forward(in, DType.FP32, GateOverride.NONE);
        assertArrayEquals(fwd.indexArray(), Npy.read(out.resolve("indices.npy")).toIntArray());
        NsaBackward.Gradients g = new NsaBackward(cfg, null).backward(in, fwd.indices(), npy(out, "grad_o"));
        assertArrayEquals(HostTensor.of(DType.FP32, g.dq(), 2, 24, 4, 8).toDoubleArray(),
                npy(out, "dq").toDoubleArray(), 0.0);
        assertArrayEquals(HostTensor.of(DType.FP32, g.dkCmp(), 2, 24, 2, 8).toDoubleArray(),
                npy(out, "dk_cmp").toDoubleArray(), 0.0);
        assertArrayEquals(new int[] {2, 24, 4, 3}, npy(out, "d_gates").shape().dims());
    }

    @Test
    void mlpWritesItsWeightsAndTheirGradients() throws IOException {
        Path out = tmp.resolve("m");
        RunCommandTest.Result r = RunCommandTest.cli(with(SHAPE, "--phi", "mlp", "--out", out.toString()));
        assertEquals(0, r.code(), r.err());
        for (String side : new String[] {"phi_k", "phi_v"}) {
            for (String w : new String[] {"pos", "w1", "b1", "w2", "b2"}) {
                assertTrue(Files.exists(out.resolve(side + "_" + w + ".npy")), side + "_" + w);
                assertTrue(Files.exists(out.resolve("d_" + side + "_" + w + ".npy")), "d_" + side + "_" + w);
            }
        }
        assertArrayEquals(new int[] {4, 6}, npy(out, "phi_v_pos").shape().dims());
        assertArrayEquals(new int[] {8, 4 * 8}, npy(out, "d_phi_k_w1").shape().dims());   // hidden = Dk
    }

    @Test
    void aGradOfTheWrongShapeIsRefusedAndNothingIsWritten() throws IOException {
        Path bad = tmp.resolve("bad.npy");
        Npy.write(bad, HostTensor.zeros(DType.FP32, 2, 24, 4, 5));
        Path out = tmp.resolve("none");
        RunCommandTest.Result r = RunCommandTest.cli(with(SHAPE, "--grad-o", bad.toString(), "--out",
                out.toString()));
        assertEquals(2, r.code(), r.out());
        assertTrue(r.err().contains("grad_o") && r.err().contains("o's shape"), r.err());
        assertFalse(Files.exists(out.resolve("dq.npy")));
        Path given = tmp.resolve("go.npy");
        Npy.write(given, HostTensor.zeros(DType.FP32, 2, 24, 4, 6));
        RunCommandTest.Result z = RunCommandTest.cli(with(SHAPE, "--grad-o", given.toString(), "--out",
                out.toString()));
        assertEquals(0, z.code(), z.err());
        for (double v : npy(out, "dq").toDoubleArray()) {
            assertEquals(0.0, v, "grad_o = 0 gives dq = 0");
        }
    }

    private static HostTensor npy(Path dir, String name) throws IOException {
        return Npy.read(dir.resolve(name + ".npy"), DType.FP32);
    }
}
