package dev.nsa4j.kernels.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.kernels.DeviceTensor;
import java.util.List;
import org.junit.jupiter.api.Test;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.Shape;

/** Gate combine's checks run before any CUDA call, so they are tested on fake addresses (CPU only). */
class GateCombineValidationTest {
    static final long BASE = 0x7f0000000000L;

    static DeviceTensor t(long addr, DType d, int... dims) {
        return DeviceTensor.wrap(addr, d, Shape.of(dims));
    }

    static NsaArgumentException fails(Runnable r) {
        return assertThrows(NsaArgumentException.class, r::run);
    }

    record Set5(DeviceTensor cmp, DeviceTensor sel, DeviceTensor win, DeviceTensor gates, DeviceTensor out) {
        GateCombine.Launch plan() {
            return GateCombine.plan(cmp, sel, win, gates, out);
        }
    }

    static Set5 valid(DType in, DType gate, DType out, int nnz, int h, int dv, long misalign) {
        long step = 1L << 24;
        return new Set5(t(BASE + misalign, in, nnz, h, dv), t(BASE + step, in, nnz, h, dv),
                t(BASE + 2 * step, in, nnz, h, dv), t(BASE + 3 * step, gate, nnz, h, 3), t(BASE + 4 * step, out, nnz, h, dv));
    }

    @Test
    void alignedInputsTakeTheWideVariant() {
        GateCombine.Launch l = valid(DType.BF16, DType.FP32, DType.FP32, 10, 4, 64, 0).plan();
        assertEquals("nsa_gate_combine_bf16_gfp32_ofp32_v16", l.key().symbol());
        assertEquals(10L * 4 * 64 / 8, l.work());
        assertEquals(4 * 64, l.params().cmpTokStride());
        assertEquals(64, l.params().cmpHeadStride());
        assertEquals(12, l.params().gateTokStride());
    }

    @Test
    void eightByteAlignedForeignPointerTakesTheNarrowVariant() {
        GateCombine.Launch l = valid(DType.FP16, DType.FP16, DType.FP16, 10, 4, 64, 8).plan();
        assertEquals("nsa_gate_combine_fp16_gfp16_ofp16_v1", l.key().symbol());
        assertEquals(10L * 4 * 64, l.work());
    }

    @Test
    void featureDimNotAMultipleOfTheVectorTakesTheNarrowVariant() {
        assertEquals("v1", valid(DType.FP32, DType.FP32, DType.FP32, 3, 2, 6, 0).plan().key().variant().substring(12));
        assertTrue(valid(DType.FP32, DType.FP32, DType.FP32, 3, 2, 8, 0).plan().key().variant().endsWith("v16"));
    }

    @Test
    void pointerNotAlignedToItsElementIsRejectedNamingTheTensor() {
        NsaArgumentException e = fails(() -> valid(DType.BF16, DType.BF16, DType.BF16, 2, 2, 16, 1).plan());
        assertEquals("o_cmp", e.subject());
        assertTrue(e.rule().contains("aligned to its element size"), e.rule());
        Set5 s = valid(DType.FP32, DType.FP32, DType.FP32, 2, 2, 16, 0);
        NsaArgumentException g = fails(() -> GateCombine.plan(s.cmp(), s.sel(), s.win(),
                t(BASE + 6, DType.FP32, 2, 2, 3), s.out()));
        assertEquals("gates", g.subject());
    }

    @Test
    void nullPointerIsRejected() {
        Set5 s = valid(DType.FP32, DType.FP32, DType.FP32, 2, 2, 16, 0);
        NsaArgumentException e = fails(() -> GateCombine.plan(s.cmp(), t(0, DType.FP32, 2, 2, 16), s.win(), s.gates(), s.out()));
        assertEquals("o_sel", e.subject());
        assertEquals("device pointer not null", e.rule());
    }

    @Test
    void shapesAreChecked() {
        Set5 s = valid(DType.FP32, DType.FP32, DType.FP32, 5, 2, 16, 0);
        assertEquals("o_win", fails(() -> GateCombine.plan(s.cmp(), s.sel(), t(BASE, DType.FP32, 5, 2, 8), s.gates(), s.out())).subject());
        assertEquals("o_sel", fails(() -> GateCombine.plan(s.cmp(), t(BASE, DType.FP32, 5, 32), s.win(), s.gates(), s.out())).subject());
        NsaArgumentException g = fails(() -> GateCombine.plan(s.cmp(), s.sel(), s.win(), t(BASE, DType.FP32, 5, 2, 2), s.out()));
        assertEquals("gates", g.subject());
        assertTrue(g.rule().contains("(cmp, sel, win)"), g.rule());
        assertEquals("gates", fails(() -> GateCombine.plan(s.cmp(), s.sel(), s.win(), t(BASE, DType.FP32, 4, 2, 3), s.out())).subject());
        assertEquals("out", fails(() -> GateCombine.plan(s.cmp(), s.sel(), s.win(), s.gates(), t(BASE, DType.FP32, 5, 3, 16))).subject());
        assertEquals("o_cmp", fails(() -> GateCombine.plan(null, s.sel(), s.win(), s.gates(), s.out())).subject());
    }

    @Test
    void dtypesAreChecked() {
        NsaArgumentException out = fails(() -> valid(DType.BF16, DType.BF16, DType.FP16, 2, 2, 16, 0).plan());
        assertEquals("out", out.subject());
        assertEquals("out in the input dtype or fp32", out.rule());
        assertEquals("gates", fails(() -> valid(DType.FP16, DType.BF16, DType.FP16, 2, 2, 16, 0).plan()).subject());
        assertEquals("o_cmp", fails(() -> valid(DType.INT32, DType.INT32, DType.INT32, 2, 2, 16, 0).plan()).subject());
        Set5 s = valid(DType.FP16, DType.FP16, DType.FP16, 2, 2, 16, 0);
        NsaArgumentException mix = fails(() -> GateCombine.plan(s.cmp(), t(BASE, DType.BF16, 2, 2, 16), s.win(), s.gates(), s.out()));
        assertEquals("o_sel", mix.subject());
        assertEquals("same dtype as o_cmp", mix.rule());
    }

    @Test
    void fp32BranchesMayBeWrittenInHalfPrecision() {
        for (DType half : List.of(DType.FP16, DType.BF16)) {
            GateCombine.Launch l = valid(DType.FP32, DType.FP32, half, 10, 4, 64, 0).plan();
            assertEquals("nsa_gate_combine_fp32_gfp32_o" + KernelKey.dtypeName(half) + "_v16", l.key().symbol());
        }
        NsaArgumentException g = fails(() -> valid(DType.FP32, DType.BF16, DType.BF16, 2, 2, 16, 0).plan());
        assertEquals("gates", g.subject());
        NsaArgumentException o = fails(() -> valid(DType.FP32, DType.FP32, DType.INT32, 2, 2, 16, 0).plan());
        assertEquals("out fp32, fp16 or bf16", o.rule());
    }

    @Test
    void aNarrowerOutMustNotOverlapAnInput() {
        Set5 s = valid(DType.FP32, DType.FP32, DType.BF16, 4, 2, 16, 0);
        DeviceTensor inSel = DeviceTensor.wrap(s.sel().address() + 64, DType.BF16, Shape.of(4, 2, 16));
        NsaArgumentException e = fails(() -> GateCombine.plan(s.cmp(), s.sel(), s.win(), s.gates(), inSel));
        assertEquals("out", e.subject());
        assertTrue(e.rule().startsWith("in place only in the inputs' dtype"), e.rule());
        Set5 same = valid(DType.FP32, DType.FP32, DType.FP32, 4, 2, 16, 0);
        assertEquals(32, GateCombine.plan(same.cmp(), same.sel(), same.win(), same.gates(), same.cmp()).work(),
                "in place in the inputs' dtype: 16-byte work items");
    }

    @Test
    void stridedTokenAxisIsAcceptedButTheFeatureAxisMustBeContiguous() {
        Set5 s = valid(DType.FP32, DType.FP32, DType.FP32, 4, 2, 16, 0);
        DeviceTensor strided = DeviceTensor.wrap(BASE, DType.FP32, Shape.strided(new int[]{4, 2, 16}, new long[]{96, 48, 1}));
        GateCombine.Launch l = GateCombine.plan(strided, s.sel(), s.win(), s.gates(), s.out());
        assertEquals(96, l.params().cmpTokStride());
        assertEquals(48, l.params().cmpHeadStride());
        DeviceTensor bad = DeviceTensor.wrap(BASE, DType.FP32, Shape.strided(new int[]{4, 2, 16}, new long[]{64, 32, 2}));
        NsaArgumentException e = fails(() -> GateCombine.plan(s.cmp(), s.sel(), bad, s.gates(), s.out()));
        assertEquals("o_win", e.subject());
        assertTrue(e.rule().contains("contiguous"));
    }

    @Test
    void emptyInputLaunchesNothingAndNeedsNoPointers() {
        GateCombine.Launch l = GateCombine.plan(t(0, DType.BF16, 0, 4, 64), t(0, DType.BF16, 0, 4, 64),
                t(0, DType.BF16, 0, 4, 64), t(0, DType.BF16, 0, 4, 3), t(0, DType.BF16, 0, 4, 64));
        assertEquals(0, l.work());
    }

    @Test
    void rawParamsAreValidated() {
        GateCombineParams ok = GateCombineParams.contiguous(BASE, BASE + 4096, BASE + 8192, BASE + 12288, BASE + 16384, 3, 2, 32);
        assertEquals("nsa_gate_combine_fp32_gfp32_ofp32_v16", GateCombine.plan(ok, DType.FP32, DType.FP32, DType.FP32).key().symbol());
        GateCombineParams neg = new GateCombineParams(BASE, BASE, BASE, BASE, BASE, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1);
        assertEquals("strides", fails(() -> GateCombine.plan(neg, DType.FP32, DType.FP32, DType.FP32)).subject());
        GateCombineParams negN = GateCombineParams.contiguous(BASE, BASE, BASE, BASE, BASE, -3, 2, 32);
        assertEquals("nnz >= 0", fails(() -> GateCombine.plan(negN, DType.FP32, DType.FP32, DType.FP32)).rule());
    }
}
