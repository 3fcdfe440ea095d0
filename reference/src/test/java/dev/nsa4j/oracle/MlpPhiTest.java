package dev.nsa4j.oracle;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.nsa4j.attention.NsaResult;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.config.Phi;
import dev.nsa4j.testutil.Close;
import dev.nsa4j.testutil.NsaCase;
import dev.nsa4j.tensor.DType;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** the NSA spec (docs/nsa-spec.md) phi = mlp: K̃ = W2·SiLU(W1·vec(block + P) + b1) + b2, separate weights for K and V. */
class MlpPhiTest {

    /**
     * The averaging MLP: P = 0, hidden = 2D, W1 = [A; −A] with A the block mean, W2 = [I, −I], zero biases.
     * SiLU(x) − SiLU(−x) = x, so it computes exactly the mean.
     */
    static CompressionMlp averagingMlp(int l, int dim) {
        int in = l * dim;
        int hidden = 2 * dim;
        double[] w1 = new double[hidden * in];
        double[] w2 = new double[dim * hidden];
        for (int c = 0; c < dim; c++) {
            for (int r = 0; r < l; r++) {
                w1[c * in + r * dim + c] = 1.0 / l;
                w1[(dim + c) * in + r * dim + c] = -1.0 / l;
            }
            w2[c * hidden + c] = 1;
            w2[c * hidden + dim + c] = -1;
        }
        return CompressionMlp.ofArrays(l, dim, hidden, new double[in], w1, new double[hidden], w2, new double[dim]);
    }

    static Stream<Arguments> shapes() {
        return Stream.of(Arguments.of(4, 2, 8, 8, 6, 40), Arguments.of(8, 4, 8, 4, 12, 65),
                Arguments.of(1, 1, 1, 6, 6, 9), Arguments.of(16, 8, 16, 16, 8, 33));
    }

    @ParameterizedTest(name = "l={0},d={1},l''={2},Dk={3},Dv={4},S={5}")
    @MethodSource("shapes")
    void averagingMlpEqualsAvg(int l, int d, int lp, int dk, int dv, int len) {
        NsaConfig avg = NsaConfig.builder().heads(4).kvGroups(2).headDims(dk, dv).blockLen(l).stride(d).selBlock(lp)
                .nSel(3).window(7).build();
        NsaConfig mlp = avg.toBuilder().phi(Phi.MLP).build();
        NsaCase cs = NsaCase.randomDense(avg, DType.FP32, len + l, 1, len);
        NsaResult a = new NsaOracle(avg).forward(cs.inputs());
        PhiWeights w = new PhiWeights(averagingMlp(l, dk), averagingMlp(l, dv));
        NsaResult m = new NsaOracle(mlp, w, ForkJoinPool.commonPool()).forward(cs.inputs());
        for (NsaResult.Output out : NsaResult.Output.values()) {
            Close.assertAllClose(a.fp64(out), m.fp64(out), 1e-12, "phi = averaging mlp vs avg: " + out);
        }
        assertArrayEquals(a.indexArray(), m.indexArray(), "same chosen blocks with the averaging mlp");
    }

    private static double silu(double x) {
        return x / (1 + Math.exp(-x));
    }

    /**
     * l = d = l' = 2, D = 1, hidden = 1. K: P = 0, W1 = [1, 1], W2 = [1], so K̃ = SiLU(k0 + k1).
     * V: P = [0.5, −0.5], W1 = [1, 2], b1 = 0.1, W2 = [3], b2 = −1, so Ṽ = 3·SiLU(v0 + 0.5 + 2(v1 − 0.5) + 0.1) − 1.
     */
    @Test
    void tinyMlpByHand() {
        NsaConfig cfg = NsaConfig.builder().heads(1).kvGroups(1).headDim(1).blockLen(2).stride(2).selBlock(2)
                .nSel(3).window(1).scale(1.0).phi(Phi.MLP).build();
        CompressionMlp k = CompressionMlp.ofArrays(2, 1, 1, new double[] {0, 0}, new double[] {1, 1},
                new double[] {0}, new double[] {1}, new double[] {0});
        CompressionMlp v = CompressionMlp.ofArrays(2, 1, 1, new double[] {0.5, -0.5}, new double[] {1, 2},
                new double[] {0.1}, new double[] {3}, new double[] {-1});
        NsaCase cs = NsaCase.zerosDense(cfg, DType.FP32, 1, 4);
        double[] kk = {1, 0.5, -2, 0.25};
        double[] vv = {0.25, 0.75, -0.5, 1.5};
        for (int t = 0; t < 4; t++) {
            cs.q[t] = 1;
            cs.kCmp[t] = kk[t];
            cs.vCmp[t] = vv[t];
        }
        NsaResult r = new NsaOracle(cfg, new PhiWeights(k, v), ForkJoinPool.commonPool()).forward(cs.inputs());
        double v0 = 3 * silu(0.75 + 2 * 0.25 + 0.1) - 1;
        double v1 = 3 * silu(0 + 2 * 1.0 + 0.1) - 1;
        double k0 = silu(1.5);
        double k1 = silu(-1.75);
        double[] o = r.fp64(NsaResult.Output.O_CMP);
        assertEquals(0.0, o[0], "t=0 sees no compressed token");
        assertEquals(v0, o[1], 1e-14, "t=1 sees Ṽ_0 only");
        assertEquals(v0, o[2], 1e-14, "t=2 sees Ṽ_0 only");
        double e0 = Math.exp(k0);
        double e1 = Math.exp(k1);
        assertEquals((e0 * v0 + e1 * v1) / (e0 + e1), o[3], 1e-14, "t=3: softmax over the mlp keys");
        assertEquals(Math.log(e0 + e1), r.fp64(NsaResult.Output.LSE_CMP)[3], 1e-14, "lse_cmp at t=3");
    }

    /** CompressionMlp.of takes torch.nn.Linear layouts and reads the same numbers as ofArrays. */
    @Test
    void tensorFactoryMatchesArrayFactory() {
        CompressionMlp a = averagingMlp(4, 3);
        CompressionMlp t = CompressionMlp.of("phi_k", 4, 3,
                dev.nsa4j.tensor.HostTensor.of(DType.FP32, a.weight("pos"), 4, 3),
                dev.nsa4j.tensor.HostTensor.of(DType.FP32, a.weight("w1"), 6, 12),
                dev.nsa4j.tensor.HostTensor.of(DType.FP32, a.weight("b1"), 6),
                dev.nsa4j.tensor.HostTensor.of(DType.FP32, a.weight("w2"), 3, 6),
                dev.nsa4j.tensor.HostTensor.of(DType.FP32, a.weight("b2"), 3));
        assertEquals(6, t.hidden(), "hidden from w1");
        for (String name : new String[] {"pos", "w1", "b1", "w2", "b2"}) {
            assertArrayEquals(a.weight(name), t.weight(name), 0.0, name);
        }
    }
}
