package dev.nsa4j.nsa;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.kernels.GpuSuite;
import dev.nsa4j.oracle.NsaBackward;
import dev.nsa4j.oracle.PhiWeights;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The reference GPU backward (decisions D43, {@link GpuReferenceBackward}) against the oracle's fp64 backward
 * ({@link NsaBackward}) for the GPU forward's chosen blocks: every gradient (q, each branch's k and v, the gates)
 * within MAE 1e-5 and a max-abs bound of 100x that, no NaN / Inf, bitwise the same on a second run (no atomics); fp32,
 * fp16 and bf16 inputs; h 1, 4 and 16 query heads per group; lengths 1, 63, 64, 65 and 1000 and a varlen batch with an
 * empty sequence; Dk != Dv; a gate override; phi = mlp (the MLP parameters' gradients too).
 */
@Tag("gpu")
class GpuReferenceBackwardGpuTest extends GpuSuite {
    /** (name, H, G, Dk, Dv, l, d, l', n, w, extra flags, lengths). */
    static Stream<Arguments> cases() {
        return Stream.of(
                c("h = 1, length 1", 2, 2, 32, 32, 8, 4, 16, 4, 16, new String[0], 1),
                c("h = 4, lengths 63 / 64 / 65", 8, 2, 64, 64, 16, 8, 16, 5, 32, new String[0], 63, 64, 65),
                c("h = 16, Dk 128, length 1000", 32, 2, 128, 128, 32, 16, 64, 8, 128, new String[0], 1000),
                c("Dk 192 != Dv 128, varlen with an empty sequence", 8, 2, 192, 128, 16, 8, 32, 4, 64, new String[0],
                        40, 0, 97),
                c("the paper's blocks, h = 4", 8, 2, 64, 64, 32, 16, 64, 16, 512, new String[0], 300),
                c("NSA_FORCE_BRANCH=sel", 4, 2, 32, 32, 8, 4, 16, 4, 16, new String[] {"NSA_FORCE_BRANCH", "sel"},
                        50, 20),
                GpuDecodeGpuTest.mlp(c("phi = mlp, varlen with a sequence shorter than l", 4, 2, 16, 16, 8, 4, 16, 4,
                        32, new String[0], 5, 0, 61)),
                GpuDecodeGpuTest.mlp(c("phi = mlp, Dk != Dv", 8, 2, 64, 32, 16, 8, 32, 5, 24, new String[0], 130)));
    }

    private static Arguments c(String name, int h, int g, int dk, int dv, int l, int d, int lp, int n, int w,
                               String[] extra, int... lens) {
        NsaConfig cfg = NsaConfig.builder().heads(h).kvGroups(g).headDims(dk, dv).blockLen(l).stride(d).selBlock(lp)
                .nSel(n).window(w).build();
        return Arguments.of(name, cfg, extra, lens);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void everyGradientMatchesTheOracle(String name, NsaConfig cfg, String[] extra, int[] lens) {
        for (DType dt : new DType[] {DType.FP32, DType.FP16, DType.BF16}) {
            Random rnd = new Random(name.hashCode() * 31L + dt.ordinal());
            NsaInputs in = DecodeBatch.random(cfg, dt, lens, rnd).inputs();
            PhiWeights phi = DecodeBatch.phi(cfg);
            try (NsaAttention nsa = PipelineModes.MASKED.open(cfg, phi, extra)) {
                NsaOutput fwd = nsa.forward(in, DType.FP32);
                HostTensor go = dev.nsa4j.kernels.GpuFixture.random(rnd, DType.FP32, -1, 1,
                        fwd.result().o().shape().dims());
                NsaGradients want = nsa.backward(in, fwd, go);
                NsaGradients got = nsa.backwardOnGpuReference(in, fwd, go);
                NsaGradients again = nsa.backwardOnGpuReference(in, fwd, go);
                assertEquals(NsaAttention.BACKWARD_GPU_REFERENCE, got.path());
                String at = name + " " + dt;
                NsaBackward.Gradients w = want.fp64(), g = got.fp64(), a = again.fp64();
                double[][] ws = {w.dq(), w.dkCmp(), w.dvCmp(), w.dkSel(), w.dvSel(), w.dkWin(), w.dvWin(), w.dGates()};
                double[][] gs = {g.dq(), g.dkCmp(), g.dvCmp(), g.dkSel(), g.dvSel(), g.dkWin(), g.dvWin(), g.dGates()};
                double[][] as = {a.dq(), a.dkCmp(), a.dvCmp(), a.dkSel(), a.dvSel(), a.dkWin(), a.dvWin(), a.dGates()};
                String[] names = {"dq", "dk_cmp", "dv_cmp", "dk_sel", "dv_sel", "dk_win", "dv_win", "d_gates"};
                for (int i = 0; i < names.length; i++) {
                    DecodeBatch.assertClose(ws[i], gs[i], 1e-5, at + ": " + names[i]);
                    assertArrayEquals(gs[i], as[i], at + ": " + names[i] + " bitwise repeatable");
                }
                if (phi != null) {
                    mlp(w.phiK(), g.phiK(), a.phiK(), at + ": phi_k");
                    mlp(w.phiV(), g.phiV(), a.phiV(), at + ": phi_v");
                }
            }
        }
    }

    /** Each MLP parameter's gradient within MAE 1e-5 of the oracle's, and bitwise repeatable. */
    private static void mlp(NsaBackward.MlpGrads want, NsaBackward.MlpGrads got, NsaBackward.MlpGrads again,
                            String at) {
        double[][] w = {want.pos(), want.w1(), want.b1(), want.w2(), want.b2()};
        double[][] g = {got.pos(), got.w1(), got.b1(), got.w2(), got.b2()};
        double[][] a = {again.pos(), again.w1(), again.b1(), again.w2(), again.b2()};
        String[] names = {"pos", "w1", "b1", "w2", "b2"};
        for (int i = 0; i < names.length; i++) {
            DecodeBatch.assertClose(w[i], g[i], 1e-5, at + " " + names[i]);
            assertArrayEquals(g[i], a[i], at + " " + names[i] + " bitwise repeatable");
        }
    }
}
