package dev.nsa4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The kernels' host emulation as a test: {@code scripts/emulate-kernels.sh} compiles the CUDA sources with g++ and
 * runs them on the CPU (index math, bounds and bitwise results of the plain kernels; the tensor-core kernels whole,
 * their instructions emulated per warp, against fp64). It takes minutes, so it runs where {@code NSA_TEST_EMULATION=1}
 * ({@code ./setup.sh --test}, hence CI, sets it) and g++ and the CUDA headers are present; its output goes to
 * {@code target/host-emulation.log}.
 */
class HostEmulationTest {
    static final long TIMEOUT_MIN = 20;

    @Test
    void kernelsPassTheirHostEmulation() throws IOException, InterruptedException {
        assumeTrue("1".equals(System.getenv("NSA_TEST_EMULATION")),
                "host emulation runs under ./setup.sh --test (NSA_TEST_EMULATION=1)");
        Path script = findScript();
        assumeTrue(script != null, "scripts/emulate-kernels.sh not found above " + Path.of("").toAbsolutePath());
        assumeTrue(onPath("g++"), "g++ not on PATH");
        String cuda = System.getenv().getOrDefault("CUDA_HOME", "/usr/local/cuda");
        assumeTrue(Files.exists(Path.of(cuda, "include", "cuda_bf16.h")), "no CUDA headers under " + cuda + "/include");
        Path log = Path.of("target", "host-emulation.log");
        Files.createDirectories(log.getParent());
        Process p = new ProcessBuilder("bash", script.toString()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        boolean done = p.waitFor(TIMEOUT_MIN, TimeUnit.MINUTES);
        if (!done) {
            p.destroyForcibly();
        }
        List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
        String tail = String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
        assertTrue(done, "host emulation still running after " + TIMEOUT_MIN + " min:\n" + tail);
        assertEquals(0, p.exitValue(), "host emulation failed (" + log.toAbsolutePath() + "):\n" + tail);
    }

    static Path findScript() {
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            Path s = d.resolve("scripts").resolve("emulate-kernels.sh");
            if (Files.isRegularFile(s)) {
                return s;
            }
        }
        return null;
    }

    static boolean onPath(String exe) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, exe))) {
                return true;
            }
        }
        return false;
    }
}
