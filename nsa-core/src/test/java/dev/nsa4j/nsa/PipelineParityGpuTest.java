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
import dev.nsa4j.kernels.GpuSuite;
import dev.nsa4j.kernels.NsaOutputs;
import dev.nsa4j.kernels.internal.TcModule;
import dev.nsa4j.oracle.CompressionMlp;
import dev.nsa4j.oracle.PhiWeights;
import dev.nsa4j.tensor.DType;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The device pipeline against the CPU oracle, fp32 outputs, in every routing mode ({@link PipelineModes}): MAE
 * < 1e-5 for o and every branch output and lse (the bar of docs/routing.md between two paths). The parity mode (fp32
 * K̃, sdpa) is judged against the plain oracle; the modes that store K̃ in the input dtype (sdpa-masked,
 * sdpa-packed, FA-2 exact P for cmp and win, sel-kernel) against the oracle with K̃ rounded the same way. The
 * oracle's chosen blocks are given to both sides so every branch sees the same keys; the whole fast path with the
 * GPU's own selection (the tensor-core scorer) is judged against the oracle given the GPU's chosen blocks.
 */
@Tag("gpu")
class PipelineParityGpuTest extends GpuSuite {
    private static final Map<String, NsaAttention> OPEN = new HashMap<>();
    private static final int[] VARLEN = {0, 63, 1, 0, 200, 65};

    @AfterAll
    static void closeInstances() {
        OPEN.values().forEach(NsaAttention::close);
        OPEN.clear();
    }

    private static NsaAttention instance(NsaConfig cfg, PipelineModes mode) {
        return OPEN.computeIfAbsent(cfg + " " + mode, k -> mode.open(cfg, null));
    }

    static Stream<Arguments> matrix() {
        List<Arguments> out = new ArrayList<>();
        for (DType dt : new DType[] {DType.FP32, DType.FP16, DType.BF16}) {
            for (int d : new int[] {16, 64, 128}) {
                for (int ratio : new int[] {1, 4, 16}) {
                    for (int[] lens : new int[][] {{1}, {63}, {64}, {65}, {1000}, VARLEN}) {
                        out.add(Arguments.of(dt, d, ratio, lens));
                    }
                }
            }
        }
        return shard(out, a -> a.get()[3] == VARLEN);   // cover cases (NSA_TEST_COVER=1): the varlen batch
    }


    @ParameterizedTest(name = "{0} D={1} h={2} lens={3}")
    @MethodSource("matrix")
    void forwardMatchesTheOracleInEveryMode(DType dt, int d, int ratio, int[] lens) {
        int g = ratio == 16 ? 1 : 2;
        NsaConfig cfg = NsaConfig.builder().heads(g * ratio).kvGroups(g).headDim(d).blockLen(16).stride(8).selBlock(32)
                .nSel(4).window(48).build();
        NsaInputs in = PipelineModes.inputs(cfg, dt, lens, new Random(d * 31L + ratio * 7L + lens.length));
        for (PipelineModes mode : PipelineModes.values()) {
            NsaResult cpu = mode.oracle(cfg, null, dt).forward(in, DType.FP32, GateOverride.NONE);
            NsaInputs withIdx = PipelineModes.withIndices(in, cpu.indices());
            NsaOutput r = instance(cfg, mode).forward(withIdx, DType.FP32);
            NsaOutputs.assertClose(cpu, r.result(), 1e-5, mode + " " + r.routes(), NsaResult.Output.values());
            assertArrayEquals(cpu.indexArray(), r.result().indexArray());
        }
    }

    static Stream<Arguments> fastPMatrix() {
        List<Arguments> out = new ArrayList<>();
        for (DType dt : new DType[] {DType.FP16, DType.BF16}) {
            for (int d : new int[] {64, 128}) {
                for (int[] lens : new int[][] {{1000}, {0, 63, 1, 0, 1100, 65}}) {
                    out.add(Arguments.of(dt, d, 16, lens));
                }
            }
        }
        return shard(out);
    }

    /**
     * {@code NSA_FAST_P=1}: sel-kernel and FA-2 round P once (their fast mode, each judged by its own suite's rule);
     * the routes say so, and on the same inputs and chosen blocks every output stays within the rounding of P of the
     * exact-P forward (MAE < 1e-3; a half-precision P is off by 2^-9 relative at most), finite.
     */
    @ParameterizedTest(name = "fast P {0} D={1} h={2} lens={3}")
    @MethodSource("fastPMatrix")
    void fastPRoundsPOnceAndStaysWithinItsRoundingOfTheExactForward(DType dt, int d, int ratio, int[] lens) {
        NsaConfig cfg = NsaConfig.builder().heads(ratio).kvGroups(1).headDim(d).blockLen(32).stride(16)
                .selBlock(64).nSel(8).window(128).build();
        NsaInputs in = PipelineModes.inputs(cfg, dt, lens, new Random(d * 13L + lens.length));
        NsaOutput exact = instance(cfg, PipelineModes.SEL_KERNEL).forward(in, DType.FP32);
        try (NsaAttention nsa = PipelineModes.SEL_KERNEL.open(cfg, null, "NSA_FAST_P", "1")) {
            NsaOutput fast = nsa.forward(PipelineModes.withIndices(in, exact.result().indices()), DType.FP32);
            for (Branch br : Branch.values()) {
                Route r = fast.route(br);
                if (r.path() == Path.SEL_KERNEL || r.path() == Path.FA2) {
                    assertTrue(r.reason().contains("fast P (NSA_FAST_P=1)"), r.toString());
                }
            }
            if (TcModule.unsupportedReason(gpu.context.device()) == null) {
                assertEquals(Path.SEL_KERNEL, fast.route(Branch.SEL).path(), fast.route(Branch.SEL).reason());
            }
            NsaOutputs.assertClose(exact.result(), fast.result(), 1e-3, "NSA_FAST_P=1 " + fast.routes(),
                    NsaResult.Output.values());
        }
    }

    static Stream<Arguments> selKernelMatrix() {
        List<Arguments> out = new ArrayList<>();
        for (DType dt : new DType[] {DType.FP16, DType.BF16}) {
            for (int d : new int[] {64, 128}) {
                for (int ratio : new int[] {1, 4, 16}) {
                    for (int[] lens : new int[][] {{65}, {1000}, {0, 63, 1, 0, 1100, 65}}) {
                        out.add(Arguments.of(dt, d, ratio, lens));
                    }
                }
            }
        }
        return shard(out);
    }

    /**
     * The whole fast path (FA-2, sel-kernel exact P, the tensor-core scorer) with the GPU's own block selection,
     * against the oracle given the GPU's chosen blocks: MAE < 1e-5 on every output. l' = 64, so the kernel serves
     * the shape wherever the tensor-core image runs; the rows whose blocks differ from the oracle's own choice (near
     * ties of the scorer) are printed.
     */
    @ParameterizedTest(name = "sel-kernel {0} D={1} h={2} lens={3}")
    @MethodSource("selKernelMatrix")
    void selKernelAndTheTcScorerMatchTheOracleOnTheGpusBlocks(DType dt, int d, int ratio, int[] lens) {
        int g = ratio == 16 ? 1 : 2;
        NsaConfig cfg = NsaConfig.builder().heads(g * ratio).kvGroups(g).headDim(d).blockLen(32).stride(16)
                .selBlock(64).nSel(8).window(128).build();
        NsaInputs in = PipelineModes.inputs(cfg, dt, lens, new Random(d * 17L + ratio + lens.length));
        NsaAttention nsa = instance(cfg, PipelineModes.SEL_KERNEL);
        NsaOutput r = nsa.forward(in, DType.FP32);
        Route sel = r.route(Branch.SEL);
        if (TcModule.unsupportedReason(gpu.context.device()) == null) {
            assertEquals(Path.SEL_KERNEL, sel.path(), sel.reason());
            assertTrue(sel.reason().startsWith("requested by NSA_USE_SEL_KERNEL; n·l' = 512 >= 0; exact P"), sel.reason());
            String select = r.plan().steps().stream().filter(st -> st.step().equals("select")).findFirst()
                    .orElseThrow().op();
            assertTrue(select.startsWith("tc block scores + top-8 "), select);
            assertTrue(r.plan().steps().stream().anyMatch(st -> st.step().equals("sel")
                    && st.op().startsWith("sel-kernel exact-P ")), r.plan().toString());
            assertEquals(Map.of(), nsa.counters().fallbacks());
        }
        NsaResult cpu = PipelineModes.SEL_KERNEL.oracle(cfg, null, dt).forward(
                PipelineModes.withIndices(in, r.result().indices()), DType.FP32, GateOverride.NONE);
        NsaOutputs.assertClose(cpu, r.result(), 1e-5, "sel-kernel " + r.routes(), NsaResult.Output.values());
        int[] own = PipelineModes.SEL_KERNEL.oracle(cfg, null, dt).forward(in, DType.FP32, GateOverride.NONE)
                .indexArray();
        int[] got = r.result().indexArray();
        int differ = 0;
        for (int row = 0; row < own.length / cfg.nSel(); row++) {
            if (!java.util.Arrays.equals(own, row * cfg.nSel(), (row + 1) * cfg.nSel(), got, row * cfg.nSel(),
                    (row + 1) * cfg.nSel())) {
                differ++;
            }
        }
        System.out.println("sel-kernel " + dt + " D=" + d + " h=" + ratio + " lens=" + java.util.Arrays.toString(lens)
                + ": " + differ + " of " + own.length / cfg.nSel() + " rows chose other blocks than the oracle");
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

    /** Random phi = mlp weights for l, D, hidden, scaled so that hidden units are O(1). */
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

    /** phi = mlp (fp32 weights, fp32 sums, K̃ rounded once to the input dtype outside the parity mode). */
    @ParameterizedTest(name = "mlp {0} D={1} hidden={2} lens={3}")
    @MethodSource("mlpMatrix")
    void mlpForwardMatchesTheOracle(DType dt, int d, int hidden, int[] lens) {
        NsaConfig cfg = NsaConfig.builder().heads(8).kvGroups(2).headDim(d).blockLen(16).stride(8).selBlock(32)
                .nSel(4).window(48).phi(Phi.MLP).build();
        Random rnd = new Random(d * 13L + hidden + lens.length);
        PhiWeights phi = new PhiWeights(mlp(rnd, 16, d, hidden), mlp(rnd, 16, d, hidden));
        NsaInputs in = PipelineModes.inputs(cfg, dt, lens, rnd);
        for (PipelineModes mode : new PipelineModes[] {PipelineModes.PARITY, PipelineModes.MASKED}) {
            NsaResult cpu = mode.oracle(cfg, phi, dt).forward(in, DType.FP32, GateOverride.NONE);
            try (NsaAttention nsa = mode.open(cfg, phi)) {
                NsaOutput r = nsa.forward(PipelineModes.withIndices(in, cpu.indices()), DType.FP32);
                NsaOutputs.assertClose(cpu, r.result(), 1e-5, "mlp " + mode, NsaResult.Output.values());
                // with the GPU's own selection (near ties may choose differently: only selection-free outputs)
                NsaOutput own = nsa.forward(in, DType.FP32);
                NsaOutputs.assertClose(cpu, own.result(), 1e-5, "mlp " + mode + " own selection",
                        NsaResult.Output.O_CMP, NsaResult.Output.O_WIN, NsaResult.Output.LSE_CMP);
            }
        }
    }

    @Test
    void mlpWeightsAreCheckedBeforeAnythingLoads() {
        NsaConfig cfg = NsaConfig.builder().heads(4).kvGroups(2).headDim(64).blockLen(16).stride(8).selBlock(32)
                .nSel(4).window(48).phi(Phi.MLP).build();
        assertEquals("phi", assertThrows(NsaArgumentException.class,
                () -> NsaAttention.builder(cfg).device("0").build()).subject());
        Random rnd = new Random(1);
        PhiWeights wrongL = new PhiWeights(mlp(rnd, 8, 64, 64), mlp(rnd, 16, 64, 64));
        NsaArgumentException e = assertThrows(NsaArgumentException.class,
                () -> NsaAttention.builder(cfg).phi(wrongL).device("0").build());
        assertTrue(e.getMessage().contains("phi_k"), e.getMessage());
    }

    @Test
    void repeatedRunsAreBitwiseIdenticalAndPackedEqualsMasked() {
        NsaConfig cfg = NsaConfig.builder().heads(8).kvGroups(2).headDim(64).blockLen(16).stride(8).selBlock(32)
                .nSel(4).window(48).build();
        NsaInputs in = PipelineModes.inputs(cfg, DType.BF16, new int[] {300}, new Random(5));
        NsaInputs withIdx = PipelineModes.withIndices(in,
                PipelineModes.MASKED.oracle(cfg, null, DType.BF16).forward(in).indices());
        try (NsaAttention masked = PipelineModes.MASKED.open(cfg, null);
             NsaAttention packed = PipelineModes.PACKED.open(cfg, null)) {
            NsaResult a = masked.forward(withIdx, DType.FP32).result();
            NsaResult b = masked.forward(withIdx, DType.FP32).result();
            NsaResult p = packed.forward(withIdx, DType.FP32).result();
            for (NsaResult.Output o : NsaResult.Output.values()) {
                assertArrayEquals(a.fp64(o), b.fp64(o), 0.0, "repeat " + o);
                assertArrayEquals(a.fp64(o), p.fp64(o), 0.0, "sdpa-packed vs sdpa-masked " + o);
            }
        }
    }
}
