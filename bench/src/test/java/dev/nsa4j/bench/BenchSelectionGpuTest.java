package dev.nsa4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;

/** {@code nsa bench selection} on a small shape: every path runs, and each one's output matches sdpa-masked's. */
class BenchSelectionGpuTest {
    @Test
    void everyPathRunsAndAgreesWithSdpaMasked() {
        dev.nsa4j.kernels.GpuFixture.assumeGpu();
        RunCommandTest.Result r = RunCommandTest.cli("bench", "selection", "--shapes", "2,700", "--heads", "16",
                "--kv-heads", "4", "--dk", "64", "--dv", "64", "--warmup", "1", "--repeat", "2");
        assertEquals(0, r.code(), r.err());
        List<String> lines = Arrays.stream(r.out().split("\n")).filter(l -> !l.isBlank()).toList();
        assertEquals(BenchSelectionCommand.CSV_HEADER, lines.get(0), r.out());
        assertEquals(1 + BenchSelectionCommand.PATHS.size(), lines.size(), r.out());
        for (String l : lines.subList(1, lines.size())) {
            String[] f = l.split(",", -1);
            assertEquals(18, f.length, l);
            assertTrue(Double.parseDouble(f[12]) > 0, l);
            if (!f[0].equals("sdpa-masked")) {
                // exact P and packed: fp32 arithmetic on the same blocks; fast P rounds P once
                double bound = f[0].equals("sel-kernel-fast") ? 5e-3 : 1e-5;
                assertTrue(Double.parseDouble(f[17]) < bound, l);
            }
        }
    }
}
