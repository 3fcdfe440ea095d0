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

import dev.nsa4j.oracle.CompressionMlp;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import dev.nsa4j.tensor.Shape;

/** Compression (phi = mlp) on the device against an fp64 CPU computation (skips without a GPU). */
@Tag("gpu")
class CompressMlpGpuTest extends GpuSuite {
    static final int G = 2;
    static final int[] VARLEN = {0, 63, 1, 0, 1000, 64, 65, 0};
    static Stream<Arguments> matrix() {
        List<Arguments> out = new ArrayList<>();
        List<int[]> batches = List.of(new int[]{1}, new int[]{63}, new int[]{64}, new int[]{65}, new int[]{1000}, VARLEN);
        for (DType d : List.of(DType.FP32, DType.FP16, DType.BF16)) {
            for (int dim : new int[]{16, 64, 128}) {
                for (int[] lens : batches) {
                    for (int[] ld : new int[][]{{32, 16}, {16, 16}, {8, 4}}) {
                        for (int hidden : new int[]{dim, 2 * dim}) {
                            out.add(Arguments.of(d, dim, lens, ld[0], ld[1], hidden));
                        }
                    }
                }
            }
        }
        return shard(out);
    }

    /** Values in [-a, a) exactly representable in fp32 (so the device's fp32 weights are the oracle's). */
    static double[] fp32Values(Random rnd, int n, double a) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (a * (2 * rnd.nextDouble() - 1));
        }
        return v;
    }

    static CompressionMlp randomMlp(Random rnd, int l, int dim, int hidden) {
        int in = l * dim;
        return CompressionMlp.ofArrays(l, dim, hidden, fp32Values(rnd, in, 0.5),
                fp32Values(rnd, hidden * in, 1.7 / Math.sqrt(in)), fp32Values(rnd, hidden, 0.5),
                fp32Values(rnd, dim * hidden, 1.7 / Math.sqrt(hidden)), fp32Values(rnd, dim, 0.5));
    }

    static int[] cu(int... lengths) {
        return CompressAvgGpuTest.cu(lengths);
    }

    /**
     * fp64 phi = mlp over every (compressed token, group); {@code mag} receives the same computation on
     * absolute values with the hidden layer's own magnitude propagated (|SiLU'| <= 1.1), the scale of the
     * fp32 rounding error.
     */
    static double[] reference(CompressionMlp mlp, CompressionPlan plan, double[] x, double[] mag) {
        int l = mlp.blockLen(), dim = mlp.dim(), hidden = mlp.hidden(), in = l * dim;
        double[] pos = mlp.weight("pos"), w1 = mlp.weight("w1"), b1 = mlp.weight("b1"), w2 = mlp.weight("w2"),
                b2 = mlp.weight("b2");
        double[] ref = new double[plan.nnzCmp() * G * dim];
        int[] c = plan.cuSeqlens(), cc = plan.cuSeqlensCmp();
        double[] v = new double[in], act = new double[hidden], actMag = new double[hidden];
        for (int b = 0; b < plan.batch(); b++) {
            for (int i = 0; i < cc[b + 1] - cc[b]; i++) {
                for (int g = 0; g < G; g++) {
                    for (int r = 0; r < l; r++) {
                        for (int e = 0; e < dim; e++) {
                            v[r * dim + e] = x[((c[b] + i * plan.blockStride() + r) * G + g) * dim + e] + pos[r * dim + e];
                        }
                    }
                    for (int j = 0; j < hidden; j++) {
                        double h = b1[j], m = Math.abs(b1[j]);
                        for (int e = 0; e < in; e++) {
                            h += w1[j * in + e] * v[e];
                            m += Math.abs(w1[j * in + e] * v[e]);
                        }
                        act[j] = h / (1 + Math.exp(-h));
                        actMag[j] = Math.abs(act[j]) + 1.1 * m;
                    }
                    int row = ((cc[b] + i) * G + g) * dim;
                    for (int e = 0; e < dim; e++) {
                        double o = b2[e], m = Math.abs(b2[e]);
                        for (int j = 0; j < hidden; j++) {
                            o += w2[e * hidden + j] * act[j];
                            m += Math.abs(w2[e * hidden + j]) * actMag[j];
                        }
                        ref[row + e] = o;
                        mag[row + e] = m;
                    }
                }
            }
        }
        return ref;
    }

    static void assertClose(String what, float[] got, double[] ref, double[] mag, int in, int hidden) {
        // each dot: per-lane sums of ceil(n/32) terms, a 5-level butterfly, the bias, plus the input and
        // SiLU roundings: a few ulps more than gamma(n/32 + 6)
        double n = Math.max(in, hidden) / 32.0 + 12;
        double gamma = n * 0x1p-24 / (1 - n * 0x1p-24);
        int bad = 0;
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < got.length; i++) {
            double allowed = 2 * gamma * mag[i] + 1e-30;
            double err = Math.abs(got[i] - ref[i]);
            if (!(err <= allowed) && bad++ < 5) {
                sb.append(String.format(Locale.ROOT, "%n  [%d] gpu %.9g ref %.9g (allowed error %.3g)", i, (double) got[i],
                        ref[i], allowed));
            }
        }
        if (bad > 0) {
            fail(what + ": " + bad + " of " + got.length + " elements outside the bound" + sb);
        }
    }

    float[] runMlp(CompressionPlan plan, HostTensor k, CompressionMlp mlp, int offset) {
        int dim = mlp.dim();
        try (var kd = gpu.upload(k, offset); var w = CompressMlp.Weights.upload(gpu.stream, mlp);
             var out = gpu.alloc(DType.FP32, 0, plan.nnzCmp(), G, dim)) {
            CompressMlp.run(gpu.module, gpu.stream, kd.tensor(), plan, w, out.tensor());
            return out.tensor().toHost(gpu.stream).toFloatArray();
        }
    }

    @ParameterizedTest(name = "{0} D={1} lengths={2} l={3} d={4} hidden={5}")
    @MethodSource("matrix")
    void matchesFp64Reference(DType dtype, int dim, int[] lengths, int l, int stride, int hidden) {
        Random rnd = new Random(Arrays.hashCode(lengths) * 31L + dim * 7L + l + hidden);
        CompressionPlan plan = CompressionPlan.of(cu(lengths), l, stride);
        HostTensor k = GpuFixture.random(rnd, dtype, -2, 2, plan.nnz(), G, dim);
        CompressionMlp mlp = randomMlp(rnd, l, dim, hidden);
        double[] mag = new double[plan.nnzCmp() * G * dim];
        double[] ref = reference(mlp, plan, k.toDoubleArray(), mag);
        for (int offset : new int[]{0, 8}) {
            float[] got = runMlp(plan, k, mlp, offset);
            assertClose(dtype + " D " + dim + " hidden " + hidden + " " + plan + " offset " + offset, got, ref, mag,
                    l * dim, hidden);
        }
    }

    /** hidden = 2D, W1 = [A; −A] with A the block mean, W2 = [I, −I], P = 0: SiLU(m) − SiLU(−m) = m. */
    static CompressionMlp siluIdentity(int l, int dim) {
        int in = l * dim, hidden = 2 * dim;
        double[] w1 = new double[hidden * in];
        double[] w2 = new double[dim * hidden];
        for (int c = 0; c < dim; c++) {
            for (int r = 0; r < l; r++) {
                w1[c * in + r * dim + c] = 1.0 / l;
                w1[(dim + c) * in + r * dim + c] = -1.0 / l;
            }
            w2[c * hidden + c] = 1;
            w2[c * hidden + dim + c] = -1;
        }
        return CompressionMlp.ofArrays(l, dim, hidden, new double[in], w1, new double[hidden], w2, new double[dim]);
    }

    @Test
    void siluIdentityEqualsCompressAvg() {
        for (DType d : List.of(DType.FP32, DType.FP16, DType.BF16)) {
            for (int[] ld : new int[][]{{32, 16}, {16, 16}, {8, 4}}) {
                CompressionPlan plan = CompressionPlan.of(cu(VARLEN), ld[0], ld[1]);
                HostTensor k = GpuFixture.random(new Random(3), d, -2, 2, plan.nnz(), G, 64);
                float[] mlp = runMlp(plan, k, siluIdentity(ld[0], 64), 0);
                float[] avg;
                try (var kd = gpu.upload(k, 0); var out = gpu.alloc(DType.FP32, 0, plan.nnzCmp(), G, 64)) {
                    CompressAvg.run(gpu.module, gpu.stream, kd.tensor(), plan, out.tensor());
                    avg = out.tensor().toHost(gpu.stream).toFloatArray();
                }
                assertEquals(avg.length, mlp.length);
                for (int i = 0; i < avg.length; i++) {
                    assertEquals(avg[i], mlp[i], 1e-6, d + " " + plan + " element " + i);
                }
            }
        }
    }

    @Test
    void repeatedRunsAreBitwiseIdentical() {
        Random rnd = new Random(9);
        CompressionPlan plan = CompressionPlan.of(cu(VARLEN), 32, 16);
        HostTensor k = GpuFixture.random(rnd, DType.BF16, -2, 2, plan.nnz(), G, 128);
        CompressionMlp mlp = randomMlp(rnd, 32, 128, 256);
        float[] first = runMlp(plan, k, mlp, 0);
        for (int rep = 0; rep < 5; rep++) {
            assertArrayEquals(first, runMlp(plan, k, mlp, rep % 2 == 0 ? 8 : 0), "run " + rep);
        }
        // a grid of one block gives the same bits as the sized grid
        int b1 = plan.batch() + 1;
        try (var kd = gpu.upload(k, 0); var w = CompressMlp.Weights.upload(gpu.stream, mlp);
             var cuD = gpu.upload(HostTensor.ofInts(plan.cuSeqlens(), b1), 0);
             var cuC = gpu.upload(HostTensor.ofInts(plan.cuSeqlensCmp(), b1), 0);
             var out = gpu.alloc(DType.FP32, 0, plan.nnzCmp(), G, 128)) {
            CompressMlp.Launch l = CompressMlp.plan(kd.tensor(), cuD.tensor(), cuC.tensor(), plan, w, out.tensor());
            gpu.module.launch(l.key(), 1, gpu.stream.handle(), l.params().toBytes());
            assertArrayEquals(first, out.tensor().toHost(gpu.stream).toFloatArray(), "grid of one block");
        }
    }

    @Test
    void nothingToCompressLaunchesNothing() {
        CompressionPlan p = CompressionPlan.of(cu(0, 31, 5, 0), 32, 16);
        assertEquals(0, p.nnzCmp());
        CompressionMlp mlp = randomMlp(new Random(1), 32, 16, 16);
        try (var k = gpu.upload(GpuFixture.random(new Random(1), DType.FP16, -1, 1, p.nnz(), G, 16), 0);
             var w = CompressMlp.Weights.upload(gpu.stream, mlp)) {
            CompressMlp.run(gpu.module, gpu.stream, k.tensor(), p, w, DeviceTensor.wrap(0, DType.FP32, Shape.of(0, G, 16)));
            gpu.stream.synchronize();
        }
    }

    @Test
    void deviceCuSeqlensDisagreeingWithThePlanGiveNanRowsNotAFault() {
        CompressionPlan plan = CompressionPlan.of(cu(64), 32, 16);   // 3 compressed tokens
        Random rnd = new Random(2);
        HostTensor kh = GpuFixture.random(rnd, DType.FP32, -2, 2, 64, G, 16);
        CompressionMlp mlp = randomMlp(rnd, 32, 16, 32);
        double[] mag = new double[3 * G * 16];
        double[] ref = reference(mlp, plan, kh.toDoubleArray(), mag);
        try (var k = gpu.upload(kh, 0); var cu = gpu.upload(HostTensor.ofInts(new int[]{0, 40}, 2), 0);
             var cuCmp = gpu.upload(HostTensor.ofInts(plan.cuSeqlensCmp(), 2), 0);
             var w = CompressMlp.Weights.upload(gpu.stream, mlp);
             var out = gpu.alloc(DType.FP32, 0, 3, G, 16)) {
            CompressMlp.run(gpu.module, gpu.stream, k.tensor(), cu.tensor(), cuCmp.tensor(), plan, w, out.tensor());
            float[] got = out.tensor().toHost(gpu.stream).toFloatArray();
            for (int i = 0; i < got.length; i++) {
                int row = i / (G * 16);
                if (row == 0) {
                    assertEquals(ref[i], got[i], 1e-4 * mag[i] + 1e-6, "row 0 fits in 40 tokens");
                } else {
                    assertTrue(Float.isNaN(got[i]), "row " + row + " leaves the device's sequence: expected NaN");
                }
            }
        }
    }
}
