package dev.nsa4j.oracle;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.attention.GateOverride;
import dev.nsa4j.attention.NsaResult;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.config.Phi;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ForkJoinPool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The NSA layer: projections, rotary embedding, gates, output projection, overrides, decode, weights. */
class NsaLayerTest {
    private static final NsaConfig ATTN = NsaConfig.builder().heads(4).kvGroups(2).headDims(8, 6).blockLen(4)
            .stride(2).selBlock(8).nSel(3).window(5).build();
    private static final NsaLayerConfig LAYER = NsaLayerConfig.of(12, ATTN);

    private static HostTensor randomX(int b, int s, int dim, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        double[] v = new double[b * s * dim];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return HostTensor.of(DType.FP32, v, b, s, dim);
    }

    /** y = x·Wᵀ, written out longhand. */
    private static double[] linear(double[] x, int rows, int in, double[] w) {
        int out = w.length / in;
        double[] y = new double[rows * out];
        for (int r = 0; r < rows; r++) {
            for (int o = 0; o < out; o++) {
                double s = 0;
                for (int i = 0; i < in; i++) {
                    s += x[r * in + i] * w[o * in + i];
                }
                y[r * out + o] = s;
            }
        }
        return y;
    }

    /** Rotate-half RoPE, written independently: pairs (i, i + D/2) rotated by pos·base^(−2i/D). */
    private static void rope(double[] x, int rows, int heads, int dim, int posOfRow0, int seqLen) {
        for (int r = 0; r < rows; r++) {
            int pos = posOfRow0 + r % seqLen;
            for (int h = 0; h < heads; h++) {
                int o = (r * heads + h) * dim;
                double[] copy = Arrays.copyOfRange(x, o, o + dim);
                for (int i = 0; i < dim / 2; i++) {
                    double th = pos / Math.pow(10000.0, 2.0 * i / dim);
                    x[o + i] = copy[i] * Math.cos(th) - copy[i + dim / 2] * Math.sin(th);
                    x[o + i + dim / 2] = copy[i + dim / 2] * Math.cos(th) + copy[i] * Math.sin(th);
                }
            }
        }
    }

    @Test
    void forwardEqualsTheCompositionWrittenOut() {
        NsaLayerWeights w = NsaLayerWeights.random(LAYER, 7, 0);
        int s = 21;
        HostTensor x = randomX(1, s, 12, 3);
        NsaLayer.Output out = new NsaLayer(w).forward(x, null, GateOverride.NONE);

        double[] xd = x.toDoubleArray();
        Map<String, HostTensor> named = w.toNamedTensors();
        double[] q = linear(xd, s, 12, named.get("wq").toDoubleArray());
        double[][] kv = new double[6][];
        String[] names = {"wk_cmp", "wv_cmp", "wk_sel", "wv_sel", "wk_win", "wv_win"};
        for (int i = 0; i < 6; i++) {
            kv[i] = linear(xd, s, 12, named.get(names[i]).toDoubleArray());
        }
        rope(q, s, 4, 8, 0, s);
        for (int i = 0; i < 6; i += 2) {
            rope(kv[i], s, 2, 8, 0, s);
        }
        double[] gates = linear(xd, s, 12, named.get("wg").toDoubleArray());
        double[] bg = named.get("bg").toDoubleArray();
        for (int i = 0; i < gates.length; i++) {
            gates[i] = 1 / (1 + Math.exp(-(gates[i] + bg[i % bg.length])));
        }
        OracleCore.Batch batch = new OracleCore.Batch(new int[] {0, s}, q, kv[0], kv[1], kv[2], kv[3], kv[4], kv[5],
                gates, null);
        OracleCore.Result raw = new NsaOracle(ATTN).forwardRaw(batch, GateOverride.NONE);
        double[] y = linear(raw.o(), s, 4 * 6, named.get("wo").toDoubleArray());
        double[] got = out.y().toDoubleArray();
        for (int i = 0; i < y.length; i++) {
            assertEquals((float) y[i], got[i], 1e-6 * Math.max(1, Math.abs(y[i])), "y[" + i + "]");
        }
        assertArrayEquals(gates, out.gates().toDoubleArray(), 1e-7);
    }

    @Test
    void ropeKeepsNormsAndDependsOnlyOnRelativePosition() {
        SplittableRandom r = new SplittableRandom(1);
        double[] q = new double[8];
        double[] k = new double[8];
        for (int i = 0; i < 8; i++) {
            q[i] = r.nextDouble();
            k[i] = r.nextDouble();
        }
        double[] dots = new double[3];
        int[][] pairs = {{5, 2}, {13, 10}, {103, 100}};
        for (int p = 0; p < 3; p++) {
            double[] qq = q.clone();
            double[] kk = k.clone();
            Rope.rotate(qq, 0, 1, 8, pairs[p][0], 10000);
            Rope.rotate(kk, 0, 1, 8, pairs[p][1], 10000);
            dots[p] = Kernels.dot(qq, 0, kk, 0, 8);
            assertEquals(Kernels.dot(q, 0, q, 0, 8), Kernels.dot(qq, 0, qq, 0, 8), 1e-12);
        }
        assertEquals(dots[0], dots[1], 1e-12);
        assertEquals(dots[0], dots[2], 1e-12);
        double[] same = q.clone();
        Rope.rotate(same, 0, 1, 8, 0, 10000);
        assertArrayEquals(q, same, 0.0, "position 0 is the identity");
    }

    @ParameterizedTest
    @EnumSource(value = GateOverride.class, names = {"FORCE_CMP", "FORCE_SEL", "FORCE_WIN", "UNIFORM"})
    void gateOverridesMixTheBranchesAsTold(GateOverride override) {
        NsaLayerWeights w = NsaLayerWeights.random(LAYER, 9, 0);
        HostTensor x = randomX(2, 17, 12, 4);
        NsaResult a = new NsaLayer(w).forward(x, null, override).attention();
        double[] o = a.fp64(NsaResult.Output.O);
        double[] c = a.fp64(NsaResult.Output.O_CMP);
        double[] s = a.fp64(NsaResult.Output.O_SEL);
        double[] wi = a.fp64(NsaResult.Output.O_WIN);
        for (int i = 0; i < o.length; i++) {
            double want = switch (override) {
                case FORCE_CMP -> c[i];
                case FORCE_SEL -> s[i];
                case FORCE_WIN -> wi[i];
                default -> (c[i] + s[i] + wi[i]) / 3;
            };
            assertEquals(want, o[i], 1e-14, override + " at " + i);
        }
    }

    @ParameterizedTest(name = "gateHidden={0}")
    @ValueSource(ints = {0, 5})
    void layerDecodeStepsEqualTheLongerPrefill(int gateHidden) {
        NsaConfig attn = ATTN.toBuilder().phi(gateHidden > 0 ? Phi.MLP : Phi.AVG).build();
        NsaLayerConfig lc = new NsaLayerConfig(12, attn, 10000, gateHidden);
        NsaLayerWeights w = NsaLayerWeights.random(lc, 5, 6);
        NsaLayer layer = new NsaLayer(w, new ForkJoinPool(2));
        int s = 6;
        int k = 15;
        HostTensor all = randomX(2, s + k, 12, 8);
        double[] xa = all.toDoubleArray();
        NsaLayer.Output full = layer.forward(all, null, GateOverride.NONE);
        NsaLayer.Prefill pre = layer.prefill(slice(xa, 2, s + k, 0, s), null, GateOverride.NONE);
        double[] fullY = full.y().toDoubleArray();
        for (int step = 0; step < k; step++) {
            int t = s + step;
            NsaLayer.Output o = layer.step(pre.cache(), slice(xa, 2, s + k, t, t + 1), GateOverride.NONE);
            double[] y = o.y().toDoubleArray();
            for (int b = 0; b < 2; b++) {
                double[] want = Arrays.copyOfRange(fullY, (b * (s + k) + t) * 12, (b * (s + k) + t + 1) * 12);
                assertArrayEquals(want, Arrays.copyOfRange(y, b * 12, (b + 1) * 12), 0.0, "b=" + b + " t=" + t);
            }
            assertEquals(t + 1, pre.cache().length(1));
        }
    }

    private static HostTensor slice(double[] x, int b, int s, int from, int to) {
        int n = to - from;
        double[] v = new double[b * n * 12];
        for (int i = 0; i < b; i++) {
            System.arraycopy(x, (i * s + from) * 12, v, i * n * 12, n * 12);
        }
        return HostTensor.of(DType.FP32, v, b, n, 12);
    }

    @Test
    void varlenPositionsRestartAtEachSequence() {
        NsaLayerWeights w = NsaLayerWeights.random(LAYER, 2, 0);
        NsaLayer layer = new NsaLayer(w);
        int[] lens = {5, 0, 1, 13};
        int nnz = Arrays.stream(lens).sum();
        HostTensor x = randomX(1, nnz, 12, 6);
        double[] xd = x.toDoubleArray();
        int[] cu = new int[lens.length + 1];
        for (int i = 0; i < lens.length; i++) {
            cu[i + 1] = cu[i] + lens[i];
        }
        HostTensor xv = HostTensor.of(DType.FP32, xd, nnz, 12);
        double[] yv = layer.forward(xv, HostTensor.ofInts(cu, cu.length), GateOverride.NONE).y().toDoubleArray();
        assertEquals(nnz * 12, yv.length);
        for (int b = 0; b < lens.length; b++) {
            if (lens[b] == 0) {
                continue;
            }
            HostTensor one = HostTensor.of(DType.FP32, Arrays.copyOfRange(xd, cu[b] * 12, cu[b + 1] * 12), 1,
                    lens[b], 12);
            double[] y = layer.forward(one, null, GateOverride.NONE).y().toDoubleArray();
            assertArrayEquals(y, Arrays.copyOfRange(yv, cu[b] * 12, cu[b + 1] * 12), 0.0, "sequence " + b);
        }
    }

    @Test
    void outputsFollowTheDtypeOfX() {
        NsaLayerWeights w = NsaLayerWeights.random(LAYER, 2, 0);
        HostTensor x = randomX(1, 9, 12, 1).to(DType.BF16);
        NsaLayer.Output o = new NsaLayer(w).forward(x, null, GateOverride.NONE);
        assertEquals(DType.BF16, o.y().dtype());
        assertArrayEquals(new int[] {1, 9, 12}, o.y().shape().dims());
    }

    @Test
    void weightsRoundTripUnderTheirStableNames() {
        NsaLayerConfig lc = new NsaLayerConfig(12, ATTN.toBuilder().phi(Phi.MLP).build(), 500000, 7);
        NsaLayerWeights w = NsaLayerWeights.random(lc, 3, 0);
        Map<String, HostTensor> named = w.toNamedTensors();
        assertEquals(java.util.List.of("wq", "wk_cmp", "wv_cmp", "wk_sel", "wv_sel", "wk_win", "wv_win",
                "wg_hidden", "bg_hidden", "wg", "bg", "wo", "phi_k.pos", "phi_k.w1", "phi_k.b1", "phi_k.w2",
                "phi_k.b2", "phi_v.pos", "phi_v.w1", "phi_v.b1", "phi_v.w2", "phi_v.b2"),
                java.util.List.copyOf(named.keySet()));
        NsaLayerWeights back = NsaLayerWeights.of(lc, named);
        for (var e : back.toNamedTensors().entrySet()) {
            assertArrayEquals(named.get(e.getKey()).toDoubleArray(), e.getValue().toDoubleArray(), 0.0, e.getKey());
        }
        assertEquals(8, w.phi().k().hidden(), "phi hidden defaults to D");
    }

    @Test
    void badWeightsAreNamed() {
        Map<String, HostTensor> named = new LinkedHashMap<>(NsaLayerWeights.random(LAYER, 1, 0).toNamedTensors());
        Map<String, HostTensor> missing = new LinkedHashMap<>(named);
        missing.remove("wk_sel");
        NsaArgumentException e = assertThrows(NsaArgumentException.class, () -> NsaLayerWeights.of(LAYER, missing));
        assertEquals("wk_sel", e.subject());
        assertEquals("present", e.rule());

        Map<String, HostTensor> wrong = new LinkedHashMap<>(named);
        wrong.put("wo", HostTensor.zeros(DType.FP32, 12, 23));
        e = assertThrows(NsaArgumentException.class, () -> NsaLayerWeights.of(LAYER, wrong));
        assertEquals("wo", e.subject());
        assertTrue(e.rule().startsWith("shape"), e.rule());

        Map<String, HostTensor> extra = new LinkedHashMap<>(named);
        extra.put("phi_k.w1", HostTensor.zeros(DType.FP32, 2, 2));
        e = assertThrows(NsaArgumentException.class, () -> NsaLayerWeights.of(LAYER, extra));
        assertEquals("phi_k.w1", e.subject());

        NsaLayerConfig mlp = new NsaLayerConfig(12, ATTN.toBuilder().phi(Phi.MLP).build(), 10000, 0);
        e = assertThrows(NsaArgumentException.class, () -> NsaLayerWeights.of(mlp, named));
        assertEquals("phi_k.pos", e.subject());
    }

    @Test
    void badLayerInputIsNamed() {
        NsaLayer layer = new NsaLayer(NsaLayerWeights.random(LAYER, 1, 0));
        NsaArgumentException e = assertThrows(NsaArgumentException.class,
                () -> layer.forward(HostTensor.zeros(DType.FP32, 1, 4, 11), null, GateOverride.NONE));
        assertEquals("x", e.subject());
        e = assertThrows(NsaArgumentException.class,
                () -> layer.forward(HostTensor.zeros(DType.FP32, 4, 12), null, GateOverride.NONE));
        assertEquals("x", e.subject());
        e = assertThrows(NsaArgumentException.class, () -> layer.forward(HostTensor.zeros(DType.FP32, 4, 12),
                HostTensor.ofInts(new int[] {0, 5}, 2), GateOverride.NONE));
        assertEquals("cu_seqlens", e.subject());
        assertEquals("cu[B] == nnz", e.rule());
        e = assertThrows(NsaArgumentException.class, () -> new NsaLayerConfig(12,
                ATTN.toBuilder().headDims(7, 6).build(), 10000, 0));
        assertEquals("Dk even for rotary embedding", e.rule());
    }
}
