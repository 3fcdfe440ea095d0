package dev.nsa4j.nsa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.fa2.Fa2Audit;
import dev.nsa4j.fa2.contract.Fa2Options;
import dev.nsa4j.kernels.DeviceInfo;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** {@code NSA_FA2_AUDIT}: the gate, once per JVM, and the fa2.audit lines (levels, never cut by NSA_LOG_LIMIT). */
class Fa2AuditLogTest {
    static final DeviceInfo H100 = new DeviceInfo(0, "NVIDIA H100 80GB HBM3", 9, 0, 132, 80L << 30);

    static Fa2Audit.Report report(Fa2Audit.Status second) {
        List<Fa2Audit.Probe> probes = new ArrayList<>();
        for (Fa2Audit.ProbeCase c : Fa2Audit.cases()) {
            boolean odd = probes.size() == 1;
            probes.add(odd && second == Fa2Audit.Status.FAILED ? new Fa2Audit.Probe(c, second, "MAE 1.00e-03 > 1e-5", 1e-3)
                    : new Fa2Audit.Probe(c, Fa2Audit.Status.PASSED, "", 2.5e-8));
        }
        return new Fa2Audit.Report(H100, null, new Fa2Audit.Versions(13000, "580.65.06", "12.6.0", "dev", "25"),
                new Fa2Audit.Image(true, 1024, Set.of(80, 90), true), Fa2Options.defaults(), probes);
    }

    @Test
    void oneDeviceLineAndOneLinePerProbeEvenPastTheLogLimit() {
        List<String> lines = new ArrayList<>();
        RateLimitedLog log = new RateLimitedLog((level, line) -> lines.add(level + " " + line), 10);
        Fa2AuditLog.emit(report(Fa2Audit.Status.PASSED), log);
        assertEquals(13, lines.size(), lines::toString);
        assertTrue(lines.getFirst().startsWith("INFO NSA-LOG fa2.audit device=cuda:0 name=\"NVIDIA H100 80GB HBM3\" sm=90 "),
                lines.getFirst());
        assertTrue(lines.getFirst().endsWith(" verdict=\"FA-2 ready on cuda:0 (sm_90): 12/12 probes passed\""), lines.getFirst());
        assertEquals("INFO NSA-LOG fa2.audit probe=fp16/d32 status=passed mae=2.50e-08", lines.get(1));
        assertEquals("INFO NSA-LOG fa2.audit probe=bf16/d256 status=passed mae=2.50e-08", lines.getLast());
        assertTrue(lines.stream().noneMatch(l -> l.contains("log.limit")), lines::toString);
        assertEquals(13, log.requested(Fa2AuditLog.TAG));
    }

    @Test
    void failuresAreWarnings() {
        List<String> lines = new ArrayList<>();
        Fa2AuditLog.emit(report(Fa2Audit.Status.FAILED), new RateLimitedLog((level, line) -> lines.add(level + " " + line), 1));
        assertTrue(lines.getFirst().startsWith("WARN NSA-LOG fa2.audit device=cuda:0 "), lines.getFirst());
        assertTrue(lines.getFirst().contains(" verdict=\"FA-2 failing on cuda:0 (sm_90): 11/12 probes passed, 1 failed"),
                lines.getFirst());
        assertEquals("WARN NSA-LOG fa2.audit probe=fp16/d64 status=failed mae=1.00e-03 reason=\"MAE 1.00e-03 > 1e-5\"",
                lines.get(2));
        assertEquals(13, lines.stream().filter(l -> l.contains("fa2.audit")).count());
        assertEquals(2, lines.stream().filter(l -> l.startsWith("WARN")).count());
    }

    @Test
    void theFlagGatesItAndItRunsOncePerJvm() {
        AtomicBoolean done = new AtomicBoolean();
        AtomicInteger runs = new AtomicInteger();
        List<String> lines = new ArrayList<>();
        RateLimitedLog log = new RateLimitedLog((level, line) -> lines.add(line), 10);
        FlagSnapshot off = Flags.of(Map.of(), Map.of(), Map.of());
        FlagSnapshot on = Flags.of(Map.of(), Map.of("NSA_FA2_AUDIT", "1"), Map.of());
        assertFalse(Fa2AuditLog.maybeRun(off, log, done, () -> {
            runs.incrementAndGet();
            return report(Fa2Audit.Status.PASSED);
        }));
        assertEquals(0, runs.get());
        assertTrue(lines.isEmpty());
        for (int i = 0; i < 3; i++) {
            Fa2AuditLog.maybeRun(on, log, done, () -> {
                runs.incrementAndGet();
                return report(Fa2Audit.Status.PASSED);
            });
        }
        assertEquals(1, runs.get());
        assertEquals(13, lines.size());
    }
}
