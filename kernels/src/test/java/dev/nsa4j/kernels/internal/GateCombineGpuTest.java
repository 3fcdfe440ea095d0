package dev.nsa4j.kernels.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.GpuFixture;
import dev.nsa4j.kernels.GpuSuite;
import java.util.ArrayList;
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

/** Gate combine on the device against an fp64 CPU computation (skips without a GPU). */
@Tag("gpu")
class GateCombineGpuTest extends GpuSuite {
    static final int H = 3;
    /** A varlen batch with zero-length sequences: combination is per token, so only nnz matters. */
    static final int[] VARLEN = {0, 63, 1, 0, 1000, 64, 65, 0};
    static Stream<Arguments> matrix() {
        List<Arguments> out = new ArrayList<>();
        int varlenNnz = java.util.Arrays.stream(VARLEN).sum();
        for (DType d : List.of(DType.FP32, DType.FP16, DType.BF16)) {
            for (int dv : new int[]{16, 64, 128}) {
                for (int nnz : new int[]{1, 63, 64, 65, 1000, varlenNnz}) {
                    out.add(Arguments.of(d, dv, nnz));
                }
            }
        }
        return shard(out);
    }

    /** Inputs whose gate values are representable in both fp32 and the input dtype. */
    record Case(DType dtype, int nnz, int dv, HostTensor cmp, HostTensor sel, HostTensor win, HostTensor gatesIn,
                HostTensor gates32, double[] ref) {
        static Case make(DType d, int nnz, int dv, long seed) {
            Random rnd = new Random(seed);
            HostTensor cmp = GpuFixture.random(rnd, d, -2, 2, nnz, H, dv);
            HostTensor sel = GpuFixture.random(rnd, d, -2, 2, nnz, H, dv);
            HostTensor win = GpuFixture.random(rnd, d, -2, 2, nnz, H, dv);
            HostTensor gIn = GpuFixture.random(rnd, d, 0, 1, nnz, H, 3);
            HostTensor g32 = gIn.to(DType.FP32);
            double[] a = cmp.toDoubleArray(), b = sel.toDoubleArray(), w = win.toDoubleArray(), g = g32.toDoubleArray();
            double[] ref = new double[a.length];
            for (int i = 0; i < a.length; i++) {
                int row = i / dv;
                ref[i] = g[3 * row] * a[i] + g[3 * row + 1] * b[i] + g[3 * row + 2] * w[i];
            }
            return new Case(d, nnz, dv, cmp, sel, win, gIn, g32, ref);
        }

        /** The same computation in fp32 (the kernel's order of operations), rounded to {@code out}. */
        double[] samePrecision(DType out) {
            float[] a = cmp.toFloatArray(), b = sel.toFloatArray(), w = win.toFloatArray(), g = gates32.toFloatArray();
            double[] r = new double[a.length];
            for (int i = 0; i < a.length; i++) {
                int row = i / dv;
                float o = Math.fma(g[3 * row + 2], w[i], Math.fma(g[3 * row + 1], b[i], g[3 * row] * a[i]));
                r[i] = out.roundTrip(o);
            }
            return r;
        }
    }

    /** Runs every (gates dtype, out dtype) on one placement; returns outputs by "gate/out". */
    static void runAll(Case c, int offset, boolean exact) {
        try (var cmp = gpu.upload(c.cmp(), offset); var sel = gpu.upload(c.sel(), offset);
             var win = gpu.upload(c.win(), offset); var gIn = gpu.upload(c.gatesIn(), offset);
             var g32 = gpu.upload(c.gates32(), offset)) {
            for (DType gd : KernelCatalog.outputs(c.dtype())) {
                for (DType od : KernelCatalog.combineOutputs(c.dtype())) {
                    try (var out = gpu.alloc(od, offset, c.nnz(), H, c.dv())) {
                        DeviceTensor gates = (gd == DType.FP32 ? g32 : gIn).tensor();
                        GateCombine.Launch plan = GateCombine.plan(cmp.tensor(), sel.tensor(), win.tensor(), gates, out.tensor());
                        boolean wide = offset == 0 && c.dv() % (16 / c.dtype().byteSize()) == 0;
                        assertTrue(plan.key().variant().endsWith(wide ? "_v16" : "_v1"), plan.key().toString());
                        GateCombine.run(gpu.module, gpu.stream, cmp.tensor(), sel.tensor(), win.tensor(), gates, out.tensor());
                        double[] got = out.tensor().toHost(gpu.stream).toDoubleArray();
                        String what = c.dtype() + " gates " + gd + " out " + od + " nnz " + c.nnz() + " Dv " + c.dv()
                                + " offset " + offset + " " + plan.key().symbol();
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

    @ParameterizedTest(name = "{0} Dv={1} nnz={2}")
    @MethodSource("matrix")
    void matchesFp64Reference(DType dtype, int dv, int nnz) {
        Case c = Case.make(dtype, nnz, dv, 31L * nnz + dv + dtype.ordinal());
        runAll(c, 0, false);     // 16-byte accesses
        runAll(c, 8, false);     // 8-byte aligned foreign pointers: narrow variant
    }

    @Test
    void equalsTheFp32CpuEmulationBitwise() {
        for (DType d : List.of(DType.FP32, DType.FP16, DType.BF16)) {
            Case c = Case.make(d, 1000, 64, 7);
            runAll(c, 0, true);
            runAll(c, 8, true);
        }
    }

    @Test
    void repeatedRunsAreBitwiseIdentical() {
        Case c = Case.make(DType.BF16, 1193, 128, 3);
        try (var cmp = gpu.upload(c.cmp(), 0); var sel = gpu.upload(c.sel(), 0); var win = gpu.upload(c.win(), 0);
             var g = gpu.upload(c.gatesIn(), 0); var o1 = gpu.alloc(DType.FP32, 0, 1193, H, 128);
             var o2 = gpu.alloc(DType.FP32, 0, 1193, H, 128)) {
            GateCombine.run(gpu.module, gpu.stream, cmp.tensor(), sel.tensor(), win.tensor(), g.tensor(), o1.tensor());
            for (int rep = 0; rep < 5; rep++) {
                GateCombine.run(gpu.module, gpu.stream, cmp.tensor(), sel.tensor(), win.tensor(), g.tensor(), o2.tensor());
                assertArrayEquals(o1.tensor().toHost(gpu.stream).toFloatArray(), o2.tensor().toHost(gpu.stream).toFloatArray());
            }
        }
    }

    @Test
    void inPlaceAndStridedTokenAxis() {
        int nnz = 65, dv = 64, pad = 8;
        Case c = Case.make(DType.FP16, nnz, dv, 11);
        // o_cmp lives in a padded buffer [nnz, H, dv + pad]: token stride H*(dv+pad), head stride dv+pad.
        HostTensor padded = HostTensor.zeros(DType.FP16, nnz, H, dv + pad);
        for (int t = 0; t < nnz; t++) {
            for (int h = 0; h < H; h++) {
                for (int j = 0; j < dv; j++) {
                    padded.set(c.cmp().get(t, h, j), t, h, j);
                }
            }
        }
        try (var pc = gpu.upload(padded, 0); var sel = gpu.upload(c.sel(), 0); var win = gpu.upload(c.win(), 0);
             var g = gpu.upload(c.gatesIn(), 0)) {
            DeviceTensor cmpView = pc.tensor().view(Shape.strided(new int[]{nnz, H, dv},
                    new long[]{(long) H * (dv + pad), dv + pad, 1}));
            // out aliases o_win exactly: in place
            GateCombine.run(gpu.module, gpu.stream, cmpView, sel.tensor(), win.tensor(), g.tensor(), win.tensor());
            double[] got = win.tensor().toHost(gpu.stream).toDoubleArray();
            GpuFixture.assertWithinRule("in place, strided o_cmp", got, c.ref(), c.samePrecision(DType.FP16), DType.FP16);
        }
    }

    @Test
    void emptyInputLaunchesNothing() {
        try (var out = gpu.alloc(DType.FP32, 0, 4)) {
            DeviceTensor empty = DeviceTensor.wrap(0, DType.FP32, Shape.of(0, H, 64));
            DeviceTensor gates = DeviceTensor.wrap(0, DType.FP32, Shape.of(0, H, 3));
            GateCombine.run(gpu.module, gpu.stream, empty, empty, empty, gates, empty);
            assertEquals(0x7f7f7f7f, Float.floatToRawIntBits(out.tensor().toHost(gpu.stream).toFloatArray()[0]));
        }
    }
}
