package dev.nsa4j.nsa;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.attention.NsaResult;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.kernels.CudaContext;
import dev.nsa4j.kernels.CudaGraph;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.GpuFixture;
import dev.nsa4j.kernels.GpuSuite;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The device API: the same bits as the host API, CUDA-graph replay equal to eager, no device allocation after
 * the first call of a shape, raw pointers + a raw stream on an attached context, and the named errors for
 * misaligned foreign pointers and bad shapes before anything is enqueued. bf16, head dim 128 (FA-2 for cmp
 * and win where the device has it), dense B=2 and varlen.
 */
@Tag("gpu")
class DeviceApiGpuTest extends GpuSuite {
    static final NsaConfig CFG = NsaConfig.builder().heads(8).kvGroups(2).headDim(128).blockLen(16).stride(8)
            .selBlock(32).nSel(4).window(128).build();

    /** Device copies of host inputs plus fp32 outputs for every branch, lse and the indices. */
    static final class Buffers implements AutoCloseable {
        final List<GpuFixture.DeviceCopy> owned = new ArrayList<>();
        final NsaDeviceInputs in;
        final NsaDeviceOutputs out;

        Buffers(GpuFixture gpu, NsaInputs h, int offsetBytes) {
            this(gpu, h, offsetBytes, CFG);
        }

        Buffers(GpuFixture gpu, NsaInputs h, int offsetBytes, NsaConfig cfg) {
            this(gpu, h, offsetBytes, cfg, DType.FP32, DType.FP32);
        }

        /** Outputs: o in {@code oDt}, the branch outputs in {@code branchDt}, lse fp32. */
        Buffers(GpuFixture gpu, NsaInputs h, int offsetBytes, NsaConfig cfg, DType oDt, DType branchDt) {
            DeviceTensor[] t = new DeviceTensor[8];
            HostTensor[] src = {h.q(), h.kCmp(), h.vCmp(), h.kSel(), h.vSel(), h.kWin(), h.vWin(), h.gates()};
            for (int i = 0; i < 8; i++) {
                GpuFixture.DeviceCopy c = gpu.upload(src[i], i == 0 ? offsetBytes : 0);
                owned.add(c);
                t[i] = c.tensor();
            }
            NsaDeviceInputs.Builder b = NsaDeviceInputs.builder().q(t[0]).cmp(t[1], t[2]).sel(t[3], t[4])
                    .win(t[5], t[6]).gates(t[7]);
            if (h.isVarlen()) {
                b.cuSeqlens(h.cuSeqlens().toIntArray());
            }
            in = b.build();
            int[] od = h.q().shape().dims();
            int[] ld = java.util.Arrays.copyOf(od, od.length - 1);
            int[] id = od.clone();
            id[id.length - 2] = cfg.kvGroups();
            id[id.length - 1] = cfg.nSel();
            out = NsaDeviceOutputs.of(alloc(gpu, oDt, od))
                    .withBranches(alloc(gpu, branchDt, od), alloc(gpu, branchDt, od), alloc(gpu, branchDt, od))
                    .withLse(alloc(gpu, DType.FP32, ld), alloc(gpu, DType.FP32, ld), alloc(gpu, DType.FP32, ld))
                    .withIndices(alloc(gpu, DType.INT32, id));
        }

        private DeviceTensor alloc(GpuFixture gpu, DType dt, int[] dims) {
            GpuFixture.DeviceCopy c = gpu.alloc(dt, 0, dims);
            owned.add(c);
            return c.tensor();
        }

        /** The outputs as the host API's result orders them. */
        double[][] read(CudaStream s) {
            DeviceTensor[] t = {out.o(), out.oCmp(), out.oSel(), out.oWin(), out.lseCmp(), out.lseSel(), out.lseWin()};
            double[][] r = new double[t.length][];
            for (int i = 0; i < t.length; i++) {
                r[i] = t[i].toHost(s).toDoubleArray();
            }
            return r;
        }

        @Override
        public void close() {
            owned.forEach(GpuFixture.DeviceCopy::close);
        }
    }

    private static NsaInputs inputs(int[] lens, long seed) {
        if (lens.length == 2 && lens[0] < 0) {   // dense B = -lens[0], S = lens[1]
            Random rnd = new Random(seed);
            NsaInputs one = PipelineModes.inputs(CFG, DType.BF16, new int[] {lens[1]}, rnd);
            int b = -lens[0];
            return NsaInputs.builder().q(stack(rnd, b, one.q())).cmp(stack(rnd, b, one.kCmp()), stack(rnd, b, one.vCmp()))
                    .sel(stack(rnd, b, one.kSel()), stack(rnd, b, one.vSel()))
                    .win(stack(rnd, b, one.kWin()), stack(rnd, b, one.vWin())).gates(stack(rnd, b, one.gates())).build();
        }
        return PipelineModes.inputs(CFG, DType.BF16, lens, new Random(seed));
    }

    /** A random [B, S, ...] tensor like {@code like} ([1, S, ...]). */
    private static HostTensor stack(Random rnd, int b, HostTensor like) {
        int[] d = like.shape().dims();
        d[0] = b;
        boolean gates = d[d.length - 1] == 3;
        return GpuFixture.random(rnd, like.dtype(), gates ? 0 : -1, 1, d);
    }

    @Test
    void deviceApiEqualsHostApiBitwise() {
        for (int[] lens : new int[][] {{-2, 333}, {0, 200, 1, 131}}) {
            NsaInputs h = inputs(lens, 3);
            try (NsaAttention nsa = PipelineModes.FA2.open(CFG, null); Buffers b = new Buffers(gpu, h, 0)) {
                NsaResult host = nsa.forward(h, DType.FP32).result();
                NsaDeviceResult r = nsa.forward(gpu.stream, b.in, b.out);
                double[][] got = b.read(gpu.stream);
                NsaResult.Output[] order = {NsaResult.Output.O, NsaResult.Output.O_CMP, NsaResult.Output.O_SEL,
                        NsaResult.Output.O_WIN, NsaResult.Output.LSE_CMP, NsaResult.Output.LSE_SEL, NsaResult.Output.LSE_WIN};
                for (int i = 0; i < order.length; i++) {
                    assertArrayEquals(host.fp64(order[i]), got[i], 0.0, order[i] + " " + r.routes());
                }
                assertArrayEquals(host.indexArray(), b.out.indices().toHost(gpu.stream).toIntArray());
                assertEquals(0, r.nonFiniteFastPathOutputs());
                System.out.println(r.plan());
            }
        }
    }

    @Test
    void graphReplayEqualsEagerBitwiseAndNothingIsAllocatedAfterWarmUp() {
        NsaInputs h = inputs(new int[] {-2, 300}, 7);
        try (NsaAttention nsa = PipelineModes.FA2.open(CFG, null); Buffers eager = new Buffers(gpu, h, 0);
             Buffers replay = new Buffers(gpu, h, 0); CudaStream s = CudaStream.create(gpu.context)) {
            nsa.forward(h, DType.FP32);                      // host API: plan + staging
            nsa.forward(s, eager.in, eager.out);             // device API, same plan
            s.synchronize();
            DeviceMemory.Stats warm = nsa.deviceMemory();
            for (int i = 0; i < 3; i++) {
                nsa.forward(h, DType.FP32);
                nsa.forward(s, eager.in, eager.out);
            }
            double[][] want = eager.read(s);
            try (CudaGraph g = CudaGraph.capture(s, () -> nsa.forward(s, replay.in, replay.out))) {
                for (int i = 0; i < 2; i++) {
                    g.launch(s);
                }
                double[][] got = replay.read(s);
                for (int i = 0; i < want.length; i++) {
                    assertArrayEquals(want[i], got[i], 0.0, "output " + i + ": replay vs eager");
                }
            }
            assertEquals(warm, nsa.deviceMemory(), "no device allocation after the first call of a shape");
        }
    }

    /**
     * sel-kernel and the tensor-core scorer on the device API (l' = 64, so both serve the shape): the host API's
     * bits, graph replay equal to eager, and an 8-byte aligned q served on the reference paths (sel-kernel falls back
     * to sdpa-masked naming the rule, counted; the scorer to the reference scorer, logged).
     */
    @Test
    void selKernelAndTheTcScorerOnTheDeviceApi() {
        NsaConfig cfg = CFG.toBuilder().selBlock(64).nSel(4).build();
        NsaInputs h = PipelineModes.inputs(cfg, DType.BF16, new int[] {0, 300, 1, 129}, new Random(13));
        List<String> lines = new ArrayList<>();
        try (NsaAttention nsa = NsaAttention.builder(cfg).flags(PipelineModes.SEL_KERNEL.flags()).device("0")
                .logSink((l, s) -> lines.add(l + " " + s)).build();
             Buffers eager = new Buffers(gpu, h, 0, cfg); Buffers replay = new Buffers(gpu, h, 0, cfg);
             CudaStream s = CudaStream.create(gpu.context)) {
            NsaResult host = nsa.forward(h, DType.FP32).result();
            NsaDeviceResult r = nsa.forward(s, eager.in, eager.out);
            boolean kernel = dev.nsa4j.kernels.internal.TcModule.unsupportedReason(gpu.context.device()) == null;
            if (kernel) {
                assertEquals(Path.SEL_KERNEL, r.route(Branch.SEL).path(), r.route(Branch.SEL).reason());
            }
            double[][] want = eager.read(s);
            assertArrayEquals(host.fp64(NsaResult.Output.O), want[0], 0.0, "device API vs host API " + r.routes());
            assertArrayEquals(host.fp64(NsaResult.Output.O_SEL), want[2], 0.0, "o_sel " + r.routes());
            assertArrayEquals(host.indexArray(), eager.out.indices().toHost(s).toIntArray(), "the scorer's blocks");
            try (CudaGraph g = CudaGraph.capture(s, () -> nsa.forward(s, replay.in, replay.out))) {
                g.launch(s);
                double[][] got = replay.read(s);
                for (int i = 0; i < want.length; i++) {
                    assertArrayEquals(want[i], got[i], 0.0, "output " + i + ": replay vs eager");
                }
            }
            try (Buffers b = new Buffers(gpu, h, 8, cfg)) {
                NsaDeviceResult m = nsa.forward(gpu.stream, b.in, b.out);
                double[] got = b.out.o().toHost(gpu.stream).toDoubleArray();
                assertTrue(Arrays.stream(got).allMatch(Double::isFinite), m.routes().toString());
                if (kernel) {
                    Route sel = m.route(Branch.SEL);
                    assertEquals(Path.SDPA_MASKED, sel.path(), sel.reason());
                    assertTrue(sel.reason().startsWith("sel-kernel blocked: alignment: q at 0x"), sel.reason());
                    assertEquals(1, nsa.counters().fallbacks(Branch.SEL, Path.SDPA_MASKED, sel.reason()));
                    assertTrue(lines.stream().anyMatch(l -> l.startsWith("WARN NSA-LOG sel.kernel.fallback branch=sel ")),
                            lines.toString());
                    assertTrue(lines.stream().anyMatch(l -> l.startsWith("WARN NSA-LOG select.fallback ")),
                            lines.toString());
                }
            }
        }
    }

    /**
     * {@code NSA_FAST_P=1} with a bf16 o: the plan stores the branch outputs in bf16 (as fla and mdy666 do), each
     * the same kernel's fp32 result rounded once (within bf16's unit roundoff 2^-8 of the host API's fp32 branch
     * outputs), and o within twice the roundings made: |o − o32| ≤ 2^-7 (|o32| + Σ |g_b o_b|). A caller's fp32 branch output is then refused, naming the tensor, before anything is enqueued; varlen
     * with empty and one-token sequences, sel-kernel and the scorer where the image runs.
     */
    @Test
    void fastPWithAHalfPrecisionOutputWritesHalfPrecisionBranchOutputs() {
        NsaConfig cfg = CFG.toBuilder().selBlock(64).nSel(4).build();
        NsaInputs h = PipelineModes.inputs(cfg, DType.BF16, new int[] {0, 300, 1, 1029}, new Random(17));
        try (NsaAttention nsa = PipelineModes.SEL_KERNEL.open(cfg, null, "NSA_FAST_P", "1");
             Buffers b = new Buffers(gpu, h, 0, cfg, DType.BF16, DType.BF16);
             Buffers fp32 = new Buffers(gpu, h, 0, cfg, DType.BF16, DType.FP32)) {
            NsaResult host = nsa.forward(h, DType.FP32).result();   // fp32 o: fp32 branch outputs
            assertEquals(DType.FP32, nsa.plan(NsaShape.varlen(h.cuSeqlens().toIntArray(), DType.BF16,
                    h.gates().dtype(), DType.FP32, false)).branchDtype(), "an fp32 o keeps fp32 branch outputs");
            NsaPlan plan = nsa.plan(b.in, b.out);
            assertEquals(DType.BF16, plan.branchDtype(), plan.toString());
            assertTrue(plan.toString().contains("branch outputs in bf16"), plan.toString());
            NsaDeviceResult r = nsa.forward(gpu.stream, b.in, b.out);
            double[][] got = b.read(gpu.stream);
            double[] gates = h.gates().toDoubleArray();
            NsaResult.Output[] branches = {NsaResult.Output.O_CMP, NsaResult.Output.O_SEL, NsaResult.Output.O_WIN};
            double[][] want = new double[3][];
            for (int j = 0; j < 3; j++) {
                want[j] = host.fp64(branches[j]);
                for (int i = 0; i < want[j].length; i++) {
                    double w = want[j][i], d = Math.abs(got[j + 1][i] - w);
                    assertTrue(d <= 0x1p-8 * Math.abs(w) + 1e-38, branches[j] + "[" + i + "] " + got[j + 1][i]
                            + " is not " + w + " rounded to bf16; " + r.routes());
                }
            }
            double[] o32 = host.fp64(NsaResult.Output.O);
            int dv = cfg.headDimV();
            for (int i = 0; i < o32.length; i++) {
                int row = i / dv;   // (token, head)
                double terms = Math.abs(o32[i]);
                for (int j = 0; j < 3; j++) {
                    terms += Math.abs(gates[row * 3 + j] * want[j][i]);
                }
                assertTrue(Math.abs(got[0][i] - o32[i]) <= 0x1p-7 * terms + 1e-30, "o[" + i + "] " + got[0][i]
                        + " against " + o32[i] + " (terms " + terms + "); " + r.routes());
            }
            NsaArgumentException e = assertThrows(NsaArgumentException.class,
                    () -> nsa.forward(gpu.stream, fp32.in, fp32.out));
            assertEquals("o_cmp", e.subject());
            assertTrue(e.rule().startsWith("dtype bf16 (NSA_FAST_P=1"), e.rule());
        }
    }

    @Test
    void rawPointersAndARawStreamOnAnAttachedContext() {
        NsaInputs h = inputs(new int[] {-1, 257}, 9);
        gpu.context.bind();
        CudaContext attached = CudaContext.attachCurrent();
        try (NsaAttention ref = PipelineModes.FA2.open(CFG, null); Buffers b = new Buffers(gpu, h, 0);
             NsaAttention nsa = NsaAttention.builder(CFG).flags(PipelineModes.FA2.flags()).context(attached).build()) {
            assertTrue(nsa.onGpu());
            assertEquals(attached.handle(), nsa.context().handle());
            double[] want = ref.forward(h, DType.FP32).result().fp64(NsaResult.Output.O);
            NsaDeviceInputs in = b.in;
            int[] qd = in.q().shape().dims();
            NsaDeviceInputs raw = NsaDeviceInputs.builder()
                    .q(NsaDeviceInputs.Builder.raw(in.q().address(), DType.BF16, qd))
                    .cmp(raw(in.kCmp()), raw(in.vCmp())).sel(raw(in.kSel()), raw(in.vSel()))
                    .win(raw(in.kWin()), raw(in.vWin())).gates(raw(in.gates())).build();
            DeviceTensor o = b.out.o();
            NsaDeviceResult r = nsa.forward(gpu.stream.handle(), raw, NsaDeviceOutputs.of(
                    NsaDeviceInputs.Builder.raw(o.address(), DType.FP32, o.shape().dims())));
            assertArrayEquals(want, o.toHost(gpu.stream).toDoubleArray(), 0.0, r.routes().toString());
        }
        attached.close();
    }

    private static DeviceTensor raw(DeviceTensor t) {
        return NsaDeviceInputs.Builder.raw(t.address(), t.dtype(), t.shape().dims());
    }

    @Test
    void misalignedForeignPointersAreRejectedOrServedAndBadShapesNamed() {
        NsaInputs h = inputs(new int[] {-1, 200}, 11);
        try (NsaAttention nsa = PipelineModes.FA2.open(CFG, null)) {
            double[] want = nsa.forward(h, DType.FP32).result().fp64(NsaResult.Output.O);
            // 8-byte aligned q (a foreign pointer): served, FA-2 branches fall back to sdpa-masked with the reason
            try (Buffers b = new Buffers(gpu, h, 8)) {
                NsaDeviceResult r = nsa.forward(gpu.stream, b.in, b.out);
                double[] got = b.out.o().toHost(gpu.stream).toDoubleArray();
                double mae = 0;
                for (int i = 0; i < want.length; i++) {
                    mae += Math.abs(want[i] - got[i]);
                }
                assertTrue(mae / want.length < 1e-5, "8-byte aligned q: MAE " + mae / want.length);
                for (Branch br : new Branch[] {Branch.CMP, Branch.WIN}) {
                    if (nsa.plan(b.in, b.out).route(br).path() == Path.FA2) {
                        assertEquals(Path.SDPA_MASKED, r.route(br).path(), r.route(br).reason());
                        assertTrue(r.route(br).reason().startsWith("fa2 blocked: "), r.route(br).reason());
                    }
                }
            }
            // 1 byte off: not even element-aligned, refused before any launch, naming q
            try (Buffers b = new Buffers(gpu, h, 1)) {
                NsaArgumentException e = assertThrows(NsaArgumentException.class, () -> nsa.forward(gpu.stream, b.in, b.out));
                assertEquals("q", e.subject());
                assertTrue(e.rule().contains("aligned"), e.rule());
            }
            try (Buffers b = new Buffers(gpu, h, 0)) {
                NsaDeviceInputs bad = new NsaDeviceInputs(b.in.q(), b.in.kCmp(), b.in.vCmp(), b.in.kSel(), b.in.kSel(),
                        b.in.kWin(), b.in.vWin(), b.in.gates(), null, null);
                // v_sel given a k tensor: same dims here (Dk = Dv), so pass a wrong-dtype gates instead
                NsaDeviceInputs wrongGates = new NsaDeviceInputs(b.in.q(), b.in.kCmp(), b.in.vCmp(), b.in.kSel(),
                        b.in.vSel(), b.in.kWin(), b.in.vWin(), b.in.kSel(), null, null);
                assertEquals("gates", assertThrows(NsaArgumentException.class,
                        () -> nsa.forward(gpu.stream, wrongGates, b.out)).subject());
                NsaDeviceInputs wrongK = new NsaDeviceInputs(b.in.q(), b.in.q(), b.in.vCmp(), b.in.kSel(), b.in.vSel(),
                        b.in.kWin(), b.in.vWin(), b.in.gates(), null, null);
                assertEquals("k_cmp", assertThrows(NsaArgumentException.class,
                        () -> nsa.forward(gpu.stream, wrongK, b.out)).subject());
                nsa.forward(gpu.stream, bad, b.out);   // a k tensor where v goes: legal (same shape), just other values
            }
        }
    }

    @Test
    void theCpuInstanceRefusesTheDeviceApiWithTheReason() {
        try (NsaAttention cpu = NsaAttention.builder(CFG).device("cpu").build()) {
            IllegalStateException e = assertThrows(IllegalStateException.class, cpu::context);
            assertTrue(e.getMessage().contains("CPU oracle"), e.getMessage());
        }
    }
}
