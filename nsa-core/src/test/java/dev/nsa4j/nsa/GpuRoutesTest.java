package dev.nsa4j.nsa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.kernels.internal.AttnWalk;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** docs/routing.md's flags decide each branch's planned GPU path: FA-2 and sel-kernel where wished, else why not. */
class GpuRoutesTest {
    private static FlagSnapshot env(String... kv) {
        Map<String, String> env = new HashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            env.put(kv[i], kv[i + 1]);
        }
        return Flags.of(Map.of(), env, Map.of());
    }

    @Test
    void defaultsRouteCmpAndWinToTheMaskedPathAndSelToPacked() {
        for (Branch br : Branch.values()) {
            GpuRoutes.Plan p = GpuRoutes.plan(br, Flags.defaults());
            assertEquals(br == Branch.SEL ? Path.SDPA_PACKED : Path.SDPA_MASKED, p.route().path(), br.toString());
            assertEquals(AttnWalk.RANGES, p.walk());
            assertNull(p.fa2(), "defaults wish no FA-2");
            assertNull(p.sel(), "defaults wish no sel-kernel");
        }
        assertTrue(GpuRoutes.plan(Branch.SEL, Flags.defaults()).route().reason().contains("NSA_USE_SEL_PACK=1"));
    }

    @Test
    void selPackFlagPicksThePackedPath() {
        GpuRoutes.Plan on = GpuRoutes.plan(Branch.SEL, env("NSA_USE_SEL_PACK", "1"));
        assertEquals(Path.SDPA_PACKED, on.route().path());
        assertNull(on.sel());
        GpuRoutes.Plan off = GpuRoutes.plan(Branch.SEL, env("NSA_USE_SEL_PACK", "0"));
        assertEquals(Path.SDPA_MASKED, off.route().path(), "unpacked selection walks the chosen blocks in place");
        assertEquals(AttnWalk.RANGES, off.walk());
        assertEquals("chosen blocks walked in place (NSA_USE_SEL_PACK=0)", off.route().reason());
        assertEquals(Path.SDPA, GpuRoutes.plan(Branch.SEL, env("NSA_USE_SEL_PACK", "1", "NSA_FORCE_PARITY", "1"))
                .route().path());
        GpuRoutes.Plan kernel = GpuRoutes.plan(Branch.SEL, env("NSA_USE_SEL_PACK", "0", "NSA_USE_SEL_KERNEL", "1",
                "NSA_SEL_KERNEL_MIN_L", "0"));
        assertEquals(Path.SEL_KERNEL, kernel.route().path());
        assertEquals(Path.SDPA_MASKED, kernel.sel().reference().path(), "the kernel's reference: NSA_USE_SEL_PACK's");
        assertEquals(Path.SDPA_MASKED, GpuRoutes.plan(Branch.CMP, env("NSA_USE_SEL_PACK", "1")).route().path());
    }

    @Test
    void maskFlagsOffGivePlainSdpa() {
        FlagSnapshot f = env("NSA_USE_CMP_MASK", "0", "NSA_USE_SEL_PACK", "0", "NSA_USE_WIN_MASK", "0");
        for (Branch br : new Branch[] {Branch.CMP, Branch.WIN}) {
            GpuRoutes.Plan p = GpuRoutes.plan(br, f);
            assertEquals(Path.SDPA, p.route().path());
            assertEquals(AttnWalk.ALL, p.walk());
            assertTrue(p.route().reason().endsWith("=0"), p.route().reason());
        }
    }

    @Test
    void parityForcesSdpaEverywhere() {
        for (Branch br : Branch.values()) {
            GpuRoutes.Plan p = GpuRoutes.plan(br, env("NSA_FORCE_PARITY", "1", "NSA_USE_FA2", "1"));
            assertEquals(Path.SDPA, p.route().path());
            assertEquals("NSA_FORCE_PARITY=1", p.route().reason());
        }
    }

    @Test
    void selKernelRequestedFromTheEnvironment() {
        GpuRoutes.Plan sel = GpuRoutes.plan(Branch.SEL, env("NSA_USE_SEL_KERNEL", "1", "NSA_SEL_KERNEL_MIN_L", "512"),
                "sm90 d128", 90);
        assertEquals(Path.SEL_KERNEL, sel.route().path());
        assertEquals("requested by NSA_USE_SEL_KERNEL; min L 512", sel.route().reason());
        assertEquals(AttnWalk.RANGES, sel.walk());
        GpuRoutes.SelWish w = sel.sel();
        assertNotNull(w);
        assertTrue(w.byUser());
        assertEquals(512, w.minL());
        assertEquals("requested by NSA_USE_SEL_KERNEL", w.wishedBy());
        assertEquals(new Route(Branch.SEL, Path.SDPA_PACKED, "chosen blocks gathered and packed (NSA_USE_SEL_PACK=1)"),
                w.reference(), "the reference path when the shape cannot run the kernel");
        assertNull(sel.fa2());
        for (Branch br : new Branch[] {Branch.CMP, Branch.WIN}) {
            assertNull(GpuRoutes.plan(br, env("NSA_USE_SEL_KERNEL", "1", "NSA_SEL_KERNEL_MIN_L", "0")).sel(), br.toString());
        }
    }

    @Test
    void selKernelMinLMinusOneIsARouteReason() {
        // NSA_SEL_KERNEL_MIN_L's built-in default is -1: a wish alone does not turn the kernel on
        GpuRoutes.Plan sel = GpuRoutes.plan(Branch.SEL, env("NSA_USE_SEL_KERNEL", "1"));
        assertEquals(Path.SDPA_PACKED, sel.route().path());
        assertNull(sel.sel());
        assertEquals("sel-kernel requested by NSA_USE_SEL_KERNEL but NSA_SEL_KERNEL_MIN_L=-1 disables it; "
                + "chosen blocks gathered and packed (NSA_USE_SEL_PACK=1)", sel.route().reason());
        GpuRoutes.Plan prof = GpuRoutes.plan(Branch.SEL, selProfiled("NSA_SEL_KERNEL_MIN_L", "-1"), "sm90 d128", 90);
        assertEquals(Path.SDPA_MASKED, prof.route().path());
        assertTrue(prof.route().reason().startsWith("sel-kernel profile sm90 d128 but NSA_SEL_KERNEL_MIN_L=-1 disables "
                + "it; chosen blocks walked in place (profile: NSA_USE_SEL_PACK=0)"), prof.route().reason());
    }

    /** What the shipped sm90 profile gives selection for a head dim <= 128 (sel-kernel from n·l' = 0). */
    private static FlagSnapshot selProfiled(String... envKv) {
        Map<String, String> e = new HashMap<>();
        for (int i = 0; i < envKv.length; i += 2) {
            e.put(envKv[i], envKv[i + 1]);
        }
        return Flags.of(Map.of(), e, Map.of("NSA_USE_SEL_KERNEL", "1", "NSA_SEL_KERNEL_MIN_L", "0",
                "NSA_USE_SEL_PACK", "0"));
    }

    @Test
    void selKernelWishedByTheProfile() {
        GpuRoutes.Plan sel = GpuRoutes.plan(Branch.SEL, selProfiled(), "sm90 d128", 90);
        assertEquals(new Route(Branch.SEL, Path.SEL_KERNEL, "profile sm90 d128; min L 0"), sel.route());
        assertFalse(sel.sel().byUser(), "a profile's wish: a refusal is a route reason, never counted");
        assertEquals(Path.SDPA_MASKED, sel.sel().reference().path());
        assertEquals("GPU profile; min L 0", GpuRoutes.plan(Branch.SEL, selProfiled()).route().reason());
        // the shipped sm90 profile, through the snapshot's precedence
        GpuRoutes.Plan shipped = GpuRoutes.plan(Branch.SEL,
                Flags.defaults().withProfile(GpuProfiles.shipped("sm90"), 128), "sm90 d128", 90);
        assertEquals(Path.SEL_KERNEL, shipped.route().path());
        assertEquals(0, shipped.sel().minL());
        // the user's 0 turns the profile's wish off; the user's 1 makes it theirs
        assertNull(GpuRoutes.plan(Branch.SEL, selProfiled("NSA_USE_SEL_KERNEL", "0"), "sm90 d128", 90).sel());
        assertTrue(GpuRoutes.plan(Branch.SEL, selProfiled("NSA_USE_SEL_KERNEL", "1"), "sm90 d128", 90).sel().byUser());
    }

    @Test
    void sm89KeepsSelKernelOffUnlessForced() {
        FlagSnapshot f = env("NSA_USE_SEL_KERNEL", "1", "NSA_SEL_KERNEL_MIN_L", "0");
        GpuRoutes.Plan off = GpuRoutes.plan(Branch.SEL, f, "sm89 d128", 89);
        assertEquals(Path.SDPA_PACKED, off.route().path());
        assertNull(off.sel());
        assertEquals("sel-kernel requested by NSA_USE_SEL_KERNEL but SM 8.9 keeps it off (NSA_SEL_KERNEL_FORCE=1 "
                + "allows it); chosen blocks gathered and packed (NSA_USE_SEL_PACK=1)", off.route().reason());
        GpuRoutes.Plan forced = GpuRoutes.plan(Branch.SEL, env("NSA_USE_SEL_KERNEL", "1", "NSA_SEL_KERNEL_MIN_L", "0",
                "NSA_SEL_KERNEL_FORCE", "1"), "sm89 d128", 89);
        assertEquals(Path.SEL_KERNEL, forced.route().path());
        for (int sm : new int[] {0, 80, 86, 90}) {
            assertEquals(Path.SEL_KERNEL, GpuRoutes.plan(Branch.SEL, f, null, sm).route().path(), "sm " + sm);
        }
    }

    @Test
    void parityKeepsSelectionOnSdpa() {
        GpuRoutes.Plan p = GpuRoutes.plan(Branch.SEL, selProfiled("NSA_FORCE_PARITY", "1", "NSA_USE_SEL_KERNEL", "1"),
                "sm90 d128", 90);
        assertEquals(new Route(Branch.SEL, Path.SDPA, "NSA_FORCE_PARITY=1"), p.route());
        assertNull(p.sel());
    }

    /** What the shipped sm90 profile gives a head dim <= 128, as profile-sourced flag values. */
    private static final Map<String, String> SM90_D128 = Map.of("NSA_USE_FA2", "1", "NSA_USE_FA2_WIN", "1",
            "NSA_USE_FA2_CMP", "1", "NSA_FA2_MIN_LEN_WIN", "128", "NSA_FA2_MIN_LEN_CMP", "48");

    private static FlagSnapshot profiled(String... envKv) {
        Map<String, String> e = new HashMap<>();
        for (int i = 0; i < envKv.length; i += 2) {
            e.put(envKv[i], envKv[i + 1]);
        }
        return Flags.of(Map.of(), e, SM90_D128);
    }

    @Test
    void fa2WishedByTheProfileIsPlannedAsFa2WithTheThreshold() {
        for (Branch br : new Branch[] {Branch.CMP, Branch.WIN}) {
            GpuRoutes.Plan p = GpuRoutes.plan(br, profiled(), "sm90 d128");
            int min = br == Branch.WIN ? 128 : 48;
            assertEquals(Path.FA2, p.route().path(), br.toString());
            assertEquals("profile sm90 d128; min len " + min, p.route().reason());
            assertNull(p.sel());
            assertNotNull(p.fa2());
            assertEquals(min, p.fa2().minLen());
            assertEquals(Fa2Threshold.minLenFlag(br), p.fa2().minLenFlag());
            assertFalse(p.fa2().byUser());
            assertEquals(Path.SDPA_MASKED, p.fa2().reference().path(), "below the threshold: the masked path");
            assertEquals(AttnWalk.RANGES, p.walk());
        }
        GpuRoutes.Plan sel = GpuRoutes.plan(Branch.SEL, profiled(), "sm90 d128");
        assertEquals(Path.SDPA_PACKED, sel.route().path());
        assertNull(sel.fa2());
        assertEquals("GPU profile; min len 128", GpuRoutes.plan(Branch.WIN, profiled()).route().reason());
        // the real shipped profile, through the snapshot's precedence
        GpuRoutes.Plan shipped = GpuRoutes.plan(Branch.WIN, Flags.defaults().withProfile(GpuProfiles.shipped("sm90"), 64),
                "sm90 d128");
        assertEquals(Path.FA2, shipped.route().path());
        assertEquals(16, shipped.fa2().minLen());
    }

    @Test
    void fa2RequestedFromTheEnvironment() {
        FlagSnapshot f = env("NSA_USE_FA2", "1", "NSA_USE_FA2_WIN", "1", "NSA_FA2_MIN_LEN_WIN", "16");
        GpuRoutes.Plan win = GpuRoutes.plan(Branch.WIN, f, "sm90 d128");
        assertEquals(Path.FA2, win.route().path());
        assertEquals("requested by NSA_USE_FA2 and NSA_USE_FA2_WIN; min len 16", win.route().reason());
        assertTrue(win.fa2().byUser());
        GpuRoutes.Plan cmp = GpuRoutes.plan(Branch.CMP, f);
        assertEquals(Path.SDPA_MASKED, cmp.route().path(), "NSA_USE_FA2_CMP is off");
        assertNull(cmp.fa2());
        // the environment's min len wins over the profile's
        assertEquals(16, GpuRoutes.plan(Branch.WIN, profiled("NSA_FA2_MIN_LEN_WIN", "16")).fa2().minLen());
    }

    @Test
    void minLenMinusOneKeepsTheReferencePath() {
        FlagSnapshot f = env("NSA_USE_FA2", "1", "NSA_USE_FA2_CMP", "1", "NSA_USE_SEL_KERNEL", "1");
        GpuRoutes.Plan cmp = GpuRoutes.plan(Branch.CMP, f);
        assertEquals(Path.SDPA_MASKED, cmp.route().path());
        assertNull(cmp.fa2(), "-1 disables FA-2: a configuration, not a fallback");
        assertEquals("fa2 requested by NSA_USE_FA2 and NSA_USE_FA2_CMP but NSA_FA2_MIN_LEN_CMP=-1 disables it; "
                + "block-causal mask (NSA_USE_CMP_MASK=1)", cmp.route().reason());
        assertEquals(Path.SDPA_MASKED, GpuRoutes.plan(Branch.WIN, profiled("NSA_FA2_MIN_LEN_WIN", "-1")).route().path());
    }

    @Test
    void useFa2ZeroAndForceParityTurnFa2Off() {
        for (Branch br : new Branch[] {Branch.CMP, Branch.WIN}) {
            GpuRoutes.Plan off = GpuRoutes.plan(br, profiled("NSA_USE_FA2", "0"), "sm90 d128");
            assertEquals(Path.SDPA_MASKED, off.route().path(), br.toString());
            assertNull(off.fa2());
            assertFalse(off.route().reason().contains("fa2"), off.route().reason());
            GpuRoutes.Plan branchOff = GpuRoutes.plan(br, profiled(br == Branch.WIN ? "NSA_USE_FA2_WIN" : "NSA_USE_FA2_CMP",
                    "0"), "sm90 d128");
            assertNull(branchOff.fa2());
            GpuRoutes.Plan parity = GpuRoutes.plan(br, profiled("NSA_FORCE_PARITY", "1"), "sm90 d128");
            assertEquals(Path.SDPA, parity.route().path());
            assertEquals("NSA_FORCE_PARITY=1", parity.route().reason());
            assertNull(parity.fa2());
        }
    }

    @Test
    void maskFlagOffMakesSdpaTheReferenceOfAnFa2Route() {
        GpuRoutes.Plan win = GpuRoutes.plan(Branch.WIN, profiled("NSA_USE_WIN_MASK", "0"), "sm90 d128");
        assertEquals(Path.FA2, win.route().path());
        assertEquals(Path.SDPA, win.fa2().reference().path());
        assertEquals("NSA_USE_WIN_MASK=0", win.fa2().reference().reason());
        assertEquals(AttnWalk.ALL, win.walk());
    }
}
