package dev.nsa4j.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.kernels.nsa.GpuNsa;
import dev.nsa4j.oracle.GateOverride;
import dev.nsa4j.oracle.NsaInputs;
import dev.nsa4j.oracle.NsaOracle;
import dev.nsa4j.oracle.NsaResult;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
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
class GpuNsaGpuTest {
    static GpuFixture gpu;

    @BeforeAll
    static void open() {
        gpu = GpuFixture.open();
    }

    @AfterAll
    static void close() {
        if (gpu != null) {
            gpu.close();
        }
    }

    static Stream<Arguments> matrix() {
        List<Arguments> out = new ArrayList<>();
        for (DType dt : new DType[] {DType.FP32, DType.FP16, DType.BF16}) {
            for (int d : new int[] {16, 64, 128}) {
                for (int ratio : new int[] {1, 4, 16}) {
                    for (int[] lens : new int[][] {{1}, {63}, {64}, {65}, {1000}, {0, 63, 1, 0, 200, 65}}) {
                        if (d == 128 && ratio == 16 && lens.length == 1 && lens[0] == 1000) {
                            continue; // the slowest corner adds nothing the others miss
                        }
                        out.add(Arguments.of(dt, d, ratio, lens));
                    }
                }
            }
        }
        return out.stream();
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
                for (NsaResult.Output o : NsaResult.Output.values()) {
                    double[] want = cpu.fp64(o);
                    double[] got = r.fp64(o);
                    double mae = 0;
                    for (int i = 0; i < want.length; i++) {
                        boolean bothInf = Double.isInfinite(want[i]) && want[i] == got[i];
                        assertTrue(bothInf || Double.isFinite(got[i]), o + "[" + i + "] = " + got[i]);
                        mae += bothInf ? 0 : Math.abs(want[i] - got[i]);
                    }
                    mae /= Math.max(1, want.length);
                    assertTrue(mae < 1e-5, o + " " + walks + ": MAE " + mae);
                }
                assertArrayEquals(cpu.indexArray(), r.indexArray());
            }
        }
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
