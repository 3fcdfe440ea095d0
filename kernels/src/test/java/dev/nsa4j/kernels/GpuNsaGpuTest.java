package dev.nsa4j.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.config.Phi;
import dev.nsa4j.kernels.nsa.GpuNsa;
import dev.nsa4j.oracle.CompressionMlp;
import dev.nsa4j.oracle.GateOverride;
import dev.nsa4j.oracle.NsaInputs;
import dev.nsa4j.oracle.NsaOracle;
import dev.nsa4j.oracle.NsaResult;
import dev.nsa4j.oracle.PhiWeights;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import dev.nsa4j.NsaArgumentException;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The whole NSA forward on the GPU reference paths against the CPU oracle, fp32 outputs: MAE < 1e-5 for o and
 * every branch (the bar of ARCHITECTURE.md between two paths; the oracle is fp64, so this bounds the GPU's
 * fp32 error), with the oracle's chosen blocks given to both so the branches see the same keys.
 */
@Tag("gpu")
class GpuNsaGpuTest extends GpuSuite {
    static Stream<Arguments> matrix() {
        List<Arguments> out = new ArrayList<>();
        for (DType dt : new DType[] {DType.FP32, DType.FP16, DType.BF16}) {
            for (int d : new int[] {16, 64, 128}) {
                for (int ratio : new int[] {1, 4, 16}) {
                    for (int[] lens : new int[][] {{1}, {63}, {64}, {65}, {1000}, {0, 63, 1, 0, 200, 65}}) {
                        out.add(Arguments.of(dt, d, ratio, lens));
                    }
                }
            }
        }
        return shard(out);
    }

    @ParameterizedTest(name = "{0} D={1} h={2} lens={3}")
    @MethodSource("matrix")
    void forwardMatchesTheOracle(DType dt, int d, int ratio, int[] lens) {
        int g = ratio == 16 ? 1 : 2;
        NsaConfig cfg = NsaConfig.builder().heads(g * ratio).kvGroups(g).headDim(d).blockLen(16).stride(8).selBlock(32)
                .nSel(4).window(48).build();
        NsaInputs in = inputs(cfg, dt, lens, new Random(d * 31L + ratio * 7L + lens.length));
        NsaResult cpu = new NsaOracle(cfg).forward(in, DType.FP32, GateOverride.NONE);
        NsaInputs withIdx = new NsaInputs(in.q(), in.kCmp(), in.vCmp(), in.kSel(), in.vSel(), in.kWin(), in.vWin(),
                in.gates(), in.cuSeqlens(), cpu.indices());
        for (GpuNsa.Walks walks : new GpuNsa.Walks[] {
            new GpuNsa.Walks(AttnWalk.ALL, AttnWalk.ALL, AttnWalk.ALL),
            new GpuNsa.Walks(AttnWalk.RANGES, AttnWalk.RANGES, AttnWalk.RANGES),
            new GpuNsa.Walks(AttnWalk.RANGES, AttnWalk.RANGES, AttnWalk.RANGES).withPackedSel()}) {
            try (GpuNsa nsa = new GpuNsa(cfg, gpu.context, null)) {
                NsaResult r = nsa.forward(withIdx, DType.FP32, GateOverride.NONE, walks);
                NsaOutputs.assertClose(cpu, r, 1e-5, walks.toString(), NsaResult.Output.values());
                assertArrayEquals(cpu.indexArray(), r.indexArray());
            }
        }
    }

    static Stream<Arguments> mlpMatrix() {
        List<Arguments> out = new ArrayList<>();
        for (DType dt : new DType[] {DType.FP32, DType.FP16, DType.BF16}) {
            for (int d : new int[] {16, 64, 128}) {
                for (int[] lens : new int[][] {{1}, {65}, {300}, {0, 63, 1, 0, 200, 65}}) {
                    out.add(Arguments.of(dt, d, d == 64 ? 2 * d : d, lens));
                }
            }
        }
        return shard(out);
    }

    /** Random phi = mlp weights for l = 16, D, hidden, scaled so that hidden units are O(1). */
    static CompressionMlp mlp(Random rnd, int l, int d, int hidden) {
        int in = l * d;
        return CompressionMlp.ofArrays(l, d, hidden, uniform(rnd, in, 0.5), uniform(rnd, hidden * in, 1.7 / Math.sqrt(in)),
                uniform(rnd, hidden, 0.5), uniform(rnd, d * hidden, 1.7 / Math.sqrt(hidden)), uniform(rnd, d, 0.5));
    }

    private static double[] uniform(Random rnd, int n, double a) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = a * (2 * rnd.nextDouble() - 1);
        }
        return v;
    }

    /** phi = mlp: the GPU (fp32 weights, fp32 sums) against the fp64 oracle, both walks, MAE < 1e-5. */
    @ParameterizedTest(name = "mlp {0} D={1} hidden={2} lens={3}")
    @MethodSource("mlpMatrix")
    void mlpForwardMatchesTheOracle(DType dt, int d, int hidden, int[] lens) {
        NsaConfig cfg = NsaConfig.builder().heads(8).kvGroups(2).headDim(d).blockLen(16).stride(8).selBlock(32)
                .nSel(4).window(48).phi(Phi.MLP).build();
        Random rnd = new Random(d * 13L + hidden + lens.length);
        PhiWeights phi = new PhiWeights(mlp(rnd, 16, d, hidden), mlp(rnd, 16, d, hidden));
        NsaInputs in = inputs(cfg, dt, lens, rnd);
        NsaResult cpu = new NsaOracle(cfg, phi, NsaOracle.defaultPool()).forward(in, DType.FP32, GateOverride.NONE);
        NsaInputs withIdx = new NsaInputs(in.q(), in.kCmp(), in.vCmp(), in.kSel(), in.vSel(), in.kWin(), in.vWin(),
                in.gates(), in.cuSeqlens(), cpu.indices());
        for (GpuNsa.Walks walks : new GpuNsa.Walks[] {
            new GpuNsa.Walks(AttnWalk.ALL, AttnWalk.ALL, AttnWalk.ALL),
            new GpuNsa.Walks(AttnWalk.RANGES, AttnWalk.RANGES, AttnWalk.RANGES)}) {
            try (GpuNsa nsa = new GpuNsa(cfg, phi, gpu.context, null)) {
                NsaResult r = nsa.forward(withIdx, DType.FP32, GateOverride.NONE, walks);
                NsaOutputs.assertClose(cpu, r, 1e-5, "mlp " + walks, NsaResult.Output.values());
                assertArrayEquals(cpu.indexArray(), r.indexArray());
            }
        }
        // with the selection kernel choosing the blocks from the mlp's K̃ (near-tied scores may choose
        // differently from the fp64 oracle, so only the selection-independent outputs are compared)
        try (GpuNsa nsa = new GpuNsa(cfg, phi, gpu.context)) {
            NsaResult r = nsa.forward(in, DType.FP32, GateOverride.NONE,
                    new GpuNsa.Walks(AttnWalk.RANGES, AttnWalk.RANGES, AttnWalk.RANGES));
            for (NsaResult.Output o : new NsaResult.Output[] {NsaResult.Output.O_CMP, NsaResult.Output.O_WIN}) {
                double[] want = cpu.fp64(o);
                double[] got = r.fp64(o);
                double mae = 0;
                for (int i = 0; i < want.length; i++) {
                    mae += Math.abs(want[i] - got[i]);
                }
                assertTrue(mae / Math.max(1, want.length) < 1e-5, "mlp with the selection kernel, " + o + ": MAE "
                        + mae / Math.max(1, want.length));
            }
            for (double v : r.fp64(NsaResult.Output.O)) {
                assertTrue(Double.isFinite(v), "mlp with the selection kernel: o not finite");
            }
        }
    }

    @Test
    void mlpWeightsAreCheckedBeforeAnythingLoads() {
        NsaConfig cfg = NsaConfig.builder().heads(4).kvGroups(2).headDim(64).blockLen(16).stride(8).selBlock(32)
                .nSel(4).window(48).phi(Phi.MLP).build();
        assertEquals("phi", assertThrows(NsaArgumentException.class, () -> new GpuNsa(cfg, null, gpu.context)).subject());
        Random rnd = new Random(1);
        PhiWeights wrongL = new PhiWeights(mlp(rnd, 8, 64, 64), mlp(rnd, 16, 64, 64));
        assertEquals("phi_k", assertThrows(NsaArgumentException.class, () -> new GpuNsa(cfg, wrongL, gpu.context)).subject());
    }

    @Test
    void repeatedRunsAreBitwiseIdentical() {
        NsaConfig cfg = NsaConfig.builder().heads(8).kvGroups(2).headDim(64).blockLen(16).stride(8).selBlock(32)
                .nSel(4).window(48).build();
        NsaInputs in = inputs(cfg, DType.BF16, new int[] {300}, new Random(5));
        NsaResult cpu = new NsaOracle(cfg).forward(in);
        NsaInputs withIdx = new NsaInputs(in.q(), in.kCmp(), in.vCmp(), in.kSel(), in.vSel(), in.kWin(), in.vWin(),
                in.gates(), null, cpu.indices());
        GpuNsa.Walks walks = new GpuNsa.Walks(AttnWalk.RANGES, AttnWalk.RANGES, AttnWalk.RANGES);
        try (GpuNsa nsa = new GpuNsa(cfg, gpu.context, null)) {
            double[] a = nsa.forward(withIdx, DType.FP32, GateOverride.NONE, walks).fp64(NsaResult.Output.O);
            double[] b = nsa.forward(withIdx, DType.FP32, GateOverride.NONE, walks).fp64(NsaResult.Output.O);
            assertArrayEquals(a, b, 0.0);
            // sdpa-packed selection gives the bits of the RANGES walk, in o_sel, lse_sel and o
            NsaResult ranges = nsa.forward(withIdx, DType.FP32, GateOverride.NONE, walks);
            NsaResult packed = nsa.forward(withIdx, DType.FP32, GateOverride.NONE, walks.withPackedSel());
            for (NsaResult.Output o : NsaResult.Output.values()) {
                assertArrayEquals(ranges.fp64(o), packed.fp64(o), 0.0, o.toString());
            }
        }
    }

    /**
     * Branch runners replace {@link Attention#run} for cmp and win: they get the reference call's tensors, specs
     * and the host copies of the cu arrays; a runner that calls the reference kernel gives the same bits.
     */
    @Test
    void branchRunnersReceiveTheReferenceCallAndReplaceIt() {
        NsaConfig cfg = NsaConfig.builder().heads(8).kvGroups(2).headDim(64).blockLen(16).stride(8).selBlock(32)
                .nSel(4).window(48).build();
        int[] lens = {0, 63, 1, 200};
        NsaInputs in = inputs(cfg, DType.BF16, lens, new Random(17));
        NsaResult cpu = new NsaOracle(cfg).forward(in);
        NsaInputs withIdx = new NsaInputs(in.q(), in.kCmp(), in.vCmp(), in.kSel(), in.vSel(), in.kWin(), in.vWin(),
                in.gates(), in.cuSeqlens(), cpu.indices());
        int[] cu = {0, 0, 63, 64, 264};
        GpuNsa.Walks walks = new GpuNsa.Walks(AttnWalk.RANGES, AttnWalk.RANGES, AttnWalk.RANGES).withPackedSel();
        try (GpuNsa nsa = new GpuNsa(cfg, gpu.context, null)) {
            List<String> seen = new ArrayList<>();
            GpuNsa.BranchAttention cmp = (stream, q, k, v, cuQ, cuQHost, cuK, cuKHost, spec, out, lse) -> {
                assertEquals(DType.FP32, q.dtype(), "the compressed branch runs on fp32 q");
                assertArrayEquals(cu, cuQHost);
                assertArrayEquals(CompressionPlan.of(cu, 16, 8).cuSeqlensCmp(), cuKHost);
                assertEquals(AttnMask.BLOCK_CAUSAL, spec.mask());
                assertEquals(AttnWalk.RANGES, spec.walk());
                seen.add("cmp");
                Attention.run(nsa.module(), stream, q, k, v, cuQ, cuK, null, spec, out, lse);
            };
            GpuNsa.BranchAttention win = (stream, q, k, v, cuQ, cuQHost, cuK, cuKHost, spec, out, lse) -> {
                assertEquals(DType.BF16, q.dtype(), "the window branch runs in the input dtype");
                assertArrayEquals(cu, cuQHost);
                assertArrayEquals(cu, cuKHost);
                assertEquals(AttnMask.WINDOW, spec.mask());
                assertEquals(48, spec.window());
                assertEquals((float) cfg.scale(), spec.scale());
                seen.add("win");
                Attention.run(nsa.module(), stream, q, k, v, cuQ, cuK, null, spec, out, lse);
            };
            NsaResult plain = nsa.forward(withIdx, DType.FP32, GateOverride.NONE, walks);
            NsaResult run = nsa.forward(withIdx, DType.FP32, GateOverride.NONE, walks.withRunners(cmp, win));
            assertEquals(List.of("cmp", "win"), seen);
            for (NsaResult.Output o : NsaResult.Output.values()) {
                assertArrayEquals(plain.fp64(o), run.fp64(o), 0.0, o.toString());
            }
            assertTrue(walks.withRunners(cmp, win).withPackedSel().selPacked());
            assertEquals(cmp, walks.withRunners(cmp, null).withPackedSel().cmpRunner());
        }
    }

    /** Dense [1,S,...] for one length, varlen [nnz,...] with cu_seqlens otherwise; values rounded to dt. */
    static NsaInputs inputs(NsaConfig c, DType dt, int[] lens, Random rnd) {
        boolean varlen = lens.length > 1;
        int nnz = 0;
        for (int l : lens) {
            nnz += l;
        }
        int[] cu = new int[lens.length + 1];
        for (int b = 0; b < lens.length; b++) {
            cu[b + 1] = cu[b] + lens[b];
        }
        HostTensor q = t(rnd, dt, varlen, nnz, c.heads(), c.headDimQk(), -1, 1);
        HostTensor[] kv = new HostTensor[6];
        for (int i = 0; i < 6; i++) {
            kv[i] = t(rnd, dt, varlen, nnz, c.kvGroups(), i % 2 == 0 ? c.headDimQk() : c.headDimV(), -1, 1);
        }
        HostTensor gates = t(rnd, DType.FP32, varlen, nnz, c.heads(), 3, 0, 1);
        NsaInputs.Builder b = NsaInputs.builder().q(q).cmp(kv[0], kv[1]).sel(kv[2], kv[3]).win(kv[4], kv[5])
                .gates(gates);
        if (varlen) {
            b.cuSeqlens(HostTensor.ofInts(cu, cu.length));
        }
        return b.build();
    }

    private static HostTensor t(Random rnd, DType dt, boolean varlen, int nnz, int heads, int dim, double lo, double hi) {
        return varlen ? GpuFixture.random(rnd, dt, lo, hi, nnz, heads, dim)
                : GpuFixture.random(rnd, dt, lo, hi, 1, nnz, heads, dim);
    }
}
