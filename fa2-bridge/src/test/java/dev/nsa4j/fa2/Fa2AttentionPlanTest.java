package dev.nsa4j.fa2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.fa2.contract.Fa2Options;
import dev.nsa4j.fa2.contract.Fa2Rule;
import dev.nsa4j.fa2.contract.KeyExtent;
import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.Mask;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.Shape;

/** Planning an FA-2 call (no GPU: fake addresses, a described H100). */
class Fa2AttentionPlanTest {
    static final DeviceInfo H100 = new DeviceInfo(0, "NVIDIA H100 80GB HBM3", 9, 0, 132, 80L << 30);
    static final DeviceInfo A100 = new DeviceInfo(0, "NVIDIA A100", 8, 0, 108, 80L << 30);
    static long next = 1L << 20;

    static DeviceTensor t(DType dt, int... dims) {
        long a = next;
        next += (Shape.of(dims).numel() * dt.byteSize() + 4096) & ~255L;
        return DeviceTensor.wrap(a, dt, Shape.of(dims));
    }

    static Fa2Attention.Inputs dense(DType dt, int b, int s, int sk, int h, int hkv, int d) {
        return Fa2Attention.Inputs.dense(t(dt, b, s, h, d), t(dt, b, sk, hkv, d), t(dt, b, sk, hkv, d),
                t(DType.FP32, b, s, h, d), t(DType.FP32, b, s, h));
    }

    static final Fa2Options MMA_ONLY = Fa2Options.defaults().withHopper(false, Fa2Options.HOPPER_MIN_KEYS);

    @Test
    void denseCausalBf16D128() {
        Fa2Attention.Plan p = Fa2Attention.plan(H100, dense(DType.BF16, 4, 4096, 4096, 16, 16, 128),
                Fa2Attention.Spec.of(Mask.CAUSAL, KeyExtent.FULL), MMA_ONLY);
        assertTrue(p.launchable(), p.verdict()::reason);
        assertEquals(Fa2Layout.MMA_SYNC, p.layout().layout());
        assertEquals("mma.sync layout (NSA_USE_WGMMA=0)", p.layout().reason());
        assertEquals("nsa_fa2_fwd_causal_bf16_dk128_dv128", p.symbol());
        assertEquals(32, p.gridX());
        assertEquals(16, p.gridY());
        assertEquals(4, p.gridZ());
        assertEquals(1, p.splits());
        assertEquals((128 * 128 + 64 * 128 * 2) * 2, p.smemBytes());
        assertEquals(1, p.params().outFp32());
        assertEquals(4096L * 16 * 128, p.params().qBatchStride());
        assertEquals(16L, p.params().lseTokStride());
    }

    @Test
    void blockCausalWithNoCompressedKeysIsServed() {
        Fa2Attention.Plan p = Fa2Attention.plan(H100, dense(DType.FP16, 1, 17, 0, 4, 2, 64),
                Fa2Attention.Spec.of(Mask.blockCausal(32, 16), KeyExtent.FULL).withExactP(true), Fa2Options.defaults());
        assertTrue(p.launchable(), p.verdict()::reason);
        assertEquals("nsa_fa2_fwd_blockcausal_fp16_dk64_dv64_exact", p.symbol());
    }

    @Test
    void varlenWithEmptySequencesAndDecodePositions() {
        int[] cuQ = {0, 0, 1, 18, 18, 1018};
        int[] cuK = {0, 0, 1, 18, 18, 4114};
        Fa2Attention.Inputs in = Fa2Attention.Inputs.varlen(t(DType.BF16, 1018, 16, 128), t(DType.BF16, 4114, 4, 128),
                t(DType.BF16, 4114, 4, 128), t(DType.FP32, 1018, 16, 128), t(DType.FP32, 1018, 16),
                t(DType.INT32, 6), cuQ, t(DType.INT32, 6), cuK).withStarts(t(DType.INT32, 5), null);
        Fa2Attention.Plan p = Fa2Attention.plan(H100, in, Fa2Attention.Spec.of(Mask.window(512), KeyExtent.INDEPENDENT),
                Fa2Options.defaults());
        assertTrue(p.launchable(), p.verdict()::reason);
        assertEquals(8, p.gridX());   // longest sequence 1000 rows / 128
        assertEquals(1018, p.params().rows());
    }

    @Test
    void decodeSplitsTheKeysOfASmallGrid() {
        int[] cuQ = {0, 1, 2};
        int[] cuK = {0, 4096, 8192};
        Fa2Attention.Inputs in = Fa2Attention.Inputs.varlen(t(DType.BF16, 2, 16, 128), t(DType.BF16, 8192, 4, 128),
                t(DType.BF16, 8192, 4, 128), t(DType.BF16, 2, 16, 128), null, t(DType.INT32, 3), cuQ, t(DType.INT32, 3), cuK);
        Fa2Attention.Plan p = Fa2Attention.plan(H100, in, Fa2Attention.Spec.of(Mask.NONE, KeyExtent.INDEPENDENT),
                Fa2Options.defaults());
        assertTrue(p.launchable(), p.verdict()::reason);
        assertTrue(p.splits() > 1, "splits " + p.splits());
        assertEquals(2 * p.splits(), p.gridZ());
        assertEquals((long) p.splits() * 2 * 16 * 129 * 4, p.workspaceBytes());
    }

    @Test
    void autoSplitsFillTheGpuOnlyWhenTheGridIsSmall() {
        assertEquals(1, Fa2Attention.autoSplits(10_000, 64, 132));
        assertEquals(1, Fa2Attention.autoSplits(4, 3, 132));
        assertEquals(32, Fa2Attention.autoSplits(8, 64, 132));
        assertEquals(64, Fa2Attention.autoSplits(1, 1000, 132));
    }

    @Test
    void refusedCallsNameTheRule() {
        Fa2Attention.Plan fp32 = Fa2Attention.plan(H100, dense(DType.FP32, 1, 64, 64, 4, 4, 64),
                Fa2Attention.Spec.of(Mask.CAUSAL, KeyExtent.FULL), Fa2Options.defaults());
        assertFalse(fp32.launchable());
        assertTrue(fp32.verdict().broke(Fa2Rule.DTYPE), fp32.verdict()::reason);
        Fa2Attention.Plan d256 = Fa2Attention.plan(A100, dense(DType.BF16, 1, 64, 64, 4, 4, 256),
                Fa2Attention.Spec.of(Mask.CAUSAL, KeyExtent.FULL), Fa2Options.defaults());
        assertTrue(d256.verdict().broke(Fa2Rule.HEAD_DIM), d256.verdict()::reason);
        Fa2Attention.Plan cast = Fa2Attention.plan(H100, dense(DType.FP32, 1, 64, 64, 4, 4, 64),
                Fa2Attention.Spec.of(Mask.CAUSAL, KeyExtent.FULL), new Fa2Options(true, true, false, false, false));
        assertTrue(cast.verdict().ok() && cast.verdict().castTo().orElseThrow() == DType.FP16);
        assertFalse(cast.launchable());
    }

    @Test
    void varlenNeedsDeviceOffsetsMatchingTheHostCopy() {
        int[] cu = {0, 4};
        NsaArgumentException e = assertThrows(NsaArgumentException.class, () -> Fa2Attention.plan(H100,
                Fa2Attention.Inputs.varlen(t(DType.BF16, 4, 2, 64), t(DType.BF16, 4, 2, 64), t(DType.BF16, 4, 2, 64),
                        t(DType.BF16, 4, 2, 64), null, t(DType.INT32, 3), cu, t(DType.INT32, 2), cu),
                Fa2Attention.Spec.of(Mask.CAUSAL, KeyExtent.FULL), Fa2Options.defaults()));
        assertEquals("cu_seqlens_q", e.subject());
    }

    @Test
    void paramsLayoutIsTheCStruct() {
        // 11 pointers, 14 int64 strides, 14 int32 sizes, 2 floats: 88 + 112 + 56 + 8 = 264 bytes
        assertEquals(264, Fa2Params.LAYOUT.size());
        assertEquals(88, Fa2Params.LAYOUT.offsetOf("q_batch_stride"));
        assertEquals(200, Fa2Params.LAYOUT.offsetOf("batch"));
        assertEquals(256, Fa2Params.LAYOUT.offsetOf("scale"));
        assertEquals(24, Fa2ElementwiseParams.LAYOUT.size());
        assertEquals(47, Fa2Layouts.expectedProbe().length);
    }

    @Test
    void symbolsAndTiles() {
        assertEquals("nsa_fa2_fwd_window_fp16_dk192_dv128", Fa2Kernels.forward(Fa2Mask.WINDOW, DType.FP16, 192, 128, false));
        assertEquals("nsa_fa2_combine_bf16", Fa2Kernels.combine(DType.BF16));
        assertEquals(64, Fa2Kernels.blockM(256, 256));
        assertThrows(NsaArgumentException.class, () -> Fa2Kernels.forward(Fa2Mask.NONE, DType.BF16, 80, 80, false));
    }

    @Test
    void kvPackedViewsShareOneTensor() {
        DeviceTensor kv = t(DType.BF16, 1, 64, 2, 2, 64);
        Fa2Attention.Inputs in = Fa2Attention.Inputs.kvPacked(t(DType.BF16, 1, 64, 4, 64), kv,
                t(DType.FP32, 1, 64, 4, 64), null, null, null, null, null);
        Fa2Attention.Plan p = Fa2Attention.plan(H100, in, Fa2Attention.Spec.of(Mask.CAUSAL, KeyExtent.FULL),
                Fa2Options.defaults());
        assertTrue(p.launchable(), p.verdict()::reason);
        assertEquals(kv.address(), p.params().k());
        assertEquals(kv.address() + 2 * 64 * 2, p.params().v());   // one [Hkv, D] plane of bf16 further
        assertEquals(2L * 2 * 64, p.params().kTokStride());
        assertEquals(2L * 2 * 64, p.params().vTokStride());
        assertEquals(64L, p.params().kHeadStride());
        assertEquals(2, p.params().kvHeads());
        NsaArgumentException e = assertThrows(NsaArgumentException.class, () -> Fa2Attention.Inputs.kvPacked(
                t(DType.BF16, 1, 64, 4, 64), t(DType.BF16, 1, 64, 3, 2, 64), t(DType.FP32, 1, 64, 4, 64), null,
                null, null, null, null));
        assertEquals("kv", e.subject());
    }

    @Test
    void dkDifferentFromDv() {
        Fa2Attention.Inputs in = Fa2Attention.Inputs.dense(t(DType.BF16, 2, 300, 8, 192), t(DType.BF16, 2, 300, 2, 192),
                t(DType.BF16, 2, 300, 2, 128), t(DType.BF16, 2, 300, 8, 128), t(DType.FP32, 2, 300, 8));
        Fa2Attention.Plan p = Fa2Attention.plan(H100, in, Fa2Attention.Spec.of(Mask.window(64), KeyExtent.FULL),
                Fa2Options.defaults());
        assertTrue(p.launchable(), p.verdict()::reason);
        assertEquals("nsa_fa2_fwd_window_bf16_dk192_dv128", p.symbol());
        assertEquals(5, p.gridX());   // 64-row tiles above head dim 128
        assertEquals((64 * 192 + 64 * 192 + 64 * 128) * 2, p.smemBytes());
        assertEquals(0, p.params().outFp32());
    }

    @Test
    void hopperLayoutOnSm90ForD128WithLongKeys() {
        Fa2Attention.Plan p = Fa2Attention.plan(H100, dense(DType.BF16, 4, 4096, 4096, 16, 4, 128),
                Fa2Attention.Spec.of(Mask.CAUSAL, KeyExtent.FULL).withExactP(true), Fa2Options.defaults());
        assertTrue(p.launchable(), p.verdict()::reason);
        assertEquals(Fa2Layout.HOPPER, p.layout().layout());
        assertEquals("hopper layout (SM 9.0; keys 4096 >= 512)", p.layout().reason());
        assertEquals("nsa_fa2_hopper_causal_bf16_d128_exact", p.symbol());
        assertEquals(32, p.gridX());   // 128 rows per CTA
        assertEquals(16, p.gridY());
        assertEquals(4, p.gridZ());
        assertEquals(384, p.launch().threads());
        assertEquals(1024 + 128 * 128 * 2 + 2 * 2 * 128 * 128 * 2, p.smemBytes());
        assertEquals(4L * 4096, p.layout().q().rows(), "dense batches flatten into rows b · S + i");
        assertEquals(4, p.layout().k().heads());
    }

    @Test
    void hopperLayoutRulesNameWhatFails() {
        Fa2Attention.Spec causal = Fa2Attention.Spec.of(Mask.CAUSAL, KeyExtent.FULL);
        assertEquals("mma.sync layout (SM 8.0, the Hopper layout is SM 9.0)", Fa2Attention.plan(A100,
                dense(DType.BF16, 1, 4096, 4096, 16, 4, 128), causal, Fa2Options.defaults()).layout().reason());
        assertEquals("mma.sync layout (Dk/Dv 64/64, the Hopper layout is 128/128)", Fa2Attention.plan(H100,
                dense(DType.BF16, 1, 4096, 4096, 16, 4, 64), causal, Fa2Options.defaults()).layout().reason());
        assertEquals("mma.sync layout (keys 511 < NSA_FA2_HOPPER_MIN_KEYS = 512)", Fa2Attention.plan(H100,
                dense(DType.FP16, 1, 511, 511, 64, 4, 128), causal, Fa2Options.defaults()).layout().reason());
        assertEquals("mma.sync layout (keys 256 < NSA_FA2_HOPPER_MIN_KEYS = 512)", Fa2Attention.plan(H100,
                dense(DType.BF16, 1, 4096, 4096, 16, 4, 128), Fa2Attention.Spec.of(Mask.window(256), KeyExtent.FULL),
                Fa2Options.defaults()).layout().reason(), "the window bounds the keys a row sees");
        Fa2Attention.Plan any = Fa2Attention.plan(H100, dense(DType.FP16, 4, 17, 17, 64, 4, 128), causal,
                Fa2Options.defaults().withHopper(true, 0));
        assertEquals(Fa2Layout.HOPPER, any.layout().layout(), "threshold 0 serves every length");
        assertEquals("nsa_fa2_hopper_causal_fp16_d128", any.symbol());
        assertTrue(Fa2Attention.plan(H100, dense(DType.BF16, 1, 1, 8192, 16, 4, 128),
                causal.withSplits(4), Fa2Options.defaults()).layout().reason().contains("split-KV, 4 splits"));
    }

    @Test
    void hopperLayoutNeedsTensorMapRows() {
        // (the contract's 16-byte alignment of pointers and rows already implies the tensor maps' own rules)
        Fa2Attention.Spec causal = Fa2Attention.Spec.of(Mask.CAUSAL, KeyExtent.FULL);
        // dense batches whose rows do not follow each other (a batch stride larger than S · token stride)
        DeviceTensor k = DeviceTensor.wrap(t(DType.BF16, 2, 2048, 4, 128).address(), DType.BF16,
                Shape.strided(new int[] {2, 1024, 4, 128}, new long[] {2048L * 4 * 128, 4 * 128, 128, 1}));
        Fa2Attention.Inputs gap = Fa2Attention.Inputs.dense(t(DType.BF16, 2, 1024, 16, 128), k,
                t(DType.BF16, 2, 1024, 4, 128), t(DType.FP32, 2, 1024, 16, 128), t(DType.FP32, 2, 1024, 16));
        Fa2Attention.Plan g = Fa2Attention.plan(H100, gap, causal, Fa2Options.defaults());
        assertTrue(g.launchable(), g.verdict()::reason);
        assertEquals("mma.sync layout (dense k: batch stride 1048576 != S · token stride 524288, its rows are no TMA "
                + "rows)", g.layout().reason());
    }

    @Test
    void hopperThresholdIsAKeyCount() {
        assertThrows(NsaArgumentException.class, () -> Fa2Options.defaults().withHopper(true, -1));
    }
}
