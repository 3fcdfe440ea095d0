package dev.nsa4j.nsa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.fa2.Fa2Module;
import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.kernels.GpuAvailability;
import dev.nsa4j.kernels.TestShard;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** {@code NSA_FA2_AUDIT=1}: the first NsaAttention that opens the GPU logs the audit (13 lines), the next one does not. */
@Tag("gpu")
@ExtendWith(TestShard.class)
class NsaAttentionAuditGpuTest {
    static final NsaConfig CFG = NsaConfig.builder().heads(8).kvGroups(2).headDim(128).blockLen(16).stride(8)
            .selBlock(32).nSel(4).window(128).build();

    @Test
    void theAuditIsLoggedOncePerJvmWhenAGpuOpens() {
        dev.nsa4j.kernels.GpuFixture.assumeGpu();   // NSA_REQUIRE_GPU=1 turns the skip into a failure
        GpuAvailability a = GpuAvailability.check(0);
        assumeTrue(a.available(), () -> "no usable GPU: " + a.reason());
        DeviceInfo dev = a.discovery().devices().get(0);
        Fa2AuditLog.DONE.set(false);   // whatever ran before in this JVM
        FlagSnapshot flags = Flags.of(Map.of(), Map.of("NSA_FA2_AUDIT", "1"), Map.of());
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            try (NsaAttention nsa = NsaAttention.builder(CFG).flags(flags).device("0")
                    .logSink((l, s) -> lines.add(l + " " + s)).build()) {
                assertEquals(CFG, nsa.config());
            }
        }
        List<String> audit = lines.stream().filter(l -> l.contains("NSA-LOG fa2.audit ")).toList();
        assertEquals(13, audit.size(), audit::toString);
        assertTrue(audit.getFirst().contains("NSA-LOG fa2.audit device=cuda:0 "), audit.getFirst());
        assertTrue(audit.get(1).contains("NSA-LOG fa2.audit probe=fp16/d32 status="), audit.get(1));
        if (Fa2Module.image().isPresent() && (dev.sm() == 80 || dev.sm() == 86 || dev.sm() == 90)) {
            assertTrue(audit.getFirst().startsWith("INFO ") && audit.getFirst().contains(" verdict=\"FA-2 ready on cuda:0"),
                    audit.getFirst());
            assertTrue(audit.stream().noneMatch(l -> l.startsWith("WARN ")), audit::toString);
        }
    }
}
