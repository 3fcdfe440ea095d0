package dev.nsa4j.kernels.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.GpuFixture;
import dev.nsa4j.kernels.GpuSuite;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.stream.Stream;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import dev.nsa4j.tensor.Shape;

/**
 * The reference attention kernels on the device, every NSA branch and both walks ({@code sdpa} = ALL,
 * {@code sdpa-masked} = RANGES), against an fp64 masked dense softmax written here, on the same
 * dtype-rounded inputs (so only the kernel's fp32 arithmetic differs). Skips without a GPU.
 */
@Tag("gpu")
class AttentionGpuTest extends GpuSuite {
    static final int G = 2;                 // KV heads; H = G · ratio
    static final int CMP_L = 32, CMP_D = 16; // compression l, d
    static final int SEL_L = 64, N_SEL = 4;  // selection l', n
    /** Varlen batch with zero-length and length-1 sequences (marker -1 in the matrix). */
    static final int[] VARLEN = {0, 63, 1, 0, 300, 64, 65, 1, 0};
    static final double MAX_ABS_FP32 = 1e-5, MAE = 1e-5, LSE_TOL = 1e-5;
    /** Sanity bound on the max error for fp16/bf16 inputs (their arithmetic is fp32 too; MAE is the rule). */
    static final double MAX_ABS_HALF = 1e-4;

    static Stream<Arguments> matrix() {
        List<Arguments> out = new ArrayList<>();
        for (DType d : List.of(DType.FP32, DType.FP16, DType.BF16)) {
            for (int dim : new int[]{16, 64, 128}) {
                for (int ratio : new int[]{1, 4}) {
                    for (int len : new int[]{1, 63, 64, 65, 300, -1}) {
                        out.add(Arguments.of(d, dim, ratio, len));
                    }
                }
            }
        }
        return shard(out);
    }

    // ---------------------------------------------------------------- inputs

    /** One batch: raw q/k/v (dtype-rounded), offsets, and the derived compressed keys and chosen blocks. */
    record Inputs(DType dtype, int heads, int dk, int dv, int[] lens, int[] cu, HostTensor q, HostTensor k, HostTensor v,
                  int[] cuCmp, HostTensor kCmp, HostTensor vCmp, HostTensor blocksSorted, HostTensor blocksMessy) {
        int nnz() {
            return cu[cu.length - 1];
        }

        int batch() {
            return lens.length;
        }

        static Inputs make(DType dtype, int heads, int dk, int dv, int[] lens, long seed) {
            Random rnd = new Random(seed);
            int[] cu = offsets(lens);
            int nnz = cu[lens.length];
            HostTensor q = GpuFixture.random(rnd, dtype, -1, 1, nnz, heads, dk);
            HostTensor k = GpuFixture.random(rnd, dtype, -1, 1, nnz, G, dk);
            HostTensor v = GpuFixture.random(rnd, dtype, -1, 1, nnz, G, dv);
            int[] cmpLens = Arrays.stream(lens).map(AttentionGpuTest::sCmp).toArray();
            int[] cuCmp = offsets(cmpLens);
            HostTensor kCmp = compress(dtype, k.toDoubleArray(), cu, cuCmp, lens.length, dk);
            HostTensor vCmp = compress(dtype, v.toDoubleArray(), cu, cuCmp, lens.length, dv);
            return new Inputs(dtype, heads, dk, dv, lens, cu, q, k, v, cuCmp, kCmp, vCmp,
                    blocks(rnd, lens, cu, true), blocks(rnd, lens, cu, false));
        }
    }

    static int[] offsets(int[] lens) {
        int[] cu = new int[lens.length + 1];
        for (int b = 0; b < lens.length; b++) {
            cu[b + 1] = cu[b] + lens[b];
        }
        return cu;
    }

    /** S_cmp(S) = 0 if S < l, else (S − l)/d + 1. */
    static int sCmp(int s) {
        return s < CMP_L ? 0 : (s - CMP_L) / CMP_D + 1;
    }

    /** Compressed token i of each sequence: the fp64 mean of raw rows [i·d, i·d + l), rounded to dtype. */
    static HostTensor compress(DType dtype, double[] x, int[] cu, int[] cuCmp, int batch, int dim) {
        int n = cuCmp[batch];
        double[] out = new double[n * G * dim];
        for (int b = 0; b < batch; b++) {
            for (int i = 0; i < cuCmp[b + 1] - cuCmp[b]; i++) {
                for (int g = 0; g < G; g++) {
                    for (int e = 0; e < dim; e++) {
                        double s = 0;
                        for (int j = 0; j < CMP_L; j++) {
                            s += x[((cu[b] + i * CMP_D + j) * G + g) * dim + e];
                        }
                        out[((cuCmp[b] + i) * G + g) * dim + e] = s / CMP_L;
                    }
                }
            }
        }
        return HostTensor.of(dtype, out, n, G, dim);
    }

    /**
     * Chosen blocks [nnz, G, n]: sorted distinct sets padded with −1, or messy ones (any order, duplicates,
     * −1 anywhere). Row (t = 0, g = 0) of every sequence sees nothing: its blocks all start after t (all −1
     * when the sequence has one block); other rows get such a set now and then too.
     */
    static HostTensor blocks(Random rnd, int[] lens, int[] cu, boolean sorted) {
        int nnz = cu[lens.length];
        int[] out = new int[nnz * G * N_SEL];
        Arrays.fill(out, -1);
        for (int b = 0; b < lens.length; b++) {
            int nb = (lens[b] + SEL_L - 1) / SEL_L;
            for (int t = 0; t < lens[b]; t++) {
                for (int g = 0; g < G; g++) {
                    int base = ((cu[b] + t) * G + g) * N_SEL;
                    int cur = t / SEL_L;
                    boolean empty = (t == 0 && g == 0) || (cur + 1 < nb && rnd.nextInt(8) == 0);
                    if (empty) {
                        for (int e = 0; e < N_SEL && cur + 1 + e < nb; e++) {
                            out[base + (sorted ? e : N_SEL - 1 - e)] = cur + 1 + e;
                        }
                    } else if (sorted) {
                        List<Integer> all = new ArrayList<>();
                        for (int j = 0; j < nb; j++) {
                            all.add(j);
                        }
                        java.util.Collections.shuffle(all, rnd);
                        int m = 1 + rnd.nextInt(Math.min(N_SEL, nb));
                        int[] pick = all.subList(0, m).stream().mapToInt(Integer::intValue).sorted().toArray();
                        System.arraycopy(pick, 0, out, base, m);
                    } else {
                        for (int e = 0; e < N_SEL; e++) {
                            out[base + e] = rnd.nextInt(nb + 1) - 1;   // [-1, nb): duplicates and -1 anywhere
                        }
                    }
                }
            }
        }
        return HostTensor.ofInts(out, nnz, G, N_SEL);
    }

    // ---------------------------------------------------------------- fp64 reference

    /** Whether query token {@code tok} (position t in its sequence) sees key position s, for KV head g. */
    interface Visible {
        boolean test(int tok, int t, int s, int g);
    }

    static Visible visibility(AttnSpec spec, int[] blocks) {
        return switch (AttnMask.ofMask(spec.mask())) {
            case NONE -> (tok, t, s, g) -> true;
            case CAUSAL -> (tok, t, s, g) -> s <= t;
            case WINDOW -> (tok, t, s, g) -> s <= t && s >= t - spec.window() + 1;
            case BLOCK_CAUSAL -> (tok, t, s, g) -> (long) s * spec.cmpStride() + spec.cmpLen() - 1 <= t;
            case CHOSEN -> (tok, t, s, g) -> {
                if (s > t) {
                    return false;
                }
                for (int e = 0; e < N_SEL; e++) {
                    if (blocks[(tok * G + g) * N_SEL + e] == s / spec.selBlock()) {
                        return true;
                    }
                }
                return false;
            };
        };
    }

    record Ref(double[] out, double[] lse) {
    }

    /** Masked dense softmax attention in fp64; fully masked rows give 0 and lse −inf. */
    static Ref reference(Inputs in, double[] k, double[] v, int[] cuK, Visible vis, double scale) {
        double[] q = in.q().toDoubleArray();
        int h = in.heads(), dk = in.dk(), dv = in.dv(), ratio = h / G;
        double[] out = new double[in.nnz() * h * dv];
        double[] lse = new double[in.nnz() * h];
        for (int b = 0; b < in.batch(); b++) {
            int nk = cuK[b + 1] - cuK[b];
            double[] s = new double[nk];
            for (int t = 0; t < in.lens()[b]; t++) {
                int tok = in.cu()[b] + t;
                for (int hh = 0; hh < h; hh++) {
                    int g = hh / ratio;
                    double m = Double.NEGATIVE_INFINITY;
                    for (int i = 0; i < nk; i++) {
                        s[i] = Double.NEGATIVE_INFINITY;
                        if (vis.test(tok, t, i, g)) {
                            double dot = 0;
                            for (int e = 0; e < dk; e++) {
                                dot += q[(tok * h + hh) * dk + e] * k[((cuK[b] + i) * G + g) * dk + e];
                            }
                            s[i] = dot * scale;
                            m = Math.max(m, s[i]);
                        }
                    }
                    int row = tok * h + hh;
                    if (m == Double.NEGATIVE_INFINITY) {
                        lse[row] = Double.NEGATIVE_INFINITY;
                        continue;   // out stays 0
                    }
                    double sum = 0;
                    for (int i = 0; i < nk; i++) {
                        if (s[i] != Double.NEGATIVE_INFINITY) {
                            double p = Math.exp(s[i] - m);
                            sum += p;
                            for (int e = 0; e < dv; e++) {
                                out[row * dv + e] += p * v[((cuK[b] + i) * G + g) * dv + e];
                            }
                        }
                    }
                    for (int e = 0; e < dv; e++) {
                        out[row * dv + e] /= sum;
                    }
                    lse[row] = m + Math.log(sum);
                }
            }
        }
        return new Ref(out, lse);
    }

    // ---------------------------------------------------------------- device runs

    record Got(float[] out, float[] lse) {
    }

    /** One launch: uploads, runs, reads back (out in {@code outDtype}, as floats; lse fp32). */
    static Got run(Inputs in, HostTensor k, HostTensor v, int[] cuK, HostTensor blocks, AttnSpec spec, DType outDtype) {
        int nnz = in.nnz();
        try (var q = gpu.upload(in.q(), 0); var kd = gpu.upload(k, 0); var vd = gpu.upload(v, 0);
             var cq = gpu.upload(HostTensor.ofInts(in.cu(), in.cu().length), 0);
             var ck = gpu.upload(HostTensor.ofInts(cuK, cuK.length), 0);
             var bl = gpu.upload(blocks, 0);
             var out = gpu.alloc(outDtype, 0, nnz, in.heads(), in.dv());
             var lse = gpu.alloc(DType.FP32, 0, nnz, in.heads())) {
            Attention.run(gpu.module, gpu.stream, q.tensor(), kd.tensor(), vd.tensor(), cq.tensor(), ck.tensor(),
                    spec.chosenBlocks() ? bl.tensor() : null, spec, out.tensor(), lse.tensor());
            HostTensor o = out.tensor().toHost(gpu.stream);
            float[] of = outDtype == DType.FP32 ? o.toFloatArray() : toFloats(o.toDoubleArray());
            return new Got(of, lse.tensor().toHost(gpu.stream).toFloatArray());
        }
    }

    static float[] toFloats(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        return f;
    }

    /** The branches the matrix runs: name, spec, keys (raw or compressed), blocks. */
    record Branch(String name, AttnSpec spec, boolean compressed, boolean messy) {
    }

    static List<Branch> branches() {
        return List.of(
                new Branch("none", AttnSpec.none(), false, false),
                new Branch("causal", AttnSpec.causal(), false, false),
                new Branch("window w=1", AttnSpec.window(1), false, false),
                new Branch("window w=64", AttnSpec.window(64), false, false),
                new Branch("block-causal l=32 d=16", AttnSpec.blockCausal(CMP_L, CMP_D), true, false),
                new Branch("chosen sorted l'=64 n=4", AttnSpec.chosen(SEL_L), false, false),
                new Branch("chosen unsorted/duplicated l'=64 n=4", AttnSpec.chosen(SEL_L), false, true));
    }

    /** Runs one branch with both walks and every output dtype; checks everything the brief asks. */
    static void check(Inputs in, Branch br) {
        HostTensor k = br.compressed() ? in.kCmp() : in.k();
        HostTensor v = br.compressed() ? in.vCmp() : in.v();
        int[] cuK = br.compressed() ? in.cuCmp() : in.cu();
        HostTensor blocks = br.messy() ? in.blocksMessy() : in.blocksSorted();
        AttnSpec spec = br.spec();
        double scale = spec.scaleFor(in.dk());
        Ref ref = reference(in, k.toDoubleArray(), v.toDoubleArray(), cuK, visibility(spec, blocks.toIntArray()), scale);
        String what = in.dtype() + " H=" + in.heads() + " G=" + G + " D=" + in.dk() + " lens=" + Arrays.toString(in.lens())
                + " " + br.name();

        Got all = run(in, k, v, cuK, blocks, spec.withWalk(AttnWalk.ALL), DType.FP32);
        Got ranges = run(in, k, v, cuK, blocks, spec.withWalk(AttnWalk.RANGES), DType.FP32);
        compare(what + " walk ALL", all, ref, in.dtype());
        compare(what + " walk RANGES", ranges, ref, in.dtype());
        assertBitwise(what + ": walks ALL and RANGES differ", all, ranges);
        Got again = run(in, k, v, cuK, blocks, spec.withWalk(AttnWalk.RANGES), DType.FP32);
        assertBitwise(what + ": a repeated run differs", ranges, again);

        if (in.dtype() != DType.FP32) {
            // the kernel writes acc·(1/l) rounded once to the dtype: exactly the fp32 result rounded
            Got half = run(in, k, v, cuK, blocks, spec.withWalk(AttnWalk.ALL), in.dtype());
            for (int i = 0; i < half.out().length; i++) {
                float want = (float) in.dtype().roundTrip(all.out()[i]);
                if (Float.floatToRawIntBits(half.out()[i]) != Float.floatToRawIntBits(want)) {
                    fail(what + " out " + in.dtype() + ": [" + i + "] " + half.out()[i] + " is not the fp32 output "
                            + all.out()[i] + " rounded (" + want + ")");
                }
            }
            assertBitwise(what + ": lse depends on the output dtype", new Got(new float[0], all.lse()),
                    new Got(new float[0], half.lse()));
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

    /** fp32 outputs against fp64: max abs (fp32 inputs), MAE (every dtype), lse, fully masked rows, no NaN. */
    static void compare(String what, Got got, Ref ref, DType dtype) {
        double maxAbs = 0, sum = 0;
        int worst = -1;
        for (int i = 0; i < got.out().length; i++) {
            float g = got.out()[i];
            if (!Float.isFinite(g)) {
                fail(what + ": out[" + i + "] = " + g + " for finite inputs (reference " + ref.out()[i] + ")");
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
        String stats = String.format(Locale.ROOT, "%s: max abs error %.3g at %d, MAE %.3g over %d values", what, maxAbs,
                worst, mae, n);
        assertTrue(mae < MAE, stats);
        assertTrue(maxAbs < (dtype == DType.FP32 ? MAX_ABS_FP32 : MAX_ABS_HALF), stats);
        int dv = got.lse().length == 0 ? 0 : n / got.lse().length;
        for (int r = 0; r < got.lse().length; r++) {
            double want = ref.lse()[r];
            float g = got.lse()[r];
            if (want == Double.NEGATIVE_INFINITY) {
                assertEquals(Float.NEGATIVE_INFINITY, g, what + ": fully masked row " + r + " needs lse -inf");
                for (int e = 0; e < dv; e++) {
                    assertEquals(0, Float.floatToRawIntBits(got.out()[r * dv + e]),
                            what + ": fully masked row " + r + " needs output +0");
                }
            } else if (!(Math.abs(g - want) < LSE_TOL)) {
                fail(what + ": lse[" + r + "] " + g + " vs reference " + want);
            }
        }
    }

    // ---------------------------------------------------------------- tests

    @ParameterizedTest(name = "{0} D={1} H/G={2} len={3}")
    @MethodSource("matrix")
    void everyBranchMatchesTheFp64Reference(DType dtype, int dim, int ratio, int len) {
        int[] lens = len < 0 ? VARLEN : new int[]{len};
        Inputs in = Inputs.make(dtype, G * ratio, dim, dim, lens, 1009L * dim + 31L * len + 7L * ratio + dtype.ordinal());
        for (Branch br : branches()) {
            check(in, br);
        }
    }

    @Test
    void everyBranchWithDkDifferentFromDv() {
        for (int[] d : new int[][]{{64, 32}, {192, 128}, {16, 100}}) {
            Inputs in = Inputs.make(DType.BF16, 8, d[0], d[1], VARLEN, 5L + d[0] + d[1]);
            for (Branch br : branches()) {
                check(in, br);
            }
        }
    }

    @Test
    void repeatedRunsAreBitwiseIdentical() {
        Inputs in = Inputs.make(DType.BF16, 8, 128, 128, new int[]{1000, 7}, 3);
        for (Branch br : branches()) {
            HostTensor k = br.compressed() ? in.kCmp() : in.k();
            HostTensor v = br.compressed() ? in.vCmp() : in.v();
            int[] cuK = br.compressed() ? in.cuCmp() : in.cu();
            HostTensor blocks = br.messy() ? in.blocksMessy() : in.blocksSorted();
            Got first = run(in, k, v, cuK, blocks, br.spec(), DType.FP32);
            for (int rep = 0; rep < 4; rep++) {
                assertBitwise(br.name() + " rep " + rep, first, run(in, k, v, cuK, blocks, br.spec().withWalk(
                        rep % 2 == 0 ? AttnWalk.ALL : AttnWalk.RANGES), DType.FP32));
            }
        }
    }

    /**
     * A decode step: one query at position t of a sequence (q_start = t) against all its keys gives the bits of
     * row t of the full prefill, for every branch.
     */
    @Test
    void decodeQueryWithStartPositionEqualsThePrefillRow() {
        int s = 300, h = 8, d = 64;
        Inputs in = Inputs.make(DType.FP16, h, d, d, new int[]{s}, 17);
        for (int t : new int[]{0, 63, 64, 200, s - 1}) {
            for (Branch br : branches()) {
                HostTensor k = br.compressed() ? in.kCmp() : in.k();
                HostTensor v = br.compressed() ? in.vCmp() : in.v();
                int[] cuK = br.compressed() ? in.cuCmp() : in.cu();
                HostTensor blocks = br.messy() ? in.blocksMessy() : in.blocksSorted();
                Got full = run(in, k, v, cuK, blocks, br.spec().withWalk(AttnWalk.RANGES), DType.FP32);
                HostTensor q1 = slice(in.q(), t, h * d);
                HostTensor b1 = slice(blocks, t, G * N_SEL);
                try (var q = gpu.upload(q1, 0); var kd = gpu.upload(k, 0); var vd = gpu.upload(v, 0);
                     var cq = gpu.upload(HostTensor.ofInts(new int[]{0, 1}, 2), 0);
                     var ck = gpu.upload(HostTensor.ofInts(cuK, cuK.length), 0);
                     var qs = gpu.upload(HostTensor.ofInts(new int[]{t}, 1), 0);
                     var bl = gpu.upload(b1, 0);
                     var out = gpu.alloc(DType.FP32, 0, 1, h, d); var lse = gpu.alloc(DType.FP32, 0, 1, h)) {
                    for (AttnWalk w : AttnWalk.values()) {
                        Attention.run(gpu.module, gpu.stream, q.tensor(), kd.tensor(), vd.tensor(), cq.tensor(), ck.tensor(),
                                qs.tensor(), null, br.spec().chosenBlocks() ? bl.tensor() : null,
                                br.spec().withWalk(w), out.tensor(), lse.tensor());
                        float[] o = out.tensor().toHost(gpu.stream).toFloatArray();
                        float[] l = lse.tensor().toHost(gpu.stream).toFloatArray();
                        assertArrayEquals(Arrays.copyOfRange(full.out(), t * h * d, (t + 1) * h * d), o,
                                br.name() + " t=" + t + " " + w);
                        assertArrayEquals(Arrays.copyOfRange(full.lse(), t * h, (t + 1) * h), l, br.name() + " t=" + t + " " + w);
                    }
                }
            }
        }
    }

    /** Row {@code t} of a contiguous [n, ...] tensor as a [1, ...] tensor. */
    static HostTensor slice(HostTensor x, int t, int rowElems) {
        int[] dims = x.shape().dims().clone();
        dims[0] = 1;
        if (x.dtype() == DType.INT32) {
            return HostTensor.ofInts(Arrays.copyOfRange(x.toIntArray(), t * rowElems, (t + 1) * rowElems), dims);
        }
        return HostTensor.of(x.dtype(), Arrays.copyOfRange(x.toDoubleArray(), t * rowElems, (t + 1) * rowElems), dims);
    }

    @Test
    void stridedQueryAndOutputViews() {
        int s = 65, h = 4, d = 64, pad = 16;
        Inputs in = Inputs.make(DType.FP32, h, d, d, new int[]{s}, 23);
        // q in a padded buffer [s, h, d + pad]; out written into a padded buffer too
        double[] qv = in.q().toDoubleArray();
        double[] padded = new double[s * h * (d + pad)];
        for (int r = 0; r < s * h; r++) {
            System.arraycopy(qv, r * d, padded, r * (d + pad), d);
        }
        Shape view = Shape.strided(new int[]{s, h, d}, new long[]{(long) h * (d + pad), d + pad, 1});
        Ref ref = reference(in, in.k().toDoubleArray(), in.v().toDoubleArray(), in.cu(),
                visibility(AttnSpec.causal(), null), AttnSpec.causal().scaleFor(d));
        try (var q = gpu.upload(HostTensor.of(DType.FP32, padded, s, h, d + pad), 0); var kd = gpu.upload(in.k(), 0);
             var vd = gpu.upload(in.v(), 0); var cu = gpu.upload(HostTensor.ofInts(in.cu(), 2), 0);
             var out = gpu.alloc(DType.FP32, 0, s, h, d + pad); var lse = gpu.alloc(DType.FP32, 0, s, h)) {
            Attention.run(gpu.module, gpu.stream, q.tensor().view(view), kd.tensor(), vd.tensor(), cu.tensor(), cu.tensor(),
                    null, AttnSpec.causal().withWalk(AttnWalk.RANGES), out.tensor().view(view), lse.tensor());
            float[] o = out.tensor().toHost(gpu.stream).toFloatArray();
            float[] packed = new float[s * h * d];
            for (int r = 0; r < s * h; r++) {
                System.arraycopy(o, r * (d + pad), packed, r * d, d);
                assertEquals(0x7f7f7f7f, Float.floatToRawIntBits(o[r * (d + pad) + d]), "padding was written");
            }
            compare("strided q/out", new Got(packed, lse.tensor().toHost(gpu.stream).toFloatArray()), ref, DType.FP32);
        }
    }

    @Test
    void emptyQueriesLaunchNothing() {
        try (var out = gpu.alloc(DType.FP32, 0, 4); var cu = gpu.upload(HostTensor.ofInts(new int[]{0, 0}, 2), 0)) {
            DeviceTensor e = DeviceTensor.wrap(0, DType.FP32, Shape.of(0, 4, 64));
            Attention.run(gpu.module, gpu.stream, e, DeviceTensor.wrap(0, DType.FP32, Shape.of(0, 2, 64)),
                    DeviceTensor.wrap(0, DType.FP32, Shape.of(0, 2, 64)), cu.tensor(), cu.tensor(), null,
                    AttnSpec.causal(), e, null);
            gpu.stream.synchronize();
            assertEquals(0x7f7f7f7f, Float.floatToRawIntBits(out.tensor().toHost(gpu.stream).toFloatArray()[0]));
        }
    }
}
