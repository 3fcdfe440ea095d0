package dev.nsa4j.nsa;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.attention.GateOverride;
import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.attention.NsaResult;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.kernels.GpuAvailability;
import dev.nsa4j.kernels.GpuFixture;
import dev.nsa4j.kernels.NsaOutputs;
import dev.nsa4j.kernels.TestShard;
import dev.nsa4j.oracle.NsaOracle;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * NsaAttention on the GPU with the shipped sm90 profile (d128: FA-2 for win from w = 16, for cmp from 16
 * compressed tokens, the H100 sweep). bf16 inputs: K̃/Ṽ are stored in bf16, so both the window and the
 * compressed branch run on FA-2 (exact P) and the forward keeps MAE < 1e-5 against the oracle with K̃ rounded to
 * bf16. fp32 inputs: FA-2's dtype rule refuses the shape, a route reason (structural) when only the profile asked
 * for FA-2 and a counted fallback when the user did; NSA_FA2_ALLOW_FP32=1 casts; NSA_USE_FA2=0 keeps both
 * branches on sdpa-masked. The oracle's chosen blocks are given to both sides, so every branch sees the same keys.
 */
@Tag("gpu")
@ExtendWith(TestShard.class)
class NsaAttentionFa2GpuTest {
    /** Head dim 128 (bucket d128), window 128 >= sm90's NSA_FA2_MIN_LEN_WIN = 16. */
    static final NsaConfig CFG = NsaConfig.builder().heads(8).kvGroups(2).headDim(128).blockLen(16).stride(8)
            .selBlock(32).nSel(4).window(128).build();
    /** Varlen; compressed lengths 49, 3, 15: the longest reaches sm90's NSA_FA2_MIN_LEN_CMP = 16. */
    static final int[] LENS = {400, 37, 129};

    @TempDir
    java.nio.file.Path tmp;

    /** Flags that give this GPU the shipped sm90 profile (its own on SM 9.x, the file elsewhere). */
    private Map<String, String> sm90 = new HashMap<>();

    @BeforeEach
    void gpuWithFa2() throws IOException {
        GpuFixture.assumeGpu();
        DeviceInfo dev = GpuAvailability.check(0).discovery().devices().get(0);
        int cc = dev.ccMajor() * 10 + dev.ccMinor();
        assumeTrue(Set.of(80, 86, 90).contains(cc), () -> "FA-2 runs on SM 8.0, 8.6 and 9.0; this GPU is " + cc);
        sm90 = new HashMap<>();
        if (dev.ccMajor() != 9) {
            java.nio.file.Path f = tmp.resolve("sm90.yaml");
            Files.writeString(f, GpuProfiles.shipped("sm90").toYaml());
            sm90.put("NSA_PROFILE", f.toString());
        }
        sm90.put("NSA_LOG_LIMIT", "0");
    }

    private FlagSnapshot flags(String... kv) {
        Map<String, String> env = new HashMap<>(sm90);
        for (int i = 0; i < kv.length; i += 2) {
            env.put(kv[i], kv[i + 1]);
        }
        return Flags.of(Map.of(), env, Map.of());
    }

    @Test
    void bf16RunsBothTheWindowAndTheCompressedBranchOnFa2() {
        Case c = new Case(new Random(11), DType.BF16);
        List<String> lines = new ArrayList<>();
        try (NsaAttention nsa = NsaAttention.builder(CFG).flags(flags()).device("0")
                .logSink((l, s) -> lines.add(l + " " + s)).build()) {
            assertEquals(Path.FA2, nsa.plannedRoutes().get(Branch.WIN.ordinal()).path());
            assertEquals("profile sm90 d128; min len 16", nsa.plannedRoutes().get(Branch.WIN.ordinal()).reason());
            NsaOutput out = nsa.forward(c.withIdx, DType.FP32);
            Route win = out.route(Branch.WIN);
            Route cmp = out.route(Branch.CMP);
            assertEquals(Path.FA2, win.path(), win.reason());
            assertTrue(win.reason().startsWith("profile sm90 d128; window 128 >= 16"), win.reason());
            assertEquals(Path.FA2, cmp.path(), cmp.reason());
            assertTrue(cmp.reason().startsWith("profile sm90 d128; compressed length 49 >= 16"), cmp.reason());
            assertEquals(DType.BF16, out.plan().compressedDtype());
            c.assertParity(out.result(), 1e-5, NsaResult.Output.values());
            Counters n = nsa.counters();
            assertEquals(1, n.calls(Branch.WIN, Path.FA2));
            assertEquals(1, n.calls(Branch.CMP, Path.FA2));
            assertEquals(Map.of(), n.fallbacks());
            assertTrue(lines.stream().anyMatch(l -> l.startsWith("INFO NSA-LOG fa2.path branch=cmp path=fa2 ")),
                    lines.toString());
            NsaOutput again = nsa.forward(c.withIdx, DType.FP32);
            assertEquals(out.routes(), again.routes(), "same call, same routes");
            assertEquals(2, n.calls(Branch.WIN, Path.FA2));
        }
    }

    @Test
    void fp32IsAStructuralRouteReasonUnderTheProfileAndACountedFallbackWhenRequested() {
        Case c = new Case(new Random(12), DType.FP32);
        try (NsaAttention nsa = NsaAttention.builder(CFG).flags(flags()).device("0").logSink((l, s) -> { }).build()) {
            NsaOutput out = nsa.forward(c.withIdx, DType.FP32);
            for (Branch br : new Branch[] {Branch.CMP, Branch.WIN}) {
                Route r = out.route(br);
                assertEquals(Path.SDPA_MASKED, r.path(), r.reason());
                assertTrue(r.reason().contains("blocked for this shape: dtype"), r.reason());
            }
            assertEquals(Map.of(), nsa.counters().fallbacks());
            c.assertParity(out.result(), 1e-5, NsaResult.Output.values());
        }
        List<String> lines = new ArrayList<>();
        try (NsaAttention nsa = NsaAttention.builder(CFG).flags(flags("NSA_USE_FA2", "1", "NSA_USE_FA2_WIN", "1"))
                .device("0").logSink((l, s) -> lines.add(l + " " + s)).build()) {
            NsaOutput out = nsa.forward(c.withIdx, DType.FP32);
            Route win = out.route(Branch.WIN);
            assertEquals(Path.SDPA_MASKED, win.path(), win.reason());
            assertEquals(1, nsa.counters().fallbacks(Branch.WIN, Path.SDPA_MASKED, win.reason()));
            assertTrue(lines.stream().anyMatch(l -> l.startsWith("WARN NSA-LOG fa2.fallback branch=win path=sdpa-masked ")
                    && l.contains(" cause=contract rules=dtype")), lines.toString());
        }
    }

    @Test
    void allowFp32RunsFa2AfterACast() {
        Case c = new Case(new Random(13), DType.FP32);
        try (NsaAttention nsa = NsaAttention.builder(CFG).flags(flags("NSA_FA2_ALLOW_FP32", "1")).device("0")
                .logSink((l, s) -> { }).build()) {
            NsaOutput out = nsa.forward(c.withIdx, DType.FP32);
            for (Branch br : new Branch[] {Branch.CMP, Branch.WIN}) {
                assertEquals(Path.FA2, out.route(br).path(), out.route(br).reason());
                assertTrue(out.route(br).reason().contains("cast to FP16"), out.route(br).reason());
            }
            assertEquals(Map.of(), nsa.counters().fallbacks());
            // q, k, v rounded to fp16 for these two branches: finite, within a loose tolerance; sel stays exact
            c.assertParity(out.result(), 2e-2, NsaResult.Output.O_CMP, NsaResult.Output.O_WIN, NsaResult.Output.O);
            c.assertParity(out.result(), 1e-5, NsaResult.Output.O_SEL, NsaResult.Output.LSE_SEL);
        }
    }

    @Test
    void useFa2ZeroKeepsBothBranchesOnSdpaMasked() {
        Case c = new Case(new Random(14), DType.BF16);
        try (NsaAttention nsa = NsaAttention.builder(CFG).flags(flags("NSA_USE_FA2", "0")).device("0")
                .logSink((l, s) -> { }).build()) {
            NsaOutput out = nsa.forward(c.withIdx, DType.FP32);
            for (Branch br : new Branch[] {Branch.CMP, Branch.WIN}) {
                assertEquals(Path.SDPA_MASKED, out.route(br).path(), out.route(br).reason());
                assertEquals(nsa.plannedRoutes().get(br.ordinal()), out.route(br));
            }
            assertEquals(Map.of(), nsa.counters().fallbacks());
            c.assertParity(out.result(), 1e-5, NsaResult.Output.values());
        }
    }

    @Test
    void belowTheThresholdIsANormalRouteAndHardFailThrowsOnARefusal() {
        Case c = new Case(new Random(15), DType.BF16);
        try (NsaAttention nsa = NsaAttention.builder(CFG).flags(flags("NSA_FA2_MIN_LEN_WIN", "129",
                "NSA_FA2_MIN_LEN_CMP", "50")).device("0").logSink((l, s) -> { }).build()) {
            NsaOutput out = nsa.forward(c.withIdx, DType.FP32);
            assertEquals(new Route(Branch.WIN, Path.SDPA_MASKED,
                    "below NSA_FA2_MIN_LEN_WIN (128 < 129); band mask (NSA_USE_WIN_MASK=1)"), out.route(Branch.WIN));
            assertEquals(new Route(Branch.CMP, Path.SDPA_MASKED,
                    "below NSA_FA2_MIN_LEN_CMP (49 < 50); block-causal mask (NSA_USE_CMP_MASK=1)"), out.route(Branch.CMP));
            assertEquals(Map.of(), nsa.counters().fallbacks());
            c.assertParity(out.result(), 1e-5, NsaResult.Output.values());
        }
        Case f = new Case(new Random(16), DType.FP32);
        try (NsaAttention nsa = NsaAttention.builder(CFG).flags(flags("NSA_FA2_HARD_FAIL", "1")).device("0")
                .logSink((l, s) -> { }).build()) {
            NsaArgumentException e = assertThrows(NsaArgumentException.class, () -> nsa.forward(f.withIdx, DType.FP32));
            assertTrue(e.getMessage().contains("NSA_FA2_HARD_FAIL") && e.getMessage().contains("dtype"), e.getMessage());
            assertEquals(Map.of(), nsa.counters().calls(), "a failed call counts nothing");
            // bf16 is eligible on both branches, and runs
            assertEquals(Path.FA2, nsa.forward(c.withIdx, DType.FP32).route(Branch.CMP).path());
        }
    }

    /** Random bf16 varlen inputs, the oracle's result on them, and the inputs with the oracle's blocks. */
    static final class Case {
        final NsaResult cpu;
        final NsaInputs withIdx;

        Case(Random rnd, DType dt) {
            int nnz = 0;
            int[] cu = new int[LENS.length + 1];
            for (int b = 0; b < LENS.length; b++) {
                cu[b + 1] = cu[b] + LENS[b];
                nnz += LENS[b];
            }
            int g = CFG.kvGroups();
            int d = CFG.headDimQk();
            HostTensor[] kv = new HostTensor[6];
            for (int i = 0; i < 6; i++) {
                kv[i] = GpuFixture.random(rnd, dt, -1, 1, nnz, g, d);
            }
            NsaInputs in = NsaInputs.builder().q(GpuFixture.random(rnd, dt, -1, 1, nnz, CFG.heads(), d))
                    .cmp(kv[0], kv[1]).sel(kv[2], kv[3]).win(kv[4], kv[5])
                    .gates(GpuFixture.random(rnd, DType.FP32, 0, 1, nnz, CFG.heads(), 3))
                    .cuSeqlens(HostTensor.ofInts(cu, cu.length)).build();
            cpu = new NsaOracle(CFG).withCompressedRoundedTo(dt).forward(in, DType.FP32, GateOverride.NONE);
            withIdx = new NsaInputs(in.q(), in.kCmp(), in.vCmp(), in.kSel(), in.vSel(), in.kWin(), in.vWin(),
                    in.gates(), in.cuSeqlens(), cpu.indices());
        }

        /** MAE below {@code tol} and no NaN/Inf (but −inf where the oracle has it) for each output. */
        void assertParity(NsaResult got, double tol, NsaResult.Output... outputs) {
            NsaOutputs.assertClose(cpu, got, tol, "fa2 forward", outputs);
            assertArrayEquals(cpu.indexArray(), got.indexArray());
        }
    }
}
