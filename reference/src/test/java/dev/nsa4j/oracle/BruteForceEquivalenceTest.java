package dev.nsa4j.oracle;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.nsa4j.attention.GateOverride;
import dev.nsa4j.attention.NsaResult;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.testutil.BruteForce;
import dev.nsa4j.testutil.Close;
import dev.nsa4j.testutil.Configs;
import dev.nsa4j.testutil.NsaCase;
import dev.nsa4j.testutil.ReferenceNsa;
import dev.nsa4j.tensor.DType;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every branch of the oracle equals dense masked attention under the mask its the NSA spec (docs/nsa-spec.md) rule defines
 * (block-causal over the test's own avg-compressed keys, the chosen blocks up to t, the band), the chosen
 * blocks equal the test's own scoring and top-n, and the gate combination holds, over a matrix of
 * (l, d, l', n, w), GQA ratios, Dk != Dv, lengths and seeds.
 */
class BruteForceEquivalenceTest {

    /** (l, d, l', n, w): compression, stride, selection block, blocks chosen, window. */
    record Blocks(int l, int d, int lp, int n, int w) {
        @Override
        public String toString() {
            return "l=" + l + ",d=" + d + ",l'=" + lp + ",n=" + n + ",w=" + w;
        }
    }

    static final Blocks[] BLOCKS = {
        new Blocks(1, 1, 1, 3, 1),
        new Blocks(4, 2, 4, 3, 5),
        new Blocks(4, 2, 8, 4, 16),
        new Blocks(8, 4, 8, 5, 1),
        new Blocks(4, 4, 4, 6, 64),
        new Blocks(8, 4, 16, 3, 300),
        new Blocks(2, 1, 4, 7, 7),
        new Blocks(16, 8, 16, 4, 33),
        new Blocks(6, 3, 12, 3, 10),
    };

    static Stream<Arguments> matrix() {
        List<Arguments> out = new ArrayList<>();
        int[] lengths = {1, 63, 64, 65, 37, 100};
        int[][] groupsOfFour = {{4, 1}, {4, 2}, {4, 4}};
        int[][] dims = {{8, 8}, {16, 4}, {4, 12}};
        int k = 0;
        for (Blocks bl : BLOCKS) {
            for (int len : lengths) {
                int[] hg = groupsOfFour[k % 3];
                int[] dd = dims[(k / 3) % 3];
                long seed = 1000 + k;
                NsaConfig cfg = Configs.of(hg[0], hg[1], dd[0], dd[1], bl.l, bl.d, bl.lp, bl.n, bl.w);
                int batch = (k % 5 == 0) ? 2 : 1;
                String name = bl + " H=" + hg[0] + ",G=" + hg[1] + " Dk=" + dd[0] + ",Dv=" + dd[1] + " B=" + batch
                        + ",S=" + len + " seed=" + seed;
                out.add(Arguments.of(Named.of(name, cfg), batch, len, seed));
                k++;
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("matrix")
    void everyBranchEqualsMaskedDenseAttention(NsaConfig cfg, int batch, int len, long seed) {
        NsaCase cs = NsaCase.randomDense(cfg, DType.FP32, seed, batch, len);
        NsaResult r = new NsaOracle(cfg).forward(cs.inputs());
        assertMatchesReference(cs, r);
    }

    /** Checks chosen blocks against the test's own scoring and every output against dense masked attention. */
    static void assertMatchesReference(NsaCase cs, NsaResult r) {
        int[] oracleIdx = r.indexArray();
        if (cs.indices == null) {
            ReferenceNsa spec = ReferenceNsa.of(cs);
            assertArrayEquals(spec.indices, oracleIdx,
                    "chosen blocks differ from forced + fp32 top-n over overlap-weighted group scores");
        } else {
            assertArrayEquals(cs.indices, oracleIdx, "caller-supplied indices must be returned as given");
        }
        // The selection branch is judged under the mask built from the oracle's own returned indices.
        ReferenceNsa ref = ReferenceNsa.of(cs, oracleIdx);
        double tol = Close.FP64_TOL;
        Close.assertAllClose(ref.oCmp, r.fp64(NsaResult.Output.O_CMP), tol, "o_cmp vs block-causal masked attention");
        Close.assertAllClose(ref.lseCmp, r.fp64(NsaResult.Output.LSE_CMP), tol, "lse_cmp");
        Close.assertAllClose(ref.oSel, r.fp64(NsaResult.Output.O_SEL), tol, "o_sel vs chosen-block masked attention");
        Close.assertAllClose(ref.lseSel, r.fp64(NsaResult.Output.LSE_SEL), tol, "lse_sel");
        Close.assertAllClose(ref.oWin, r.fp64(NsaResult.Output.O_WIN), tol, "o_win vs band masked attention");
        Close.assertAllClose(ref.lseWin, r.fp64(NsaResult.Output.LSE_WIN), tol, "lse_win");
        Close.assertAllClose(ref.o, r.fp64(NsaResult.Output.O), tol, "o = sum of gate * branch, per head");
    }

    static Stream<Arguments> unitBlocks() {
        return Stream.of(
                Arguments.of(1, 1, 1, 1, 1), Arguments.of(5, 2, 1, 4, 4), Arguments.of(17, 4, 4, 8, 8),
                Arguments.of(33, 3, 3, 6, 2), Arguments.of(64, 2, 2, 16, 16), Arguments.of(65, 8, 2, 4, 4));
    }

    /** the NSA spec (docs/nsa-spec.md) edge case l = d = l' = 1: compressed token i is token i, so cmp-only is full causal attention. */
    @ParameterizedTest(name = "S={0} seed={1} H={2} Dk={3} Dv={4}")
    @MethodSource("unitBlocks")
    void unitBlocksCompressedOnlyIsFullCausalAttention(int len, long seed, int heads, int dk, int dv) {
        int groups = Math.max(1, heads / 2);
        NsaConfig cfg = Configs.of(heads, groups, dk, dv, 1, 1, 1, Math.max(3, len), 1);
        NsaCase cs = NsaCase.randomDense(cfg, DType.FP32, seed, 1, len).shareKv();
        NsaResult r = new NsaOracle(cfg).forward(cs.inputs(), null, GateOverride.FORCE_CMP);
        Close.assertAllClose(causal(cs), r.fp64(NsaResult.Output.O), Close.FP64_TOL,
                "l=d=l'=1, gates one-hot cmp: o must equal full causal attention");
    }

    /** l = d = l' = 1 and n = S: every block is chosen, so sel-only is full causal attention. */
    @ParameterizedTest(name = "S={0} seed={1} H={2} Dk={3} Dv={4}")
    @MethodSource("unitBlocks")
    void unitBlocksSelectedOnlyWithAllBlocksIsFullCausalAttention(int len, long seed, int heads, int dk, int dv) {
        int groups = Math.max(1, heads / 2);
        NsaConfig cfg = Configs.of(heads, groups, dk, dv, 1, 1, 1, Math.max(3, len), 1);
        NsaCase cs = NsaCase.randomDense(cfg, DType.FP32, seed, 1, len).shareKv();
        NsaResult r = new NsaOracle(cfg).forward(cs.inputs(), null, GateOverride.FORCE_SEL);
        Close.assertAllClose(causal(cs), r.fp64(NsaResult.Output.O), Close.FP64_TOL,
                "l=d=l'=1, n=S, gates one-hot sel: o must equal full causal attention");
    }

    /** w >= S: the window holds every earlier token, so win-only is full causal attention. */
    @ParameterizedTest(name = "S={0} seed={1} H={2} Dk={3} Dv={4}")
    @MethodSource("unitBlocks")
    void windowAtLeastLengthIsFullCausalAttention(int len, long seed, int heads, int dk, int dv) {
        NsaConfig cfg = Configs.of(heads, 1, dk, dv, 4, 2, 8, 3, len + (int) seed % 3);
        NsaCase cs = NsaCase.randomDense(cfg, DType.FP32, seed, 1, len).shareKv();
        NsaResult r = new NsaOracle(cfg).forward(cs.inputs(), null, GateOverride.FORCE_WIN);
        Close.assertAllClose(causal(cs), r.fp64(NsaResult.Output.O), Close.FP64_TOL,
                "w >= S, gates one-hot win: o must equal full causal attention");
    }

    /** Full causal attention over the (shared) raw keys and values, flat [S, H, Dv]. */
    private static double[] causal(NsaCase cs) {
        NsaConfig c = cs.cfg;
        int len = cs.len(0);
        int hpg = c.heads() / c.kvGroups();
        double[] out = new double[len * c.heads() * c.headDimV()];
        for (int head = 0; head < c.heads(); head++) {
            double[][] q = cs.rows(cs.q, 0, c.heads(), head, c.headDimQk());
            double[][] k = cs.rows(cs.kCmp, 0, c.kvGroups(), head / hpg, c.headDimQk());
            double[][] v = cs.rows(cs.vCmp, 0, c.kvGroups(), head / hpg, c.headDimV());
            double[][] o = BruteForce.attend(q, k, v, BruteForce.causalMask(len), c.scale()).out();
            for (int t = 0; t < len; t++) {
                System.arraycopy(o[t], 0, out, (t * c.heads() + head) * c.headDimV(), c.headDimV());
            }
        }
        return out;
    }

    /** fp16 and bf16 inputs: the fp64 computation on the rounded values still matches the brute force. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("halfTypes")
    void halfPrecisionInputsMatchBruteForceOnRoundedValues(DType dt) {
        NsaConfig cfg = Configs.of(4, 2, 8, 8, 4, 2, 8, 3, 9);
        NsaCase cs = NsaCase.randomDense(cfg, dt, 77, 1, 45);
        NsaResult r = new NsaOracle(cfg).forward(cs.inputs(), DType.FP32, GateOverride.NONE);
        assertEquals(DType.FP32, r.outputDType());
        assertMatchesReference(cs, r);
    }

    static Stream<DType> halfTypes() {
        return Stream.of(DType.FP16, DType.BF16);
    }

    /** A medium case: paper-like block sizes at a few hundred tokens. */
    @ParameterizedTest(name = "S={0}")
    @MethodSource("mediumLengths")
    void mediumPaperLikeBlocks(int len) {
        NsaConfig cfg = Configs.of(4, 2, 16, 8, 32, 16, 64, 3, 50);
        NsaCase cs = NsaCase.randomDense(cfg, DType.FP32, len, 1, len);
        assertMatchesReference(cs, new NsaOracle(cfg).forward(cs.inputs()));
    }

    static Stream<Integer> mediumLengths() {
        return Stream.of(257, 300);
    }
}
