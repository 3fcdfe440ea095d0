package dev.nsa4j.nsa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.kernels.AttnWalk;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** ROUTING.md's flags decide each branch's GPU path; unmet wishes are said and tagged. */
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
            assertNull(p.fallbackTag(), "defaults are no fallback");
        }
        assertTrue(GpuRoutes.plan(Branch.SEL, Flags.defaults()).route().reason().contains("NSA_USE_SEL_PACK=1"));
    }

    @Test
    void selPackFlagPicksThePackedPath() {
        GpuRoutes.Plan on = GpuRoutes.plan(Branch.SEL, env("NSA_USE_SEL_PACK", "1"));
        assertEquals(Path.SDPA_PACKED, on.route().path());
        assertNull(on.fallbackTag());
        assertEquals(Path.SDPA, GpuRoutes.plan(Branch.SEL, env("NSA_USE_SEL_PACK", "0")).route().path());
        assertEquals(Path.SDPA, GpuRoutes.plan(Branch.SEL, env("NSA_USE_SEL_PACK", "1", "NSA_FORCE_PARITY", "1"))
                .route().path());
        GpuRoutes.Plan kernel = GpuRoutes.plan(Branch.SEL, env("NSA_USE_SEL_PACK", "1", "NSA_USE_SEL_KERNEL", "1"));
        assertEquals(Path.SDPA_PACKED, kernel.route().path());
        assertEquals("sel.kernel.fallback", kernel.fallbackTag());
        assertEquals(Path.SDPA_MASKED, GpuRoutes.plan(Branch.CMP, env("NSA_USE_SEL_PACK", "1")).route().path());
    }

    @Test
    void maskFlagsOffGivePlainSdpa() {
        FlagSnapshot f = env("NSA_USE_CMP_MASK", "0", "NSA_USE_SEL_PACK", "0", "NSA_USE_WIN_MASK", "0");
        for (Branch br : Branch.values()) {
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
    void unmetFastPathWishesAreCountedFallbacks() {
        FlagSnapshot f = env("NSA_USE_FA2", "1", "NSA_USE_FA2_CMP", "1", "NSA_USE_SEL_KERNEL", "1");
        GpuRoutes.Plan cmp = GpuRoutes.plan(Branch.CMP, f);
        assertEquals("fa2.fallback", cmp.fallbackTag());
        assertTrue(cmp.route().reason().startsWith("fa2 requested by NSA_USE_FA2 and NSA_USE_FA2_CMP"));
        assertEquals(Path.SDPA_MASKED, cmp.route().path());
        assertEquals("sel.kernel.fallback", GpuRoutes.plan(Branch.SEL, f).fallbackTag());
        assertNull(GpuRoutes.plan(Branch.WIN, f).fallbackTag(), "NSA_USE_FA2_WIN is off");
    }
}
