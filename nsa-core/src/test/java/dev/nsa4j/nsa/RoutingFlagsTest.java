package dev.nsa4j.nsa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.kernels.DeviceInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A profile in the precedence (property > env > profile > default), per head dim, and where routing uses it. */
class RoutingFlagsTest {
    static final GpuProfile SM90 = GpuProfiles.shipped("sm90");

    @TempDir
    Path tmp;

    @Test
    void propertyBeatsEnvBeatsProfileBeatsDefault() {
        FlagSnapshot base = Flags.of(Map.of("nsa.use.fa2.win", "0", "nsa.fa2.min.len.cmp", "7"),
                Map.of("NSA_FA2_MIN_LEN_WIN", "300", "NSA_FA2_MIN_LEN_CMP", "9"), Map.of());
        FlagSnapshot s = base.withProfile(SM90, 128);
        assertFalse(s.bool(Flag.NSA_USE_FA2_WIN));
        assertEquals(FlagSource.PROPERTY, s.source(Flag.NSA_USE_FA2_WIN));
        assertEquals(7, s.integer(Flag.NSA_FA2_MIN_LEN_CMP), "property over env and profile");
        assertEquals(FlagSource.PROPERTY, s.source(Flag.NSA_FA2_MIN_LEN_CMP));
        assertEquals(300, s.integer(Flag.NSA_FA2_MIN_LEN_WIN), "env over profile");
        assertEquals(FlagSource.ENV, s.source(Flag.NSA_FA2_MIN_LEN_WIN));
        assertTrue(s.bool(Flag.NSA_USE_FA2), "profile over default");
        assertEquals(FlagSource.PROFILE, s.source(Flag.NSA_USE_FA2));
        assertTrue(s.bool(Flag.NSA_USE_FA2_CMP));
        assertEquals(FlagSource.PROFILE, s.source(Flag.NSA_USE_FA2_CMP));
        assertEquals(0, s.integer(Flag.NSA_SEL_KERNEL_MIN_L), "sm90: sel-kernel from n·l' = 0");
        assertEquals(FlagSource.PROFILE, s.source(Flag.NSA_SEL_KERNEL_MIN_L));
        assertTrue(s.bool(Flag.NSA_USE_SEL_KERNEL));
        assertEquals(10, s.logLimit(), "a flag the profile does not supply keeps its default");
        assertEquals(FlagSource.DEFAULT, s.source(Flag.NSA_LOG_LIMIT));
        assertEquals(Flags.of(Map.of("nsa.use.fa2.win", "0", "nsa.fa2.min.len.cmp", "7"),
                Map.of("NSA_FA2_MIN_LEN_WIN", "300", "NSA_FA2_MIN_LEN_CMP", "9"), SM90.flagValues(128)).listing(),
                s.listing(), "same as resolving with the profile's values");
        FlagSnapshot d192 = base.withProfile(SM90, 192);
        assertEquals(300, d192.integer(Flag.NSA_FA2_MIN_LEN_WIN));
        assertEquals(FlagSource.PROPERTY, d192.source(Flag.NSA_FA2_MIN_LEN_CMP));
    }

    @Test
    void anotherProfileReplacesTheFirst() {
        FlagSnapshot s = Flags.defaults().withProfile(SM90, 128).withProfile(GpuProfiles.shipped("sm80"), 256);
        assertEquals(320, s.integer(Flag.NSA_FA2_MIN_LEN_WIN));
        assertEquals(FlagSource.PROFILE, s.source(Flag.NSA_FA2_MIN_LEN_WIN));
        FlagSnapshot noFa2 = Flags.defaults().withProfile(SM90, 128).withProfileValues(Map.of(), "none");
        assertEquals(Flags.defaults().listing(), noFa2.listing(), "values a new profile lacks fall back to defaults");
    }

    @Test
    void theSystemSnapshotTakesAProfile() {
        assumeTrue(System.getenv("NSA_FA2_MIN_LEN_CMP") == null && System.getenv("NSA_FA2_MIN_LEN_WIN") == null);
        System.setProperty("nsa.fa2.min.len.win", "77");
        try {
            FlagSnapshot s = Flags.snapshot(SM90, 128);
            assertEquals(77, s.integer(Flag.NSA_FA2_MIN_LEN_WIN));
            assertEquals(FlagSource.PROPERTY, s.source(Flag.NSA_FA2_MIN_LEN_WIN));
            assertEquals(16, s.integer(Flag.NSA_FA2_MIN_LEN_CMP));
            assertEquals(FlagSource.PROFILE, s.source(Flag.NSA_FA2_MIN_LEN_CMP));
            assertEquals(FlagSource.DEFAULT, Flags.snapshot().source(Flag.NSA_FA2_MIN_LEN_CMP), "snapshot() has no profile");
        } finally {
            System.clearProperty("nsa.fa2.min.len.win");
        }
    }

    @Test
    void perHeadDimSnapshotsAreCached() {
        RoutingFlags r = RoutingFlags.of(Flags.defaults(), GpuProfiles.forDevice(9, 0));
        FlagSnapshot d128 = r.forHeadDim(128);
        assertSame(d128, r.forHeadDim(128));
        assertEquals(16, d128.integer(Flag.NSA_FA2_MIN_LEN_WIN));
        assertEquals(16, r.forHeadDim(160).integer(Flag.NSA_FA2_MIN_LEN_WIN));
        assertFalse(r.forHeadDim(512).bool(Flag.NSA_USE_FA2), "above 256: FA-2 off");
        assertEquals(FlagSource.PROFILE, r.forHeadDim(512).source(Flag.NSA_USE_FA2));
        assertEquals("sm90", r.profile().orElseThrow().family());
        assertThrows(IllegalArgumentException.class, () -> r.forHeadDim(0));
    }

    @Test
    void withoutAProfileEveryHeadDimGetsTheBase() {
        FlagSnapshot base = Flags.defaults();
        RoutingFlags none = RoutingFlags.of(base, GpuProfiles.forDevice(7, 5));
        assertSame(base, none.forHeadDim(128));
        assertEquals(Optional.empty(), none.profile());
        assertTrue(none.profileReason().contains("no shipped profile"));
        assertSame(base, RoutingFlags.withoutProfile(base, "cpu").forHeadDim(64));
    }

    @Test
    void forDeviceReadsNsaProfile() throws IOException {
        DeviceInfo h100 = new DeviceInfo(0, "NVIDIA H100", 9, 0, 132, 80L << 30);
        assertEquals("sm90", RoutingFlags.forDevice(Flags.defaults(), h100).profile().orElseThrow().family());
        Path f = tmp.resolve("a100.yaml");
        Files.writeString(f, GpuProfiles.shipped("sm80").toYaml());
        FlagSnapshot base = Flags.of(Map.of(), Map.of("NSA_PROFILE", f.toString()), Map.of());
        RoutingFlags r = RoutingFlags.forDevice(base, h100);
        assertEquals(f.toString(), r.profile().orElseThrow().origin());
        assertEquals(192, r.forHeadDim(128).integer(Flag.NSA_FA2_MIN_LEN_WIN));
        FlagSnapshot missing = Flags.of(Map.of("nsa.profile", tmp.resolve("x.yaml").toString()), Map.of(), Map.of());
        NsaArgumentException e = assertThrows(NsaArgumentException.class, () -> RoutingFlags.forDevice(missing, h100));
        assertTrue(e.getMessage().contains("NSA_PROFILE names profile file " + tmp.resolve("x.yaml")), e.getMessage());
    }

    @Test
    void gpuRoutesPlanFa2WishedByTheProfileOrTheUser() {
        FlagSnapshot profiled = Flags.defaults().withProfile(SM90, 128);
        GpuRoutes.Plan win = GpuRoutes.plan(Branch.WIN, profiled, "sm90 d128");
        assertEquals(dev.nsa4j.nsa.Path.FA2, win.route().path());
        assertNull(win.sel(), "no sel-kernel wish for the window branch");
        assertEquals("profile sm90 d128; min len 16", win.route().reason());
        FlagSnapshot userMaster = Flags.of(Map.of(), Map.of("NSA_USE_FA2", "1"), Map.of()).withProfile(SM90, 128);
        GpuRoutes.Plan cmp = GpuRoutes.plan(Branch.CMP, userMaster);
        assertEquals(dev.nsa4j.nsa.Path.FA2, cmp.route().path());
        assertEquals(16, cmp.fa2().minLen(), "the profile's minimum");
        assertTrue(cmp.route().reason().contains("requested by NSA_USE_FA2 and NSA_USE_FA2_CMP"), cmp.route().reason());
        FlagSnapshot selOn = Flags.defaults().withProfileValues(Map.of("NSA_USE_SEL_KERNEL", "1"), "test");
        assertNull(GpuRoutes.plan(Branch.SEL, selOn).sel(), "NSA_SEL_KERNEL_MIN_L's built-in -1 disables it");
        assertEquals(dev.nsa4j.nsa.Path.SDPA_PACKED, GpuRoutes.plan(Branch.SEL, selOn).route().path());
        FlagSnapshot selMin = Flags.defaults().withProfileValues(Map.of("NSA_USE_SEL_KERNEL", "1",
                "NSA_SEL_KERNEL_MIN_L", "0"), "test");
        GpuRoutes.Plan sel = GpuRoutes.plan(Branch.SEL, selMin, "sm90 d128", 90);
        assertEquals(dev.nsa4j.nsa.Path.SEL_KERNEL, sel.route().path());
        assertEquals("profile sm90 d128; min L 0", sel.route().reason());
        assertTrue(!sel.sel().byUser(), "the profile's wish");
    }

    @Test
    void nsaAttentionOnTheCpuUsesNoProfile() {
        NsaConfig cfg = NsaAttentionTest.CFG;
        try (NsaAttention nsa = NsaAttentionTest.builder(cfg).flags(Flags.defaults()).device("cpu").build()) {
            assertSame(nsa.flags(), nsa.effectiveFlags(128));
            assertEquals(Optional.empty(), nsa.routingFlags().profile());
            assertEquals("no GPU is used: device cpu requested", nsa.routingFlags().profileReason());
        }
        try (NsaAttention nsa = NsaAttentionTest.builder(cfg).flags(Flags.defaults()).build()) {
            assertTrue(nsa.routingFlags().profileReason().startsWith("no GPU is used: GPU unavailable: "),
                    nsa.routingFlags().profileReason());
        }
        assertEquals(8, NsaAttention.routingHeadDim(cfg), "the larger of Dk = 8 and Dv = 6");
    }
}
