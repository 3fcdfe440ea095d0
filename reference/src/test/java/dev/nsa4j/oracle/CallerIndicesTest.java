package dev.nsa4j.oracle;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.nsa4j.attention.NsaResult;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.testutil.Close;
import dev.nsa4j.testutil.Configs;
import dev.nsa4j.testutil.NsaCase;
import dev.nsa4j.tensor.DType;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** the NSA spec (docs/nsa-spec.md): callers may pass their own I; scoring is skipped and the given blocks are used as they are. */
class CallerIndicesTest {

    private static final NsaConfig CFG = Configs.of(4, 2, 8, 6, 4, 2, 4, 4, 3);
    private static final int LEN = 23; // 6 selection blocks

    /** Random indices in [−1, ceil(S/l')): unsorted, duplicated, past t; the brute force uses them as given. */
    @ParameterizedTest(name = "seed={0}")
    @ValueSource(longs = {1, 2, 3, 4})
    void randomIndicesAreUsedAsGiven(long seed) {
        NsaCase cs = NsaCase.randomDense(CFG, DType.FP32, seed, 2, LEN);
        SplittableRandom r = new SplittableRandom(seed);
        cs.indices = r.ints((long) cs.nnz() * CFG.kvGroups() * CFG.nSel(), -1, CFG.selBlocks(LEN)).toArray();
        NsaResult res = new NsaOracle(CFG).forward(cs.inputs());
        assertArrayEquals(cs.indices, res.indexArray(), "given indices are returned unchanged");
        BruteForceEquivalenceTest.assertMatchesReference(cs, res);
    }

    /** The given blocks replace the scored ones even where the scorer would choose otherwise. */
    @Test
    void scoringIsSkipped() {
        NsaCase cs = NsaCase.randomDense(CFG, DType.FP32, 11, 1, LEN);
        int[] computed = new NsaOracle(CFG).forward(cs.inputs()).indexArray();
        cs.indices = new int[computed.length];
        Arrays.fill(cs.indices, 5); // the last block only: never what the scorer picks for t < 20
        NsaResult r = new NsaOracle(CFG).forward(cs.inputs());
        double[] oSel = r.fp64(NsaResult.Output.O_SEL);
        for (int t = 0; t < 20; t++) {
            for (int i = t * 4 * 6; i < (t + 1) * 4 * 6; i++) {
                assertEquals(0.0, oSel[i], "t=" + t + ": only block 5 (starts at 20 > t) given, so o_sel = 0");
            }
        }
        BruteForceEquivalenceTest.assertMatchesReference(cs, r);
    }

    private static NsaResult withSameRow(NsaCase cs, int... row) {
        int n = CFG.nSel();
        cs.indices = new int[cs.nnz() * CFG.kvGroups() * n];
        for (int k = 0; k < cs.indices.length; k += n) {
            System.arraycopy(row, 0, cs.indices, k, n);
        }
        return new NsaOracle(CFG).forward(cs.inputs());
    }

    /** {2, 0, 2, −1} must act exactly as {0, 2, −1, −1}: duplicates and order do not matter, −1 is ignored. */
    @Test
    void duplicatesUnsortedAndMinusOneAreHarmless() {
        NsaCase cs = NsaCase.randomDense(CFG, DType.FP32, 12, 1, LEN);
        NsaResult messy = withSameRow(cs, 2, 0, 2, -1);
        NsaResult clean = withSameRow(cs, 0, 2, -1, -1);
        Close.assertBitwise(clean.fp64(NsaResult.Output.O_SEL), messy.fp64(NsaResult.Output.O_SEL),
                "o_sel with duplicated/unsorted indices");
        Close.assertBitwise(clean.fp64(NsaResult.Output.LSE_SEL), messy.fp64(NsaResult.Output.LSE_SEL), "lse_sel");
        assertArrayEquals(new int[] {2, 0, 2, -1}, Arrays.copyOfRange(messy.indexArray(), 0, 4),
                "indices() returns the caller's row as given");
    }

    /** Blocks starting after t add nothing: {0, 5} equals {0} for every t < 20. */
    @Test
    void blocksStartingAfterTheQueryContributeNothing() {
        NsaCase cs = NsaCase.randomDense(CFG, DType.FP32, 13, 1, LEN);
        double[] with = withSameRow(cs, 0, 5, 3, -1).fp64(NsaResult.Output.O_SEL);
        double[] without = withSameRow(cs, 0, 3, -1, -1).fp64(NsaResult.Output.O_SEL);
        int perToken = 4 * 6;
        Close.assertBitwise(Arrays.copyOf(without, 20 * perToken), Arrays.copyOf(with, 20 * perToken),
                "block 5 starts at 20: no effect on t < 20");
        assertFalse(Arrays.equals(Arrays.copyOfRange(without, 20 * perToken, with.length),
                Arrays.copyOfRange(with, 20 * perToken, with.length)), "block 5 does count once t >= 20");
    }

    /** All −1: no token <= t, o_sel = 0, lse_sel = −inf; o stays finite (= cmp and win part only). */
    @Test
    void noTokenAtOrBeforeTheQueryGivesZero() {
        NsaCase cs = NsaCase.randomDense(CFG, DType.FP32, 14, 1, LEN);
        NsaResult r = withSameRow(cs, -1, -1, -1, -1);
        for (double x : r.fp64(NsaResult.Output.O_SEL)) {
            assertEquals(0.0, x, "o_sel = 0 with no chosen token");
        }
        for (double x : r.fp64(NsaResult.Output.LSE_SEL)) {
            assertEquals(Double.NEGATIVE_INFINITY, x, "lse_sel = -inf with no chosen token");
        }
        for (double x : r.fp64(NsaResult.Output.O)) {
            assertFalse(Double.isNaN(x), "o never NaN");
        }
        BruteForceEquivalenceTest.assertMatchesReference(cs, r);
    }

    /** Varlen: indices are bounded per sequence and positions restart in each sequence. */
    @Test
    void varlenIndicesArePerSequence() {
        NsaCase cs = NsaCase.randomVarlen(CFG, DType.FP32, 15, 9, 0, 23, 1);
        SplittableRandom r = new SplittableRandom(15);
        int per = CFG.kvGroups() * CFG.nSel();
        cs.indices = new int[cs.nnz() * per];
        for (int b = 0; b < cs.batch(); b++) {
            int blocks = CFG.selBlocks(cs.len(b));
            for (int i = cs.cu[b] * per; i < cs.cu[b + 1] * per; i++) {
                cs.indices[i] = r.nextInt(-1, blocks);
            }
        }
        BruteForceEquivalenceTest.assertMatchesReference(cs, new NsaOracle(CFG).forward(cs.inputs()));
    }
}
