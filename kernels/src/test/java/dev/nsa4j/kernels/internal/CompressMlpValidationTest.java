package dev.nsa4j.kernels.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.kernels.DeviceTensor;
import org.junit.jupiter.api.Test;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.Shape;

/** compress-mlp checks (no CUDA call, CPU only). */
class CompressMlpValidationTest {
    static final long BASE = 0x7f0000000000L;

    static DeviceTensor t(long addr, DType d, int... dims) {
        return DeviceTensor.wrap(addr, d, Shape.of(dims));
    }

    static NsaArgumentException fails(Runnable r) {
        return assertThrows(NsaArgumentException.class, r::run);
    }

    /** Wrapped (not owned) fp32 weights for l, D, hidden. */
    static CompressMlp.Weights weights(int l, int d, int hidden) {
        long w = BASE + (1L << 30);
        return new CompressMlp.Weights(t(w, DType.FP32, l, d), t(w + (1 << 22), DType.FP32, hidden, l * d),
                t(w + (2 << 22), DType.FP32, hidden), t(w + (3 << 22), DType.FP32, d, hidden),
                t(w + (4 << 22), DType.FP32, d));
    }

    CompressMlp.Launch plan(DeviceTensor k, CompressionPlan p, CompressMlp.Weights w, DeviceTensor out) {
        int b1 = p.batch() + 1;
        return CompressMlp.plan(k, t(BASE + (1 << 26), DType.INT32, b1), t(BASE + (1 << 27), DType.INT32, b1), p, w, out);
    }

    @Test
    void validInputsPickTheKernelOfTheInputDtype() {
        CompressionPlan p = CompressionPlan.of(new int[]{0, 100, 164}, 32, 16);
        CompressMlp.Launch l = plan(t(BASE, DType.BF16, 164, 2, 64), p, weights(32, 64, 128),
                t(BASE + (1 << 20), DType.FP32, p.nnzCmp(), 2, 64));
        assertEquals("nsa_compress_mlp_bf16", l.key().symbol());
        assertEquals(8L * 2, l.work());
        assertEquals(128, l.params().hidden());
        assertEquals(2, l.params().batch());
        assertEquals(128, l.params().kTokStride());
        assertEquals(64, l.params().kGroupStride());
        assertEquals(BASE + (1L << 30), l.params().pos());
        CompressMlp.Launch odd = plan(t(BASE + 2, DType.FP16, 164, 2, 64), p, weights(32, 64, 64),
                t(BASE + (1 << 20), DType.FP32, p.nnzCmp(), 2, 64));
        assertEquals("nsa_compress_mlp_fp16", odd.key().symbol());
    }

    @Test
    void outputMustBeFp32AndShapedByThePlan() {
        CompressionPlan p = CompressionPlan.of(new int[]{0, 100}, 32, 16);   // 5 compressed tokens
        DeviceTensor k = t(BASE, DType.FP16, 100, 2, 16);
        NsaArgumentException dt = fails(() -> plan(k, p, weights(32, 16, 16), t(BASE, DType.FP16, 5, 2, 16)));
        assertEquals("out", dt.subject());
        assertEquals("out fp32", dt.rule());
        NsaArgumentException rows = fails(() -> plan(k, p, weights(32, 16, 16), t(BASE, DType.FP32, 6, 2, 16)));
        assertEquals("out", rows.subject());
        assertEquals("k", fails(() -> plan(t(BASE, DType.FP16, 99, 2, 16), p, weights(32, 16, 16),
                t(BASE, DType.FP32, 5, 2, 16))).subject());
        assertEquals("k", fails(() -> plan(t(BASE, DType.INT32, 100, 2, 16), p, weights(32, 16, 16),
                t(BASE, DType.FP32, 5, 2, 16))).subject());
        assertEquals("k", fails(() -> plan(t(BASE + 1, DType.FP16, 100, 2, 16), p, weights(32, 16, 16),
                t(BASE, DType.FP32, 5, 2, 16))).subject());
    }

    @Test
    void weightsAreCheckedAgainstLAndD() {
        CompressionPlan p = CompressionPlan.of(new int[]{0, 100}, 32, 16);
        DeviceTensor k = t(BASE, DType.FP32, 100, 2, 16);
        DeviceTensor out = t(BASE, DType.FP32, 5, 2, 16);
        assertEquals("phi.pos", fails(() -> plan(k, p, weights(16, 16, 16), out)).subject());
        CompressMlp.Weights w0 = weights(32, 16, 16);
        CompressMlp.Weights badW1 = new CompressMlp.Weights(w0.pos(), t(BASE, DType.FP32, 16, 256), w0.b1(), w0.w2(),
                w0.b2());
        assertEquals("phi.w1", fails(() -> plan(k, p, badW1, out)).subject());
        CompressMlp.Weights w = weights(32, 16, 16);
        CompressMlp.Weights badB1 = new CompressMlp.Weights(w.pos(), w.w1(), t(BASE, DType.FP32, 17), w.w2(), w.b2());
        assertEquals("phi.b1", fails(() -> plan(k, p, badB1, out)).subject());
        CompressMlp.Weights badW2 = new CompressMlp.Weights(w.pos(), w.w1(), w.b1(), t(BASE, DType.FP32, 16, 8), w.b2());
        assertEquals("phi.w2", fails(() -> plan(k, p, badW2, out)).subject());
        CompressMlp.Weights halfB2 = new CompressMlp.Weights(w.pos(), w.w1(), w.b1(), w.w2(), t(BASE, DType.FP16, 16));
        NsaArgumentException h = fails(() -> plan(k, p, halfB2, out));
        assertEquals("phi.b2", h.subject());
        assertEquals("fp32 weights", h.rule());
        assertEquals("phi", fails(() -> plan(k, p, null, out)).subject());
    }

    @Test
    void sizesBeyondTheSharedMemoryStagingAreRejected() {
        NsaArgumentException in = fails(() -> CompressMlp.checkLimits("phi_k", 64, 256, 64));
        assertEquals("phi_k", in.subject());
        assertTrue(in.rule().startsWith("l·D <= " + CompressMlp.MAX_IN), in.rule());
        NsaArgumentException hid = fails(() -> CompressMlp.checkLimits("phi_v", 32, 128, CompressMlp.MAX_HIDDEN + 1));
        assertEquals("phi_v", hid.subject());
        CompressMlp.checkLimits("phi_k", 32, 256, CompressMlp.MAX_HIDDEN);   // 8192 fits
        CompressionPlan p = CompressionPlan.of(new int[]{0, 100}, 64, 16);
        assertEquals("phi", fails(() -> plan(t(BASE, DType.FP32, 100, 1, 256), p, weights(64, 256, 16),
                t(BASE, DType.FP32, p.nnzCmp(), 1, 256))).subject());
    }

    @Test
    void nothingToCompressLaunchesNothing() {
        CompressionPlan p = CompressionPlan.of(new int[]{0, 0, 31, 31}, 32, 16);
        assertEquals(0, plan(t(0, DType.FP32, 31, 2, 16), p, weights(32, 16, 16), t(0, DType.FP32, 0, 2, 16)).work());
        CompressionPlan none = CompressionPlan.of(new int[]{0}, 32, 16);
        assertEquals(0, plan(t(0, DType.FP32, 0, 2, 16), none, weights(32, 16, 16), t(0, DType.FP32, 0, 2, 16)).work());
    }

    @Test
    void rawParamsAreValidated() {
        CompressMlpParams ok = new CompressMlpParams(BASE, BASE, BASE, BASE, BASE, BASE, BASE, BASE, BASE,
                32, 16, 32, 16, 64, 3, 1, 2, 16, 32, 16, 32);
        assertEquals("nsa_compress_mlp_fp32", CompressMlp.plan(ok, DType.FP32).key().symbol());
        assertEquals(6, CompressMlp.plan(ok, DType.FP32).work());
        CompressMlpParams noHidden = new CompressMlpParams(BASE, BASE, BASE, BASE, BASE, BASE, BASE, BASE, BASE,
                32, 16, 32, 16, 64, 3, 1, 2, 16, 32, 16, 0);
        assertEquals("phi.w1", fails(() -> CompressMlp.plan(noHidden, DType.FP32)).subject());
        CompressMlpParams nullW2 = new CompressMlpParams(BASE, BASE, BASE, BASE, BASE, BASE, BASE, 0, BASE,
                32, 16, 32, 16, 64, 3, 1, 2, 16, 32, 16, 32);
        assertEquals("phi.w2", fails(() -> CompressMlp.plan(nullW2, DType.FP32)).subject());
        CompressMlpParams noBatch = new CompressMlpParams(BASE, BASE, BASE, BASE, BASE, BASE, BASE, BASE, BASE,
                32, 16, 32, 16, 64, 3, 0, 2, 16, 32, 16, 32);
        assertEquals("cu_seqlens_cmp", fails(() -> CompressMlp.plan(noBatch, DType.FP32)).subject());
        assertEquals("k", fails(() -> CompressMlp.plan(ok, DType.INT32)).subject());
    }
}
