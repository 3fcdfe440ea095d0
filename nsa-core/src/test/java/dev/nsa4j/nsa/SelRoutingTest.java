package dev.nsa4j.nsa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.kernels.internal.CompressionPlan;
import dev.nsa4j.kernels.op.OpRun;
import dev.nsa4j.kernels.op.SelKernelOp;
import dev.nsa4j.kernels.op.SelLayout;
import dev.nsa4j.tensor.DType;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The selection branch's plan per shape and the scorer choice, without a GPU: sel-kernel where wished and the
 * shape allows it; below NSA_SEL_KERNEL_MIN_L a normal route; a refused shape a route reason, counted only where the
 * user asked; a missing tensor-core image always counted; the tc scorer unless parity, NSA_EXACT_SCORES, fp32 K̃, a
 * missing image or the shared-memory limit say otherwise; and how a per-call fallback is counted and logged.
 */
class SelRoutingTest {
    static final DeviceInfo H200 = new DeviceInfo(0, "NVIDIA H200", 9, 0, 132, 141L << 30, 232448);
    static final DeviceInfo A100 = new DeviceInfo(0, "NVIDIA A100", 8, 0, 108, 80L << 30, 166912);
    static final DeviceInfo RTX4090 = new DeviceInfo(0, "NVIDIA GeForce RTX 4090", 8, 9, 128, 24L << 30, 101376);
    /** l' = 64, n = 16: n·l' = 1024 selected tokens per row. */
    static final NsaConfig CFG = NsaConfig.builder().heads(16).kvGroups(4).headDim(128).blockLen(32).stride(16)
            .selBlock(64).nSel(16).window(512).build();
    static final float SCALE = (float) CFG.scale();

    /** The shipped sm90 profile's values for d128 (sel-kernel from 0, its reference sdpa-masked) and the user's env. */
    private static FlagSnapshot sm90(String... envKv) {
        Map<String, String> e = new HashMap<>();
        for (int i = 0; i < envKv.length; i += 2) {
            e.put(envKv[i], envKv[i + 1]);
        }
        return Flags.of(Map.of(), e, GpuProfiles.shipped("sm90").flagValues(128));
    }

    private static SelPlanner.Decision decide(FlagSnapshot f, NsaConfig cfg, DType dt, DeviceInfo dev,
                                              String tcUnavailable) {
        GpuRoutes.Plan p = GpuRoutes.plan(Branch.SEL, f, "sm90 d128", dev.sm());
        return SelPlanner.decide(p, cfg, dt, (float) cfg.scale(), dev, tcUnavailable);
    }

    @Test
    void theProfileRoutesAHalfPrecisionShapeToTheKernelInExactPMode() {
        for (DType dt : new DType[] {DType.BF16, DType.FP16}) {
            SelPlanner.Decision d = decide(sm90(), CFG, dt, H200, null);
            assertEquals(new Route(Branch.SEL, Path.SEL_KERNEL, "profile sm90 d128; n·l' = 1024 >= 0; exact P"),
                    d.route());
            assertNotNull(d.kernel());
            assertTrue(d.kernel().exactP(), "the pipeline runs exact P (fp32 branch outputs)");
            assertEquals(dt, d.kernel().dtype());
            assertEquals("sel-kernel exact-P union " + (dt == DType.BF16 ? "bf16" : "fp16") + " dk128 dv128",
                    d.kernel().describe(SelLayout.UNION));
            assertNull(d.fallbackTag());
        }
        SelPlanner.Decision fast = decide(sm90("NSA_FAST_P", "1"), CFG, DType.BF16, H200, null);
        assertEquals("profile sm90 d128; n·l' = 1024 >= 0; fast P (NSA_FAST_P=1)", fast.route().reason());
        assertTrue(!fast.kernel().exactP(), "NSA_FAST_P=1 runs sel-kernel's fast mode");
        // the A100 serves (192, 128) too; an RTX 4090 with NSA_SEL_KERNEL_FORCE=1 runs the sm_80 code
        NsaConfig d192 = CFG.toBuilder().headDims(192, 128).build();
        assertEquals(Path.SEL_KERNEL, decide(sm90(), d192, DType.BF16, A100, null).route().path());
        assertEquals(Path.SEL_KERNEL, decide(sm90("NSA_SEL_KERNEL_FORCE", "1"), CFG, DType.BF16, RTX4090, null)
                .route().path());
        SelPlanner.Decision off = decide(sm90(), CFG, DType.BF16, RTX4090, null);
        assertEquals(Path.SDPA_MASKED, off.route().path());
        assertTrue(off.route().reason().contains("SM 8.9 keeps it off (NSA_SEL_KERNEL_FORCE=1 allows it)"),
                off.route().reason());
        assertNull(off.fallbackTag(), "a device policy, not a fallback");
    }

    @Test
    void belowTheMinimumIsANormalRoute() {
        SelPlanner.Decision d = decide(sm90("NSA_SEL_KERNEL_MIN_L", "2048"), CFG, DType.BF16, H200, null);
        assertEquals(new Route(Branch.SEL, Path.SDPA_MASKED, "below NSA_SEL_KERNEL_MIN_L (n·l' = 1024 < 2048); "
                + "chosen blocks walked in place (profile: NSA_USE_SEL_PACK=0)"), d.route());
        assertNull(d.kernel());
        assertNull(d.fallbackTag());
        assertEquals(Path.SEL_KERNEL, decide(sm90("NSA_SEL_KERNEL_MIN_L", "1024"), CFG, DType.BF16, H200, null)
                .route().path(), "the minimum itself is enough");
        SelPlanner.Decision disabled = decide(sm90("NSA_SEL_KERNEL_MIN_L", "-1"), CFG, DType.BF16, H200, null);
        assertEquals(Path.SDPA_MASKED, disabled.route().path());
        assertTrue(disabled.route().reason().contains("NSA_SEL_KERNEL_MIN_L=-1 disables it"), disabled.route().reason());
        assertNull(disabled.fallbackTag());
    }

    @Test
    void aRefusedShapeIsARouteReasonUnderTheProfileAndACountedFallbackWhenRequested() {
        SelPlanner.Decision fp32 = decide(sm90(), CFG, DType.FP32, H200, null);
        assertEquals(Path.SDPA_MASKED, fp32.route().path());
        assertEquals("sel-kernel (profile sm90 d128) blocked for this shape: dtype: q, k and v are fp32; sel-kernel "
                + "takes fp16 or bf16", fp32.route().reason());
        assertNull(fp32.fallbackTag(), "structural, and only the profile asked");
        assertNull(fp32.kernel());

        SelPlanner.Decision asked = decide(sm90("NSA_USE_SEL_KERNEL", "1"), CFG, DType.FP32, H200, null);
        assertEquals(Path.SDPA_MASKED, asked.route().path());
        assertTrue(asked.route().reason().startsWith("sel-kernel (requested by NSA_USE_SEL_KERNEL) blocked for this "
                + "shape: dtype: "), asked.route().reason());
        assertEquals(SelPlanner.FALLBACK_TAG, asked.fallbackTag());
        assertEquals("contract", asked.fallbackCause());
        assertEquals("dtype", asked.rules());

        // every failed rule, named: l' not a multiple of 64, Dk = 32
        NsaConfig bad = CFG.toBuilder().headDim(32).selBlock(32).build();
        SelPlanner.Decision both = decide(sm90("NSA_USE_SEL_KERNEL", "1"), bad, DType.BF16, H200, null);
        assertEquals("head_dim,sel_block", both.rules());
        assertTrue(both.route().reason().contains("head_dim: (Dk, Dv) = (32, 32) is not one of [(64, 64), (128, 128), "
                + "(192, 128), (256, 256)]"), both.route().reason());
        assertTrue(both.route().reason().contains("sel_block: l' = 32 is not a multiple of 64"), both.route().reason());
        // the packed reference path when NSA_USE_SEL_PACK=1
        assertEquals(Path.SDPA_PACKED, decide(sm90("NSA_USE_SEL_PACK", "1"), bad, DType.BF16, H200, null)
                .route().path());
    }

    @Test
    void headDim256NeedsSm9AndSharedMemoryIsChecked() {
        NsaConfig d256 = CFG.toBuilder().headDim(256).build();
        assertEquals(Path.SEL_KERNEL, decide(sm90(), d256, DType.BF16, H200, null).route().path());
        SelPlanner.Decision a100 = decide(sm90(), d256, DType.BF16, A100, null);
        assertEquals(Path.SDPA_MASKED, a100.route().path());
        assertTrue(a100.route().reason().contains("head_dim: (Dk, Dv) = (256, 256) runs on SM 9.x only; this device "
                + "is 8.0"), a100.route().reason());
        DeviceInfo unknownLimit = new DeviceInfo(0, "GPU", 9, 0, 132, 80L << 30);   // opt-in limit unknown: 48 KiB
        SelPlanner.Decision small = decide(sm90(), CFG, DType.BF16, unknownLimit, null);
        assertEquals(Path.SEL_KERNEL, small.route().path(), "the token layout fits: " + small.route().reason());
        assertTrue(SelLayout.why(unknownLimit, small.kernel(), 4096, false).startsWith("token layout (the union layout's"),
                SelLayout.why(unknownLimit, small.kernel(), 4096, false));
        NsaConfig d192 = CFG.toBuilder().headDims(192, 128).build();
        SelPlanner.Decision neither = decide(sm90(), d192, DType.BF16, unknownLimit, null);
        assertEquals(Path.SDPA_MASKED, neither.route().path());
        assertTrue(neither.route().reason().contains("shared_memory: the token layout needs 51200 bytes"),
                neither.route().reason());
    }

    @Test
    void aMissingImageIsAlwaysACountedFallback() {
        SelPlanner.Decision d = decide(sm90(), CFG, DType.BF16, H200, "tensor-core kernels unavailable: x");
        assertEquals(new Route(Branch.SEL, Path.SDPA_MASKED, "sel-kernel blocked: tensor-core kernels unavailable: x"),
                d.route());
        assertEquals(SelPlanner.FALLBACK_TAG, d.fallbackTag());
        assertEquals("unavailable", d.fallbackCause());
    }

    @Test
    void parityAndNoWishKeepTheReferencePath() {
        SelPlanner.Decision parity = decide(sm90("NSA_FORCE_PARITY", "1"), CFG, DType.BF16, H200, null);
        assertEquals(new Route(Branch.SEL, Path.SDPA, "NSA_FORCE_PARITY=1"), parity.route());
        SelPlanner.Decision off = decide(sm90("NSA_USE_SEL_KERNEL", "0"), CFG, DType.BF16, H200, null);
        assertEquals(Path.SDPA_MASKED, off.route().path());
        assertNull(off.kernel());
    }

    @Test
    void theScorerIsTheTensorCoreOneUnlessSomethingSaysOtherwise() {
        CompressionPlan cp = CompressionPlan.of(new int[] {0, 4096, 4100}, CFG.blockLen(), CFG.stride());
        assertNull(SelectPlanner.whyReference(sm90(), CFG, cp, SCALE, DType.BF16, H200, null));
        assertNull(SelectPlanner.whyReference(Flags.defaults(), CFG, cp, SCALE, DType.FP16, A100, null),
                "no profile flag: the tc scorer is the default wherever it can run");
        assertEquals("NSA_EXACT_SCORES=1",
                SelectPlanner.whyReference(sm90("NSA_EXACT_SCORES", "1"), CFG, cp, SCALE, DType.BF16, H200, null));
        assertEquals("NSA_FORCE_PARITY=1",
                SelectPlanner.whyReference(sm90("NSA_FORCE_PARITY", "1"), CFG, cp, SCALE, DType.BF16, H200, null));
        assertTrue(SelectPlanner.exactScores(sm90("NSA_FORCE_PARITY", "1")), "parity implies exact scores");
        assertTrue(SelectPlanner.exactScores(sm90("NSA_EXACT_SCORES", "1")));
        assertEquals("K̃ in fp32", SelectPlanner.whyReference(sm90(), CFG, cp, SCALE, DType.FP32, H200, null));
        assertEquals("tensor-core kernels unavailable: y",
                SelectPlanner.whyReference(sm90(), CFG, cp, SCALE, DType.BF16, H200, "tensor-core kernels unavailable: y"));
        String d32 = SelectPlanner.whyReference(sm90(), CFG.toBuilder().headDim(32).build(), cp, SCALE, DType.BF16,
                H200, null);
        assertEquals("tc scorer blocked for this shape: head_dim: Dk = 32 is not one of [64, 128, 192, 256]", d32);
        // any length: the scorer's shared memory does not grow with the sequence
        CompressionPlan longSeq = CompressionPlan.of(new int[] {0, 1 << 20}, CFG.blockLen(), CFG.stride());
        assertNull(SelectPlanner.whyReference(sm90(), CFG, longSeq, SCALE, DType.BF16, H200, null));
        // h = 128 at Dk = 256 outgrows an A100's opt-in shared memory: the reference scorer, with the numbers
        NsaConfig wide = NsaConfig.builder().heads(128).kvGroups(1).headDim(256).blockLen(32).stride(16).selBlock(64)
                .nSel(16).window(512).build();
        String big = SelectPlanner.whyReference(sm90(), wide, cp, SCALE, DType.BF16, A100, null);
        assertNotNull(big);
        assertTrue(big.startsWith("tc scorer blocked for this shape: shared_memory: needs "), big);
        assertTrue(big.contains("(h = 128, Dk = 256), the device allows " + (166912 - 4 * 128 * 8)), big);   // less the top-n buffers
    }

    @Test
    void aPerCallSelectionFallbackIsCountedAndLoggedWithItsTag() {
        List<String> lines = new ArrayList<>();
        Counters counters = new Counters();
        CallReport report = new CallReport(counters, new RateLimitedLog((l, s) -> lines.add(l + " " + s), 0), Map.of());
        String why = "sel-kernel blocked: alignment: q at 0x1008 is not 16-byte aligned (16-byte loads)";
        Route sel = new Route(Branch.SEL, Path.SDPA_MASKED, why);
        report.report(List.of(new Route(Branch.CMP, Path.SDPA_MASKED, "m"), sel, new Route(Branch.WIN, Path.FA2, "f")),
                Map.of(Branch.SEL, OpRun.fellBack("sdpa-masked", why, "contract")),
                OpRun.fellBack("select", "reference scorer: tc scorer blocked: alignment: q", "contract"), List.of(), null);
        assertEquals(1, counters.fallbacks(Branch.SEL, Path.SDPA_MASKED, why));
        assertEquals(1, counters.fallbacks().size(), "the scorer's fallback is logged, not counted");
        assertTrue(lines.contains("WARN NSA-LOG sel.kernel.fallback " + sel.toKeyValues() + " cause=contract"),
                lines.toString());
        assertTrue(lines.contains("WARN NSA-LOG select.fallback reason=\"reference scorer: tc scorer blocked: "
                + "alignment: q\" cause=contract"), lines.toString());
        assertTrue(lines.stream().noneMatch(l -> l.contains("fa2.fallback")), lines.toString());
    }
}
