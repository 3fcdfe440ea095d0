package dev.nsa4j.oracle;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.attention.NsaResult;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.testutil.BruteForce;
import dev.nsa4j.testutil.Configs;
import dev.nsa4j.testutil.NsaCase;
import dev.nsa4j.tensor.DType;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * the NSA spec (docs/nsa-spec.md) "Selection branch": overlap weights ω, group sum, forced blocks, top-n with ties to the lower
 * index in fp32, ascending −1 padded indices. Hand-built cases with D = 1 (or 2) so the choice is evident.
 */
class SelectionRulesTest {

    /** The chosen blocks of (t, group) from a result, as {@code [n]}. */
    static int[] chosen(NsaResult r, NsaConfig cfg, int t, int group) {
        int n = cfg.nSel();
        int off = (t * cfg.kvGroups() + group) * n;
        return Arrays.copyOfRange(r.indexArray(), off, off + n);
    }

    // ---- overlap weights, straight on the package-private scorer --------------------------------------

    @Test
    void spanStraddlingTwoBlocksSplitsHalfHalf() {
        NsaConfig cfg = Configs.tiny(4, 2, 4, 3, 1, 1.0);
        BlockSelector sel = new BlockSelector(cfg, 8);
        double[] scores = new double[8];
        double[] p = {0, 1, 0};
        sel.accumulate(p, 0, 3, scores);
        assertArrayEquals(new double[] {0.5, 0.5, 0, 0, 0, 0, 0, 0}, scores, 0.0,
                "l=4,d=2,l'=4: token 1 spans [2,6), half in block 0, half in block 1");
        Arrays.fill(scores, 0);
        sel.accumulate(new double[] {0, 0, 1}, 0, 3, scores);
        assertArrayEquals(new double[] {0, 1, 0, 0, 0, 0, 0, 0}, scores, 0.0, "token 2 spans [4,8) = block 1");
    }

    static Stream<Arguments> blockGeometries() {
        return Stream.of(Arguments.of(4, 2, 4), Arguments.of(4, 2, 8), Arguments.of(8, 2, 8), Arguments.of(6, 3, 9),
                Arguments.of(32, 16, 64), Arguments.of(4, 4, 8), Arguments.of(12, 4, 12), Arguments.of(1, 1, 1));
    }

    /** Random probabilities: the scorer's block scores equal Σ_i p_i · ω(i, j) with ω counted token by token. */
    @ParameterizedTest(name = "l={0}, d={1}, l''={2}")
    @MethodSource("blockGeometries")
    void accumulateUsesOverlapFractions(int l, int d, int lp) {
        NsaConfig cfg = Configs.of(1, 1, 1, 1, l, d, lp, 3, 1);
        int len = 5 * lp + l;
        int ncmp = cfg.compressedLen(len);
        int blocks = cfg.selBlocks(len);
        SplittableRandom rnd = new SplittableRandom(l * 100L + d * 10L + lp);
        double[] p = rnd.doubles(ncmp).toArray();
        double[] scores = new double[blocks];
        new BlockSelector(cfg, blocks).accumulate(p, 0, ncmp, scores);
        double total = 0;
        for (int j = 0; j < blocks; j++) {
            double expected = 0;
            for (int i = 0; i < ncmp; i++) {
                expected += p[i] * BruteForce.overlap(i, j, l, d, lp);
            }
            assertEquals(expected, scores[j], 1e-12, "block " + j + " score = Σ p_i ω(i, j)");
            total += scores[j];
        }
        assertEquals(Arrays.stream(p).sum(), total, 1e-12, "ω(i, ·) sums to 1: no mass lost or doubled");
    }

    // ---- end to end: the overlap rule decides the choice -------------------------------------------------

    /**
     * l=4, d=2, l'=4, n=4, S=17, query t=16: forced {0, 3, 4}, one pick among blocks 1 and 2. Raw keys are
     * 1 on tokens 6..9 and 0.2 on one more token; q = 1, scale 20. The dominant compressed token 3 spans
     * [6,10), half in block 1 and half in block 2, so the pick is decided by the next-best token. A rule that
     * gave token 3 wholly to the block of its start (block 1) or of its end (block 2) would pick differently in
     * one of the two mirror cases.
     */
    @ParameterizedTest(name = "extra key at token {0} -> block {1}")
    @MethodSource("overlapCases")
    void straddlingTokenSplitsItsMassBetweenBothBlocks(int extraToken, int expectedBlock) {
        NsaConfig cfg = Configs.tiny(4, 2, 4, 4, 1, 20.0);
        NsaCase cs = NsaCase.zerosDense(cfg, DType.FP32, 1, 17);
        for (int t = 0; t < 17; t++) {
            cs.q[t] = 1;
        }
        for (int t = 6; t <= 9; t++) {
            cs.kCmp[t] = 1;
        }
        cs.kCmp[extraToken] = 0.2;
        cs.round();
        NsaResult r = new NsaOracle(cfg).forward(cs.inputs());
        int[] expected = {0, expectedBlock, 3, 4};
        Arrays.sort(expected);
        assertArrayEquals(expected, chosen(r, cfg, 16, 0), "t=16 picks by overlap-weighted scores");
        BruteForceEquivalenceTest.assertMatchesReference(cs, r);
    }

    static Stream<Arguments> overlapCases() {
        // extra at 10: K̃_4 = 0.55 > K̃_2 = 0.5, so block 2 wins (start-block attribution would pick 1);
        // extra at 5: K̃_2 = 0.55 > K̃_4 = 0.5, so block 1 wins (end-block attribution would pick 2).
        return Stream.of(Arguments.of(10, 2), Arguments.of(5, 1));
    }

    // ---- group sum (GQA Eq. 10) ---------------------------------------------------------------------------

    /**
     * l=d=l'=4, n=4, S=17, Dk=2; raw keys (1,0) in block 1, (0,1) in block 2, 0 elsewhere. Head 0 (q=(8,0))
     * puts ~0.999 on block 1; head 1 (q=(1,2)) puts 0.22 on block 1 and 0.61 on block 2. Summed over a group
     * of both heads block 1 wins; in separate groups head 1's group picks block 2.
     */
    @Test
    void groupScoresSumOverTheHeadsOfAGroup() {
        for (int groups : new int[] {1, 2}) {
            NsaConfig cfg = NsaConfig.builder().heads(2).kvGroups(groups).headDims(2, 1).blockLen(4).stride(4)
                    .selBlock(4).nSel(4).window(1).scale(1.0).build();
            NsaCase cs = NsaCase.zerosDense(cfg, DType.FP32, 1, 17);
            for (int t = 0; t < 17; t++) {
                cs.q[t * 4] = 8;          // head 0
                cs.q[t * 4 + 2] = 1;      // head 1
                cs.q[t * 4 + 3] = 2;
                for (int g = 0; g < groups; g++) {
                    int k = (t * groups + g) * 2;
                    if (t / 4 == 1) {
                        cs.kCmp[k] = 1;
                    } else if (t / 4 == 2) {
                        cs.kCmp[k + 1] = 1;
                    }
                }
            }
            NsaResult r = new NsaOracle(cfg).forward(cs.inputs());
            if (groups == 1) {
                assertArrayEquals(new int[] {0, 1, 3, 4}, chosen(r, cfg, 16, 0),
                        "G=1: group score = head 0 + head 1, block 1 (1.22) beats block 2 (0.61)");
            } else {
                assertArrayEquals(new int[] {0, 1, 3, 4}, chosen(r, cfg, 16, 0), "G=2: head 0 alone picks block 1");
                assertArrayEquals(new int[] {0, 2, 3, 4}, chosen(r, cfg, 16, 1), "G=2: head 1 alone picks block 2");
            }
            BruteForceEquivalenceTest.assertMatchesReference(cs, r);
        }
    }

    // ---- forced blocks, top-n, ties, padding --------------------------------------------------------------

    /** l=d=l'=4, S=33, query t=32 (current block 8, previous 7), one value per block as its keys. */
    private static NsaResult blockValued(int n, double[] blockKey) {
        NsaConfig cfg = Configs.tiny(4, 4, 4, n, 1, 10.0);
        NsaCase cs = NsaCase.zerosDense(cfg, DType.FP32, 1, 33);
        for (int t = 0; t < 33; t++) {
            cs.q[t] = 1;
            cs.kCmp[t] = blockKey[t / 4];
        }
        cs.round();
        NsaResult r = new NsaOracle(cfg).forward(cs.inputs());
        BruteForceEquivalenceTest.assertMatchesReference(cs, r);
        return r;
    }

    @Test
    void topNPicksTheHighestScores() {
        NsaResult r = blockValued(5, new double[] {0, 0.1, 0.5, 0.3, 0.9, 0.2, 0.7, 0, 0});
        assertArrayEquals(new int[] {0, 4, 6, 7, 8}, chosen(r, Configs.tiny(4, 4, 4, 5, 1, 10.0), 32, 0),
                "n=5: forced 0, 7, 8 plus the two best of blocks 1..6 (4 and 6)");
    }

    @Test
    void forcedBlocksAreChosenEvenWithTheLowestScores() {
        double[] keys = {-5, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, -5, -5};
        assertArrayEquals(new int[] {0, 7, 8}, chosen(blockValued(3, keys), Configs.tiny(4, 4, 4, 3, 1, 10.0), 32, 0),
                "n=3: exactly the forced blocks 0, current 8, previous 7");
        assertArrayEquals(new int[] {0, 5, 6, 7, 8}, chosen(blockValued(5, keys), Configs.tiny(4, 4, 4, 5, 1, 10.0), 32, 0),
                "n=5: forced blocks plus the best two others");
    }

    @Test
    void tiesGoToTheLowerBlockIndex() {
        NsaResult r = blockValued(5, new double[] {0, 0.1, 0.9, 0.1, 0.9, 0.1, 0.9, 0, 0});
        assertArrayEquals(new int[] {0, 2, 4, 7, 8}, chosen(r, Configs.tiny(4, 4, 4, 5, 1, 10.0), 32, 0),
                "blocks 2, 4, 6 tie: the lower indices 2 and 4 win");
    }

    /** Fewer candidates than n: all candidates, ascending, then −1. the NSA spec (docs/nsa-spec.md) edge cases S < l', n >= blocks. */
    @Test
    void fewerCandidatesThanNArePaddedWithMinusOne() {
        NsaConfig cfg = Configs.tiny(2, 2, 4, 5, 1, 1.0);
        NsaCase cs = NsaCase.randomDense(cfg, DType.FP32, 4, 1, 9);
        NsaResult r = new NsaOracle(cfg).forward(cs.inputs());
        int[][] expected = {
            {0, -1, -1, -1, -1}, {0, -1, -1, -1, -1}, {0, -1, -1, -1, -1}, {0, -1, -1, -1, -1},
            {0, 1, -1, -1, -1}, {0, 1, -1, -1, -1}, {0, 1, -1, -1, -1}, {0, 1, -1, -1, -1}, {0, 1, 2, -1, -1}};
        for (int t = 0; t < 9; t++) {
            assertArrayEquals(expected[t], chosen(r, cfg, t, 0), "t=" + t + ": candidates 0..t/l', then -1");
        }
        int[] dims = r.indices().shape().dims();
        assertArrayEquals(new int[] {1, 9, 1, 5}, dims, "indices are [B,S,G,n]");
        assertEquals(dev.nsa4j.tensor.DType.INT32, r.indices().dtype(), "indices are int32");
    }

    /** Every stored row is sorted ascending with the −1 padding at the end, and has no duplicates. */
    @Test
    void indicesAreSortedAscendingAndPaddedAtTheEnd() {
        NsaConfig cfg = Configs.of(4, 2, 8, 8, 4, 2, 4, 6, 3);
        NsaCase cs = NsaCase.randomDense(cfg, DType.FP32, 8, 2, 90);
        NsaResult r = new NsaOracle(cfg).forward(cs.inputs());
        int[] idx = r.indexArray();
        for (int row = 0; row < idx.length / 6; row++) {
            int[] c = Arrays.copyOfRange(idx, row * 6, row * 6 + 6);
            int valid = (int) Arrays.stream(c).filter(x -> x >= 0).count();
            int t = (row / 2) % 90;
            assertEquals(Math.min(6, t / 4 + 1), valid, "row " + row + ": min(n, candidates) blocks");
            for (int k = 1; k < valid; k++) {
                assertTrue(c[k - 1] < c[k], "row " + row + " ascending without duplicates: " + Arrays.toString(c));
            }
            for (int k = valid; k < 6; k++) {
                assertEquals(-1, c[k], "row " + row + " padded with -1 at the end: " + Arrays.toString(c));
            }
        }
    }

    // ---- ties across dtypes -------------------------------------------------------------------------------

    static Stream<Arguments> tieCases() {
        return Stream.of(DType.FP32, DType.FP16, DType.BF16)
                .flatMap(dt -> Stream.of(Arguments.of(dt, "all keys equal"), Arguments.of(dt, "q = 0")));
    }

    /**
     * All-equal compressed scores tie every complete candidate block; fp32, fp16 and bf16 inputs pick the same
     * blocks, and they are the lowest-index candidates after the forced ones.
     */
    @ParameterizedTest(name = "{0}, {1}")
    @MethodSource("tieCases")
    void tiedScoresPickTheLowestCandidatesInEveryDtype(DType dt, String how) {
        NsaConfig cfg = Configs.of(2, 1, 8, 8, 8, 4, 8, 5, 4);
        int len = 80;
        NsaCase cs = NsaCase.randomDense(cfg, dt, 31, 1, len);
        if (how.equals("q = 0")) {
            Arrays.fill(cs.q, 0);
        } else {
            for (int t = 1; t < len; t++) {
                System.arraycopy(cs.kCmp, 0, cs.kCmp, t * 8, 8);
            }
        }
        NsaResult r = new NsaOracle(cfg).forward(cs.inputs());
        for (int t = 0; t < len; t++) {
            int cur = t / 8;
            int[] expected = new int[5];
            if (cur + 1 <= 5) {
                for (int j = 0; j < 5; j++) {
                    expected[j] = j <= cur ? j : -1;
                }
            } else {
                expected = new int[] {0, 1, 2, cur - 1, cur};
            }
            assertArrayEquals(expected, chosen(r, cfg, t, 0), dt + ", " + how + ", t=" + t
                    + ": ties go to the lowest candidates after the forced blocks");
        }
    }
}
