package dev.nsa4j.oracle;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.attention.GateOverride;
import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.config.Phi;
import dev.nsa4j.testutil.Configs;
import dev.nsa4j.testutil.NsaCase;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.ForkJoinPool;
import java.util.function.UnaryOperator;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Contract tests: every malformed call fails with an {@link NsaArgumentException} naming the tensor and
 * the rule, raised by the up-front check before any computation (no oracle kernel frame on the stack).
 */
class InputContractTest {
    private static final NsaConfig CFG = Configs.of(4, 2, 8, 6, 4, 2, 4, 3, 3);
    private static final int B = 2;
    private static final int S = 10; // 3 selection blocks

    private static NsaCase dense() {
        return NsaCase.randomDense(CFG, DType.FP32, 42, B, S);
    }

    private static NsaCase varlen() {
        return NsaCase.randomVarlen(CFG, DType.FP32, 43, 7, 0, 13);
    }

    /** A builder holding every tensor of the case (so a test can replace one). */
    private static NsaInputs.Builder builder(NsaCase cs) {
        NsaInputs in = cs.inputs();
        return NsaInputs.builder().q(in.q()).cmp(in.kCmp(), in.vCmp()).sel(in.kSel(), in.vSel())
                .win(in.kWin(), in.vWin()).gates(in.gates()).cuSeqlens(in.cuSeqlens()).indices(in.indices());
    }

    /** Asserts the named failure, raised before any oracle computation started. */
    static NsaArgumentException expect(NsaOracle oracle, NsaInputs in, String subject, String rule) {
        NsaArgumentException e = assertThrows(NsaArgumentException.class, () -> oracle.forward(in),
                "expected " + subject + ": " + rule);
        assertEquals(subject, e.subject(), "subject of: " + e.getMessage());
        assertEquals(rule, e.rule(), "rule of: " + e.getMessage());
        for (StackTraceElement f : e.getStackTrace()) {
            String c = f.getClassName();
            assertFalse(c.endsWith(".OracleCore") || c.endsWith(".QueryKernel") || c.endsWith(".Kernels")
                    || c.endsWith(".Compressor") || c.endsWith(".BlockSelector"),
                    "thrown from inside the computation (" + f + "), not before it");
        }
        return e;
    }

    static NsaArgumentException expect(NsaInputs in, String subject, String rule) {
        return expect(new NsaOracle(CFG), in, subject, rule);
    }

    private static HostTensor zeros(DType dt, int... dims) {
        return HostTensor.zeros(dt, dims);
    }

    // ---- shapes ---------------------------------------------------------------------------------------------

    private static Arguments shape(String what, UnaryOperator<NsaInputs.Builder> edit, String subject, String rule) {
        return Arguments.of(Named.of(what, edit), subject, rule);
    }

    static Stream<Arguments> denseShapeErrors() {
        HostTensor kOk = zeros(DType.FP32, B, S, 2, 8);
        HostTensor vOk = zeros(DType.FP32, B, S, 2, 6);
        return Stream.of(
                shape("q with Dk+1", b -> b.q(zeros(DType.FP32, B, S, 4, 9)), "q", "shape [B,S,H,Dk]"),
                shape("q with H-1", b -> b.q(zeros(DType.FP32, B, S, 3, 8)), "q", "shape [B,S,H,Dk]"),
                shape("q 3-D without cu_seqlens", b -> b.q(zeros(DType.FP32, B * S, 4, 8)), "q", "shape [B,S,H,Dk]"),
                shape("k_cmp with Dv", b -> b.cmp(zeros(DType.FP32, B, S, 2, 6), vOk), "k_cmp", "shape [B,S,G,Dk]"),
                shape("v_cmp with Dk", b -> b.cmp(kOk, zeros(DType.FP32, B, S, 2, 8)), "v_cmp", "shape [B,S,G,Dv]"),
                shape("k_sel with S-1", b -> b.sel(zeros(DType.FP32, B, S - 1, 2, 8), vOk), "k_sel", "shape [B,S,G,Dk]"),
                shape("v_sel with G=4", b -> b.sel(kOk, zeros(DType.FP32, B, S, 4, 6)), "v_sel", "shape [B,S,G,Dv]"),
                shape("k_win with B+1", b -> b.win(zeros(DType.FP32, B + 1, S, 2, 8), vOk), "k_win", "shape [B,S,G,Dk]"),
                shape("v_win 3-D", b -> b.win(kOk, zeros(DType.FP32, B * S, 2, 6)), "v_win", "shape [B,S,G,Dv]"),
                shape("gates [.., 2]", b -> b.gates(zeros(DType.FP32, B, S, 4, 2)), "gates", "shape [B,S,H,3]"),
                shape("gates per group", b -> b.gates(zeros(DType.FP32, B, S, 2, 3)), "gates", "shape [B,S,H,3]"));
    }

    @ParameterizedTest(name = "dense {0} -> {1}: {2}")
    @MethodSource("denseShapeErrors")
    void denseShapeMismatchIsNamed(UnaryOperator<NsaInputs.Builder> edit, String subject, String rule) {
        expect(edit.apply(builder(dense())).build(), subject, rule);
    }

    static Stream<Arguments> varlenShapeErrors() {
        int nnz = 20;
        HostTensor kOk = zeros(DType.FP32, nnz, 2, 8);
        HostTensor vOk = zeros(DType.FP32, nnz, 2, 6);
        return Stream.of(
                shape("q 4-D", b -> b.q(zeros(DType.FP32, 1, nnz, 4, 8)), "q", "shape [nnz,H,Dk]"),
                shape("q with Dk-1", b -> b.q(zeros(DType.FP32, nnz, 4, 7)), "q", "shape [nnz,H,Dk]"),
                shape("k_cmp with nnz-1", b -> b.cmp(zeros(DType.FP32, nnz - 1, 2, 8), vOk), "k_cmp", "shape [nnz,G,Dk]"),
                shape("v_cmp with G=1", b -> b.cmp(kOk, zeros(DType.FP32, nnz, 1, 6)), "v_cmp", "shape [nnz,G,Dv]"),
                shape("k_sel with Dk+1", b -> b.sel(zeros(DType.FP32, nnz, 2, 9), vOk), "k_sel", "shape [nnz,G,Dk]"),
                shape("v_sel with Dv+1", b -> b.sel(kOk, zeros(DType.FP32, nnz, 2, 7)), "v_sel", "shape [nnz,G,Dv]"),
                shape("k_win 4-D", b -> b.win(zeros(DType.FP32, 1, nnz, 2, 8), vOk), "k_win", "shape [nnz,G,Dk]"),
                shape("v_win with nnz+1", b -> b.win(kOk, zeros(DType.FP32, nnz + 1, 2, 6)), "v_win", "shape [nnz,G,Dv]"),
                shape("gates [nnz,H,1]", b -> b.gates(zeros(DType.FP32, nnz, 4, 1)), "gates", "shape [nnz,H,3]"));
    }

    @ParameterizedTest(name = "varlen {0} -> {1}: {2}")
    @MethodSource("varlenShapeErrors")
    void varlenShapeMismatchIsNamed(UnaryOperator<NsaInputs.Builder> edit, String subject, String rule) {
        expect(edit.apply(builder(varlen())).build(), subject, rule);
    }

    // ---- dtypes ---------------------------------------------------------------------------------------------

    static Stream<Arguments> dtypeErrors() {
        HostTensor k16 = zeros(DType.FP16, B, S, 2, 8);
        HostTensor v16 = zeros(DType.FP16, B, S, 2, 6);
        HostTensor kOk = zeros(DType.FP32, B, S, 2, 8);
        HostTensor vOk = zeros(DType.FP32, B, S, 2, 6);
        return Stream.of(
                shape("q int32", b -> b.q(zeros(DType.INT32, B, S, 4, 8)), "q", "dtype fp32, fp16 or bf16"),
                shape("k_cmp fp16 vs q fp32", b -> b.cmp(k16, vOk), "k_cmp", "dtype matches q"),
                shape("v_cmp fp16 vs q fp32", b -> b.cmp(kOk, v16), "v_cmp", "dtype matches q"),
                shape("k_sel fp16 vs q fp32", b -> b.sel(k16, vOk), "k_sel", "dtype matches q"),
                shape("v_sel bf16 vs q fp32", b -> b.sel(kOk, zeros(DType.BF16, B, S, 2, 6)), "v_sel", "dtype matches q"),
                shape("k_win fp16 vs q fp32", b -> b.win(k16, vOk), "k_win", "dtype matches q"),
                shape("v_win int32", b -> b.win(kOk, zeros(DType.INT32, B, S, 2, 6)), "v_win", "dtype fp32, fp16 or bf16"),
                shape("gates int32", b -> b.gates(zeros(DType.INT32, B, S, 4, 3)), "gates", "dtype fp32, fp16 or bf16"),
                shape("gates fp16 vs q fp32", b -> b.gates(zeros(DType.FP16, B, S, 4, 3)), "gates",
                        "dtype matches q or is fp32"));
    }

    @ParameterizedTest(name = "{0} -> {1}: {2}")
    @MethodSource("dtypeErrors")
    void dtypeMismatchIsNamed(UnaryOperator<NsaInputs.Builder> edit, String subject, String rule) {
        expect(edit.apply(builder(dense())).build(), subject, rule);
    }

    @Test
    void bf16GatesWithFp16InputsAreRejected() {
        NsaCase cs = NsaCase.randomDense(CFG, DType.FP16, 1, B, S);
        expect(builder(cs).gates(zeros(DType.BF16, B, S, 4, 3)).build(), "gates", "dtype matches q or is fp32");
    }

    // ---- gates ----------------------------------------------------------------------------------------------

    @ParameterizedTest(name = "gate = {0}")
    @ValueSource(doubles = {-0.001, 1.001, -1, 2, Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY})
    void gateOutsideUnitIntervalIsRejected(double gate) {
        NsaCase cs = dense();
        cs.gates[cs.gates.length / 2 + 1] = gate;
        expect(cs.inputs(), "gates", "each gate in [0,1]");
    }

    @Test
    void gatesAtZeroAndOneAreAccepted() {
        NsaCase cs = dense();
        for (int i = 0; i < cs.gates.length; i++) {
            cs.gates[i] = i % 2;
        }
        assertDoesNotThrow(() -> new NsaOracle(CFG).forward(cs.inputs()));
    }

    // ---- cu_seqlens -----------------------------------------------------------------------------------------

    static Stream<Arguments> cuErrors() {
        return Stream.of(
                shape("fp32 cu_seqlens", b -> b.cuSeqlens(HostTensor.of(DType.FP32, new double[] {0, 7, 7, 20}, 4)),
                        "cu_seqlens", "dtype int32"),
                shape("2-D cu_seqlens", b -> b.cuSeqlens(HostTensor.ofInts(new int[] {0, 7, 7, 20}, 2, 2)),
                        "cu_seqlens", "shape [B+1]"),
                shape("empty cu_seqlens", b -> b.cuSeqlens(HostTensor.ofInts(new int[0], 0)),
                        "cu_seqlens", "shape [B+1]"),
                shape("cu[0] = 1", b -> b.cuSeqlens(HostTensor.ofInts(new int[] {1, 7, 7, 20}, 4)),
                        "cu_seqlens", "cu[0] == 0"),
                shape("decreasing", b -> b.cuSeqlens(HostTensor.ofInts(new int[] {0, 8, 7, 20}, 4)),
                        "cu_seqlens", "non-decreasing"),
                shape("cu[B] < nnz", b -> b.cuSeqlens(HostTensor.ofInts(new int[] {0, 7, 7, 19}, 4)),
                        "cu_seqlens", "cu[B] == nnz"),
                shape("cu[B] > nnz", b -> b.cuSeqlens(HostTensor.ofInts(new int[] {0, 7, 7, 21}, 4)),
                        "cu_seqlens", "cu[B] == nnz"));
    }

    @ParameterizedTest(name = "{0} -> {1}: {2}")
    @MethodSource("cuErrors")
    void cuSeqlensInvariantsAreNamed(UnaryOperator<NsaInputs.Builder> edit, String subject, String rule) {
        expect(edit.apply(builder(varlen())).build(), subject, rule);
    }

    /**
     * Property: a random valid cu_seqlens with exactly one invariant broken (cu[0] != 0, a decrease, or
     * cu[B] != nnz) is rejected with that invariant's rule.
     */
    @ParameterizedTest(name = "seed={0}")
    @MethodSource("seeds")
    void randomInvalidCuSeqlensAreRejected(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int batch = 2 + r.nextInt(5);
        int[] cu = new int[batch + 1];
        for (int b = 0; b < batch; b++) {
            cu[b + 1] = cu[b] + (r.nextInt(3) == 0 ? 0 : r.nextInt(1, 12));
        }
        int nnz = cu[batch];
        NsaCase cs = NsaCase.randomVarlen(CFG, DType.FP32, seed, IntStream.range(0, batch).map(b -> cu[b + 1] - cu[b])
                .toArray());
        String rule;
        switch (r.nextInt(3)) {
            case 0 -> {
                cu[0] = -r.nextInt(1, 5);
                rule = "cu[0] == 0";
            }
            case 1 -> {
                int i = r.nextInt(1, batch);
                cu[i] = cu[i - 1] - r.nextInt(1, 4);
                rule = "non-decreasing";
            }
            default -> {
                cu[batch] = nnz + r.nextInt(1, 4);
                rule = "cu[B] == nnz";
            }
        }
        NsaInputs in = builder(cs).cuSeqlens(HostTensor.ofInts(cu, cu.length)).build();
        expect(in, "cu_seqlens", rule);
    }

    static Stream<Long> seeds() {
        return IntStream.range(0, 24).mapToObj(i -> 1000L + i);
    }

    // ---- indices --------------------------------------------------------------------------------------------

    @ParameterizedTest(name = "index {0}")
    @ValueSource(ints = {-2, 3, 100, Integer.MIN_VALUE})
    void outOfRangeIndexIsRejected(int bad) {
        NsaCase cs = dense();
        cs.indices = new int[cs.nnz() * 2 * 3];
        cs.indices[cs.indices.length - 2] = bad; // S = 10, l' = 4: valid is [-1, 3)
        expect(cs.inputs(), "indices", "each index in [-1, ceil(S/l'))");
    }

    @Test
    void boundaryIndicesAreAccepted() {
        NsaCase cs = dense();
        cs.indices = new int[cs.nnz() * 2 * 3];
        for (int i = 0; i < cs.indices.length; i++) {
            cs.indices[i] = i % 2 == 0 ? -1 : 2;
        }
        assertDoesNotThrow(() -> new NsaOracle(CFG).forward(cs.inputs()), "-1 and ceil(S/l') - 1 are valid");
    }

    /** Varlen lengths 7, 0, 13: sequence 0 has 2 blocks, sequence 2 has 4; bounds are per sequence. */
    @Test
    void varlenIndexBoundsArePerSequence() {
        NsaCase cs = varlen();
        cs.indices = new int[cs.nnz() * 2 * 3];
        cs.indices[(7 + 12) * 6 + 5] = 3; // last token of sequence 2: block 3 exists there
        assertDoesNotThrow(() -> new NsaOracle(CFG).forward(cs.inputs()), "block 3 valid in a 13-token sequence");
        cs.indices[6 * 6] = 2; // last token of sequence 0: only blocks 0, 1 exist
        NsaArgumentException e = expect(cs.inputs(), "indices", "each index in [-1, ceil(S/l'))");
        assertTrue(e.getMessage().contains("sequence 0"), "message names the sequence: " + e.getMessage());
    }

    @Test
    void indicesOfWrongDtypeOrShapeAreRejected() {
        NsaCase cs = dense();
        expect(builder(cs).indices(zeros(DType.FP32, B, S, 2, 3)).build(), "indices", "dtype int32");
        expect(builder(cs).indices(zeros(DType.INT32, B, S, 2, 4)).build(), "indices", "shape [B,S,G,n]");
        expect(builder(cs).indices(zeros(DType.INT32, B, S, 4, 3)).build(), "indices", "shape [B,S,G,n]");
        NsaCase v = varlen();
        expect(builder(v).indices(zeros(DType.INT32, 20, 2, 2)).build(), "indices", "shape [nnz,G,n]");
        expect(builder(v).indices(zeros(DType.INT32, 1, 20, 2, 3)).build(), "indices", "shape [nnz,G,n]");
    }

    // ---- phi = mlp --------------------------------------------------------------------------------------------

    @Test
    void mlpWithoutWeightsIsRejected() {
        NsaConfig mlp = CFG.toBuilder().phi(Phi.MLP).build();
        expect(new NsaOracle(mlp, null, ForkJoinPool.commonPool()), dense().inputs(), "phi",
                "phi = mlp needs phi_k/phi_v weights");
    }

    @Test
    void mlpWeightsForAnotherBlockOrDimAreRejected() {
        NsaConfig mlp = CFG.toBuilder().phi(Phi.MLP).build();
        NsaInputs in = dense().inputs();
        PhiWeights wrongL = new PhiWeights(MlpPhiTest.averagingMlp(8, 8), MlpPhiTest.averagingMlp(4, 6));
        expect(new NsaOracle(mlp, wrongL, ForkJoinPool.commonPool()), in, "phi_k", "weights for [l, D] = [4, 8]");
        PhiWeights swapped = new PhiWeights(MlpPhiTest.averagingMlp(4, 8), MlpPhiTest.averagingMlp(4, 8));
        expect(new NsaOracle(mlp, swapped, ForkJoinPool.commonPool()), in, "phi_v", "weights for [l, D] = [4, 6]");
        PhiWeights ok = new PhiWeights(MlpPhiTest.averagingMlp(4, 8), MlpPhiTest.averagingMlp(4, 6));
        assertDoesNotThrow(() -> new NsaOracle(mlp, ok, ForkJoinPool.commonPool()).forward(in));
    }

    static Stream<Arguments> mlpTensorErrors() {
        HostTensor pos = zeros(DType.FP32, 4, 3);
        HostTensor w1 = zeros(DType.FP32, 5, 12);
        HostTensor b1 = zeros(DType.FP32, 5);
        HostTensor w2 = zeros(DType.FP32, 3, 5);
        HostTensor b2 = zeros(DType.FP32, 3);
        return Stream.of(
                Arguments.of("w1 1-D", new HostTensor[] {pos, zeros(DType.FP32, 60), b1, w2, b2}, "phi_k.w1"),
                Arguments.of("w1 [5, 11]", new HostTensor[] {pos, zeros(DType.FP32, 5, 11), b1, w2, b2}, "phi_k.w1"),
                Arguments.of("pos [3, 4]", new HostTensor[] {zeros(DType.FP32, 3, 4), w1, b1, w2, b2}, "phi_k.pos"),
                Arguments.of("b1 [4]", new HostTensor[] {pos, w1, zeros(DType.FP32, 4), w2, b2}, "phi_k.b1"),
                Arguments.of("w2 [5, 3]", new HostTensor[] {pos, w1, b1, zeros(DType.FP32, 5, 3), b2}, "phi_k.w2"),
                Arguments.of("b2 int32", new HostTensor[] {pos, w1, b1, w2, zeros(DType.INT32, 3)}, "phi_k.b2"),
                Arguments.of("b2 missing", new HostTensor[] {pos, w1, b1, w2, null}, "phi_k.b2"));
    }

    @ParameterizedTest(name = "{0} -> {2}")
    @MethodSource("mlpTensorErrors")
    void mlpWeightTensorsAreShapeChecked(String what, HostTensor[] t, String subject) {
        NsaArgumentException e = assertThrows(NsaArgumentException.class,
                () -> CompressionMlp.of("phi_k", 4, 3, t[0], t[1], t[2], t[3], t[4]));
        assertEquals(subject, e.subject(), e.getMessage());
    }

    // ---- output dtype -------------------------------------------------------------------------------------------

    @Test
    void int32OutputTypeIsRefused() {
        NsaInputs in = dense().inputs();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new NsaOracle(CFG).forward(in, DType.INT32, GateOverride.NONE));
        assertTrue(e.getMessage().contains("output dtype"), e.getMessage());
    }

    /** The first broken rule wins and nothing else is reported: a broken q is named even if k is broken too. */
    @Test
    void errorsNameTheTensorNotAnInternalIndex() {
        NsaInputs in = builder(dense()).q(zeros(DType.FP32, B, S, 4, 9)).sel(zeros(DType.FP32, 1, 1, 1, 1),
                zeros(DType.FP32, 1, 1, 1, 1)).build();
        NsaArgumentException e = expect(in, "q", "shape [B,S,H,Dk]");
        assertTrue(e.getMessage().contains(Arrays.toString(new int[] {B, S, 4, 8})),
                "message gives the expected shape: " + e.getMessage());
    }
}
