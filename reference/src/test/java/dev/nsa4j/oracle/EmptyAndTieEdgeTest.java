package dev.nsa4j.oracle;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.nsa4j.attention.NsaResult;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.testutil.Configs;
import dev.nsa4j.testutil.NsaCase;
import dev.nsa4j.tensor.DType;
import org.junit.jupiter.api.Test;

/** Empty batches, a single decode-like query, and ties that exist only after rounding the scores to fp32. */
class EmptyAndTieEdgeTest {
    private static final NsaConfig CFG = Configs.of(4, 2, 8, 6, 4, 2, 4, 3, 3);

    @Test
    void zeroLengthDenseBatchGivesEmptyOutputs() {
        NsaResult r = new NsaOracle(CFG).forward(NsaCase.randomDense(CFG, DType.FP32, 1, 2, 0).inputs());
        assertArrayEquals(new int[] {2, 0, 4, 6}, r.o().shape().dims(), "o is [B,0,H,Dv]");
        assertEquals(0, r.indexArray().length, "no chosen blocks");
    }

    @Test
    void varlenOfOnlyEmptySequencesGivesEmptyOutputs() {
        NsaResult r = new NsaOracle(CFG).forward(NsaCase.randomVarlen(CFG, DType.FP32, 1, 0, 0, 0).inputs());
        assertArrayEquals(new int[] {0, 4, 6}, r.o().shape().dims(), "o is [0,H,Dv]");
    }

    /** Batch of one query (decode shape): S = 1 sees itself in sel and win, nothing compressed. */
    @Test
    void singleQuery() {
        NsaCase cs = NsaCase.randomDense(CFG, DType.FP32, 2, 3, 1);
        NsaResult r = new NsaOracle(CFG).forward(cs.inputs());
        for (int i = 0; i < r.fp64(NsaResult.Output.O_SEL).length; i++) {
            int tok = i / 24;
            int group = (i / 6 % 4) / 2;
            assertEquals(cs.vSel[(tok * 2 + group) * 6 + i % 6], r.fp64(NsaResult.Output.O_SEL)[i], 0.0,
                    "S=1: o_sel is the token's own value");
            assertEquals(cs.vWin[(tok * 2 + group) * 6 + i % 6], r.fp64(NsaResult.Output.O_WIN)[i], 0.0,
                    "S=1: o_win is the token's own value");
        }
        assertArrayEquals(new int[] {0, -1, -1, 0, -1, -1, 0, -1, -1, 0, -1, -1, 0, -1, -1, 0, -1, -1},
                r.indexArray(), "S=1: only block 0, then -1");
        BruteForceEquivalenceTest.assertMatchesReference(cs, r);
    }

    /**
     * Scores 0.3 + 1e-12 and 0.3 differ in fp64 but not in fp32: they tie, and the lower index wins even though
     * its fp64 score is the smaller one.
     */
    @Test
    void scoresTiedOnlyInFp32GoToTheLowerIndex() {
        NsaConfig cfg = Configs.tiny(1, 1, 1, 4, 1, 1.0);
        BlockSelector sel = new BlockSelector(cfg, 8);
        double[] scores = {0.9, 0.3, 0.1, 0.3 + 1e-12, 0.05, 0.2, 0.0, 0.0};
        int[] out = new int[4];
        sel.choose(7, scores, out, 0);
        assertArrayEquals(new int[] {0, 1, 6, 7}, out, "0.3 and 0.3+1e-12 tie in fp32: block 1 beats block 3");
        scores[3] = 0.3 + 1e-6;
        sel.choose(7, scores, out, 0);
        assertArrayEquals(new int[] {0, 3, 6, 7}, out, "a difference visible in fp32 is respected");
    }
}
