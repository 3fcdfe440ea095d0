package dev.nsa4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.nsa4j.kernels.CudaDevices;
import dev.nsa4j.nsa.Flag;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@code nsa doctor} on a machine without a CUDA device: the reason, the versions, the routing defaults, exit 0. */
class DoctorCommandTest {
    @AfterEach
    void clearProperties() {
        System.clearProperty("nsa.device");
        System.clearProperty("nsa.use.fa2");
    }

    static RunCommandTest.Result doctor(String... args) {
        return RunCommandTest.subcommand("doctor", args);
    }

    static String noGpuReason() {
        CudaDevices.Discovery d = CudaDevices.discover();
        assumeFalse(d.available(), "this machine has a CUDA device (DoctorGpuTest covers it)");
        return d.reason();
    }

    @Test
    void withoutAGpuItSaysWhyPrintsTheRoutingDefaultsAndExitsZero() {
        String why = noGpuReason();
        RunCommandTest.Result r = doctor();
        assertEquals(0, r.code(), r.err());
        String out = r.out();
        List<String> lines = out.lines().toList();
        assertEquals("device:       none (" + why + ")", lines.getFirst());
        assertTrue(lines.get(1).startsWith("driver:       NVIDIA "), out);
        assertEquals("JCuda:        12.6.0", lines.get(2));
        assertTrue(lines.get(3).startsWith("nsa4j:        "), out);
        assertEquals("Java:         " + Runtime.version() + " (" + System.getProperty("java.vendor") + ")", lines.get(4));
        assertTrue(lines.get(5).startsWith("FA-2 image:   "), out);
        assertEquals("FA-2 options: NSA_FA2_ALLOW_D_GT_128=0 NSA_FA2_FORCE=0", lines.get(6));
        assertEquals("probes:       not run (" + why + ")", lines.get(7));
        assertTrue(out.contains("\nrouting (head dim 128):\n  device: cpu (GPU unavailable: "), out);
        assertTrue(out.contains("\n  profile: none (no GPU is used"), out);
        assertTrue(out.contains("\n  head dim: 128\n"), out);
        for (Flag f : List.of(Flag.NSA_USE_FA2, Flag.NSA_USE_FA2_WIN, Flag.NSA_FA2_MIN_LEN_CMP)) {
            if (System.getenv(f.envName()) == null) {
                assertEquals(f.envName() + " " + f.defaultValue() + " default (no profile)", RoutingCommandTest.row(
                        out.replace("\n  ", "\n"), f));
            }
        }
        assertEquals("FA-2 unavailable: " + why, lines.getLast());
        assertEquals("", r.err());
    }

    @Test
    void anOrdinalThatCannotBeUsedIsADiagnosisNotAnError() {
        String why = noGpuReason();
        RunCommandTest.Result r = doctor("--device", "3");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().strip().endsWith("FA-2 unavailable: " + why), r.out());
    }

    @Test
    void nsaDeviceCpuKeepsRoutingOnTheCpuAndSaysSo() {
        noGpuReason();
        System.setProperty("nsa.device", "cpu");
        RunCommandTest.Result r = doctor();
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("\nrouting (head dim 128; NSA_DEVICE=cpu keeps nsa4j on the CPU):\n"
                + "  device: cpu (requested)\n"), r.out());
    }

    @Test
    void usageErrorsExitTwo() {
        RunCommandTest.Result cpu = doctor("--device", "cpu");
        assertEquals(2, cpu.code());
        assertTrue(cpu.err().startsWith("nsa doctor: --device cpu: doctor diagnoses a GPU"), cpu.err());
        RunCommandTest.Result bad = doctor("--device", "tpu");
        assertEquals(2, bad.code());
        System.setProperty("nsa.use.fa2", "maybe");
        RunCommandTest.Result flag = doctor();
        assertEquals(2, flag.code());
        assertTrue(flag.err().contains("NSA_USE_FA2 = 'maybe'"), flag.err());
        assertEquals("", flag.out(), "no partial report");
    }

    @Test
    void itIsListedAmongTheCommands() {
        RunCommandTest.Result r = RunCommandTest.cli("--help");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("doctor"), r.out());
    }
}
