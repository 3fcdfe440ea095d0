package dev.nsa4j.oracle;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.nsa4j.attention.GateOverride;
import dev.nsa4j.attention.NsaResult;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.testutil.Close;
import dev.nsa4j.testutil.Configs;
import dev.nsa4j.testutil.NsaCase;
import dev.nsa4j.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/** the NSA spec (docs/nsa-spec.md) "Sliding-window branch", the selection branch's causal cut, and "Combination", by hand. */
class WindowAndGateTest {

    /** Keys 0 make every weight equal: o_win(t) is the mean of v over [max(0, t − w + 1), t]. */
    @ParameterizedTest(name = "w={0}")
    @ValueSource(ints = {1, 2, 3, 5, 9, 20})
    void windowIsMeanOverItsBandWithZeroKeys(int w) {
        NsaConfig cfg = Configs.tiny(2, 1, 2, 3, w, 1.0);
        int len = 9;
        NsaCase cs = NsaCase.zerosDense(cfg, DType.FP32, 1, len);
        for (int t = 0; t < len; t++) {
            cs.vWin[t] = t * t;
            cs.q[t] = 1;
        }
        NsaResult r = new NsaOracle(cfg).forward(cs.inputs());
        double[] o = r.fp64(NsaResult.Output.O_WIN);
        double[] lse = r.fp64(NsaResult.Output.LSE_WIN);
        for (int t = 0; t < len; t++) {
            int lo = Math.max(0, t - w + 1);
            double sum = 0;
            for (int s = lo; s <= t; s++) {
                sum += (double) s * s;
            }
            int count = t - lo + 1;
            assertEquals(sum / count, o[t], 1e-13, "o_win(t=" + t + ") over [" + lo + ", " + t + "]");
            assertEquals(Math.log(count), lse[t], 1e-14, "lse_win(t=" + t + ") = log(min(w, t + 1))");
        }
    }

    /** w = 1: each query sees only itself. */
    @Test
    void windowOfOneIsOwnValue() {
        NsaConfig cfg = Configs.of(2, 2, 4, 3, 2, 1, 2, 3, 1);
        NsaCase cs = NsaCase.randomDense(cfg, DType.FP32, 3, 1, 11);
        NsaResult r = new NsaOracle(cfg).forward(cs.inputs());
        double[] o = r.fp64(NsaResult.Output.O_WIN);
        for (int t = 0; t < 11; t++) {
            for (int h = 0; h < 2; h++) {
                for (int c = 0; c < 3; c++) {
                    assertEquals(cs.vWin[(t * 2 + h) * 3 + c], o[(t * 2 + h) * 3 + c], 0.0,
                            "w=1: o_win(t) = v_win(t), head " + h);
                }
            }
        }
    }

    /**
     * l' = 4, n = 3, S = 6: both blocks are always chosen and keys are 0, so o_sel(t) is the mean of v over
     * tokens 0..t: the current block counts only up to t.
     */
    @Test
    void selectionAttendsOnlyUpToTheQuery() {
        NsaConfig cfg = Configs.tiny(2, 2, 4, 3, 1, 1.0);
        NsaCase cs = NsaCase.zerosDense(cfg, DType.FP32, 1, 6);
        for (int t = 0; t < 6; t++) {
            cs.vSel[t] = 10 * t;
        }
        NsaResult r = new NsaOracle(cfg).forward(cs.inputs());
        double[] o = r.fp64(NsaResult.Output.O_SEL);
        for (int t = 0; t < 6; t++) {
            assertEquals(10.0 * t / 2, o[t], 1e-13, "o_sel(t=" + t + ") = mean of v_sel[0..t]");
        }
    }

    /** o = g_cmp·o_cmp + g_sel·o_sel + g_win·o_win with each head's own gates (hand-picked gates). */
    @Test
    void gatesCombineBranchesPerHead() {
        NsaConfig cfg = Configs.of(2, 1, 4, 2, 2, 1, 2, 3, 2);
        NsaCase cs = NsaCase.randomDense(cfg, DType.FP32, 9, 1, 5);
        double[][] g = {{1, 0, 0}, {0, 0.25, 0.75}};
        for (int t = 0; t < 5; t++) {
            for (int h = 0; h < 2; h++) {
                for (int c = 0; c < 3; c++) {
                    cs.gates[(t * 2 + h) * 3 + c] = g[h][c];
                }
            }
        }
        NsaResult r = new NsaOracle(cfg).forward(cs.inputs());
        double[] o = r.fp64(NsaResult.Output.O);
        double[] oc = r.fp64(NsaResult.Output.O_CMP);
        double[] os = r.fp64(NsaResult.Output.O_SEL);
        double[] ow = r.fp64(NsaResult.Output.O_WIN);
        for (int t = 0; t < 5; t++) {
            for (int h = 0; h < 2; h++) {
                for (int c = 0; c < 2; c++) {
                    int i = (t * 2 + h) * 2 + c;
                    double expected = g[h][0] * oc[i] + g[h][1] * os[i] + g[h][2] * ow[i];
                    assertEquals(expected, o[i], 1e-15, "o(t=" + t + ", head=" + h + ") with that head's gates");
                }
            }
        }
        BruteForceEquivalenceTest.assertMatchesReference(cs, r);
    }

    /** Gate overrides replace the gates; the branch outputs stay the same. */
    @ParameterizedTest(name = "{0}")
    @EnumSource(GateOverride.class)
    void gateOverridesReplaceTheGates(GateOverride override) {
        NsaConfig cfg = Configs.of(4, 2, 4, 4, 4, 2, 4, 3, 3);
        NsaCase cs = NsaCase.randomDense(cfg, DType.FP32, 21, 1, 19);
        NsaResult base = new NsaOracle(cfg).forward(cs.inputs());
        NsaResult r = new NsaOracle(cfg).forward(cs.inputs(), null, override);
        double[] oc = base.fp64(NsaResult.Output.O_CMP);
        double[] os = base.fp64(NsaResult.Output.O_SEL);
        double[] ow = base.fp64(NsaResult.Output.O_WIN);
        Close.assertBitwise(oc, r.fp64(NsaResult.Output.O_CMP), "override leaves o_cmp");
        Close.assertBitwise(os, r.fp64(NsaResult.Output.O_SEL), "override leaves o_sel");
        Close.assertBitwise(ow, r.fp64(NsaResult.Output.O_WIN), "override leaves o_win");
        double[] o = r.fp64(NsaResult.Output.O);
        for (int i = 0; i < o.length; i++) {
            int gi = (i / 4) * 3;
            double expected = switch (override) {
                case NONE -> cs.gates[gi] * oc[i] + cs.gates[gi + 1] * os[i] + cs.gates[gi + 2] * ow[i];
                case FORCE_CMP -> oc[i];
                case FORCE_SEL -> os[i];
                case FORCE_WIN -> ow[i];
                case UNIFORM -> (oc[i] + os[i] + ow[i]) / 3;
            };
            assertEquals(expected, o[i], 1e-14, override + " at flat index " + i);
        }
    }
}
