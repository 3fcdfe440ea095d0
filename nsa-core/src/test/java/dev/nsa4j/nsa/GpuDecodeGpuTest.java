package dev.nsa4j.nsa;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.attention.GateOverride;
import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.attention.NsaResult;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.config.Phi;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.GpuFixture;
import dev.nsa4j.kernels.GpuSuite;
import dev.nsa4j.oracle.DecodeCache;
import dev.nsa4j.oracle.DecodeReads;
import dev.nsa4j.oracle.NsaDecoder;
import dev.nsa4j.oracle.PhiWeights;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The GPU decoder ({@link NsaGpuDecoder}) against the NSA spec's decode invariant: a GPU prefill of S tokens then k
 * GPU steps give rows S..S+k−1 of the oracle's forward over S + k tokens (K̃ rounded to the cache dtype as the
 * GPU stores it), every output within MAE 1e-5 (fp32 outputs) and the same chosen blocks (the decode scorer is
 * the reference scorer's rules in fp32); for fp32 inputs also against the CPU decoder ({@link NsaDecoder}) step
 * by step. Edge cases: S < l, a length 0 before the first step, steps crossing compression, selection-block and
 * page boundaries, w > S, Dk != Dv, l = d = l' = 1, sequences of different lengths in one batch; phi = avg and mlp. A step captured
 * into a CUDA graph and replayed gives bitwise the outputs of the eager device-API step.
 */
@Tag("gpu")
class GpuDecodeGpuTest extends GpuSuite {
    /** (name, H, G, Dk, Dv, l, d, l', n, w, steps, prefill lengths). */
    static Stream<Arguments> cases() {
        return Stream.of(
                c("S < l, steps emit the first compressed tokens", 4, 2, 16, 16, 8, 4, 16, 4, 32, 14, 5),
                c("length 0 before the first step", 4, 2, 16, 16, 8, 4, 16, 4, 32, 20, 0),
                c("steps cross blocks and pages", 4, 2, 32, 32, 8, 4, 16, 4, 16, 40, 30),
                c("w > S", 4, 2, 16, 16, 8, 4, 16, 4, 64, 20, 10),
                c("Dk != Dv", 4, 2, 64, 32, 16, 8, 32, 5, 24, 30, 70),
                c("l = d = l' = 1", 4, 2, 16, 16, 1, 1, 1, 5, 8, 12, 20),
                c("varlen: 0, 1, 17, 40 tokens", 4, 2, 16, 16, 8, 4, 16, 4, 32, 25, 0, 1, 17, 40),
                c("paper blocks, h = 4, lengths across pages", 8, 2, 64, 64, 32, 16, 64, 16, 512, 70, 300, 0, 129),
                c("h = 16, Dk 128", 32, 2, 128, 128, 32, 16, 64, 8, 128, 20, 700),
                mlp(c("phi = mlp: S < l, varlen, steps emit across blocks", 4, 2, 16, 16, 8, 4, 16, 4, 32, 24, 5, 0,
                        30)),
                mlp(c("phi = mlp: Dk != Dv", 4, 2, 64, 32, 16, 8, 32, 5, 24, 20, 70)));
    }

    private static Arguments c(String name, int h, int g, int dk, int dv, int l, int d, int lp, int n, int w, int steps,
                               int... lens) {
        NsaConfig cfg = NsaConfig.builder().heads(h).kvGroups(g).headDims(dk, dv).blockLen(l).stride(d).selBlock(lp)
                .nSel(n).window(w).build();
        return Arguments.of(name, cfg, steps, lens);
    }

    /** The case with phi = mlp ({@link DecodeBatch#phi}'s weights). */
    static Arguments mlp(Arguments a) {
        Object[] v = a.get().clone();
        v[1] = ((NsaConfig) v[1]).toBuilder().phi(Phi.MLP).build();
        return Arguments.of(v);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void prefillPlusStepsEqualsTheLongerForward(String name, NsaConfig cfg, int steps, int[] lens) {
        for (DType dt : new DType[] {DType.FP32, DType.BF16}) {
            int bsz = lens.length;
            int[] full = DecodeBatch.grown(lens, steps);
            int cap = Arrays.stream(full).max().orElse(0);
            DecodeBatch all = DecodeBatch.random(cfg, dt, full, new Random(name.hashCode() + dt.ordinal()));
            PhiWeights phi = DecodeBatch.phi(cfg);
            NsaResult want = PipelineModes.MASKED.oracle(cfg, phi, dt).forward(all.inputs(), DType.FP32,
                    GateOverride.NONE);
            NsaDecoder cpu = new NsaDecoder(cfg, phi, ForkJoinPool.commonPool());
            DecodeCache cpuCache = dt == DType.FP32 ? cpu.prefill(all.prefix(lens).inputs()).cache() : null;
            try (NsaAttention nsa = PipelineModes.MASKED.open(cfg, phi);
                 NsaGpuDecoder dec = NsaGpuDecoder.open(nsa, bsz, cap, dt)) {
                dec.prefill(all.prefix(lens).inputs());
                for (int s = 0; s < steps; s++) {
                    NsaInputs step = all.step(lens, s);
                    NsaGpuDecoder.Step got = dec.step(step);
                    String at = name + " " + dt + " step " + s;
                    int[] rows = new int[bsz];
                    for (int b = 0; b < bsz; b++) {
                        rows[b] = all.cu()[b] + lens[b] + s;
                        assertEquals(lens[b] + s + 1, dec.length(b), at + ": length of sequence " + b);
                    }
                    compare(want, rows, cfg, got, at);
                    if (cpuCache != null) {
                        NsaDecoder.Step cs = cpu.step(cpuCache, step, DType.FP32, GateOverride.NONE);
                        NsaResult c = cs.result();
                        DecodeReads[] cpuReads = cs.reads();
                        DecodeBatch.assertClose(c.fp64(NsaResult.Output.O), DecodeBatch.floats(got.o()), 1e-5,
                                at + " vs NsaDecoder: o");
                        assertArrayEquals(c.indexArray(), got.indices().toIntArray(), at + " vs NsaDecoder: indices");
                        assertArrayEquals(cpuReads, got.reads(), at + " vs NsaDecoder: reads");
                    }
                }
            }
        }
    }

    @Test
    void aStepPastTheCapacityOrAnotherBatchIsRefusedBeforeTheCacheChanges() {
        NsaConfig cfg = NsaConfig.builder().heads(4).kvGroups(2).headDims(16, 16).blockLen(8).stride(4).selBlock(16)
                .nSel(4).window(32).build();
        DecodeBatch all = DecodeBatch.random(cfg, DType.FP32, new int[] {9}, new Random(7));
        try (NsaAttention nsa = PipelineModes.MASKED.open(cfg, null);
             NsaGpuDecoder dec = NsaGpuDecoder.open(nsa, 1, 8, DType.FP32)) {
            dec.prefill(all.prefix(new int[] {8}).inputs());
            NsaArgumentException e = assertThrows(NsaArgumentException.class, () -> dec.step(all.step(new int[] {8}, 0)));
            assertTrue(e.getMessage().contains("decode.capacity"), e.getMessage());
            assertEquals(8, dec.length(0));
        }
        try (NsaAttention nsa = PipelineModes.MASKED.open(cfg, null);
             NsaGpuDecoder two = NsaGpuDecoder.open(nsa, 2, 8, DType.FP32)) {
            NsaArgumentException e = assertThrows(NsaArgumentException.class,
                    () -> two.prefill(DecodeBatch.random(cfg, DType.FP32, new int[] {3}, new Random(1)).inputs()));
            assertTrue(e.getMessage().contains("B = 2"), e.getMessage());
        }
    }

    /** The reference step (MASKED: no tensor-core image) and the tensor-core step (SEL_KERNEL, Dk 64). */
    static Stream<Arguments> graphModes() {
        return Stream.of(Arguments.of(PipelineModes.MASKED, 32), Arguments.of(PipelineModes.SEL_KERNEL, 64));
    }

    @ParameterizedTest(name = "{0}, Dk {1}")
    @MethodSource("graphModes")
    void graphReplayEqualsEagerStepsBitwise(PipelineModes mode, int dk) {
        NsaConfig cfg = NsaConfig.builder().heads(4).kvGroups(2).headDims(dk, dk).blockLen(8).stride(4).selBlock(16)
                .nSel(4).window(32).build();
        int[] lens = {5, 30};
        int steps = 24;
        DecodeBatch all = DecodeBatch.random(cfg, DType.BF16, new int[] {lens[0] + steps, lens[1] + steps},
                new Random(11));
        List<DeviceTensor> dev = new ArrayList<>();
        try (NsaAttention nsa = mode.open(cfg, null);
             NsaGpuDecoder eager = NsaGpuDecoder.open(nsa, 2, 64, DType.BF16);
             NsaGpuDecoder graphed = NsaGpuDecoder.open(nsa, 2, 64, DType.BF16);
             CudaStream s = CudaStream.create(nsa.context())) {
            assertEquals(mode == PipelineModes.SEL_KERNEL, eager.route().startsWith("tensor-core"), eager.route());
            try {
                eager.prefill(all.prefix(lens).inputs());
                // the graphed decoder's caches from the device prefill (no forward): the same caches, bit for bit
                DecodeBatch pre = all.prefix(lens);
                DeviceTensor[] kv = new DeviceTensor[8];
                for (int i = 0; i < 8; i++) {
                    kv[i] = DeviceTensor.upload(s, pre.t()[i]);
                    dev.add(kv[i]);
                }
                graphed.prefill(s, NsaDeviceInputs.builder().q(kv[0]).cmp(kv[1], kv[2]).sel(kv[3], kv[4])
                        .win(kv[5], kv[6]).gates(kv[7]).cuSeqlens(pre.cu()).build(), null);
                int base = dev.size();
                HostTensor[] first = all.stepTensors(lens, 0);
                for (HostTensor h : first) {
                    dev.add(DeviceTensor.upload(s, h));
                }
                DeviceTensor oE = DeviceTensor.allocate(s, DType.BF16, 2, 1, cfg.heads(), cfg.headDimV());
                DeviceTensor oG = DeviceTensor.allocate(s, DType.BF16, 2, 1, cfg.heads(), cfg.headDimV());
                dev.add(oE);
                dev.add(oG);
                NsaDeviceInputs in = NsaDeviceInputs.builder().q(dev.get(base))
                        .cmp(dev.get(base + 1), dev.get(base + 2)).sel(dev.get(base + 3), dev.get(base + 4))
                        .win(dev.get(base + 5), dev.get(base + 6)).gates(dev.get(base + 7)).build();
                try (NsaGpuDecoder.StepGraph g = graphed.capture(s, in, oG)) {
                    for (int step = 0; step < steps; step++) {
                        HostTensor[] t = all.stepTensors(lens, step);
                        for (int i = 0; i < t.length; i++) {
                            dev.get(base + i).copyFrom(s, t[i]);
                        }
                        eager.step(s, in, oE);
                        g.replay(s);
                        HostTensor a = oE.toHost(s);
                        HostTensor b = oG.toHost(s);
                        assertEquals(-1, a.segment().mismatch(b.segment()),
                                "step " + step + ": graph o differs from eager");
                        assertEquals(eager.length(1), graphed.length(1));
                        assertTrue(Arrays.stream(a.toDoubleArray()).anyMatch(x -> x != 0),
                                "step " + step + ": o is all zero");
                    }
                }
                assertEquals(lens[1] + steps, graphed.length(1));
            } finally {
                for (DeviceTensor t : dev) {   // while the context is open
                    t.close();
                }
                s.synchronize();
            }
        }
    }

    private static void compare(NsaResult want, int[] rows, NsaConfig cfg, NsaGpuDecoder.Step got, String at) {
        int n = cfg.nSel();
        int g = cfg.kvGroups();
        DecodeBatch.assertOutputs(want, rows, cfg, got, at, 1e-5);
        int[] idx = want.indexArray();
        int[] gi = got.indices().toIntArray();
        for (int b = 0; b < rows.length; b++) {
            for (int e = 0; e < g * n; e++) {
                assertEquals(idx[rows[b] * g * n + e], gi[b * g * n + e], at + ": chosen blocks of sequence " + b);
            }
        }
    }
}
