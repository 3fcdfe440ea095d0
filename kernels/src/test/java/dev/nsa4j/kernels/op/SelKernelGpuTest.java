package dev.nsa4j.kernels.op;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import dev.nsa4j.kernels.GpuSuite;
import dev.nsa4j.kernels.internal.TcModule;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;

/**
 * sel-kernel against the reference path {@code sdpa-masked} on the same inputs and the same chosen blocks
 * (docs/routing.md acceptance), over dtype {fp16, bf16} x (Dk, Dv) {64/64, 128/128, 192/128, 256/256 (SM 9.x)} x
 * h {1, 2, 4, 8, 16, 32} x lengths {1, 63, 64, 65, 1000} and a varlen batch with zero-length and length-1
 * sequences (4096 tokens for a subset):
 * <ul>
 * <li>exact-P mode, fp32 output: MAE < 1e-5 and max-abs < 1e-4 on o, lse within 1e-5, rows without a visible key
 *     0 and −inf as the reference; half-precision output equal to the fp32 output rounded once;</li>
 * <li>the same blocks given unsorted, duplicated, with negative entries and with blocks after the query (set
 *     semantics) give the same bits;</li>
 * <li>fast mode (P rounded once): MAE against an fp64 oracle at most twice that of the fp64 computation with P
 *     rounded the same way, plus FlashAttention's rounding floor of the output format (the rule of
 *     docs/routing.md and D13), for fp32 and for half-precision output;</li>
 * <li>a call the kernel cannot serve (an 8-byte aligned q) runs the fallback, with the rule in the reason.</li>
 * <li>every check in every layout that serves the shape on the GPU ({@link SelLayout}: one token per CTA, the union of
 * four tokens', and on SM 9.0 the TMA layout for its head dims).</li>
 * </ul>
 */
@Tag("gpu")
class SelKernelGpuTest extends GpuSuite {
    static final int G = SelInputs.G, LP = SelInputs.LP, N = SelInputs.N;
    static final int[] VARLEN = {0, 1, 63, 0, 200, 1, 130};
    static final double MAE = 1e-5, MAX_ABS = 1e-4, LSE_TOL = 1e-5;
    static final int[][] PAIRS = {{64, 64}, {128, 128}, {192, 128}, {256, 256}};
    static TcModule tc;
    static double worstMae;

    @BeforeAll
    static void loadTc() {
        String why = TcModule.unsupportedReason(gpu.context.device());
        assumeTrue(why == null, () -> "sel-kernel cannot run here: " + why);
        tc = TcModule.load(gpu.context);
    }

    @AfterAll
    static void closeTc() {
        if (tc != null) {
            System.out.printf(Locale.ROOT, "sel-kernel exact P: worst MAE against sdpa-masked %.3g%n", worstMae);
            tc.close();
            tc = null;
        }
    }

    static boolean runs(int dk) {
        return dk != 256 || gpu.context.device().ccMajor() == 9;
    }

    static Stream<Arguments> matrix() {
        List<Arguments> out = new ArrayList<>();
        for (DType dt : List.of(DType.BF16, DType.FP16)) {
            for (int[] p : PAIRS) {
                for (int h : new int[] {1, 2, 4, 8, 16, 32}) {
                    for (int len : new int[] {1, 63, 64, 65, 1000, -1}) {
                        out.add(Arguments.of(dt, p[0], p[1], h, len < 0 ? VARLEN : new int[] {len}));
                    }
                    if (p[0] <= 128 && (h == 4 || h == 16)) {
                        out.add(Arguments.of(dt, p[0], p[1], h, new int[] {4096}));
                    }
                }
            }
        }
        return shard(out, SelKernelGpuTest::onVarlen);
    }

    /** The cover cases (NSA_TEST_COVER=1): the varlen batch, for every dtype, head-dim pair and h. */
    static boolean onVarlen(Arguments a) {
        return a.get()[4] == VARLEN;
    }

    static Stream<Arguments> fastMatrix() {
        List<Arguments> out = new ArrayList<>();
        for (DType dt : List.of(DType.BF16, DType.FP16)) {
            for (int[] p : PAIRS) {
                for (int h : new int[] {1, 16}) {
                    for (int[] lens : new int[][] {{65}, {1000}, VARLEN}) {
                        out.add(Arguments.of(dt, p[0], p[1], h, lens));
                    }
                }
            }
        }
        return shard(out, SelKernelGpuTest::onVarlen);
    }

    // ---------------------------------------------------------------- inputs

    // ---------------------------------------------------------------- device runs

    record Got(float[] out, float[] lse, OpRun run) {
    }

    /** One launch of sel-kernel in {@code layout} (the reference when null); out in {@code outDtype}. */
    static Got run(SelInputs in, HostTensor blocks, SelKernelOp.Spec spec, SelLayout layout, DType outDtype,
                   int qOffset) {
        int nnz = in.nnz();
        try (var q = gpu.upload(in.q(), qOffset); var k = gpu.upload(in.k(), 0); var v = gpu.upload(in.v(), 0);
             var cu = gpu.upload(HostTensor.ofInts(in.cu(), in.cu().length), 0); var bl = gpu.upload(blocks, 0);
             var out = gpu.alloc(outDtype, 0, nnz, in.heads(), in.dv());
             var lse = gpu.alloc(DType.FP32, 0, nnz, in.heads())) {
            String why = SelKernelOp.unsupported(gpu.context.device(), spec);
            assumeTrue(why == null, () -> "sel-kernel does not serve " + what(in) + " here: " + why);
            Sequences seq = new Sequences(in.cu(), cu.tensor());
            ReferenceAttentionOp ref = new ReferenceAttentionOp(gpu.module, spec.reference(), seq, seq);
            DeviceOp<AttentionArgs> op = layout != null ? SelKernelOp.plan(tc, spec, layout, seq, seq, ref) : ref;
            OpRun r = op.launch(gpu.stream, new AttentionArgs(q.tensor(), k.tensor(), v.tensor(), out.tensor(),
                    lse.tensor(), bl.tensor()), Workspace.NONE);
            HostTensor o = out.tensor().toHost(gpu.stream);
            float[] of = outDtype == DType.FP32 ? o.toFloatArray() : toFloats(o.toDoubleArray());
            return new Got(of, lse.tensor().toHost(gpu.stream).toFloatArray(), r);
        }
    }

    static float[] toFloats(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        return f;
    }

    static SelKernelOp.Spec spec(SelInputs in, boolean exactP) {
        return new SelKernelOp.Spec(in.dt(), in.heads(), G, in.dk(), in.dv(), LP, N, (float) (1 / Math.sqrt(in.dk())),
                exactP);
    }

    static String what(SelInputs in) {
        return in.dt() + " Dk=" + in.dk() + " Dv=" + in.dv() + " h=" + in.h() + " G=" + G + " lens="
                + Arrays.toString(in.lens());
    }

    // ---------------------------------------------------------------- tests

    @ParameterizedTest(name = "{0} dk={1} dv={2} h={3} lens={4}")
    @MethodSource("matrix")
    void exactPMatchesSdpaMaskedOnTheSameBlocks(DType dt, int dk, int dv, int h, int[] lens) {
        assumeTrue(runs(dk), "Dk = Dv = 256 runs on SM 9.x only");
        SelInputs in = SelInputs.make(dt, h, dk, dv, lens, 7919L * dk + 131L * h + 17L * lens.length + lens[0] + dt.ordinal());
        SelKernelOp.Spec spec = spec(in, true);
        Got ref = run(in, in.sorted(), spec, null, DType.FP32, 0);
        for (SelLayout layout : layouts(spec)) {
            String what = what(in) + " exact P, " + layout.label() + " layout";
            Got got = run(in, in.sorted(), spec, layout, DType.FP32, 0);
            assertEquals(new OpRun(SelKernelOp.PATH, "", null), got.run(), what);
            compare(what, got, ref);

            Got messy = run(in, in.messy(), spec, layout, DType.FP32, 0);
            assertBitwise(what + ": unsorted/duplicated/negative/future indices (the same sets)", got, messy);

            Got half = run(in, in.sorted(), spec, layout, dt, 0);
            for (int i = 0; i < half.out().length; i++) {
                float want = (float) dt.roundTrip(got.out()[i]);
                if (Float.floatToRawIntBits(half.out()[i]) != Float.floatToRawIntBits(want)) {
                    fail(what + " out " + dt + ": [" + i + "] " + half.out()[i] + " is not the fp32 output "
                            + got.out()[i] + " rounded (" + want + ")");
                }
            }
        }
    }

    @ParameterizedTest(name = "fast {0} dk={1} dv={2} h={3} lens={4}")
    @MethodSource("fastMatrix")
    void fastModeIsWithinTheOracleRule(DType dt, int dk, int dv, int h, int[] lens) {
        assumeTrue(runs(dk), "Dk = Dv = 256 runs on SM 9.x only");
        SelInputs in = SelInputs.make(dt, h, dk, dv, lens, 104729L * dk + 7L * h + lens.length + dt.ordinal());
        SelKernelOp.Spec spec = spec(in, false);
        double[][] oracle = in.oracle(spec.scale());   // {exact, P rounded}
        for (var combo : layoutsAndOutputs(spec)) {
            SelLayout layout = (SelLayout) combo[0];
            DType out = (DType) combo[1];
            Got got = run(in, in.sorted(), spec, layout, out, 0);
            assertEquals(SelKernelOp.PATH, got.run().path());
            double[] base = oracle[1];
            double[] exact = oracle[0];
            if (out != DType.FP32) {
                base = Arrays.stream(base).map(out::roundTrip).toArray();
            }
            double maeFast = 0, maeBase = 0;
            for (int i = 0; i < exact.length; i++) {
                assertTrue(Float.isFinite(got.out()[i]), what(in) + " fast, " + layout.label() + ": out[" + i + "] = " + got.out()[i]);
                maeFast += Math.abs(got.out()[i] - exact[i]);
                maeBase += Math.abs(base[i] - exact[i]);
            }
            maeFast /= Math.max(1, exact.length);
            maeBase /= Math.max(1, exact.length);
            double atol = SelInputs.roundingFloor(exact, out);
            String stats = String.format(Locale.ROOT, "%s fast mode, %s layout, %s out: MAE %.3g vs the P-rounded baseline's %.3g "
                    + "(bound 2x + %.3g)", what(in), layout.label(), out, maeFast, maeBase, atol);
            assertTrue(maeFast <= 2 * maeBase + atol, stats);
        }
    }

    /** The layouts that serve {@code spec} on this GPU (the TMA layout on SM 9.0 for its head dims). */
    static List<SelLayout> layouts(SelKernelOp.Spec spec) {
        return Arrays.stream(SelLayout.values()).filter(l -> SelLayout.serves(gpu.context.device(), spec, l)).toList();
    }

    static List<Object[]> layoutsAndOutputs(SelKernelOp.Spec spec) {
        List<Object[]> c = new ArrayList<>();
        for (SelLayout layout : layouts(spec)) {
            for (DType out : List.of(DType.FP32, spec.dtype())) {
                c.add(new Object[] {layout, out});
            }
        }
        return c;
    }

    @Test
    void aCallTheKernelCannotServeRunsTheFallbackNamingTheRule() {
        assumeTrue(runs(128));
        SelInputs in = SelInputs.make(DType.BF16, 4, 128, 128, new int[] {300}, 5);
        SelKernelOp.Spec spec = spec(in, true);
        Got ref = run(in, in.sorted(), spec, null, DType.FP32, 0);
        Got fell = run(in, in.sorted(), spec, SelLayout.UNION, DType.FP32, 8);   // a foreign pointer, 8-byte aligned only
        assertTrue(fell.run().fellBack());
        assertEquals("sdpa-masked", fell.run().path());
        assertEquals("contract", fell.run().fallbackCause());
        assertTrue(fell.run().reason().startsWith("sel-kernel blocked: alignment: q at 0x"), fell.run().reason());
        assertBitwise("the fallback is the reference path", ref, fell);
    }

    // ---------------------------------------------------------------- checks

    /** MAE and max-abs on o, lse within LSE_TOL, rows without a visible key exactly as the reference. */
    static void compare(String what, Got got, Got ref) {
        double sum = 0, maxAbs = 0;
        int worst = -1;
        for (int i = 0; i < got.out().length; i++) {
            float g = got.out()[i];
            if (!Float.isFinite(g)) {
                fail(what + ": out[" + i + "] = " + g + " (reference " + ref.out()[i] + ")");
            }
            double err = Math.abs(g - ref.out()[i]);
            sum += err;
            if (err > maxAbs) {
                maxAbs = err;
                worst = i;
            }
        }
        int n = got.out().length;
        double mae = n == 0 ? 0 : sum / n;
        worstMae = Math.max(worstMae, mae);
        String stats = String.format(Locale.ROOT, "%s: max abs error %.3g at %d, MAE %.3g over %d values", what,
                maxAbs, worst, mae, n);
        assertTrue(mae < MAE, stats);
        assertTrue(maxAbs < MAX_ABS, stats);
        int dv = got.lse().length == 0 ? 0 : n / got.lse().length;
        for (int r = 0; r < got.lse().length; r++) {
            float want = ref.lse()[r];
            float g = got.lse()[r];
            if (want == Float.NEGATIVE_INFINITY) {
                assertEquals(Float.NEGATIVE_INFINITY, g, what + ": row " + r + " without a visible key needs lse -inf");
                for (int e = 0; e < dv; e++) {
                    assertEquals(0, Float.floatToRawIntBits(got.out()[r * dv + e]),
                            what + ": row " + r + " without a visible key needs output +0");
                }
            } else if (!(Math.abs(g - want) < LSE_TOL)) {
                fail(what + ": lse[" + r + "] " + g + " vs sdpa-masked " + want);
            }
        }
    }

    static void assertBitwise(String what, Got a, Got b) {
        assertEquals(a.out().length, b.out().length, what);
        for (int i = 0; i < a.out().length; i++) {
            if (Float.floatToRawIntBits(a.out()[i]) != Float.floatToRawIntBits(b.out()[i])) {
                fail(what + ": out[" + i + "] " + a.out()[i] + " vs " + b.out()[i]);
            }
        }
        for (int i = 0; i < a.lse().length; i++) {
            if (Float.floatToRawIntBits(a.lse()[i]) != Float.floatToRawIntBits(b.lse()[i])) {
                fail(what + ": lse[" + i + "] " + a.lse()[i] + " vs " + b.lse()[i]);
            }
        }
    }
}
