package dev.nsa4j.kernels.op;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.TreeSet;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import dev.nsa4j.kernels.GpuFixture;
import dev.nsa4j.kernels.GpuSuite;
import dev.nsa4j.kernels.internal.Attention;
import dev.nsa4j.kernels.internal.AttnSpec;
import dev.nsa4j.kernels.internal.AttnWalk;
import dev.nsa4j.kernels.internal.BlockSelect;
import dev.nsa4j.kernels.internal.CompressionPlan;
import dev.nsa4j.kernels.internal.TcModule;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;

/**
 * The tensor-core scorer against the fp32 reference scorer ({@link BlockSelect}) on the same q, K̃ and lse (the
 * compressed branch's, from the reference attention), over dtype {fp16, bf16} x Dk {64, 128, 192, 256} x h {1, 4,
 * 16, 32} x (l, d, l') {(64, 64, 64), (32, 16, 64)} x lengths {1, 65, 1000} and a varlen batch with empty and
 * length-1 sequences (4096 tokens for a subset). Every row's set is well formed (sorted, distinct, −1 padded, the
 * forced blocks in); rows where the two scorers choose differently are counted, printed, and each must be a near
 * tie: every block in one set and not the other has a reference score within {@link #NEAR_TIE} (relative) of the
 * reference's weakest chosen (non-forced) score. Rows that take every candidate block never differ. Every case runs in
 * the mma.sync layout, and those with h ≤ 16 in the wgmma layout too where the device has it (SM 9.0).
 */
@Tag("gpu")
class TcBlockScoreGpuTest extends GpuSuite {
    static final int G = 2, N = 8;
    static final double NEAR_TIE = 1e-4;
    static final int[] VARLEN = {0, 1, 1100, 0, 130, 1};
    static TcModule tc;
    static long rows;
    static long differing;

    @BeforeAll
    static void loadTc() {
        String why = TcModule.unsupportedReason(gpu.context.device());
        assumeTrue(why == null, () -> "the tc scorer cannot run here: " + why);
        tc = TcModule.load(gpu.context);
    }

    @AfterAll
    static void closeTc() {
        if (tc != null) {
            System.out.printf(Locale.ROOT, "tc scorer: %d of %d (token, group) rows differ from the reference scorer, "
                    + "every one a near tie (rel. %.0e)%n", differing, rows, NEAR_TIE);
            tc.close();
            tc = null;
        }
    }

    static Stream<Arguments> matrix() {
        List<Arguments> out = new ArrayList<>();
        for (DType dt : List.of(DType.BF16, DType.FP16)) {
            for (int dk : new int[] {64, 128, 192, 256}) {
                for (int h : new int[] {1, 4, 16, 32}) {
                    for (int[] ldl : new int[][] {{64, 64, 64}, {32, 16, 64}}) {
                        for (ScoreLayout layout : h <= 16 ? ScoreLayout.values() : new ScoreLayout[] {ScoreLayout.MMA}) {
                            for (int[] lens : new int[][] {{1}, {65}, {1000}, VARLEN}) {
                                out.add(Arguments.of(dt, dk, h, ldl[0], ldl[1], ldl[2], N, lens, layout));
                            }
                            if (dk == 128 && h != 1) {
                                out.add(Arguments.of(dt, dk, h, ldl[0], ldl[1], ldl[2], 16, new int[] {4096}, layout));
                            }
                        }
                    }
                }
            }
        }
        return shard(out, TcBlockScoreGpuTest::coverCase);
    }

    /**
     * The cover cases (NSA_TEST_COVER=1): the varlen batch at l = 32, d = 16 (a selection block over several
     * compressed tokens), h 4 (rows past h in a tile), 16 and 32 (two m-tiles), every dtype, Dk and layout.
     */
    static boolean coverCase(Arguments a) {
        Object[] v = a.get();
        int h = (int) v[2];
        return v[7] == VARLEN && (int) v[3] == 32 && (h == 4 || h == 16 || h == 32);
    }

    /** q, K̃ (dtype-rounded) and the compressed branch's lse for them. */
    record Case(DType dt, int dk, int h, CompressionPlan plan, int lp, int n, float scale, HostTensor q, HostTensor kCmp,
                HostTensor lse) {
        int heads() {
            return G * h;
        }

        static Case make(DType dt, int dk, int h, int l, int d, int lp, int n, int[] lens, long seed) {
            int[] cu = new int[lens.length + 1];
            for (int b = 0; b < lens.length; b++) {
                cu[b + 1] = cu[b] + lens[b];
            }
            CompressionPlan plan = CompressionPlan.of(cu, l, d);
            Random rnd = new Random(seed);
            HostTensor q = GpuFixture.random(rnd, dt, -1, 1, plan.nnz(), G * h, dk);
            HostTensor kCmp = GpuFixture.random(rnd, dt, -1, 1, plan.nnzCmp(), G, dk);
            float scale = (float) (1 / Math.sqrt(dk));
            HostTensor lse;
            try (var qd = gpu.upload(q, 0); var kd = gpu.upload(kCmp, 0);
                 var cq = gpu.upload(HostTensor.ofInts(cu, cu.length), 0);
                 var ck = gpu.upload(HostTensor.ofInts(plan.cuSeqlensCmp(), cu.length), 0);
                 var o = gpu.alloc(DType.FP32, 0, plan.nnz(), G * h, dk);
                 var ls = gpu.alloc(DType.FP32, 0, plan.nnz(), G * h)) {
                Attention.run(gpu.module, gpu.stream, qd.tensor(), kd.tensor(), kd.tensor(), cq.tensor(), ck.tensor(),
                        null, AttnSpec.blockCausal(l, d).withWalk(AttnWalk.RANGES).withScale(scale), o.tensor(),
                        ls.tensor());
                lse = ls.tensor().toHost(gpu.stream);
            }
            return new Case(dt, dk, h, plan, lp, n, scale, q, kCmp, lse);
        }

        int nb() {
            return Math.max(1, BlockSelect.maxBlocks(plan, lp));
        }

        @Override
        public String toString() {
            return dt + " Dk=" + dk + " h=" + h + " G=" + G + " l=" + plan.blockLen() + " d=" + plan.blockStride()
                    + " l'=" + lp + " n=" + n + " cu=" + Arrays.toString(plan.cuSeqlens());
        }
    }

    record Scored(int[] reference, float[] scores, int[] tc, OpRun run) {
    }

    static Scored score(Case c, int qOffset, ScoreLayout layout) {
        int nnz = c.plan().nnz();
        int[] cu = c.plan().cuSeqlens();
        try (var q = gpu.upload(c.q(), qOffset); var k = gpu.upload(c.kCmp(), 0); var lse = gpu.upload(c.lse(), 0);
             var cuD = gpu.upload(HostTensor.ofInts(cu, cu.length), 0);
             var cuCmp = gpu.upload(HostTensor.ofInts(c.plan().cuSeqlensCmp(), cu.length), 0);
             var ref = gpu.alloc(DType.INT32, 0, nnz, G, c.n()); var sc = gpu.alloc(DType.FP32, 0, nnz, G, c.nb());
             var out = gpu.alloc(DType.INT32, 0, nnz, G, c.n())) {
            BlockSelect.run(gpu.module, gpu.stream, q.tensor(), k.tensor(), lse.tensor(), cuD.tensor(), cuCmp.tensor(),
                    c.plan(), c.lp(), c.n(), c.scale(), ref.tensor(), sc.tensor());
            Sequences raw = new Sequences(cu, cuD.tensor());
            Sequences cmp = new Sequences(c.plan().cuSeqlensCmp(), cuCmp.tensor());
            TcBlockScoreOp.Spec spec = new TcBlockScoreOp.Spec(c.dt(), c.heads(), G, c.dk(), c.plan(), c.lp(), c.n(),
                    c.scale());
            String why = TcBlockScoreOp.unsupported(gpu.context.device(), spec);
            assumeTrue(why == null, () -> "the tc scorer does not serve " + c + " here: " + why);
            String noWg = layout == ScoreLayout.WGMMA ? ScoreLayout.whyNotWgmma(gpu.context.device(), spec)
                    : layout == ScoreLayout.KEY_ROWS ? ScoreLayout.whyNotKeyRows(gpu.context.device(), spec) : null;
            assumeTrue(noWg == null, () -> "no " + layout.label() + " layout for " + c + " here: " + noWg);
            TcBlockScoreOp op = TcBlockScoreOp.plan(tc, spec, layout, raw, cmp, KernelOps.blockSelect(gpu.module,
                    c.plan(), raw, cmp, c.lp(), c.n(), c.scale(), c.dt()));
            assertEquals(layout, op.layout());
            OpRun r = op.launch(gpu.stream, new SelectArgs(q.tensor(), k.tensor(), lse.tensor(), out.tensor()),
                    Workspace.NONE);
            return new Scored(ref.tensor().toHost(gpu.stream).toIntArray(), sc.tensor().toHost(gpu.stream).toFloatArray(),
                    out.tensor().toHost(gpu.stream).toIntArray(), r);
        }
    }

    @ParameterizedTest(name = "{0} dk={1} h={2} l={3} d={4} l''={5} n={6} lens={7} {8}")
    @MethodSource("matrix")
    void chosenBlocksEqualTheReferenceButAtNearTies(DType dt, int dk, int h, int l, int d, int lp, int n, int[] lens,
                                                    ScoreLayout layout) {
        Case c = Case.make(dt, dk, h, l, d, lp, n, lens, 31L * dk + 7L * h + 3L * l + lens.length + lens[0] + dt.ordinal());
        Scored s = score(c, 0, layout);
        assertEquals(new OpRun(TcBlockScoreOp.KIND, "", null), s.run(), c.toString());
        int[] cu = c.plan().cuSeqlens();
        int diff = 0, total = 0;
        for (int b = 0; b + 1 < cu.length; b++) {
            for (int t = 0; t < cu[b + 1] - cu[b]; t++) {
                for (int g = 0; g < G; g++) {
                    int row = (cu[b] + t) * G + g;
                    total++;
                    if (!checkRow(c, s, row, t)) {
                        diff++;
                    }
                }
            }
        }
        rows += total;
        differing += diff;
        System.out.printf(Locale.ROOT, "tc scorer (%s) %s: %d of %d rows differ (near ties)%n", layout.label(), c, diff,
                total);
    }

    /** Checks one row; returns true when both scorers chose the same set. */
    static boolean checkRow(Case c, Scored s, int row, int t) {
        int n = c.n();
        int cur = t / c.lp();
        int[] ref = Arrays.copyOfRange(s.reference(), row * n, (row + 1) * n);
        int[] got = Arrays.copyOfRange(s.tc(), row * n, (row + 1) * n);
        String where = c + " t=" + t + " row " + row + ": tc " + Arrays.toString(got) + ", reference "
                + Arrays.toString(ref);
        int count = Math.min(n, cur + 1);
        for (int e = 0; e < n; e++) {
            if (e < count ? got[e] < 0 || got[e] > cur || (e > 0 && got[e] <= got[e - 1]) : got[e] != -1) {
                fail(where + ": not " + count + " sorted distinct blocks of 0.." + cur + ", -1 padded");
            }
        }
        if (Arrays.equals(ref, got)) {
            return true;
        }
        if (cur + 1 <= n) {
            fail(where + ": a row that takes every candidate block differs");
        }
        TreeSet<Integer> r = new TreeSet<>(), g = new TreeSet<>();
        for (int e = 0; e < n; e++) {
            r.add(ref[e]);
            g.add(got[e]);
        }
        for (int forced : new int[] {0, cur - 1, cur}) {
            if (!g.contains(forced)) {
                fail(where + ": forced block " + forced + " missing");
            }
        }
        int nb = c.nb();
        float weakest = Float.POSITIVE_INFINITY;
        for (int j : r) {
            if (j != 0 && j != cur - 1 && j != cur) {
                weakest = Math.min(weakest, s.scores()[row * nb + j]);
            }
        }
        TreeSet<Integer> swapped = new TreeSet<>(r);
        swapped.addAll(g);
        TreeSet<Integer> both = new TreeSet<>(r);
        both.retainAll(g);
        swapped.removeAll(both);
        for (int j : swapped) {
            float sj = s.scores()[row * nb + j];
            double tol = NEAR_TIE * Math.max(Math.abs(weakest), Float.MIN_NORMAL);
            if (!(Math.abs(sj - weakest) <= tol)) {
                fail(String.format(Locale.ROOT, "%s: block %d (reference score %.9g) is no near tie of the weakest "
                        + "chosen score %.9g (relative %.3g > %.0e)", where, j, sj, weakest,
                        Math.abs(sj - weakest) / Math.abs(weakest), NEAR_TIE));
            }
        }
        return false;
    }

    @Test
    void aMisalignedQRunsTheReferenceScorerNamingTheRule() {
        Case c = Case.make(DType.BF16, 128, 4, 32, 16, 64, N, new int[] {700, 1}, 3);
        Scored s = score(c, 8, ScoreLayout.MMA);   // q only 8-byte aligned, as a foreign pointer may be
        assertTrue(s.run().fellBack());
        assertEquals(TcBlockScoreOp.KIND, s.run().path());
        assertEquals("contract", s.run().fallbackCause());
        assertTrue(s.run().reason().startsWith("reference scorer: tc scorer blocked: alignment: q at 0x"),
                s.run().reason());
        assertArrayEquals(s.reference(), s.tc(), "the fallback is the reference scorer");
        assertFalse(Arrays.stream(s.tc()).allMatch(x -> x == -1));
    }
}
