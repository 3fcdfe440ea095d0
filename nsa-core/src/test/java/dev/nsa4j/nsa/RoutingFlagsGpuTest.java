package dev.nsa4j.nsa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.kernels.GpuAvailability;
import dev.nsa4j.kernels.TestShard;
import dev.nsa4j.tensor.HostTensor;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** On a real GPU, routing reads the device's shipped profile for the config's head dim; small calls stay on the reference paths. */
@Tag("gpu")
@ExtendWith(TestShard.class)
class RoutingFlagsGpuTest {
    @Test
    void nsaAttentionRoutesWithTheDevicesProfile() {
        dev.nsa4j.kernels.GpuFixture.assumeGpu();   // NSA_REQUIRE_GPU=1 turns the skip into a failure
        GpuAvailability a = GpuAvailability.check(0);
        assumeTrue(a.available(), () -> "no usable GPU: " + a.reason());
        DeviceInfo dev = a.discovery().devices().get(0);
        NsaConfig cfg = NsaConfig.builder().heads(4).kvGroups(2).headDims(64, 64).blockLen(4).stride(2)
                .selBlock(4).nSel(3).window(5).build();
        try (NsaAttention nsa = NsaAttention.builder(cfg).flags(Flags.defaults()).device("0").build()) {
            GpuProfiles.Choice want = GpuProfiles.forDevice(dev.ccMajor(), dev.ccMinor());
            assertEquals(want.profile().map(GpuProfile::family), nsa.routingFlags().profile().map(GpuProfile::family));
            assertEquals(want.reason(), nsa.routingFlags().profileReason());
            FlagSnapshot eff = nsa.effectiveFlags(64);
            assertSame(eff, nsa.effectiveFlags(64), "cached per head dim");
            if (want.profile().isPresent()) {
                assertEquals(FlagSource.PROFILE, eff.source(Flag.NSA_USE_FA2));
                assertEquals(want.profile().get().flagValues(64).get("NSA_FA2_MIN_LEN_WIN"),
                        Integer.toString(eff.integer(Flag.NSA_FA2_MIN_LEN_WIN)));
            }
            boolean fa2Win = want.profile().map(p -> p.thresholds(64).fa2Win() && p.thresholds(64).fa2MinLenWin() >= 0)
                    .orElse(false);
            for (Route r : nsa.plannedRoutes()) {
                assertNotEquals(Path.CPU, r.path());
            }
            assertEquals(fa2Win ? Path.FA2 : Path.SDPA_MASKED, nsa.plannedRoutes().get(2).path(),
                    nsa.plannedRoutes().get(2).reason());
            // window 5 and 9 compressed tokens ((20 - 4) / 2 + 1) are below every shipped threshold (16 and
            // up): the reference paths run
            NsaOutput out = nsa.forward(inputs(new java.util.Random(5), 2, 20, 4, 2, 64));
            for (Route r : out.routes()) {
                assertNotEquals(Path.FA2, r.path(), r.reason());
                if (nsa.plannedRoutes().get(r.branch().ordinal()).path() == Path.FA2) {
                    assertTrue(r.reason().startsWith("below NSA_FA2_MIN_LEN_"), r.reason());
                }
            }
            assertEquals(Map.of(), nsa.counters().fallbacks(), "below the threshold is no counted fallback");
            assertEquals(1, nsa.counters().calls(Branch.WIN, Path.SDPA_MASKED));
        }
    }

    /** Random fp32 inputs [B,S,H|G,D] with gates in [0,1). */
    static NsaInputs inputs(java.util.Random r, int b, int s, int h, int g, int d) {
        HostTensor gates = NsaAttentionTest.random(r, b, s, h, 3);
        gates.copyFrom(java.util.Arrays.stream(gates.toDoubleArray()).map(Math::abs).toArray());
        return NsaInputs.builder().q(NsaAttentionTest.random(r, b, s, h, d))
                .cmp(NsaAttentionTest.random(r, b, s, g, d), NsaAttentionTest.random(r, b, s, g, d))
                .sel(NsaAttentionTest.random(r, b, s, g, d), NsaAttentionTest.random(r, b, s, g, d))
                .win(NsaAttentionTest.random(r, b, s, g, d), NsaAttentionTest.random(r, b, s, g, d))
                .gates(gates).build();
    }
}
