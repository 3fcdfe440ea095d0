package dev.nsa4j.kernels.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.nsa4j.kernels.DeviceTensor;
import org.junit.jupiter.api.Test;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.Shape;

/** Compression plans and compress-avg checks (no CUDA call, CPU only). */
class CompressAvgValidationTest {
    static final long BASE = 0x7f0000000000L;

    static DeviceTensor t(long addr, DType d, int... dims) {
        return DeviceTensor.wrap(addr, d, Shape.of(dims));
    }

    static NsaArgumentException fails(Runnable r) {
        return assertThrows(NsaArgumentException.class, r::run);
    }

    @Test
    void compressedCountFollowsTheSpec() {
        assertEquals(0, CompressionPlan.compressedCount(0, 32, 16));
        assertEquals(0, CompressionPlan.compressedCount(31, 32, 16));
        assertEquals(1, CompressionPlan.compressedCount(32, 32, 16));
        assertEquals(1, CompressionPlan.compressedCount(47, 32, 16));
        assertEquals(2, CompressionPlan.compressedCount(48, 32, 16));
        assertEquals(61, CompressionPlan.compressedCount(1000, 32, 16));
        assertEquals(1000, CompressionPlan.compressedCount(1000, 1, 1));
    }

    @Test
    void planHandlesZeroLengthSequences() {
        CompressionPlan p = CompressionPlan.of(new int[]{0, 0, 63, 64, 64, 1064, 1128, 1193, 1193}, 32, 16);
        assertArrayEquals(new int[]{0, 0, 2, 2, 2, 63, 66, 69, 69}, p.cuSeqlensCmp());
        assertEquals(8, p.batch());
        assertEquals(1193, p.nnz());
        assertEquals(69, p.nnzCmp());
        CompressionPlan empty = CompressionPlan.of(new int[]{0}, 32, 16);
        assertEquals(0, empty.batch());
        assertEquals(0, empty.nnzCmp());
    }

    @Test
    void planRejectsBadCuSeqlensAndBlockSizes() {
        assertEquals("cu[0] = 0", fails(() -> CompressionPlan.of(new int[]{1, 5}, 4, 2)).rule());
        NsaArgumentException dec = fails(() -> CompressionPlan.of(new int[]{0, 5, 3}, 4, 2));
        assertEquals("cu_seqlens", dec.subject());
        assertEquals("non-decreasing", dec.rule());
        assertEquals("l", fails(() -> CompressionPlan.of(new int[]{0, 5}, 0, 2)).subject());
        assertEquals("d", fails(() -> CompressionPlan.of(new int[]{0, 5}, 4, 0)).subject());
        assertEquals("cu_seqlens", fails(() -> CompressionPlan.of(new int[0], 4, 2)).subject());
    }

    CompressAvg.Launch plan(DeviceTensor k, CompressionPlan p, DeviceTensor out) {
        int b1 = p.batch() + 1;
        return CompressAvg.plan(k, t(BASE + (1 << 26), DType.INT32, b1), t(BASE + (1 << 27), DType.INT32, b1), p, out);
    }

    @Test
    void validInputsPickAVariant() {
        CompressionPlan p = CompressionPlan.of(new int[]{0, 100, 164}, 32, 16);
        CompressAvg.Launch l = plan(t(BASE, DType.BF16, 164, 2, 64), p, t(BASE + (1 << 20), DType.FP32, p.nnzCmp(), 2, 64));
        assertEquals("nsa_compress_avg_bf16_ofp32_v16", l.key().symbol());
        assertEquals(8, p.nnzCmp());
        assertEquals(8L * 2 * 64 / 8, l.work());
        CompressAvg.Launch narrow = plan(t(BASE + 8, DType.BF16, 164, 2, 64), p, t(BASE + (1 << 20), DType.BF16, 8, 2, 64));
        assertEquals("nsa_compress_avg_bf16_obf16_v1", narrow.key().symbol());
        assertEquals(2, narrow.params().batch());
        assertEquals(128, narrow.params().kTokStride());
    }

    @Test
    void shapesAndDtypesAreCheckedAgainstThePlan() {
        CompressionPlan p = CompressionPlan.of(new int[]{0, 100}, 32, 16);   // 5 compressed tokens
        DeviceTensor k = t(BASE, DType.FP16, 100, 2, 16);
        assertEquals("k", fails(() -> plan(t(BASE, DType.FP16, 99, 2, 16), p, t(BASE, DType.FP16, 5, 2, 16))).subject());
        NsaArgumentException rows = fails(() -> plan(k, p, t(BASE, DType.FP16, 6, 2, 16)));
        assertEquals("out", rows.subject());
        assertEquals("out has cu_seqlens_cmp[B] rows (S_cmp summed over sequences)", rows.rule());
        assertEquals("out", fails(() -> plan(k, p, t(BASE, DType.FP16, 5, 2, 8))).subject());
        assertEquals("out", fails(() -> plan(k, p, t(BASE, DType.BF16, 5, 2, 16))).subject());
        assertEquals("k", fails(() -> plan(t(BASE, DType.INT32, 100, 2, 16), p, t(BASE, DType.INT32, 5, 2, 16))).subject());
        NsaArgumentException cu = fails(() -> CompressAvg.plan(k, t(BASE, DType.FP32, 2), t(BASE, DType.INT32, 2), p,
                t(BASE, DType.FP16, 5, 2, 16)));
        assertEquals("cu_seqlens", cu.subject());
        assertEquals("int32", cu.rule());
        assertEquals("cu_seqlens_cmp", fails(() -> CompressAvg.plan(k, t(BASE, DType.INT32, 2), t(BASE, DType.INT32, 3), p,
                t(BASE, DType.FP16, 5, 2, 16))).subject());
        assertEquals("cu_seqlens", fails(() -> CompressAvg.plan(k, t(BASE + 2, DType.INT32, 2), t(BASE, DType.INT32, 2), p,
                t(BASE, DType.FP16, 5, 2, 16))).subject());
        assertEquals("k", fails(() -> plan(t(BASE + 1, DType.FP16, 100, 2, 16), p, t(BASE, DType.FP16, 5, 2, 16))).subject());
    }

    @Test
    void nothingToCompressLaunchesNothing() {
        CompressionPlan p = CompressionPlan.of(new int[]{0, 0, 31, 31}, 32, 16);
        assertEquals(0, plan(t(0, DType.FP32, 31, 2, 16), p, t(0, DType.FP32, 0, 2, 16)).work());
        CompressionPlan none = CompressionPlan.of(new int[]{0}, 32, 16);
        assertEquals(0, plan(t(0, DType.FP32, 0, 2, 16), none, t(0, DType.FP32, 0, 2, 16)).work());
    }

    @Test
    void rawParamsAreValidated() {
        CompressAvgParams zeroL = new CompressAvgParams(BASE, BASE, BASE, BASE, 32, 16, 32, 16, 64, 1, 1, 2, 16, 0, 16);
        assertEquals("l", fails(() -> CompressAvg.plan(zeroL, DType.FP32, DType.FP32)).subject());
        CompressAvgParams noBatch = new CompressAvgParams(BASE, BASE, BASE, BASE, 32, 16, 32, 16, 64, 1, 0, 2, 16, 32, 16);
        assertEquals("cu_seqlens_cmp", fails(() -> CompressAvg.plan(noBatch, DType.FP32, DType.FP32)).subject());
        CompressAvgParams nullCu = new CompressAvgParams(BASE, BASE, 0, BASE, 32, 16, 32, 16, 64, 1, 1, 2, 16, 32, 16);
        assertEquals("cu_seqlens", fails(() -> CompressAvg.plan(nullCu, DType.FP32, DType.FP32)).subject());
        CompressAvgParams ok = new CompressAvgParams(BASE, BASE, BASE, BASE, 32, 16, 32, 16, 64, 3, 1, 2, 16, 32, 16);
        assertEquals("nsa_compress_avg_fp32_ofp32_v16", CompressAvg.plan(ok, DType.FP32, DType.FP32).key().symbol());
    }
}
