package dev.nsa4j.nsa;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.Shape;
import org.junit.jupiter.api.Test;

/**
 * The device API's checks, without a GPU: every tensor of a call is checked against the config (shape, dtype,
 * strides, element alignment, the dense-to-varlen view) before anything is enqueued, and a failure names the
 * tensor and the rule. Addresses are fake: nothing is dereferenced.
 */
class DeviceInputCheckTest {
    static final NsaConfig CFG = NsaConfig.builder().heads(8).kvGroups(2).headDims(64, 32).blockLen(16).stride(8)
            .selBlock(32).nSel(4).window(64).build();
    private long next = 1 << 20;

    private DeviceTensor t(DType dt, int... dims) {
        long a = next;
        next += 1 << 20;
        return DeviceTensor.wrap(a, dt, Shape.of(dims));
    }

    private NsaDeviceInputs.Builder dense(DType dt, int b, int s) {
        return NsaDeviceInputs.builder().q(t(dt, b, s, 8, 64)).cmp(t(dt, b, s, 2, 64), t(dt, b, s, 2, 32))
                .sel(t(dt, b, s, 2, 64), t(dt, b, s, 2, 32)).win(t(dt, b, s, 2, 64), t(dt, b, s, 2, 32))
                .gates(t(DType.FP32, b, s, 8, 3));
    }

    private static NsaArgumentException refused(NsaDeviceInputs in, NsaDeviceOutputs out) {
        return assertThrows(NsaArgumentException.class, () -> DeviceInputCheck.check(CFG, in, out));
    }

    @Test
    void aValidDenseCallIsViewedAsVarlen() {
        DeviceInputCheck.Call c = DeviceInputCheck.check(CFG, dense(DType.BF16, 3, 50).build(),
                NsaDeviceOutputs.of(t(DType.BF16, 3, 50, 8, 32)));
        assertArrayEquals(new int[] {0, 50, 100, 150}, c.shape().cu());
        assertFalse(c.shape().varlen());
        assertEquals(NsaShape.dense(3, 50, DType.BF16, DType.FP32, DType.BF16, false), c.shape());
        assertArrayEquals(new int[] {150, 8, 64}, c.q().shape().dims());
        assertArrayEquals(new int[] {150, 2, 32}, c.vWin().shape().dims());
        assertArrayEquals(new int[] {150, 8, 32}, c.o().shape().dims());
    }

    @Test
    void varlenNeedsItsHostOffsetsAndMatchingTokenCounts() {
        int[] cu = {0, 0, 7, 40};
        NsaDeviceInputs ok = NsaDeviceInputs.builder().q(t(DType.FP16, 40, 8, 64))
                .sharedKv(t(DType.FP16, 40, 2, 64), t(DType.FP16, 40, 2, 32)).gates(t(DType.FP16, 40, 8, 3))
                .cuSeqlens(cu).build();
        DeviceInputCheck.Call c = DeviceInputCheck.check(CFG, ok, NsaDeviceOutputs.of(t(DType.FP32, 40, 8, 32)));
        assertTrue(c.shape().varlen());
        assertEquals(NsaShape.varlen(cu, DType.FP16, DType.FP16, DType.FP32, false), c.shape());
        NsaDeviceInputs wrongNnz = NsaDeviceInputs.builder().q(t(DType.FP16, 40, 8, 64))
                .sharedKv(t(DType.FP16, 39, 2, 64), t(DType.FP16, 40, 2, 32)).gates(t(DType.FP16, 40, 8, 3))
                .cuSeqlens(cu).build();
        assertEquals("k_cmp", refused(wrongNnz, NsaDeviceOutputs.of(t(DType.FP32, 40, 8, 32))).subject());
        NsaDeviceInputs badCu = NsaDeviceInputs.builder().q(t(DType.FP16, 40, 8, 64))
                .sharedKv(t(DType.FP16, 40, 2, 64), t(DType.FP16, 40, 2, 32)).gates(t(DType.FP16, 40, 8, 3))
                .cuSeqlens(new int[] {0, 30, 20, 40}).build();
        NsaArgumentException e = refused(badCu, NsaDeviceOutputs.of(t(DType.FP32, 40, 8, 32)));
        assertEquals("cu_seqlens", e.subject());
        assertEquals("non-decreasing", e.rule());
    }

    @Test
    void everyTensorIsCheckedAndNamed() {
        NsaDeviceOutputs out = NsaDeviceOutputs.of(t(DType.BF16, 1, 20, 8, 32));
        NsaDeviceInputs base = dense(DType.BF16, 1, 20).build();
        assertEquals("q", refused(new NsaDeviceInputs(t(DType.BF16, 20, 8, 64), base.kCmp(), base.vCmp(), base.kSel(),
                base.vSel(), base.kWin(), base.vWin(), base.gates(), null, null), out).subject());
        assertEquals("v_sel", refused(new NsaDeviceInputs(base.q(), base.kCmp(), base.vCmp(), base.kSel(),
                base.kSel(), base.kWin(), base.vWin(), base.gates(), null, null), out).subject());
        assertEquals("k_win", refused(new NsaDeviceInputs(base.q(), base.kCmp(), base.vCmp(), base.kSel(),
                base.vSel(), t(DType.FP16, 1, 20, 2, 64), base.vWin(), base.gates(), null, null), out).subject());
        assertEquals("gates", refused(new NsaDeviceInputs(base.q(), base.kCmp(), base.vCmp(), base.kSel(),
                base.vSel(), base.kWin(), base.vWin(), t(DType.FP16, 1, 20, 8, 3), null, null), out).subject());
        assertEquals("indices", refused(new NsaDeviceInputs(base.q(), base.kCmp(), base.vCmp(), base.kSel(),
                base.vSel(), base.kWin(), base.vWin(), base.gates(), t(DType.FP32, 1, 20, 2, 4), null), out).subject());
        assertEquals("o", refused(base, NsaDeviceOutputs.of(t(DType.FP16, 1, 20, 8, 32))).subject());
        assertEquals("o_cmp", refused(base, out.withBranches(t(DType.FP16, 1, 20, 8, 32), null, null)).subject());
        // a branch output in o's half dtype passes here; the plan then requires its own branch dtype
        DeviceInputCheck.check(CFG, base, out.withBranches(t(DType.BF16, 1, 20, 8, 32), null, null));
        assertEquals("o_sel", refused(base, NsaDeviceOutputs.of(t(DType.FP32, 1, 20, 8, 32))
                .withBranches(null, t(DType.BF16, 1, 20, 8, 32), null)).subject());
        assertEquals("lse_win", refused(base, out.withLse(null, null, t(DType.FP32, 1, 20, 2))).subject());
    }

    @Test
    void pointersMustBeElementAlignedAndStridesViewable() {
        NsaDeviceOutputs out = NsaDeviceOutputs.of(t(DType.BF16, 2, 20, 8, 32));
        NsaDeviceInputs base = dense(DType.BF16, 2, 20).build();
        DeviceTensor odd = DeviceTensor.wrap(base.q().address() + 1, DType.BF16, base.q().shape());
        NsaArgumentException e = refused(new NsaDeviceInputs(odd, base.kCmp(), base.vCmp(), base.kSel(), base.vSel(),
                base.kWin(), base.vWin(), base.gates(), null, null), out);
        assertEquals("q", e.subject());
        assertTrue(e.rule().contains("aligned to its element size"), e.rule());
        DeviceTensor eight = DeviceTensor.wrap(base.q().address() + 8, DType.BF16, base.q().shape());
        DeviceInputCheck.check(CFG, new NsaDeviceInputs(eight, base.kCmp(), base.vCmp(), base.kSel(), base.vSel(),
                base.kWin(), base.vWin(), base.gates(), null, null), out);   // served: 8-byte aligned is element-aligned
        DeviceTensor nul = DeviceTensor.wrap(0, DType.BF16, base.q().shape());
        assertTrue(refused(new NsaDeviceInputs(nul, base.kCmp(), base.vCmp(), base.kSel(), base.vSel(), base.kWin(),
                base.vWin(), base.gates(), null, null), out).rule().contains("not null"));
        // a padded batch (stride 0 != S * token stride) cannot be viewed as [B*S, ...]
        DeviceTensor padded = DeviceTensor.wrap(base.q().address(), DType.BF16,
                Shape.strided(new int[] {2, 20, 8, 64}, new long[] {21L * 512, 512, 64, 1}));
        e = refused(new NsaDeviceInputs(padded, base.kCmp(), base.vCmp(), base.kSel(), base.vSel(), base.kWin(),
                base.vWin(), base.gates(), null, null), out);
        assertEquals("q", e.subject());
        assertTrue(e.rule().startsWith("batch stride = S"), e.rule());
        DeviceTensor strided = DeviceTensor.wrap(base.q().address(), DType.BF16,
                Shape.strided(new int[] {2, 20, 8, 64}, new long[] {20L * 1024, 1024, 128, 1}));
        DeviceInputCheck.check(CFG, new NsaDeviceInputs(strided, base.kCmp(), base.vCmp(), base.kSel(), base.vSel(),
                base.kWin(), base.vWin(), base.gates(), null, null), out);   // strided heads/tokens: served
        DeviceTensor lastAxis = DeviceTensor.wrap(base.q().address(), DType.BF16,
                Shape.strided(new int[] {2, 20, 8, 64}, new long[] {20L * 1024, 1024, 128, 2}));
        assertTrue(refused(new NsaDeviceInputs(lastAxis, base.kCmp(), base.vCmp(), base.kSel(), base.vSel(),
                base.kWin(), base.vWin(), base.gates(), null, null), out).rule().contains("last dimension contiguous"));
    }

    @Test
    void branchOutputsAreHalfPrecisionOnlyInTheFastModeWithAHalfPrecisionO() {
        NsaShape bf16 = NsaShape.dense(1, 64, DType.BF16, DType.FP32, DType.BF16, false);
        NsaShape fp32 = bf16.withOut(DType.FP32);
        FlagSnapshot fast = Flags.of(java.util.Map.of("nsa.fast.p", "1"), java.util.Map.of(), java.util.Map.of());
        FlagSnapshot fastParity = Flags.of(java.util.Map.of("nsa.fast.p", "1", "nsa.force.parity", "1"),
                java.util.Map.of(), java.util.Map.of());
        FlagSnapshot exact = Flags.of(java.util.Map.of(), java.util.Map.of(), java.util.Map.of());
        assertEquals(DType.BF16, DevicePipeline.branchDtype(fast, bf16));
        assertEquals(DType.FP16, DevicePipeline.branchDtype(fast,
                NsaShape.dense(1, 64, DType.FP16, DType.FP16, DType.FP16, false)));
        assertEquals(DType.FP32, DevicePipeline.branchDtype(fast, fp32), "an fp32 o keeps fp32 branch outputs");
        assertEquals(DType.FP32, DevicePipeline.branchDtype(exact, bf16), "exact P rounds once, in the combine");
        assertEquals(DType.FP32, DevicePipeline.branchDtype(fastParity, bf16), "the parity mode keeps fp32");
    }

    @Test
    void shapesClassesAndPlansPrint() {
        NsaShape a = NsaShape.dense(2, 64, DType.BF16, DType.FP32, DType.BF16, false);
        assertEquals(a, NsaShape.dense(2, 64, DType.BF16, DType.FP32, DType.FP32, false).withOut(DType.BF16));
        assertEquals(128, a.nnz());
        assertEquals(64, a.seqLen());
        assertFalse(a.equals(NsaShape.varlen(new int[] {0, 64, 128}, DType.BF16, DType.FP32, DType.BF16, false)),
                "dense and varlen are different shape classes");
        assertEquals("B=2 S=64 bf16 (gates fp32, o bf16)", a.toString());
        NsaPlan p = new NsaPlan(CFG, a, "cuda:0 test", DType.BF16, DType.FP32,
                java.util.List.of(new Route(Branch.CMP, Path.FA2, "why")),
                java.util.List.of(new NsaPlan.Step("cmp", "fa2 blockcausal", 1 << 20)), 3L << 20);
        String s = p.toString();
        assertTrue(s.startsWith("plan: B=2 S=64 bf16 (gates fp32, o bf16) on cuda:0 test"), s);
        assertTrue(s.contains("route cmp: fa2 (why)") && s.contains("step cmp      fa2 blockcausal [scratch 1.0 MiB]")
                && s.contains("branch outputs in fp32; device memory held 3.0 MiB"), s);
    }
}
