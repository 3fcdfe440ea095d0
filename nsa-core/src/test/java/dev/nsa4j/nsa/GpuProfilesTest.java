package dev.nsa4j.nsa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.nsa.GpuProfile.HeadDimBucket;
import dev.nsa4j.nsa.GpuProfile.Thresholds;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Profile files: the schema, strict reading, the shipped four, family per compute capability, flag values. */
class GpuProfilesTest {
    static final String VALID = """
            family: sm90
            gpu: NVIDIA H100 80GB HBM3
            driver: 570.86.15 (CUDA 12.8)
            date: 2026-11-22
            source: |
              bench thresholds --dtype bf16
              second line
            d128:
              fa2_win: true
              fa2_cmp: false
              fa2_min_len_win: 128
              fa2_min_len_cmp: -1
              sel_kernel: true
              sel_kernel_min_l: 512
            d192: {fa2_win: true, fa2_cmp: true, fa2_min_len_win: 160, fa2_min_len_cmp: 64, sel_kernel: false, sel_kernel_min_l: -1}
            d256: {fa2_win: false, fa2_cmp: false, fa2_min_len_win: -1, fa2_min_len_cmp: -1, sel_kernel: false, sel_kernel_min_l: -1}
            """;

    @TempDir
    Path tmp;

    static GpuProfile parse(String yaml) {
        return GpuProfiles.parse(yaml, "test.yaml");
    }

    /** The error of parsing a variant of VALID with one substitution; asserts that it names the file. */
    static String error(String find, String replace) {
        assertTrue(VALID.contains(find), find);
        NsaArgumentException e = assertThrows(NsaArgumentException.class, () -> parse(VALID.replace(find, replace)));
        assertEquals("test.yaml", e.subject());
        assertTrue(e.getMessage().contains("test.yaml"), e.getMessage());
        return e.getMessage();
    }

    static void assertContains(String text, String... parts) {
        for (String p : parts) {
            assertTrue(text.contains(p), () -> "'" + p + "' not in: " + text);
        }
    }

    @Test
    void readsAValidProfile() {
        GpuProfile p = parse(VALID);
        assertEquals("sm90", p.family());
        assertEquals("NVIDIA H100 80GB HBM3", p.gpu());
        assertEquals("570.86.15 (CUDA 12.8)", p.driver());
        assertEquals("2026-11-22", p.date());
        assertEquals("bench thresholds --dtype bf16\nsecond line\n", p.source());
        assertEquals("bench thresholds --dtype bf16", p.sourceFirstLine());
        assertEquals("test.yaml", p.origin());
        assertEquals(new Thresholds(true, false, 128, -1, true, 512), p.buckets().get(HeadDimBucket.D128));
        assertEquals(new Thresholds(true, true, 160, 64, false, -1), p.buckets().get(HeadDimBucket.D192));
        assertEquals(Thresholds.OFF, p.buckets().get(HeadDimBucket.D256));
    }

    @Test
    void numberLikeTextStaysText() {
        GpuProfile p = parse(VALID.replace("driver: 570.86.15 (CUDA 12.8)", "driver: 550.54").replace("date: 2026-11-22", "date: 2026"));
        assertEquals("550.54", p.driver());
        assertEquals("2026", p.date());
    }

    @Test
    void unknownKeysAreErrorsNamingTheKey() {
        assertContains(error("gpu: NVIDIA", "gpus: NVIDIA"), "key 'gpus'", "not a profile key", "line 2");
        assertContains(error("d256:", "d512:"), "key 'd512'");
        assertContains(error("  sel_kernel_min_l: 512", "  sel_kernel_min_l: 512\n  fa2_min_len: 3"),
                "key 'd128.fa2_min_len'", "not a bucket key", "line 15");
    }

    @Test
    void wrongTypesAreErrorsNamingTheKey() {
        assertContains(error("fa2_win: true\n", "fa2_win: 1\n"), "key 'd128.fa2_win'", "must be true or false", "'1'");
        assertContains(error("fa2_cmp: false\n", "fa2_cmp: maybe\n"), "key 'd128.fa2_cmp'", "text 'maybe'");
        assertContains(error("fa2_min_len_win: 128", "fa2_min_len_win: \"128\""), "key 'd128.fa2_min_len_win'",
                "must be an integer >= -1");
        assertContains(error("fa2_min_len_win: 128", "fa2_min_len_win: 12.5"), "key 'd128.fa2_min_len_win'");
        assertContains(error("fa2_min_len_win: 128", "fa2_min_len_win: -2"), "key 'd128.fa2_min_len_win'");
        assertContains(error("fa2_min_len_win: 128", "fa2_min_len_win: 99999999999"), "key 'd128.fa2_min_len_win'");
        assertContains(error("sel_kernel_min_l: 512", "sel_kernel_min_l: true"), "key 'd128.sel_kernel_min_l'");
        assertContains(error("sel_kernel_min_l: 512", "sel_kernel_min_l:"), "key 'd128.sel_kernel_min_l'", "an empty value");
        assertContains(error("family: sm90", "family: [sm90]"), "key 'family'", "must be text", "a list");
        assertContains(error("gpu: NVIDIA H100 80GB HBM3", "gpu: true"), "key 'gpu'", "must be text");
        assertContains(error("d256: {", "d256: 3 #{"), "key 'd256'", "must be a mapping");
    }

    @Test
    void missingDuplicateAndBlankKeysAreErrors() {
        assertContains(error("date: 2026-11-22\n", ""), "key 'date' is missing");
        assertContains(error("d192: {fa2_win: true, ", "d192: {"), "key 'd192.fa2_win' is missing");
        assertContains(error("gpu: NVIDIA", "family: sm80\ngpu: NVIDIA"), "key 'family' appears twice");
        assertContains(error("fa2_cmp: false\n", "fa2_cmp: false\n  fa2_cmp: true\n"), "key 'd128.fa2_cmp' appears twice");
        assertContains(error("gpu: NVIDIA H100 80GB HBM3", "gpu: ''"), "gpu must not be blank");
    }

    @Test
    void badDocumentsAreErrors() {
        assertContains(error(VALID, "- a list"), "must be a mapping");
        assertContains(error(VALID, ""), "must be a mapping");
        assertContains(error(VALID, VALID + "---\nfamily: sm80\n"), "exactly one YAML document");
        assertContains(error("gpu: NVIDIA", "gpu: \"NVIDIA"), "not valid YAML", "line");
    }

    @Test
    void loadsAFileAndNamesAMissingOne() throws IOException {
        Path f = tmp.resolve("mine.yaml");
        Files.writeString(f, VALID);
        GpuProfile p = GpuProfiles.load(f);
        assertEquals(f.toString(), p.origin());
        assertEquals(parse(VALID).buckets(), p.buckets());

        Path missing = tmp.resolve("nope.yaml");
        NsaArgumentException e = assertThrows(NsaArgumentException.class, () -> GpuProfiles.load(missing));
        assertEquals(missing.toString(), e.subject());
        assertContains(e.getMessage(), missing.toString(), "does not exist");
        e = assertThrows(NsaArgumentException.class, () -> GpuProfiles.fromFlag(missing.toString()));
        assertContains(e.getMessage(), "NSA_PROFILE names profile file " + missing);

        Files.writeString(f, VALID.replace("fa2_win: true\n", "fa2_win: 1\n"));
        e = assertThrows(NsaArgumentException.class, () -> GpuProfiles.fromFlag(f.toString()));
        assertContains(e.getMessage(), f.toString(), "d128.fa2_win");
        assertEquals(Optional.empty(), GpuProfiles.fromFlag("auto"));
        assertEquals(Optional.empty(), GpuProfiles.fromFlag(" "));
    }

    @ParameterizedTest
    @CsvSource({"8,0,sm80", "8,6,sm86", "8,7,sm86", "8,9,sm89", "9,0,sm90", "9,1,sm90"})
    void familyPerComputeCapability(int major, int minor, String family) {
        assertEquals(Optional.of(family), GpuProfiles.familyFor(major, minor));
        GpuProfiles.Choice c = GpuProfiles.forDevice(major, minor);
        assertEquals(family, c.profile().orElseThrow().family());
        assertContains(c.reason(), "shipped profile " + family, major + "." + minor);
    }

    @ParameterizedTest
    @CsvSource({"7,5", "8,8", "10,0", "12,0"})
    void otherComputeCapabilitiesHaveNoneAndSayWhy(int major, int minor) {
        assertEquals(Optional.empty(), GpuProfiles.familyFor(major, minor));
        GpuProfiles.Choice c = GpuProfiles.forDevice(major, minor);
        assertEquals(Optional.empty(), c.profile());
        assertContains(c.reason(), "no shipped profile for compute capability " + major + "." + minor, "stay off");
    }

    @Test
    void nsaProfileReplacesTheShippedOneAndNotesAFamilyMismatch() throws IOException {
        Path f = tmp.resolve("p.yaml");
        Files.writeString(f, VALID);
        GpuProfiles.Choice same = GpuProfiles.forDevice(9, 0, f.toString());
        assertEquals(f.toString(), same.profile().orElseThrow().origin());
        assertEquals("NSA_PROFILE=" + f, same.reason());
        GpuProfiles.Choice other = GpuProfiles.forDevice(8, 0, " " + f + " ");
        assertContains(other.reason(), "its family sm90 is not this device's, compute capability 8.0");
        assertEquals("sm80", GpuProfiles.forDevice(8, 0, "auto").profile().orElseThrow().family());
        assertTrue(GpuProfiles.forDevice(7, 5, f.toString()).profile().isPresent(), "a user file applies on any GPU");
    }

    @Test
    void shippedProfilesHoldRoutingMdStartingPointsOrASweep() throws IOException {
        for (String family : GpuProfiles.FAMILIES) {
            GpuProfile p = GpuProfiles.shipped(family);
            assertEquals(family, p.family());
            assertEquals("classpath:dev/nsa4j/nsa/profiles/" + family + ".yaml", p.origin());
            if (family.equals("sm90")) {
                assertEquals("NVIDIA H100 80GB HBM3 (FA-2 thresholds); NVIDIA H200 (sel-kernel sweep)", p.gpu(),
                        "sm90 comes from the H100 FA-2 sweep and the H200 sel-kernel sweep");
                assertContains(p.sourceFirstLine(), "nsa bench thresholds");
            } else {
                assertEquals(GpuProfile.STARTING_POINT, p.gpu());
                assertContains(p.sourceFirstLine(), "ROUTING.md");
            }
            boolean selOn = !family.equals("sm89");
            for (Thresholds t : p.buckets().values()) {
                assertEquals(selOn, t.selKernel(), family + ": sel-kernel on but on SM 8.9 (device policy)");
                assertEquals(selOn ? 0 : -1, t.selKernelMinL(), family);
            }
            if (selOn) {
                assertContains(p.source(), "docs/results/sel-kernel-h200.md");
            }
            try (InputStream in = getClass().getResourceAsStream("/" + GpuProfiles.RESOURCE_DIR + family + ".yaml")) {
                String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                assertTrue(text.startsWith(GpuProfile.SCHEMA_COMMENT), family + " starts with the schema comment");
            }
        }
        assertEquals(withSelKernel(starting(192, 64, 256, 96, 320, 128), true), GpuProfiles.shipped("sm80").buckets());
        assertEquals(GpuProfiles.shipped("sm80").buckets(), GpuProfiles.shipped("sm86").buckets());
        Map<HeadDimBucket, Thresholds> sweep = new java.util.EnumMap<>(HeadDimBucket.class);
        withSelKernel(starting(16, 16, 16, 16, 16, 16), false).forEach((b, t) -> sweep.put(b, t));
        assertEquals(sweep, GpuProfiles.shipped("sm90").buckets(),
                "the H100 sweep; sel-kernel from n·l' = 0; its reference path sdpa-masked");
        for (Thresholds t : GpuProfiles.shipped("sm89").buckets().values()) {
            assertEquals(Thresholds.OFF, t, "SM 8.9: FA-2 and sel-kernel off");
        }
        assertThrows(IllegalArgumentException.class, () -> GpuProfiles.shipped("sm75"));
    }

    /** {@code m} with sel-kernel on from n·l' = 0 and the given reference path ({@code sel_pack}). */
    static Map<HeadDimBucket, Thresholds> withSelKernel(Map<HeadDimBucket, Thresholds> m, boolean selPack) {
        Map<HeadDimBucket, Thresholds> out = new EnumMap<>(HeadDimBucket.class);
        m.forEach((b, t) -> out.put(b, new Thresholds(t.fa2Win(), t.fa2Cmp(), t.fa2MinLenWin(), t.fa2MinLenCmp(),
                true, 0, selPack)));
        return out;
    }

    static Map<HeadDimBucket, Thresholds> starting(int... winCmp) {
        Map<HeadDimBucket, Thresholds> m = new EnumMap<>(HeadDimBucket.class);
        for (HeadDimBucket b : HeadDimBucket.values()) {
            int i = 2 * b.ordinal();
            m.put(b, new Thresholds(true, true, winCmp[i], winCmp[i + 1], false, -1));
        }
        return m;
    }

    @ParameterizedTest
    @CsvSource({"1,d128", "64,d128", "128,d128", "129,d192", "192,d192", "193,d256", "256,d256"})
    void headDimBuckets(int headDim, String key) {
        assertEquals(key, HeadDimBucket.of(headDim).orElseThrow().key());
    }

    @Test
    void flagValuesPerBucket() {
        GpuProfile p = parse(VALID);
        Map<String, String> d128 = p.flagValues(64);
        assertEquals(Map.of("NSA_USE_FA2", "1", "NSA_USE_FA2_WIN", "1", "NSA_USE_FA2_CMP", "0",
                "NSA_FA2_MIN_LEN_WIN", "128", "NSA_FA2_MIN_LEN_CMP", "-1", "NSA_USE_SEL_KERNEL", "1",
                "NSA_SEL_KERNEL_MIN_L", "512", "NSA_USE_SEL_PACK", "1"), d128);
        assertEquals(d128, p.flagValues(128));
        Map<String, String> d192 = p.flagValues(192);
        assertEquals("1", d192.get("NSA_USE_FA2_CMP"));
        assertEquals("160", d192.get("NSA_FA2_MIN_LEN_WIN"));
        assertEquals("64", d192.get("NSA_FA2_MIN_LEN_CMP"));
        assertEquals("0", d192.get("NSA_USE_SEL_KERNEL"));
        Map<String, String> off = Map.of("NSA_USE_FA2", "0", "NSA_USE_FA2_WIN", "0", "NSA_USE_FA2_CMP", "0",
                "NSA_FA2_MIN_LEN_WIN", "-1", "NSA_FA2_MIN_LEN_CMP", "-1", "NSA_USE_SEL_KERNEL", "0",
                "NSA_SEL_KERNEL_MIN_L", "-1", "NSA_USE_SEL_PACK", "1");
        assertEquals(off, p.flagValues(256), "d256 is all off in VALID");
        assertEquals(off, GpuProfiles.shipped("sm90").flagValues(257), "no bucket above 256: FA-2 off");
        assertEquals("320", GpuProfiles.shipped("sm80").flagValues(200).get("NSA_FA2_MIN_LEN_WIN"));
        assertThrows(IllegalArgumentException.class, () -> p.flagValues(0));
        for (Flag f : Flag.values()) {
            assertEquals(f.defaultFromProfile(), d128.containsKey(f.envName()), f + ": a profile supplies exactly the 'profile' flags");
        }
    }

    @Test
    void masterSwitchIsOnWhenEitherBranchIs() {
        GpuProfile cmpOnly = parse(VALID.replace("fa2_win: true\n  fa2_cmp: false", "fa2_win: false\n  fa2_cmp: true"));
        assertEquals("1", cmpOnly.flagValues(128).get("NSA_USE_FA2"));
        assertEquals("0", cmpOnly.flagValues(128).get("NSA_USE_FA2_WIN"));
    }

    @Test
    void toYamlReadsBackToTheSameProfile() {
        for (String family : GpuProfiles.FAMILIES) {
            GpuProfile p = GpuProfiles.shipped(family);
            assertSameContent(p, GpuProfiles.parse(p.toYaml(), "round-trip"));
        }
        for (String source : new String[] {"one line", "a: b # not a comment", "  leading spaces\nand more\n",
                "quotes \" and ' and \\ backslash\n\ttab", "", "true", "- dash"}) {
            GpuProfile p = new GpuProfile("sm90", "true", "550.54", "2026-11-22", source,
                    parse(VALID).buckets(), "memory");
            String yaml = p.toYaml();
            assertTrue(yaml.startsWith(GpuProfile.SCHEMA_COMMENT), yaml);
            assertSameContent(p, GpuProfiles.parse(yaml, "round-trip"));
        }
    }

    static void assertSameContent(GpuProfile want, GpuProfile got) {
        assertEquals(want.family(), got.family());
        assertEquals(want.gpu(), got.gpu());
        assertEquals(want.driver(), got.driver());
        assertEquals(want.date(), got.date());
        assertEquals(want.source(), got.source());
        assertEquals(want.buckets(), got.buckets());
    }

    @Test
    void recordsRejectBadValues() {
        assertThrows(IllegalArgumentException.class, () -> new Thresholds(true, true, -2, 0, false, -1));
        Map<HeadDimBucket, Thresholds> two = new EnumMap<>(HeadDimBucket.class);
        two.put(HeadDimBucket.D128, Thresholds.OFF);
        two.put(HeadDimBucket.D192, Thresholds.OFF);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new GpuProfile("sm90", "g", "d", "2026", "s", two, "memory"));
        assertContains(e.getMessage(), "d256");
    }
}
