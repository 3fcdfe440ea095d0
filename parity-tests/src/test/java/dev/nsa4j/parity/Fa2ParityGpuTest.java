package dev.nsa4j.parity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import dev.nsa4j.fa2.Fa2Attention;
import dev.nsa4j.fa2.Fa2Bridge;
import dev.nsa4j.fa2.Fa2Layout;
import dev.nsa4j.fa2.Fa2Layouts;
import dev.nsa4j.fa2.contract.Fa2Options;
import dev.nsa4j.fa2.contract.KeyExtent;
import dev.nsa4j.kernels.internal.AttnSpec;
import dev.nsa4j.kernels.internal.Attention;
import dev.nsa4j.kernels.DeviceBuffer;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.GpuFixture;
import dev.nsa4j.kernels.GpuSuite;
import dev.nsa4j.kernels.Mask;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import dev.nsa4j.tensor.Shape;

/**
 * FA-2 against the reference path {@code sdpa} on the same inputs (docs/routing.md acceptance): fp32 outputs,
 * exact-P mode, MAE < 1e-5 and no NaN/Inf on o and lse, over dtype {fp16, bf16} x head_dim {64, 128, and
 * 192, 256 on SM 9.0} x length {1, 17, 64, 1000, 4096} x GQA {1, 4, 16} x mask {causal, window 1/64/512,
 * block-causal (32, 16) / (64, 64)}; varlen batches with zero-length and length-1 sequences; decode (one
 * query per sequence at its last position, split-KV); the kv-packed layout (K and V as strided views of one
 * tensor) and Dk = 192 with Dv = 128, dense and varlen. The fast mode (P rounded once) is judged against the
 * fp64 oracle on sampled rows: error at most twice that of an fp32 attention with P rounded the same way,
 * plus FlashAttention's fp32 rounding floor ({@link ParityHarness#roundingFloor}); its MAE against
 * {@code sdpa} is reported. With {@code NSA_PARITY_OUT=file} every report line is appended
 * there (the docs' tables come from it).
 */
@Tag("gpu")
class Fa2ParityGpuTest extends GpuSuite {
    static final int[] LENGTHS = {1, 17, 64, 1000, 4096};
    static final int[] RATIOS = {1, 4, 16};
    static final Mask[] MASKS = {Mask.CAUSAL, Mask.window(1), Mask.window(64), Mask.window(512),
            Mask.blockCausal(32, 16), Mask.blockCausal(64, 64)};
    static Fa2Bridge bridge;
    static final Fa2Options MMA_ONLY = Fa2Options.defaults().withHopper(false, Fa2Options.HOPPER_MIN_KEYS);
    static final Fa2Options HOPPER_ALL = Fa2Options.defaults().withHopper(true, 0);

    @BeforeAll
    static void openBridge() {
        bridge = Fa2Bridge.open(gpu.module, false);
        assertTrue(bridge.fa2Loaded(), () -> "FA-2 image did not load: " + bridge.fa2Unavailable());
    }

    @AfterAll
    static void closeBridge() {
        if (bridge != null) {
            bridge.close();
            bridge = null;
        }
    }

    static boolean sm90() {
        return gpu.context.device().ccMajor() >= 9;
    }

    static Stream<Arguments> dense() {
        List<Arguments> out = new ArrayList<>();
        for (DType dt : List.of(DType.BF16, DType.FP16)) {
            for (int d : new int[]{64, 128, 192, 256}) {
                for (int s : LENGTHS) {
                    for (int r : RATIOS) {
                        for (Mask m : MASKS) {
                            out.add(Arguments.of(dt, d, s, r, m));
                        }
                    }
                }
            }
        }
        return shard(out);
    }

    @ParameterizedTest(name = "{0} D={1} S={2} H/Hkv={3} {4}")
    @MethodSource("dense")
    void denseMatchesSdpa(DType dtype, int d, int s, int ratio, Mask mask) {
        assumeTrue(d <= 128 || sm90(), "head_dim > 128 runs on SM 9.0 only (without NSA_FA2_ALLOW_D_GT_128)");
        int sk = keysFor(mask, s);
        int kvh = ratio == 16 ? 1 : 2;
        Case c = new Case(dtype, d, ratio * kvh, kvh, new int[]{s}, new int[]{sk}, mask, KeyExtent.FULL, null);
        c.check(new Random(31L * s + d + ratio), true);
    }

    static Stream<Arguments> varlen() {
        List<Arguments> out = new ArrayList<>();
        for (DType dt : List.of(DType.BF16, DType.FP16)) {
            for (int d : new int[]{64, 128, 256}) {
                for (Mask m : MASKS) {
                    out.add(Arguments.of(dt, d, m));
                }
            }
        }
        return shard(out);
    }

    @ParameterizedTest(name = "varlen {0} D={1} {2}")
    @MethodSource("varlen")
    void varlenWithEmptyAndSingleSequences(DType dtype, int d, Mask mask) {
        assumeTrue(d <= 128 || sm90(), "head_dim > 128 runs on SM 9.0 only");
        int[] lq = {0, 1, 17, 1000, 0, 64, 1, 300};
        int[] lk = new int[lq.length];
        for (int i = 0; i < lq.length; i++) {
            lk[i] = keysFor(mask, lq[i]);
        }
        new Case(dtype, d, 8, 2, lq, lk, mask, KeyExtent.FULL, null).check(new Random(7 + d), false);
    }

    static Stream<Arguments> decode() {
        List<Arguments> out = new ArrayList<>();
        for (DType dt : List.of(DType.BF16, DType.FP16)) {
            for (int d : new int[]{64, 128}) {
                for (Mask m : new Mask[]{Mask.CAUSAL, Mask.window(512), Mask.blockCausal(32, 16)}) {
                    for (int splits : new int[]{0, 1, 7}) {
                        out.add(Arguments.of(dt, d, m, splits));
                    }
                }
            }
        }
        return shard(out);
    }

    /** One query per sequence at position len - 1 against the whole prefix (split-KV when splits != 1). */
    @ParameterizedTest(name = "decode {0} D={1} {2} splits={3}")
    @MethodSource("decode")
    void decodeOneQueryPerSequence(DType dtype, int d, Mask mask, int splits) {
        int[] len = {1, 17, 1000, 4096, 64};
        int[] lq = new int[len.length], lk = new int[len.length], qs = new int[len.length];
        for (int i = 0; i < len.length; i++) {
            lq[i] = 1;
            qs[i] = len[i] - 1;
            lk[i] = mask instanceof Mask.BlockCausal ? keysFor(mask, len[i]) : len[i];
        }
        new Case(dtype, d, 16, 4, lq, lk, mask, KeyExtent.INDEPENDENT, qs).splits(splits).check(new Random(99 + d), false);
    }

    static Stream<Arguments> layouts() {
        List<Arguments> out = new ArrayList<>();
        for (DType dt : List.of(DType.BF16, DType.FP16)) {
            for (Mask m : new Mask[]{Mask.CAUSAL, Mask.window(64), Mask.blockCausal(32, 16)}) {
                for (boolean dense : new boolean[]{true, false}) {
                    out.add(Arguments.of(dt, m, dense));
                }
            }
        }
        return shard(out);
    }

    /** K and V in one interleaved tensor (strided views of it), head dims 64 and 128, dense and varlen. */
    @ParameterizedTest(name = "kv-packed {0} {1} dense={2}")
    @MethodSource("layouts")
    void kvPackedMatchesSdpa(DType dtype, Mask mask, boolean dense) {
        for (int d : new int[]{64, 128}) {
            if (dense) {
                new Case(dtype, d, 8, 2, new int[]{1000}, new int[]{keysFor(mask, 1000)}, mask, KeyExtent.FULL, null)
                        .kvPacked().check(new Random(5 + d), true);
            } else {
                int[] lq = {0, 1, 17, 1000, 64};
                int[] lk = new int[lq.length];
                for (int i = 0; i < lq.length; i++) {
                    lk[i] = keysFor(mask, lq[i]);
                }
                new Case(dtype, d, 8, 2, lq, lk, mask, KeyExtent.FULL, null).kvPacked().check(new Random(6 + d), false);
            }
        }
    }

    /** Dk = 192, Dv = 128 (DeepSeek's MLA head pair), dense and varlen: SM 9.0 only, as every head dim > 128. */
    @ParameterizedTest(name = "Dk=192 Dv=128 {0} {1} dense={2}")
    @MethodSource("layouts")
    void dkDifferentFromDvMatchesSdpa(DType dtype, Mask mask, boolean dense) {
        assumeTrue(sm90(), "head_dim > 128 runs on SM 9.0 only");
        int[] lq = dense ? new int[]{1000} : new int[]{0, 1, 17, 1000, 64};
        int[] lk = new int[lq.length];
        for (int i = 0; i < lq.length; i++) {
            lk[i] = keysFor(mask, lq[i]);
        }
        new Case(dtype, 192, 16, 4, lq, lk, mask, KeyExtent.FULL, null).dv(128).check(new Random(11), dense);
    }

    @Test
    void paramsLayoutMatchesTheDevice() {
        long[] probe = Fa2Layouts.probe(bridge.fa2(), gpu.stream);
        org.junit.jupiter.api.Assertions.assertArrayEquals(Fa2Layouts.expectedProbe(), probe);
    }

    /** Compressed keys for a block-causal mask over {@code s} tokens; {@code s} keys otherwise. */
    static int keysFor(Mask m, int s) {
        if (m instanceof Mask.BlockCausal(int l, int d)) {
            return s < l ? 0 : (s - l) / d + 1;
        }
        return s;
    }

    /** One parity case: random inputs, FA-2 (exact and fast) and sdpa, fp32 outputs. */
    static final class Case {
        final DType dtype;
        final int d, heads, kvHeads;
        final int[] lq, lk, qStart;
        final Mask mask;
        final KeyExtent keys;
        int dimV;
        int splits = 0;
        boolean kvPacked;

        Case(DType dtype, int d, int heads, int kvHeads, int[] lq, int[] lk, Mask mask, KeyExtent keys, int[] qStart) {
            this.dtype = dtype;
            this.d = d;
            this.dimV = d;
            this.heads = heads;
            this.kvHeads = kvHeads;
            this.lq = lq;
            this.lk = lk;
            this.mask = mask;
            this.keys = keys;
            this.qStart = qStart;
        }

        Case splits(int n) {
            splits = n;
            return this;
        }

        /** Value head dim {@code dv} (Dk = {@code d}). */
        Case dv(int n) {
            dimV = n;
            return this;
        }

        /** K and V interleaved in one {@code kv [nnz_k, 2, Hkv, D]} tensor (FA-2's kv-packed layout). */
        Case kvPacked() {
            kvPacked = true;
            return this;
        }

        String label() {
            return dtype + layoutLabel() + " D=" + d + (dimV != d ? "/" + dimV : "") + (kvPacked ? " kv-packed" : "") + " H=" + heads + "/"
                    + kvHeads + " lq=" + java.util.Arrays.toString(lq) + " lk=" + java.util.Arrays.toString(lk) + " " + mask
                    + (splits != 0 ? " splits=" + splits : "");
        }

        void check(Random rnd, boolean dense) {
            int b = lq.length;
            int[] cuQ = new int[b + 1], cuK = new int[b + 1];
            for (int i = 0; i < b; i++) {
                cuQ[i + 1] = cuQ[i] + lq[i];
                cuK[i + 1] = cuK[i] + lk[i];
            }
            int nq = cuQ[b], nk = cuK[b];
            HostTensor q = GpuFixture.random(rnd, dtype, -2, 2, Math.max(nq, 1), heads, d);
            HostTensor k = GpuFixture.random(rnd, dtype, -2, 2, Math.max(nk, 1), kvHeads, d);
            HostTensor v = GpuFixture.random(rnd, dtype, -1, 1, Math.max(nk, 1), kvHeads, dimV);
            try (GpuFixture.DeviceCopy dq = gpu.upload(q, 0); GpuFixture.DeviceCopy dk = gpu.upload(k, 0);
                 GpuFixture.DeviceCopy dv = gpu.upload(v, 0);
                 GpuFixture.DeviceCopy cq = gpu.upload(HostTensor.ofInts(cuQ, b + 1), 0);
                 GpuFixture.DeviceCopy ck = gpu.upload(HostTensor.ofInts(cuK, b + 1), 0);
                 GpuFixture.DeviceCopy qs = qStart == null ? null : gpu.upload(HostTensor.ofInts(qStart, b), 0);
                 GpuFixture.DeviceCopy dkv = kvPacked ? gpu.upload(pack(k, v), 0) : null;
                 GpuFixture.DeviceCopy oRef = gpu.alloc(DType.FP32, 0, Math.max(nq, 1), heads, dimV);
                 GpuFixture.DeviceCopy lRef = gpu.alloc(DType.FP32, 0, Math.max(nq, 1), heads);
                 GpuFixture.DeviceCopy oFa = gpu.alloc(DType.FP32, 0, Math.max(nq, 1), heads, dimV);
                 GpuFixture.DeviceCopy lFa = gpu.alloc(DType.FP32, 0, Math.max(nq, 1), heads)) {
                DeviceTensor tq = rows(dq.tensor(), nq), tk = rows(dk.tensor(), nk), tv = rows(dv.tensor(), nk);
                DeviceTensor to = rows(oRef.tensor(), nq), tl = rows(lRef.tensor(), nq);
                DeviceTensor fo = rows(oFa.tensor(), nq), fl = rows(lFa.tensor(), nq);
                DeviceTensor qst = qs == null ? null : qs.tensor();
                AttnSpec ref = Fa2Bridge.referenceSpec(mask);
                Attention.run(gpu.module, gpu.stream, tq, tk, tv, cq.tensor(), ck.tensor(), qst, null, null, ref, to, tl);
                HostTensor oS = to.toHost(gpu.stream), lS = tl.toHost(gpu.stream);

                Fa2Attention.Inputs in;
                if (kvPacked) {
                    DeviceTensor tkv = rows(dkv.tensor(), nk);
                    in = dense
                            ? Fa2Attention.Inputs.kvPacked(batch1(tq), batch1(tkv), batch1(fo), batch1(fl), null, null,
                                    null, null)
                            : Fa2Attention.Inputs.kvPacked(tq, tkv, fo, fl, cq.tensor(), cuQ, ck.tensor(), cuK)
                                    .withStarts(qst, null);
                } else {
                    in = dense ? Fa2Attention.Inputs.dense(batch1(tq), batch1(tk), batch1(tv), batch1(fo), batch1(fl))
                            : Fa2Attention.Inputs.varlen(tq, tk, tv, fo, fl, cq.tensor(), cuQ, ck.tensor(), cuK)
                                    .withStarts(qst, null);
                }
                Fa2Attention.Spec spec = Fa2Attention.Spec.of(mask, keys).withSplits(splits);
                for (Fa2Options opts : layouts()) {
                    options = opts;
                    ParityReport exactO = run(in, spec.withExactP(true), fo, fl, oS, lS, "o", true);
                    runFast(in, spec, fo, oS, q, k, v, cuQ, cuK);
                    assertTrue(exactO.pass(), exactO::line);
                }
            }
        }

        /** The layout under test ({@link #layouts}); its label goes into every report line. */
        Fa2Options options = Fa2Options.defaults();

        /**
         * Where the Hopper layout can serve the case (SM 9.0, Dk = Dv = 128): both layouts, the Hopper one at every
         * length (threshold 0); elsewhere the defaults (mma.sync).
         */
        List<Fa2Options> layouts() {
            if (gpu.context.device().ccMajor() == 9 && gpu.context.device().ccMinor() == 0 && d == 128 && dimV == 128) {
                return List.of(MMA_ONLY, HOPPER_ALL);
            }
            return List.of(Fa2Options.defaults());
        }

        private String layoutLabel() {
            return options == HOPPER_ALL ? " [hopper]" : options == MMA_ONLY ? " [mma.sync]" : "";
        }

        /** The plan under {@link #options}; the Hopper options must get the Hopper layout wherever it applies. */
        private Fa2Attention.Plan plan(Fa2Attention.Inputs in, Fa2Attention.Spec spec) {
            Fa2Attention.Plan plan = Fa2Attention.plan(gpu.context.device(), in, spec, options);
            if (options == HOPPER_ALL && plan.launchable() && plan.splits() == 1 && in.q().dim(0) > 0
                    && in.k().shape().numel() > 0) {
                assertEquals(Fa2Layout.HOPPER, plan.layout().layout(), () -> label() + ": " + plan.layout().reason());
            }
            return plan;
        }

        private ParityReport run(Fa2Attention.Inputs in, Fa2Attention.Spec spec, DeviceTensor fo, DeviceTensor fl,
                                 HostTensor oS, HostTensor lS, String what, boolean assertLse) {
            Fa2Attention.Plan plan = plan(in, spec);
            assertTrue(plan.launchable(), () -> "FA-2 refused " + label() + ": " + plan.verdict().reason());
            try (DeviceBuffer ws = plan.workspaceBytes() > 0 ? DeviceBuffer.allocate(gpu.stream, plan.workspaceBytes()) : null) {
                Fa2Attention.enqueue(bridge.fa2(), gpu.stream.handle(), plan, ws);
                gpu.stream.synchronize();
            }
            String mode = spec.exactP() ? "fa2-exact" : "fa2-fast";
            ParityReport ro = ParityHarness.outputs().compare(label() + " " + what, mode, fo.toHost(gpu.stream), "sdpa", oS);
            ParityReport rl = ParityHarness.lse().compare(label() + " lse", mode, fl.toHost(gpu.stream), "sdpa", lS);
            record(ro);
            record(rl);
            if (assertLse) {
                assertTrue(rl.pass(), rl::line);
            }
            return ro;
        }

        /** Fast mode: MAE vs sdpa reported; error vs the fp64 oracle at most 2x an fp32 attention with P rounded. */
        private void runFast(Fa2Attention.Inputs in, Fa2Attention.Spec spec, DeviceTensor fo, HostTensor oS,
                             HostTensor q, HostTensor k, HostTensor v, int[] cuQ, int[] cuK) {
            Fa2Attention.Plan plan = plan(in, spec.withExactP(false));
            try (DeviceBuffer ws = plan.workspaceBytes() > 0 ? DeviceBuffer.allocate(gpu.stream, plan.workspaceBytes()) : null) {
                Fa2Attention.enqueue(bridge.fa2(), gpu.stream.handle(), plan, ws);
                gpu.stream.synchronize();
            }
            HostTensor fast = fo.toHost(gpu.stream);
            record(ParityHarness.outputs().withTolerance(Double.MAX_VALUE).compare(label() + " o", "fa2-fast", fast, "sdpa", oS));
            // Sampled rows (about 32 query tokens per sequence, first head of each KV group) on the CPU.
            List<Double> oracle = new ArrayList<>(), fastV = new ArrayList<>(), base = new ArrayList<>();
            int group = heads / kvHeads;
            double[] qa = q.toDoubleArray(), ka = k.toDoubleArray(), va = v.toDoubleArray();
            float[] fa = fast.toFloatArray();
            for (int b = 0; b < lq.length; b++) {
                for (int i = 0; i < lq[b]; i += Math.max(7, lq[b] / 32)) {
                    int tok = cuQ[b] + i;
                    int t = (qStart == null ? 0 : qStart[b]) + i;
                    for (int g = 0; g < kvHeads; g++) {
                        int h = g * group;
                        double[][] ref = CpuAttention.row(qa, ka, va, heads, kvHeads, tok, h, g, cuK[b], lk[b], t, mask, dtype, d, dimV);
                        for (int c = 0; c < dimV; c++) {
                            oracle.add(ref[0][c]);
                            base.add(ref[1][c]);
                            fastV.add((double) fa[(int) (((long) tok * heads + h) * dimV + c)]);
                        }
                    }
                }
            }
            double[] or = unbox(oracle);
            ParityReport r = ParityHarness.outputs().againstOracle(label() + " o (sampled rows)", "fp64", or,
                    "fa2-fast", unbox(fastV), "fp32+P-rounded", unbox(base), ParityHarness.ORACLE_FACTOR,
                    ParityHarness.roundingFloor(or));
            record(r);
            assertTrue(r.pass(), r::line);
        }
    }

    static double[] unbox(List<Double> l) {
        double[] a = new double[l.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = l.get(i);
        }
        return a;
    }

    /** {@code k} and {@code v} [rows, Hkv, D] interleaved into {@code kv} [rows, 2, Hkv, D]. */
    static HostTensor pack(HostTensor k, HostTensor v) {
        int rows = k.dim(0), kvh = k.dim(1), d = k.dim(2);
        double[] ka = k.toDoubleArray(), va = v.toDoubleArray();
        double[] kv = new double[2 * ka.length];
        int plane = kvh * d;
        for (int r = 0; r < rows; r++) {
            System.arraycopy(ka, r * plane, kv, 2 * r * plane, plane);
            System.arraycopy(va, r * plane, kv, (2 * r + 1) * plane, plane);
        }
        return HostTensor.of(k.dtype(), kv, rows, 2, kvh, d);
    }

    /** The first {@code n} rows of a [rows, ...] tensor (the buffers hold at least one row). */
    static DeviceTensor rows(DeviceTensor t, int n) {
        int[] dims = t.shape().dims().clone();
        dims[0] = n;
        return DeviceTensor.wrap(t.address(), t.dtype(), Shape.strided(dims, t.shape().strides()));
    }

    /** A [1, rows, ...] view of a [rows, ...] tensor. */
    static DeviceTensor batch1(DeviceTensor t) {
        int[] dims = new int[t.rank() + 1];
        long[] strides = new long[t.rank() + 1];
        dims[0] = 1;
        strides[0] = Math.max(1, t.shape().numel());
        for (int a = 0; a < t.rank(); a++) {
            dims[a + 1] = t.dim(a);
            strides[a + 1] = t.stride(a);
        }
        return DeviceTensor.wrap(t.address(), t.dtype(), Shape.strided(dims, strides));
    }

    static synchronized void record(ParityReport r) {
        String out = System.getProperty("nsa.parity.out", System.getenv("NSA_PARITY_OUT"));
        if (out == null || out.isBlank()) {
            return;
        }
        try {
            Files.writeString(Path.of(out), r.line() + System.lineSeparator(), StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** One query row on the CPU: [0] the fp64 attention, [1] fp32 arithmetic with P rounded to the dtype. */
    static final class CpuAttention {
        static double[][] row(double[] q, double[] k, double[] v, int heads, int kvHeads, int tok, int h, int g, int k0,
                              int nk, int t, Mask mask, DType dtype, int d, int dv) {
            double scale = 1.0 / Math.sqrt(d);
            double[] s = new double[nk];
            boolean[] vis = new boolean[nk];
            double mx = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < nk; j++) {
                vis[j] = switch (mask) {
                    case Mask.None n -> true;
                    case Mask.Causal c -> j <= t;
                    case Mask.Window w -> j <= t && j > t - w.w();
                    case Mask.BlockCausal bc -> (long) j * bc.d() + bc.l() - 1 <= t;
                    case Mask.Chosen ch -> throw new IllegalArgumentException("FA-2 parity has no chosen-block mask");
                };
                if (!vis[j]) {
                    continue;
                }
                double dot = 0;
                for (int c = 0; c < d; c++) {
                    dot += q[(int) (((long) tok * heads + h) * d + c)] * k[(int) (((long) (k0 + j) * kvHeads + g) * d + c)];
                }
                s[j] = dot * scale;
                mx = Math.max(mx, s[j]);
            }
            double[] exact = new double[dv];
            double[] rounded = new double[dv];
            double sum = 0, sumF = 0;
            for (int j = 0; j < nk; j++) {
                if (!vis[j]) {
                    continue;
                }
                double p = Math.exp(s[j] - mx);
                float pf = (float) Math.exp((float) (s[j] - mx));
                float pr = round(pf, dtype);
                sum += p;
                sumF += pf;
                for (int c = 0; c < dv; c++) {
                    double val = v[(int) (((long) (k0 + j) * kvHeads + g) * dv + c)];
                    exact[c] += p * val;
                    rounded[c] = (float) (rounded[c] + pr * (float) val);
                }
            }
            for (int c = 0; c < dv; c++) {
                exact[c] = sum > 0 ? exact[c] / sum : 0;
                rounded[c] = sumF > 0 ? (float) (rounded[c] / sumF) : 0;
            }
            return new double[][]{exact, rounded};
        }

        /** {@code x} rounded to nearest-even in fp16 or bf16. */
        static float round(float x, DType dtype) {
            if (dtype == DType.FP16) {
                return Float.float16ToFloat(Float.floatToFloat16(x));
            }
            int bits = Float.floatToRawIntBits(x);
            bits += 0x7fff + ((bits >>> 16) & 1);
            return Float.intBitsToFloat(bits & 0xffff0000);
        }
    }
}
