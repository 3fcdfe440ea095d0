package dev.nsa4j.kernels.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.GpuFixture;
import dev.nsa4j.kernels.GpuSuite;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
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

/** Compression (phi = avg) on the device against an fp64 CPU computation (skips without a GPU). */
@Tag("gpu")
class CompressAvgGpuTest extends GpuSuite {
    static final int G = 2;
    static final int[] VARLEN = {0, 63, 1, 0, 1000, 64, 65, 0};
    static int[] cu(int... lengths) {
        int[] cu = new int[lengths.length + 1];
        for (int i = 0; i < lengths.length; i++) {
            cu[i + 1] = cu[i] + lengths[i];
        }
        return cu;
    }

    static Stream<Arguments> matrix() {
        List<Arguments> out = new ArrayList<>();
        List<int[]> batches = List.of(new int[]{1}, new int[]{63}, new int[]{64}, new int[]{65}, new int[]{1000}, VARLEN);
        for (DType d : List.of(DType.FP32, DType.FP16, DType.BF16)) {
            for (int dim : new int[]{16, 64, 128}) {
                for (int[] lens : batches) {
                    out.add(Arguments.of(d, dim, lens, 32, 16));
                    if (dim == 64) {
                        out.add(Arguments.of(d, dim, lens, 16, 16));
                        out.add(Arguments.of(d, dim, lens, 64, 32));
                        out.add(Arguments.of(d, dim, lens, 1, 1));
                        out.add(Arguments.of(d, dim, lens, 7, 3));
                    }
                }
            }
        }
        return shard(out);
    }

    record Case(DType dtype, int dim, CompressionPlan plan, HostTensor k, double[] ref) {
        static Case make(DType d, int dim, int[] lengths, int l, int stride, long seed) {
            CompressionPlan plan = CompressionPlan.of(cu(lengths), l, stride);
            HostTensor k = GpuFixture.random(new Random(seed), d, -2, 2, plan.nnz(), G, dim);
            double[] x = k.toDoubleArray();
            double[] ref = new double[plan.nnzCmp() * G * dim];
            int[] c = plan.cuSeqlens(), cc = plan.cuSeqlensCmp();
            for (int b = 0; b < plan.batch(); b++) {
                for (int i = 0; i < cc[b + 1] - cc[b]; i++) {
                    for (int g = 0; g < G; g++) {
                        for (int e = 0; e < dim; e++) {
                            double s = 0;
                            for (int j = 0; j < l; j++) {
                                s += x[((c[b] + i * stride + j) * G + g) * dim + e];
                            }
                            ref[((cc[b] + i) * G + g) * dim + e] = s / l;
                        }
                    }
                }
            }
            return new Case(d, dim, plan, k, ref);
        }

        /** fp32 sum in ascending position order, one division by l, rounded to {@code out}. */
        double[] samePrecision(DType out) {
            float[] x = k.toFloatArray();
            double[] r = new double[ref.length];
            int[] c = plan.cuSeqlens(), cc = plan.cuSeqlensCmp();
            int l = plan.blockLen(), stride = plan.blockStride();
            for (int b = 0; b < plan.batch(); b++) {
                for (int i = 0; i < cc[b + 1] - cc[b]; i++) {
                    for (int g = 0; g < G; g++) {
                        for (int e = 0; e < dim; e++) {
                            float s = 0f;
                            for (int j = 0; j < l; j++) {
                                s += x[((c[b] + i * stride + j) * G + g) * dim + e];
                            }
                            r[((cc[b] + i) * G + g) * dim + e] = out.roundTrip(s / (float) l);
                        }
                    }
                }
            }
            return r;
        }
    }

    static void runAll(Case c, int offset, boolean exact) {
        int b1 = c.plan().batch() + 1;
        try (var k = gpu.upload(c.k(), offset);
             var cu = gpu.upload(HostTensor.ofInts(c.plan().cuSeqlens(), b1), 0);
             var cuCmp = gpu.upload(HostTensor.ofInts(c.plan().cuSeqlensCmp(), b1), 0)) {
            for (DType od : KernelCatalog.outputs(c.dtype())) {
                for (boolean planUploads : new boolean[]{false, true}) {
                    try (var out = gpu.alloc(od, offset, c.plan().nnzCmp(), G, c.dim())) {
                        CompressAvg.Launch launch = CompressAvg.plan(k.tensor(), cu.tensor(), cuCmp.tensor(), c.plan(), out.tensor());
                        boolean wide = offset == 0 && c.dim() % (16 / c.dtype().byteSize()) == 0;
                        assertTrue(launch.key().variant().endsWith(wide ? "_v16" : "_v1"), launch.key().toString());
                        if (planUploads) {
                            CompressAvg.run(gpu.module, gpu.stream, k.tensor(), c.plan(), out.tensor());
                        } else {
                            CompressAvg.run(gpu.module, gpu.stream, k.tensor(), cu.tensor(), cuCmp.tensor(), c.plan(), out.tensor());
                        }
                        double[] got = out.tensor().toHost(gpu.stream).toDoubleArray();
                        String what = c.dtype() + " out " + od + " D " + c.dim() + " " + c.plan() + " offset " + offset
                                + " " + launch.key().symbol();
                        double[] same = c.samePrecision(od);
                        if (exact) {
                            assertArrayEquals(same, got, what + ": differs from the fp32 CPU emulation");
                        } else {
                            GpuFixture.assertWithinRule(what, got, c.ref(), same, od);
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0} D={1} lengths={2} l={3} d={4}")
    @MethodSource("matrix")
    void matchesFp64Reference(DType dtype, int dim, int[] lengths, int l, int stride) {
        Case c = Case.make(dtype, dim, lengths, l, stride, Arrays.hashCode(lengths) * 31L + dim + l);
        runAll(c, 0, false);
        runAll(c, 8, false);
    }

    @Test
    void equalsTheFp32CpuEmulationBitwise() {
        for (DType d : List.of(DType.FP32, DType.FP16, DType.BF16)) {
            Case c = Case.make(d, 64, VARLEN, 32, 16, 5);
            runAll(c, 0, true);
            runAll(c, 8, true);
        }
    }

    @Test
    void repeatedRunsAreBitwiseIdentical() {
        Case c = Case.make(DType.BF16, 128, VARLEN, 32, 16, 9);
        int n = c.plan().nnzCmp();
        try (var k = gpu.upload(c.k(), 0); var o1 = gpu.alloc(DType.FP32, 0, n, G, 128); var o2 = gpu.alloc(DType.FP32, 0, n, G, 128)) {
            CompressAvg.run(gpu.module, gpu.stream, k.tensor(), c.plan(), o1.tensor());
            float[] first = o1.tensor().toHost(gpu.stream).toFloatArray();
            for (int rep = 0; rep < 5; rep++) {
                CompressAvg.run(gpu.module, gpu.stream, k.tensor(), c.plan(), o2.tensor());
                assertArrayEquals(first, o2.tensor().toHost(gpu.stream).toFloatArray());
            }
        }
    }

    @Test
    void nothingToCompressLaunchesNothing() {
        CompressionPlan p = CompressionPlan.of(cu(0, 31, 5, 0), 32, 16);
        assertEquals(0, p.nnzCmp());
        try (var k = gpu.upload(GpuFixture.random(new Random(1), DType.FP16, -1, 1, p.nnz(), G, 16), 0)) {
            CompressAvg.run(gpu.module, gpu.stream, k.tensor(), p, DeviceTensor.wrap(0, DType.FP16, Shape.of(0, G, 16)));
            gpu.stream.synchronize();
        }
    }

    @Test
    void deviceCuSeqlensDisagreeingWithThePlanGiveNanRowsNotAFault() {
        // The plan says one sequence of 64 (3 compressed tokens for l=32, d=16), but the device's
        // cu_seqlens claim a sequence of 40 tokens: rows whose window leaves it must become NaN.
        CompressionPlan plan = CompressionPlan.of(cu(64), 32, 16);
        Case c = Case.make(DType.FP32, 16, new int[]{64}, 32, 16, 2);
        try (var k = gpu.upload(c.k(), 0); var cu = gpu.upload(HostTensor.ofInts(new int[]{0, 40}, 2), 0);
             var cuCmp = gpu.upload(HostTensor.ofInts(plan.cuSeqlensCmp(), 2), 0);
             var out = gpu.alloc(DType.FP32, 0, 3, G, 16)) {
            CompressAvg.run(gpu.module, gpu.stream, k.tensor(), cu.tensor(), cuCmp.tensor(), plan, out.tensor());
            float[] got = out.tensor().toHost(gpu.stream).toFloatArray();
            for (int i = 0; i < got.length; i++) {
                int row = i / (G * 16);
                if (row == 0) {
                    assertEquals(c.samePrecision(DType.FP32)[i], got[i], "row 0 fits in 40 tokens");
                } else {
                    assertTrue(Float.isNaN(got[i]), "row " + row + " leaves the device's sequence: expected NaN");
                }
            }
        }
    }
}
