package dev.nsa4j.nsa;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.attention.GateOverride;
import dev.nsa4j.attention.GateStats;
import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.attention.NsaResult;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.kernels.CudaDevices;
import dev.nsa4j.kernels.GpuAvailability;
import dev.nsa4j.config.Phi;
import dev.nsa4j.oracle.NsaBackward;
import dev.nsa4j.oracle.NsaOracle;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class NsaAttentionTest {
    /** What these tests pretend the machine has: no CUDA device, whatever the real machine has. */
    static final String NO_DEVICE = "no CUDA device";

    static NsaAttention.Builder builder(NsaConfig cfg) {
        return NsaAttention.builder(cfg).gpuAvailability(() -> new GpuAvailability(false, NO_DEVICE,
                new CudaDevices.Discovery(java.util.List.of(), 0, NO_DEVICE)));
    }

    static final NsaConfig CFG = NsaConfig.builder().heads(4).kvGroups(2).headDims(8, 6).blockLen(4).stride(2)
            .selBlock(4).nSel(3).window(5).build();
    static final int B = 1;
    static final int S = 13;

    static HostTensor random(Random r, int... dims) {
        HostTensor t = HostTensor.zeros(DType.FP32, dims);
        double[] v = new double[(int) t.numel()];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextDouble() * 2 - 1;
        }
        t.copyFrom(v);
        return t;
    }

    static NsaInputs inputs(long seed) {
        Random r = new Random(seed);
        HostTensor gates = HostTensor.zeros(DType.FP32, B, S, 4, 3);
        double[] g = new double[(int) gates.numel()];
        for (int i = 0; i < g.length; i++) {
            g[i] = r.nextDouble();
        }
        gates.copyFrom(g);
        return NsaInputs.builder().q(random(r, B, S, 4, 8))
                .cmp(random(r, B, S, 2, 8), random(r, B, S, 2, 6))
                .sel(random(r, B, S, 2, 8), random(r, B, S, 2, 6))
                .win(random(r, B, S, 2, 8), random(r, B, S, 2, 6)).gates(gates).build();
    }

    static FlagSnapshot env(String... kv) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return Flags.of(Map.of(), m, Map.of());
    }

    @Test
    void autoRunsTheOracleAndSaysWhy() {
        NsaAttention nsa = builder(CFG).flags(Flags.defaults()).build();
        assertEquals(DeviceRequest.AUTO, nsa.device());
        NsaInputs in = inputs(1);
        NsaOutput out = nsa.forward(in);
        NsaResult want = new NsaOracle(CFG).forward(in);
        assertArrayEquals(want.o().toDoubleArray(), out.result().o().toDoubleArray());
        assertArrayEquals(want.indices().toIntArray(), out.result().indices().toIntArray());
        assertEquals(List.of(Branch.CMP, Branch.SEL, Branch.WIN), out.routes().stream().map(Route::branch).toList());
        for (Route r : out.routes()) {
            assertEquals(Path.CPU, r.path());
            assertEquals(NsaAttention.GPU_UNAVAILABLE + NO_DEVICE, r.reason());
        }
        assertTrue(out.elapsed().toNanos() > 0);
        assertEquals(out.routes(), nsa.plannedRoutes());
    }

    @Test
    void cpuRequestedAndOutputDtype() {
        NsaAttention nsa = builder(CFG).flags(Flags.defaults()).device("cpu").build();
        NsaOutput out = nsa.forward(inputs(2), DType.FP16);
        assertEquals(DType.FP16, out.result().o().dtype());
        assertEquals("requested", out.route(Branch.SEL).reason());
        assertEquals("branch=sel path=cpu reason=\"requested\"", out.route(Branch.SEL).toKeyValues());
        NsaAttention fromEnv = builder(CFG).flags(env("NSA_DEVICE", "cpu")).build();
        assertEquals(DeviceRequest.CPU, fromEnv.device());
        assertEquals("requested", fromEnv.plannedRoutes().get(0).reason());
    }

    @Test
    void gpuRequestsWithoutAUsableGpuAreRefusedWithTheReason() {
        for (String d : new String[] {"gpu", "0", "3"}) {
            NsaArgumentException e = assertThrows(NsaArgumentException.class,
                    () -> builder(CFG).flags(Flags.defaults()).device(d).build());
            assertEquals("device", e.subject());
            assertEquals("GPU paths available", e.rule());
            assertTrue(e.getMessage().contains(NO_DEVICE) && e.getMessage().contains("--device cpu"), e.getMessage());
        }
        assertThrows(NsaArgumentException.class,
                () -> builder(CFG).flags(env("NSA_DEVICE", "1")).build());
        NsaArgumentException bad = assertThrows(NsaArgumentException.class, () -> DeviceRequest.parse("tpu"));
        assertEquals("device", bad.subject());
    }

    @Test
    void mlpNeedsWeights() {
        NsaConfig mlp = CFG.toBuilder().phi(Phi.MLP).build();
        NsaArgumentException e = assertThrows(NsaArgumentException.class,
                () -> builder(mlp).flags(Flags.defaults()).build());
        assertEquals("phi", e.subject());
    }

    @Test
    void gateOverrideMapping() {
        assertEquals(GateOverride.NONE, NsaAttention.gateOverride(Flags.defaults()));
        assertEquals(GateOverride.FORCE_CMP, NsaAttention.gateOverride(env("NSA_FORCE_BRANCH", "cmp")));
        assertEquals(GateOverride.FORCE_SEL, NsaAttention.gateOverride(env("NSA_FORCE_BRANCH", "sel")));
        assertEquals(GateOverride.FORCE_WIN, NsaAttention.gateOverride(env("NSA_FORCE_BRANCH", "win")));
        assertEquals(GateOverride.UNIFORM, NsaAttention.gateOverride(env("NSA_FORCE_UNIFORM_GATE", "1")));
        NsaArgumentException e = assertThrows(NsaArgumentException.class, () -> builder(CFG)
                .flags(env("NSA_FORCE_BRANCH", "win", "NSA_FORCE_UNIFORM_GATE", "yes")).build());
        assertTrue(e.subject().contains("NSA_FORCE_BRANCH") && e.subject().contains("NSA_FORCE_UNIFORM_GATE"));
    }

    @Test
    void forcedGatesChangeTheCombination() {
        NsaInputs in = inputs(3);
        NsaOutput sel = builder(CFG).flags(env("NSA_FORCE_BRANCH", "sel")).build().forward(in);
        assertArrayEquals(sel.result().oSel().toDoubleArray(), sel.result().o().toDoubleArray(), 1e-6);
        NsaOutput uni = builder(CFG).flags(env("NSA_FORCE_UNIFORM_GATE", "on")).build().forward(in);
        double[] c = uni.result().oCmp().toDoubleArray();
        double[] s = uni.result().oSel().toDoubleArray();
        double[] w = uni.result().oWin().toDoubleArray();
        double[] o = uni.result().o().toDoubleArray();
        for (int i = 0; i < o.length; i++) {
            assertEquals((c[i] + s[i] + w[i]) / 3, o[i], 1e-6);
        }
    }

    @Test
    void countersCountCallsAndFallbacksAndReset() {
        NsaAttention nsa = builder(CFG).flags(env("NSA_USE_FA2", "1", "NSA_USE_FA2_CMP", "1",
                "NSA_USE_SEL_KERNEL", "1")).logSink((l, s) -> { }).build();
        NsaInputs in = inputs(4);
        nsa.forward(in);
        nsa.forward(in);
        Counters c = nsa.counters();
        for (Branch b : Branch.values()) {
            assertEquals(2, c.calls(b, Path.CPU));
        }
        assertEquals(0, c.calls(Branch.CMP, Path.FA2));
        String cmpReason = "fa2 requested by NSA_USE_FA2 and NSA_USE_FA2_CMP but " + NsaAttention.GPU_UNAVAILABLE + NO_DEVICE;
        assertEquals(cmpReason, nsa.plannedRoutes().get(0).reason());
        assertEquals(2, c.fallbacks(Branch.CMP, Path.CPU, cmpReason));
        assertEquals(2, c.fallbacks(Branch.SEL, Path.CPU,
                "sel-kernel requested by NSA_USE_SEL_KERNEL but " + NsaAttention.GPU_UNAVAILABLE + NO_DEVICE));
        assertEquals(2, c.fallbacks().size(), c.fallbacks().toString()); // win's switch is off
        assertEquals(3, c.calls().size());
        c.reset();
        assertEquals(0, c.calls(Branch.CMP, Path.CPU));
        assertTrue(c.fallbacks().isEmpty());
        // cpu requested: no fallback, whatever the flags
        NsaAttention cpu = builder(CFG).flags(env("NSA_USE_FA2", "1", "NSA_USE_FA2_CMP", "1"))
                .device("cpu").logSink((l, s) -> { }).build();
        cpu.forward(in);
        assertTrue(cpu.counters().fallbacks().isEmpty());
        // a failed call counts nothing
        NsaInputs broken = NsaInputs.builder().q(in.kCmp()).cmp(in.kCmp(), in.vCmp()).sel(in.kSel(), in.vSel())
                .win(in.kWin(), in.vWin()).gates(in.gates()).build();
        assertThrows(NsaArgumentException.class, () -> cpu.forward(broken));
        assertEquals(1, cpu.counters().calls(Branch.CMP, Path.CPU));
    }

    @Test
    void backwardIsTheOraclesForTheForwardsBlocks() {
        NsaInputs in = inputs(8);
        NsaAttention nsa = builder(CFG).logSink((l, s) -> { }).build();
        NsaOutput fwd = nsa.forward(in);
        HostTensor go = random(new Random(9), B, S, 4, 6);
        NsaGradients g = nsa.backward(in, fwd, go);
        NsaBackward.Gradients want = new NsaBackward(CFG, null).backward(in, fwd.result().indices(), go);
        assertArrayEquals(want.dq(), g.fp64().dq());
        assertEquals(in.q().shape(), g.dq().shape());
        assertEquals(in.vSel().shape(), g.dv(Branch.SEL).shape());
        assertArrayEquals(HostTensor.of(DType.FP32, want.dkWin(), B, S, 2, 8).toDoubleArray(),
                g.dk(Branch.WIN).toDoubleArray());
        assertArrayEquals(HostTensor.of(DType.FP32, want.dGates(), B, S, 4, 3).toDoubleArray(),
                g.dGates().toDoubleArray());
        assertTrue(g.phiK().isEmpty());
        assertEquals(NsaAttention.BACKWARD_CPU, g.path());
        NsaArgumentException e = assertThrows(NsaArgumentException.class,
                () -> nsa.backward(in, fwd, random(new Random(1), B, S, 4, 8)));
        assertTrue(e.getMessage().contains("grad_o"), e.getMessage());
    }

    @Test
    void backwardUnderAnOverrideDifferentiatesTheMixedGates() {
        NsaInputs in = inputs(10);
        NsaAttention sel = builder(CFG).flags(env("NSA_FORCE_BRANCH", "sel")).logSink((l, s) -> { }).build();
        NsaOutput fwd = sel.forward(in);
        HostTensor go = random(new Random(11), B, S, 4, 6);
        NsaGradients g = sel.backward(in, fwd, go);
        double[] oneHot = new double[(int) in.gates().numel()];
        for (int i = 1; i < oneHot.length; i += 3) {
            oneHot[i] = 1;
        }
        NsaInputs mixed = new NsaInputs(in.q(), in.kCmp(), in.vCmp(), in.kSel(), in.vSel(), in.kWin(), in.vWin(),
                HostTensor.of(DType.FP32, oneHot, B, S, 4, 3), null, null);
        NsaBackward.Gradients want = new NsaBackward(CFG, null).backward(mixed, fwd.result().indices(), go);
        assertArrayEquals(want.dq(), g.fp64().dq());
        assertArrayEquals(new double[oneHot.length], g.fp64().dGates());
        double cmp = 0;
        for (double v : g.fp64().dkCmp()) {
            cmp = Math.max(cmp, Math.abs(v));
        }
        assertEquals(0.0, cmp, "only sel is mixed: the cmp keys get no gradient");
    }

    @Test
    void gateStatsAreReadablePerForwardAndLoggedAtDebug() {
        List<String> lines = new ArrayList<>();
        NsaAttention nsa = builder(CFG).flags(env("NSA_LOG_LIMIT", "2")).logSink((l, s) -> lines.add(l + " " + s))
                .build();
        NsaInputs in = inputs(6);
        GateStats st = nsa.gateStats(in);
        assertEquals(GateStats.of(in.gates().toDoubleArray(), GateOverride.NONE), st);
        assertEquals((long) B * S * 4, st.rows());
        for (int i = 0; i < 3; i++) {
            nsa.forward(in);
        }
        List<String> gs = lines.stream().filter(x -> x.startsWith("DEBUG NSA-LOG gate.stats ")).toList();
        assertEquals(List.of("DEBUG NSA-LOG gate.stats " + st.toLogFields(), "DEBUG NSA-LOG gate.stats "
                + st.toLogFields()), gs, lines.toString());
        // the override's gates are what the forward mixes
        NsaAttention win = builder(CFG).flags(env("NSA_FORCE_BRANCH", "win")).logSink((l, x) -> { }).build();
        assertEquals(1.0, win.gateStats(in).shareWin());
        assertEquals(1.0, win.gateStats(in).collapseFraction());
    }

    @Test
    void routeLinesAreLoggedAndRateLimited() {
        List<String> lines = new ArrayList<>();
        NsaAttention nsa = builder(CFG).flags(env("NSA_LOG_LIMIT", "4", "NSA_USE_FA2", "1",
                "NSA_USE_FA2_WIN", "1")).logSink((l, s) -> lines.add(l + " " + s)).build();
        NsaInputs in = inputs(5);
        for (int i = 0; i < 3; i++) {
            nsa.forward(in);
        }
        long routes = lines.stream().filter(s -> s.startsWith("INFO NSA-LOG route ")).count();
        assertEquals(4, routes, lines.toString());
        assertTrue(lines.contains("INFO NSA-LOG route branch=cmp path=cpu reason=\"" + NsaAttention.GPU_UNAVAILABLE + NO_DEVICE + "\""));
        assertEquals(3, lines.stream().filter(s -> s.startsWith("WARN NSA-LOG fa2.fallback branch=win")).count());
        assertTrue(lines.stream().anyMatch(s -> s.contains("log.limit tag=route limit=4")));

        List<String> all = new ArrayList<>();
        NsaAttention unlimited = builder(CFG).flags(env("NSA_LOG_LIMIT", "0", "NSA_DEBUG_TIMING", "1"))
                .logSink((l, s) -> all.add(s)).build();
        for (int i = 0; i < 5; i++) {
            unlimited.forward(in);
        }
        assertEquals(15, all.stream().filter(s -> s.startsWith("NSA-LOG route ")).count());
        assertEquals(5, all.stream().filter(s -> s.startsWith("NSA-LOG timing path=cpu q=[1, 13, 4, 8]")).count());
    }
}
