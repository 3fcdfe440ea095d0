package dev.nsa4j.nsa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.fa2.contract.Fa2Options;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class FlagsTest {
    private static FlagSnapshot env(String name, String value) {
        return Flags.of(Map.of(), Map.of(name, value), Map.of());
    }

    @Test
    void namesFollowTheConvention() {
        assertEquals("NSA_USE_FA2", Flag.NSA_USE_FA2.envName());
        assertEquals("nsa.use.fa2", Flag.NSA_USE_FA2.propertyName());
        assertEquals("nsa.fa2.allow.d.gt.128", Flag.NSA_FA2_ALLOW_D_GT_128.propertyName());
        assertEquals(33, Flag.values().length);
    }

    @Test
    void builtInDefaultsAreConservative() {
        FlagSnapshot s = Flags.defaults();
        assertFalse(s.bool(Flag.NSA_USE_FA2));
        assertFalse(s.bool(Flag.NSA_USE_SEL_KERNEL));
        assertEquals(-1, s.integer(Flag.NSA_FA2_MIN_LEN_WIN));
        assertEquals(-1, s.integer(Flag.NSA_SEL_KERNEL_MIN_L));
        assertFalse(s.bool(Flag.NSA_EXACT_SCORES));
        assertFalse(Flag.NSA_EXACT_SCORES.defaultFromProfile(), "NSA_EXACT_SCORES is no profile flag");
        assertFalse(s.bool(Flag.NSA_FAST_P));
        assertTrue(s.bool(Flag.NSA_USE_WGMMA), "the wgmma scorer is chosen per device, on unless turned off");
        assertFalse(Flag.NSA_USE_WGMMA.defaultFromProfile(), "NSA_USE_WGMMA is no profile flag");
        assertTrue(s.bool(Flag.NSA_USE_TMA), "the TMA layout is chosen per device, on unless turned off");
        assertFalse(Flag.NSA_USE_TMA.defaultFromProfile(), "NSA_USE_TMA is no profile flag");
        assertEquals(512, s.integer(Flag.NSA_FA2_HOPPER_MIN_KEYS));
        assertEquals(0, Flag.NSA_FA2_HOPPER_MIN_KEYS.minInt(), "a key count: 0 serves every length");
        assertEquals(new dev.nsa4j.fa2.contract.Fa2Options(false, true, false, false, false, true, 512), s.fa2Options());
        assertFalse(Flag.NSA_FAST_P.defaultFromProfile(), "NSA_FAST_P is no profile flag");
        assertEquals(64, s.integer(Flag.NSA_DECODE_SPLIT_KEYS));
        assertEquals(2, s.integer(Flag.NSA_DECODE_CTAS_PER_SM));
        assertEquals(1, Flag.NSA_DECODE_SPLIT_KEYS.minInt(), "a split holds at least one key");
        assertEquals(1, Flag.NSA_DECODE_CTAS_PER_SM.minInt());
        assertTrue(s.bool(Flag.NSA_FA2_PREF_FP16));
        assertTrue(s.bool(Flag.NSA_USE_WIN_MASK));
        assertEquals(10, s.logLimit());
        assertEquals("auto", s.device());
        assertEquals(Optional.empty(), s.string(Flag.NSA_FORCE_BRANCH));
        assertEquals(Optional.empty(), s.forceBranch());
        assertEquals(Optional.of("auto"), s.string(Flag.NSA_PROFILE));
        for (Flag f : Flag.values()) {
            assertEquals(FlagSource.DEFAULT, s.source(f));
        }
        assertTrue(Flag.NSA_USE_FA2.defaultFromProfile());
        assertFalse(Flag.NSA_LOG_LIMIT.defaultFromProfile());
    }

    @Test
    void propertyBeatsEnvBeatsProfileBeatsDefault() {
        Map<String, String> profile = Map.of("NSA_USE_FA2", "1", "NSA_FA2_MIN_LEN_WIN", "128",
                "NSA_FA2_MIN_LEN_CMP", "48", "NSA_USE_SEL_KERNEL", "on");
        Map<String, String> env = Map.of("NSA_USE_FA2", "0", "NSA_FA2_MIN_LEN_WIN", "256");
        Map<String, String> props = Map.of("nsa.use.fa2", "yes");
        FlagSnapshot s = Flags.of(props, env, profile);
        assertTrue(s.bool(Flag.NSA_USE_FA2));
        assertEquals(FlagSource.PROPERTY, s.source(Flag.NSA_USE_FA2));
        assertEquals(256, s.integer(Flag.NSA_FA2_MIN_LEN_WIN));
        assertEquals(FlagSource.ENV, s.source(Flag.NSA_FA2_MIN_LEN_WIN));
        assertEquals(48, s.integer(Flag.NSA_FA2_MIN_LEN_CMP));
        assertEquals(FlagSource.PROFILE, s.source(Flag.NSA_FA2_MIN_LEN_CMP));
        assertTrue(s.bool(Flag.NSA_USE_SEL_KERNEL));
        assertEquals(FlagSource.DEFAULT, s.source(Flag.NSA_LOG_LIMIT));
    }

    @Test
    void blankCountsAsUnset() {
        FlagSnapshot s = Flags.of(Map.of("nsa.force.branch", " "), Map.of("NSA_FORCE_BRANCH", "win"), Map.of());
        assertEquals(Optional.of(Branch.WIN), s.forceBranch());
        assertEquals(FlagSource.ENV, s.source(Flag.NSA_FORCE_BRANCH));
        assertEquals(FlagSource.DEFAULT, env("NSA_USE_FA2", "").source(Flag.NSA_USE_FA2));
    }

    @ParameterizedTest
    @ValueSource(strings = {"1", "true", "TRUE", " yes ", "On"})
    void truthyBooleans(String v) {
        assertTrue(env("NSA_STRICT_ASSERTS", v).bool(Flag.NSA_STRICT_ASSERTS));
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "false", "False", "no", " OFF"})
    void falsyBooleans(String v) {
        assertFalse(env("NSA_USE_WIN_MASK", v).bool(Flag.NSA_USE_WIN_MASK));
    }

    @ParameterizedTest
    @ValueSource(strings = {"2", "maybe", "y", "enabled", "-1"})
    void badBooleansNameTheFlagAndAcceptedValues(String v) {
        NsaArgumentException e = assertThrows(NsaArgumentException.class, () -> env("NSA_USE_FA2", v));
        assertEquals("NSA_USE_FA2", e.subject());
        assertTrue(e.getMessage().contains("1/0, true/false, yes/no, on/off"), e.getMessage());
        assertTrue(e.getMessage().contains("environment variable NSA_USE_FA2"), e.getMessage());
    }

    @Test
    void fa2OptionsFollowTheFlags() {
        assertEquals(Fa2Options.defaults(), Flags.defaults().fa2Options());
        Map<String, String> profile = Map.of("NSA_FA2_ALLOW_FP32", "1", "NSA_FA2_FORCE", "1");
        Map<String, String> env = Map.of("NSA_FA2_ALLOW_FP32", "0", "NSA_FA2_PREF_FP16", "off",
                "NSA_FA2_ALLOW_D_GT_128", "yes", "NSA_FA2_ALLOW_LARGE_BATCH", "true");
        Map<String, String> props = Map.of("nsa.fa2.allow.fp32", "on", "nsa.fa2.allow.large.batch", "0");
        // property > env > profile > default, per flag
        assertEquals(new Fa2Options(true, false, true, false, true), Flags.of(props, env, profile).fa2Options());
        assertEquals(new Fa2Options(false, false, true, true, true), Flags.of(Map.of(), env, profile).fa2Options());
        assertEquals(new Fa2Options(true, true, false, false, true), Flags.of(Map.of(), Map.of(), profile).fa2Options());
        assertEquals(new Fa2Options(false, true, false, false, true),
                Flags.of(Map.of("nsa.fa2.force", "1"), Map.of(), Map.of()).fa2Options());
    }

    @Test
    void realSnapshotFa2OptionsReadSystemProperties() {
        String old = System.getProperty("nsa.fa2.pref.fp16");
        System.setProperty("nsa.fa2.pref.fp16", "no");
        try {
            assertFalse(Flags.snapshot().fa2Options().prefFp16());
        } finally {
            if (old == null) {
                System.clearProperty("nsa.fa2.pref.fp16");
            } else {
                System.setProperty("nsa.fa2.pref.fp16", old);
            }
        }
    }

    @Test
    void badPropertyNamesTheProperty() {
        NsaArgumentException e = assertThrows(NsaArgumentException.class,
                () -> Flags.of(Map.of("nsa.fa2.force", "sure"), Map.of(), Map.of()));
        assertEquals("NSA_FA2_FORCE", e.subject());
        assertTrue(e.getMessage().contains("system property nsa.fa2.force"), e.getMessage());
        NsaArgumentException p = assertThrows(NsaArgumentException.class,
                () -> Flags.of(Map.of(), Map.of(), Map.of("NSA_USE_FA2", "sometimes")));
        assertTrue(p.getMessage().contains("from profile"), p.getMessage());
    }

    @Test
    void ints() {
        assertEquals(0, env("NSA_LOG_LIMIT", "0").logLimit());
        assertEquals(128, env("NSA_FA2_MIN_LEN_WIN", " 128 ").integer(Flag.NSA_FA2_MIN_LEN_WIN));
        for (String bad : new String[] {"ten", "1.5", "-1", "99999999999"}) {
            NsaArgumentException e = assertThrows(NsaArgumentException.class, () -> env("NSA_LOG_LIMIT", bad));
            assertEquals("NSA_LOG_LIMIT", e.subject());
            assertTrue(e.getMessage().contains("an integer >= 0"), e.getMessage());
        }
        NsaArgumentException e = assertThrows(NsaArgumentException.class, () -> env("NSA_FA2_MIN_LEN_CMP", "-2"));
        assertTrue(e.getMessage().contains("an integer >= -1"), e.getMessage());
    }

    @Test
    void forceBranch() {
        assertEquals(Optional.of(Branch.SEL), env("NSA_FORCE_BRANCH", "SEL").forceBranch());
        NsaArgumentException e = assertThrows(NsaArgumentException.class, () -> env("NSA_FORCE_BRANCH", "all"));
        assertEquals("NSA_FORCE_BRANCH", e.subject());
        assertTrue(e.getMessage().contains("cmp, sel or win"), e.getMessage());
    }

    @Test
    void device() {
        assertEquals("cpu", env("NSA_DEVICE", "CPU").device());
        assertEquals("1", env("NSA_DEVICE", "01").device());
        for (String bad : new String[] {"-1", "gpu0", "cuda:0", "tpu", "1.0"}) {
            NsaArgumentException e = assertThrows(NsaArgumentException.class, () -> env("NSA_DEVICE", bad), bad);
            assertEquals("NSA_DEVICE", e.subject());
            assertTrue(e.getMessage().contains("auto, cpu or a CUDA ordinal"), e.getMessage());
        }
    }

    @Test
    void typedGettersCheckTheKind() {
        FlagSnapshot s = Flags.defaults();
        assertThrows(IllegalArgumentException.class, () -> s.bool(Flag.NSA_LOG_LIMIT));
        assertThrows(IllegalArgumentException.class, () -> s.integer(Flag.NSA_USE_FA2));
        assertThrows(IllegalArgumentException.class, () -> s.string(Flag.NSA_USE_FA2));
    }

    @Test
    void listingHasEveryFlagWithValueAndSource() {
        FlagSnapshot s = Flags.of(Map.of("nsa.log.limit", "3"), Map.of("NSA_USE_FA2", "true"), Map.of());
        List<FlagSnapshot.Value> l = s.listing();
        assertEquals(Flag.values().length, l.size());
        assertEquals(Flag.NSA_USE_FA2, l.get(0).flag());
        assertEquals("1", l.get(0).value());
        assertEquals(FlagSource.ENV, l.get(0).source());
        List<String> text = s.describe();
        assertTrue(text.stream().anyMatch(x -> x.matches("NSA_LOG_LIMIT\\s+3\\s+property")), text.toString());
        assertTrue(text.stream().anyMatch(x -> x.matches("NSA_FORCE_BRANCH\\s+\\(unset\\)\\s+default")));
        assertThrows(UnsupportedOperationException.class, () -> l.remove(0));
    }

    @Test
    void realSnapshotReadsSystemProperties() {
        String old = System.getProperty("nsa.debug.timing");
        System.setProperty("nsa.debug.timing", "on");
        try {
            FlagSnapshot s = Flags.snapshot();
            assertTrue(s.bool(Flag.NSA_DEBUG_TIMING));
            assertEquals(FlagSource.PROPERTY, s.source(Flag.NSA_DEBUG_TIMING));
        } finally {
            if (old == null) {
                System.clearProperty("nsa.debug.timing");
            } else {
                System.setProperty("nsa.debug.timing", old);
            }
        }
    }
}
