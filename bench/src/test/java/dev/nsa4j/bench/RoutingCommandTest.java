package dev.nsa4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.nsa.Flag;
import dev.nsa4j.nsa.GpuProfiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code nsa routing} on the CPU: every flag, its value and source; no profile, and why. */
class RoutingCommandTest {
    @TempDir
    Path tmp;

    @AfterEach
    void clearProperties() {
        System.clearProperty("nsa.use.fa2");
        System.clearProperty("nsa.profile");
    }

    static RunCommandTest.Result routing(String... args) {
        return RunCommandTest.subcommand("routing", args);
    }

    /** The table row of a flag: name, value, source. */
    static String row(String out, Flag f) {
        for (String line : out.split("\n")) {
            if (line.startsWith(f.envName() + " ")) {
                return String.join(" ", line.trim().split("\\s+"));
            }
        }
        throw new AssertionError(f + " not listed in:\n" + out);
    }

    @Test
    void onTheCpuItListsEveryFlagAndSaysNoProfileApplies() {
        RunCommandTest.Result r = routing("--device", "cpu");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("device: cpu (requested)\n"), r.out());
        assertTrue(r.out().contains("profile: none (no GPU is used"), r.out());
        assertTrue(r.out().contains("head dim: 128\n"), r.out());
        assertTrue(Pattern.compile("^flag +value +source$", Pattern.MULTILINE).matcher(r.out()).find(), r.out());
        for (Flag f : Flag.values()) {
            if (System.getenv(f.envName()) != null) {
                continue; // the machine running the tests sets it
            }
            String want = f.envName() + " " + (f.defaultValue() == null ? "(unset)" : f.defaultValue()) + " default"
                    + (f.defaultFromProfile() ? " (no profile)" : "");
            assertEquals(want, row(r.out(), f));
        }
    }

    @Test
    void itSaysWhereAValueCameFrom() {
        System.setProperty("nsa.use.fa2", "yes");
        RunCommandTest.Result r = routing("--device", "cpu", "--head-dim", "192");
        assertEquals(0, r.code(), r.err());
        assertEquals("NSA_USE_FA2 1 property nsa.use.fa2", row(r.out(), Flag.NSA_USE_FA2));
        assertTrue(r.out().contains("head dim: 192\n"), r.out());
    }

    @Test
    void aNamedProfileIsCheckedButNotAppliedOnTheCpu() throws IOException {
        Path f = tmp.resolve("mine.yaml");
        Files.writeString(f, GpuProfiles.shipped("sm90").toYaml());
        System.setProperty("nsa.profile", f.toString());
        RunCommandTest.Result r = routing("--device", "cpu");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("NSA_PROFILE=" + f + " (sm90) is valid but applies only on a GPU"), r.out());
        assertEquals("NSA_USE_FA2 0 default (no profile)", row(r.out(), Flag.NSA_USE_FA2));

        Files.writeString(f, "family: sm90\nbogus: 1\n");
        r = routing("--device", "cpu");
        assertEquals(2, r.code());
        assertEquals("", r.out(), "no partial report");
        assertTrue(r.err().contains(f.toString()) && r.err().contains("key 'bogus'"), r.err());

        System.setProperty("nsa.profile", tmp.resolve("missing.yaml").toString());
        r = routing("--device", "cpu");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("NSA_PROFILE names profile file " + tmp.resolve("missing.yaml")), r.err());
    }

    @Test
    void badArgumentsAreUsageErrors() {
        for (List<String> args : List.of(List.of("--head-dim", "0"), List.of("--device", "tpu"),
                List.of("--head-dim", "x"))) {
            RunCommandTest.Result r = routing(args.toArray(String[]::new));
            assertEquals(2, r.code(), args + ": " + r.err());
            assertTrue(r.err().startsWith("nsa routing: "), r.err());
        }
        System.setProperty("nsa.use.fa2", "maybe");
        RunCommandTest.Result r = routing("--device", "cpu");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("NSA_USE_FA2 = 'maybe'"), r.err());
    }
}
