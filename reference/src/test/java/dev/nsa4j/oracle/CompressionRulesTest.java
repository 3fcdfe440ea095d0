package dev.nsa4j.oracle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.attention.NsaResult;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.testutil.BruteForce;
import dev.nsa4j.testutil.Configs;
import dev.nsa4j.testutil.NsaCase;
import dev.nsa4j.tensor.DType;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

/** the NSA spec (docs/nsa-spec.md) "Compression branch": S_cmp, visibility i·d + l − 1 <= t, avg, empty rows give 0 and lse −inf. */
class CompressionRulesTest {

    @ParameterizedTest(name = "S_cmp(S={0}; l={1}, d={2}) = {3}")
    @CsvSource({
        "0, 4, 2, 0", "3, 4, 2, 0", "4, 4, 2, 1", "5, 4, 2, 1", "6, 4, 2, 2", "7, 4, 2, 2", "8, 4, 2, 3",
        "31, 32, 16, 0", "32, 32, 16, 1", "47, 32, 16, 1", "48, 32, 16, 2", "100, 32, 16, 5", "1, 1, 1, 1",
        "10, 1, 1, 10", "17, 8, 8, 2", "64, 16, 8, 7"
    })
    void compressedCountFollowsTheSpecFormula(int s, int l, int d, int expected) {
        NsaConfig cfg = Configs.of(1, 1, 1, 1, l, d, Math.max(l, 32), 3, 1);
        assertEquals(expected, cfg.compressedLen(s), "S_cmp(S) = 0 if S < l, else floor((S - l)/d) + 1");
        assertEquals(expected, BruteForce.compressedCount(s, l, d), "test-side count by enumeration");
        if (s > 0) {
            assertEquals(expected, cfg.visibleCompressed(s - 1), "ncmp(t) = S_cmp(t + 1)");
        }
    }

    /**
     * l = 4, d = 2, keys 0 (uniform weights) and v_t = t, so o_cmp(t) is the plain mean of the visible
     * compressed values Ṽ_i = mean(v[2i .. 2i+3]) = 2i + 1.5, and lse = log(ncmp).
     */
    @Test
    void visibilityAndAverageByHand() {
        NsaConfig cfg = Configs.tiny(4, 2, 4, 3, 1, 1.0);
        NsaCase cs = NsaCase.zerosDense(cfg, DType.FP32, 1, 8);
        for (int t = 0; t < 8; t++) {
            cs.vCmp[t] = t;
            cs.q[t] = 1;
        }
        NsaResult r = new NsaOracle(cfg).forward(cs.inputs());
        double[] o = r.fp64(NsaResult.Output.O_CMP);
        double[] lse = r.fp64(NsaResult.Output.LSE_CMP);
        double[] expected = {0, 0, 0, 1.5, 1.5, 2.5, 2.5, 3.5};
        int[] ncmp = {0, 0, 0, 1, 1, 2, 2, 3};
        for (int t = 0; t < 8; t++) {
            assertEquals(expected[t], o[t], 1e-15, "o_cmp(t=" + t + "): mean of visible Ṽ_i (i·d + l − 1 <= t)");
            double lseExp = ncmp[t] == 0 ? Double.NEGATIVE_INFINITY : Math.log(ncmp[t]);
            assertEquals(lseExp, lse[t], 1e-15, "lse_cmp(t=" + t + ") = log(ncmp)");
        }
    }

    /** Scores pick out one compressed token: with a large scale the softmax puts its mass on the best key. */
    @Test
    void compressedKeysAreBlockMeansOfRawKeys() {
        NsaConfig cfg = Configs.tiny(2, 2, 2, 3, 1, 1.0);
        NsaCase cs = NsaCase.zerosDense(cfg, DType.FP32, 1, 4);
        double[] k = {1, 3, -1, 0.5};
        double[] v = {2, 4, 8, 16};
        for (int t = 0; t < 4; t++) {
            cs.kCmp[t] = k[t];
            cs.vCmp[t] = v[t];
            cs.q[t] = 0.75;
        }
        NsaResult r = new NsaOracle(cfg).forward(cs.inputs());
        // t = 3 sees K̃_0 = 2, K̃_1 = −0.25, Ṽ_0 = 3, Ṽ_1 = 12
        double a = Math.exp(0.75 * 2);
        double b = Math.exp(0.75 * -0.25);
        double expected = (a * 3 + b * 12) / (a + b);
        assertEquals(expected, r.fp64(NsaResult.Output.O_CMP)[3], 1e-14, "softmax over block-mean keys at t=3");
        assertEquals(Math.log(a + b), r.fp64(NsaResult.Output.LSE_CMP)[3], 1e-14, "lse_cmp at t=3");
        assertEquals(3.0, r.fp64(NsaResult.Output.O_CMP)[1], 1e-15, "t=1 sees only Ṽ_0 = mean(2, 4)");
    }

    static Stream<Arguments> shortSequences() {
        return Stream.of(Arguments.of(1, 4), Arguments.of(3, 4), Arguments.of(31, 32), Arguments.of(7, 8),
                Arguments.of(15, 16));
    }

    /** the NSA spec (docs/nsa-spec.md) edge case S < l: no compressed token; o_cmp = 0 and lse = −inf everywhere, never NaN. */
    @ParameterizedTest(name = "S={0} < l={1}")
    @MethodSource("shortSequences")
    void sequenceShorterThanBlockHasNoCompressedToken(int len, int l) {
        NsaConfig cfg = Configs.of(4, 2, 8, 6, l, l / 2, l, 3, 3);
        NsaCase cs = NsaCase.randomDense(cfg, DType.FP32, len, 2, len);
        NsaResult r = new NsaOracle(cfg).forward(cs.inputs());
        for (double x : r.fp64(NsaResult.Output.O_CMP)) {
            assertEquals(0.0, x, "o_cmp must be 0 when ncmp = 0");
        }
        for (double x : r.fp64(NsaResult.Output.LSE_CMP)) {
            assertEquals(Double.NEGATIVE_INFINITY, x, "lse_cmp must be -inf when ncmp = 0");
        }
        for (double x : r.fp64(NsaResult.Output.O)) {
            assertFalse(Double.isNaN(x), "o must never be NaN");
        }
        for (float x : r.lseCmp().toFloatArray()) {
            assertEquals(Float.NEGATIVE_INFINITY, x, "lse tensor keeps -inf in fp32");
        }
        BruteForceEquivalenceTest.assertMatchesReference(cs, r);
    }

    /** t < l − 1 in a longer sequence: those rows see nothing, the rest see something. */
    @Test
    void earlyRowsOfLongSequenceSeeNoCompressedToken() {
        NsaConfig cfg = Configs.of(2, 1, 4, 4, 16, 8, 16, 3, 4);
        NsaCase cs = NsaCase.randomDense(cfg, DType.FP32, 5, 1, 40);
        NsaResult r = new NsaOracle(cfg).forward(cs.inputs());
        double[] lse = r.fp64(NsaResult.Output.LSE_CMP);
        double[] o = r.fp64(NsaResult.Output.O_CMP);
        for (int t = 0; t < 40; t++) {
            for (int h = 0; h < 2; h++) {
                boolean empty = t < 15;
                assertEquals(empty, lse[t * 2 + h] == Double.NEGATIVE_INFINITY,
                        "t=" + t + ": lse_cmp is -inf exactly when t < l - 1");
                if (empty) {
                    for (int c = 0; c < 4; c++) {
                        assertEquals(0.0, o[(t * 2 + h) * 4 + c], "o_cmp(t=" + t + ") = 0");
                    }
                }
            }
        }
    }

    /** Huge scores (|q·k·scale| ~ 1e6) must not overflow: softmax with a running max, never NaN or inf. */
    @Test
    void hugeScoresStayFinite() {
        NsaConfig cfg = Configs.tiny(2, 1, 2, 3, 3, 1.0);
        NsaCase cs = NsaCase.zerosDense(cfg, DType.FP32, 1, 9);
        for (int t = 0; t < 9; t++) {
            cs.q[t] = 1000;
            cs.kCmp[t] = cs.kSel[t] = cs.kWin[t] = (t % 2 == 0 ? 1000 : -1000);
            cs.vCmp[t] = cs.vSel[t] = cs.vWin[t] = t;
            cs.gates[3 * t] = cs.gates[3 * t + 1] = cs.gates[3 * t + 2] = 1;
        }
        NsaResult r = new NsaOracle(cfg).forward(cs.inputs());
        for (NsaResult.Output out : new NsaResult.Output[] {NsaResult.Output.O, NsaResult.Output.O_CMP,
                NsaResult.Output.O_SEL, NsaResult.Output.O_WIN}) {
            for (double x : r.fp64(out)) {
                assertTrue(Double.isFinite(x), out + " must be finite with huge scores, got " + x);
            }
        }
        BruteForceEquivalenceTest.assertMatchesReference(cs, r);
    }
}
