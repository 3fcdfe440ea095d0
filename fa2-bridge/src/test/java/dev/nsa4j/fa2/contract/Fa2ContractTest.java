package dev.nsa4j.fa2.contract;

import static dev.nsa4j.fa2.contract.Fixtures.DEFAULTS;
import static dev.nsa4j.fa2.contract.Fixtures.SM80;
import static dev.nsa4j.fa2.contract.Fixtures.SM90;
import static dev.nsa4j.fa2.contract.Fixtures.assertBroke;
import static dev.nsa4j.fa2.contract.Fixtures.assertOk;
import static dev.nsa4j.fa2.contract.Fixtures.assertOnly;
import static dev.nsa4j.fa2.contract.Fixtures.check;
import static dev.nsa4j.fa2.contract.Fixtures.dense;
import static dev.nsa4j.fa2.contract.Fixtures.kvPacked;
import static dev.nsa4j.fa2.contract.Fixtures.kvPackedVarlen;
import static dev.nsa4j.fa2.contract.Fixtures.varlen;
import static dev.nsa4j.fa2.contract.Fixtures.view;
import static dev.nsa4j.fa2.contract.Fixtures.with;
import static dev.nsa4j.fa2.contract.Fixtures.withDevice;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.kernels.Mask;
import dev.nsa4j.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Valid requests, and the device, dtype, head_dim and batch rules; verdicts with several violations. */
class Fa2ContractTest {
    private static Fa2Options opts(boolean fp32, boolean fp16, boolean dGt128, boolean largeBatch, boolean force) {
        return new Fa2Options(fp32, fp16, dGt128, largeBatch, force);
    }

    private static int[] ones(int b) {
        int[] cu = new int[b + 1];
        Arrays.setAll(cu, i -> i);
        return cu;
    }

    // --- valid requests -------------------------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"FP16", "BF16"})
    void validRequestOfEveryLayoutPasses(DType dt) {
        for (Fa2Device dev : List.of(SM80, SM90, Fa2Device.of(8, 6))) {
            assertOk(check(dense(dev, dt, 128, 128)));
            assertOk(check(varlen(dev, dt)));
            assertOk(check(kvPacked(dev, dt, 2, 32, 96, 8, 8, 64)));
            assertOk(check(kvPackedVarlen(dev, dt, new int[] {0, 1, 2}, new int[] {0, 40, 41}, 4, 1, 64)));
        }
    }

    @Test
    void passingVerdictIsTheSharedOkAndAllocatesNoList() {
        Fa2Verdict v = check(dense(SM90, DType.BF16, 64, 64));
        assertSame(Fa2Verdict.pass(), v);
        assertEquals(Optional.empty(), v.castTo());
        assertEquals("ok", v.toString());
        assertThrows(IllegalStateException.class, v::toException);
    }

    @Test
    void validWithLseAndEveryMaskAndExtent() {
        Fa2Request d = dense(SM90, DType.FP16, 128, 128).withLse(view("lse", DType.FP32, 2, 64, 8));
        assertOk(check(d));
        assertOk(check(varlen(SM80, DType.BF16).withLse(view("lse", DType.FP32, 17, 8))));
        assertOk(check(d.withMask(Mask.window(64))));
        assertOk(check(d.withMask(Mask.blockCausal(32, 16))));
        assertOk(check(d.withMask(Mask.NONE).withKeys(KeyExtent.INDEPENDENT)));
        assertOk(check(kvPacked(SM90, DType.BF16, 2, 1, 200, 8, 2, 128).withMask(Mask.NONE)
                .withKeys(KeyExtent.sliced(new int[] {199, 150}, new int[] {199, 150}))));
    }

    /** The one mask type also holds the selection branch's chosen blocks, which no FA-2 kernel has: fatal here. */
    @Test
    void theChosenBlockMaskIsNoFa2Mask() {
        Fa2Request d = dense(SM90, DType.BF16, 128, 128).withMask(Mask.chosen(64));
        Fa2Verdict v = check(d);
        assertOnly(v, Fa2Rule.SHAPE, "mask", "no chosen-block mask");
        assertTrue(v.fatal());
    }

    @Test
    void gqaAndDifferentQueryAndKeyOffsetsPass() {
        // decode-style kv-packed varlen: one query per sequence against a longer key history
        assertOk(check(kvPackedVarlen(SM90, DType.BF16, new int[] {0, 1, 2, 3}, new int[] {0, 100, 100, 356}, 32, 4,
                128)));
        assertOk(check(varlen(SM90, DType.FP16, new int[] {0, 3, 9}, new int[] {0, 0, 9}, 16, 16, 192, 128)));
    }

    // --- device ---------------------------------------------------------------------------------------------

    @ParameterizedTest
    @CsvSource({"8,0", "8,6", "9,0"})
    void supportedDevices(int major, int minor) {
        assertOk(check(withDevice(dense(SM80, DType.BF16, 64, 64), Fa2Device.of(major, minor))));
    }

    @ParameterizedTest
    @CsvSource({"7,5", "10,0", "8,7", "12,0", "9,1"})
    void unsupportedComputeCapabilityIsRejected(int major, int minor) {
        Fa2Verdict v = check(withDevice(dense(SM80, DType.BF16, 64, 64), Fa2Device.of(major, minor)));
        assertOnly(v, Fa2Rule.DEVICE, "device", "compute capability " + major + "." + minor,
                "not one of 8.0, 8.6, 8.9, 9.0");
        assertFalse(v.fatal());
    }

    @Test
    void sm89NeedsForce() {
        Fa2Request r = withDevice(dense(SM80, DType.FP16, 64, 64), Fa2Device.of(8, 9));
        assertOnly(check(r), Fa2Rule.DEVICE, "device",
                "profile keeps FA-2 off on SM 8.9; NSA_FA2_FORCE=1 to experiment");
        assertOk(Fa2Contract.check(r, opts(false, true, false, false, true)));
    }

    @Test
    void imageMustHoldSassThatRunsOnTheDevice() {
        Fa2Request r = dense(SM80, DType.FP16, 64, 64);
        assertOnly(check(withDevice(r, new Fa2Device(9, 0, Set.of(80)))), Fa2Rule.DEVICE, "device",
                "no SASS that runs on compute capability 9.0", "[sm_80]");
        assertOnly(check(withDevice(r, new Fa2Device(8, 6, Set.of(90)))), Fa2Rule.DEVICE, "device",
                "compute capability 8.6", "[sm_90a]");
        assertOnly(check(withDevice(r, new Fa2Device(8, 0, Set.of()))), Fa2Rule.DEVICE, "device", "(image: [])");
        assertOk(check(withDevice(r, new Fa2Device(8, 6, Set.of(86)))));
    }

    @Test
    void sassCompatibility() {
        assertTrue(Fa2Contract.sassRunsOn(80, 8, 0));
        assertTrue(Fa2Contract.sassRunsOn(80, 8, 6));
        assertTrue(Fa2Contract.sassRunsOn(80, 8, 9));
        assertFalse(Fa2Contract.sassRunsOn(86, 8, 0));
        assertFalse(Fa2Contract.sassRunsOn(80, 9, 0));
        assertTrue(Fa2Contract.sassRunsOn(90, 9, 0));
        assertFalse(Fa2Contract.sassRunsOn(90, 9, 1));
        assertFalse(Fa2Contract.sassRunsOn(90, 10, 0));
        assertEquals(Set.of(80, 90), Fa2Contract.IMAGE_ARCHS);
        assertEquals(Fa2Contract.IMAGE_ARCHS, SM90.sassArchs());
        assertEquals(86, Fa2Device.of(8, 6).cc());
        assertEquals("8.6", Fa2Device.of(8, 6).ccText());
    }

    // --- dtype ----------------------------------------------------------------------------------------------

    @Test
    void fp32NeedsAllowFp32AndThenCarriesTheCast() {
        Fa2Request r = dense(SM90, DType.FP32, 64, 64);
        assertOnly(check(r), Fa2Rule.DTYPE, "q", "q dtype FP32", "NSA_FA2_ALLOW_FP32=1", "FP16");
        Fa2Verdict fp16 = Fa2Contract.check(r, opts(true, true, false, false, false));
        assertOk(fp16);
        assertEquals(Optional.of(DType.FP16), fp16.castTo());
        assertEquals("ok (cast to FP16)", fp16.toString());
        Fa2Verdict bf16 = Fa2Contract.check(r, opts(true, false, false, false, false));
        assertOk(bf16);
        assertEquals(Optional.of(DType.BF16), bf16.castTo());
        // fp32 out of half inputs is fine; the cast is not offered when fp32 inputs are inconsistent
        assertOk(check(with(dense(SM90, DType.BF16, 64, 64), "out", view("out", DType.FP32, 2, 64, 8, 64))));
        Fa2Verdict mixed = Fa2Contract.check(with(r, "v", view("v", DType.FP16, 2, 64, 2, 64)),
                opts(true, true, false, false, false));
        assertOnly(mixed, Fa2Rule.DTYPE, "v", "v dtype FP16 differs from q dtype FP32");
        assertEquals(Optional.empty(), mixed.castTo());
    }

    @Test
    void dtypeViolationsNameEachTensor() {
        Fa2Request r = dense(SM90, DType.FP16, 64, 64);
        assertOnly(check(with(r, "k", view("k", DType.BF16, 2, 64, 2, 64))), Fa2Rule.DTYPE, "k",
                "k dtype BF16 differs from q dtype FP16");
        assertOnly(check(with(r, "out", view("out", DType.BF16, 2, 64, 8, 64))), Fa2Rule.DTYPE, "out",
                "out dtype BF16 is neither the input dtype FP16 nor FP32");
        assertOnly(check(r.withLse(view("lse", DType.FP16, 2, 64, 8))), Fa2Rule.DTYPE, "lse", "lse dtype FP16 is not FP32");
        Fa2Verdict ints = check(dense(SM90, DType.INT32, 64, 64));
        assertOnly(ints, Fa2Rule.DTYPE, "q", "q dtype INT32 is not fp16 or bf16");
        Fa2Request packed = kvPacked(SM90, DType.FP16, 1, 4, 4, 2, 2, 64);
        assertOnly(check(with(packed, "kv", view("kv", DType.BF16, 1, 4, 2, 2, 64))), Fa2Rule.DTYPE, "kv",
                "kv dtype BF16 differs from q dtype FP16");
    }

    // --- head_dim -------------------------------------------------------------------------------------------

    @Test
    void headDimMultipleOf8() {
        Fa2Request r = dense(SM90, DType.BF16, 2, 16, 16, 4, 4, 100, 100);
        Fa2Verdict v = check(r);
        assertBroke(v, Fa2Rule.HEAD_DIM, "k", "k head_dim 100 is not a multiple of 8");
        assertBroke(v, Fa2Rule.HEAD_DIM, "v", "v head_dim 100 is not a multiple of 8");
        assertFalse(v.fatal());
        // 60 half-precision elements are 120 bytes: the rows of v and out are misaligned as well
        Fa2Verdict v60 = check(dense(SM90, DType.BF16, 2, 16, 16, 4, 4, 64, 60));
        assertBroke(v60, Fa2Rule.HEAD_DIM, "v", "v head_dim 60 is not a multiple of 8");
        assertBroke(v60, Fa2Rule.ALIGNMENT, "out", "out stride of H is 60 elements = 120 bytes");
        assertFalse(v60.fatal());
    }

    @Test
    void headDimLimitOnSm8() {
        assertOk(check(dense(SM80, DType.FP16, 128, 128)));
        Fa2Request d136 = dense(SM80, DType.FP16, 2, 8, 8, 2, 2, 136, 136);
        Fa2Verdict v = check(d136);
        assertBroke(v, Fa2Rule.HEAD_DIM, "k", "k head_dim 136 > 128", "SM 8.x", "NSA_FA2_ALLOW_D_GT_128=1 allows up to 256");
        assertEquals(2, v.violations().size(), v.toString()); // k and v; the compiled check waits for both to fit
        // with the flag, 136 fits the limit but is not a compiled pair
        assertOnly(Fa2Contract.check(d136, opts(false, true, true, false, false)), Fa2Rule.HEAD_DIM, "k",
                "(Dk, Dv) = (136,136) is not compiled", "(32,32) (64,64) (96,96) (128,128) (192,128) (192,192) (256,256)");
        Fa2Request d256 = dense(SM80, DType.FP16, 2, 8, 8, 2, 2, 256, 256);
        assertBroke(check(d256), Fa2Rule.HEAD_DIM, "v", "v head_dim 256 > 128");
        assertOk(Fa2Contract.check(d256, opts(false, true, true, false, false)));
        assertBroke(Fa2Contract.check(dense(SM80, DType.FP16, 2, 8, 8, 2, 2, 264, 264), opts(false, true, true, false, false)),
                Fa2Rule.HEAD_DIM, "k", "k head_dim 264 > 256", "with NSA_FA2_ALLOW_D_GT_128");
        assertEquals(128, Fa2Contract.maxHeadDim(8, DEFAULTS));
        assertEquals(256, Fa2Contract.maxHeadDim(8, opts(false, true, true, false, false)));
    }

    @Test
    void headDimLimitOnSm9() {
        assertOk(check(dense(SM90, DType.BF16, 2, 8, 8, 2, 2, 256, 256)));
        assertOk(check(dense(SM90, DType.BF16, 2, 8, 8, 2, 2, 192, 128)));
        Fa2Verdict v = check(dense(SM90, DType.BF16, 2, 8, 8, 2, 2, 264, 264));
        assertBroke(v, Fa2Rule.HEAD_DIM, "k", "k head_dim 264 > 256, the limit on SM 9.x");
        assertBroke(v, Fa2Rule.HEAD_DIM, "v", "v head_dim 264 > 256");
        assertEquals(256, Fa2Contract.maxHeadDim(9, DEFAULTS));
    }

    @Test
    void headDimPairMustBeCompiled() {
        assertOnly(check(dense(SM90, DType.BF16, 2, 8, 8, 2, 2, 128, 192)), Fa2Rule.HEAD_DIM, "k",
                "(Dk, Dv) = (128,192) is not compiled");
        assertOnly(check(kvPacked(SM90, DType.BF16, 1, 8, 8, 2, 2, 160)), Fa2Rule.HEAD_DIM, "kv",
                "(Dk, Dv) = (160,160) is not compiled");
        Fa2Request custom = dense(SM90, DType.BF16, 2, 8, 8, 2, 2, 160, 160).withCompiledDims(Set.of(HeadDims.of(160)));
        assertOk(check(custom));
        assertOnly(check(dense(SM90, DType.BF16, 64, 64).withCompiledDims(Set.of(HeadDims.of(160), HeadDims.of(32)))),
                Fa2Rule.HEAD_DIM, "k", "compiled pairs: (32,32) (160,160)");
        assertEquals(7, Fa2Contract.COMPILED_DIMS.size());
        assertTrue(Fa2Contract.COMPILED_DIMS.contains(new HeadDims(192, 128)));
        assertThrows(UnsupportedOperationException.class, () -> Fa2Contract.COMPILED_DIMS.add(HeadDims.of(8)));
    }

    // --- batch ----------------------------------------------------------------------------------------------

    @Test
    void batchAbove1024NeedsTheFlag() {
        assertOk(check(varlen(SM90, DType.BF16, ones(1024), ones(1024), 2, 2, 64, 64)));
        Fa2Request big = varlen(SM90, DType.BF16, ones(1025), ones(1025), 2, 2, 64, 64);
        assertOnly(check(big), Fa2Rule.BATCH, "cu_seqlens_q", "effective batch 1025 > 1024",
                "NSA_FA2_ALLOW_LARGE_BATCH=1");
        assertOk(Fa2Contract.check(big, opts(false, true, false, true, false)));
        assertOk(check(dense(SM90, DType.FP16, 1024, 1, 1, 2, 2, 64, 64)));
        assertOnly(check(dense(SM90, DType.FP16, 1025, 1, 1, 2, 2, 64, 64)), Fa2Rule.BATCH, "q",
                "effective batch 1025 > 1024");
    }

    // --- verdicts -------------------------------------------------------------------------------------------

    @Test
    void everyBrokenRuleIsListed() {
        Fa2Request r = varlen(Fa2Device.of(8, 9), DType.FP32, new int[] {0, 3, 2, 9}, new int[] {0, 4, 8, 9}, 4, 4, 100, 100);
        r = with(r, "q", Fixtures.at(r.q(), (1L << 20) + 8)).withMask(Mask.NONE);
        Fa2Verdict v = check(r);
        assertBroke(v, Fa2Rule.DEVICE, "device", "8.9");
        assertBroke(v, Fa2Rule.DTYPE, "q", "FP32");
        assertBroke(v, Fa2Rule.HEAD_DIM, "k", "100");
        assertBroke(v, Fa2Rule.ALIGNMENT, "q", "only 8-byte aligned");
        assertBroke(v, Fa2Rule.CU_SEQLENS, "cu_seqlens_q", "decreases at index 2");
        assertBroke(v, Fa2Rule.CAUSALITY, "mask", "got NONE");
        assertTrue(v.fatal());
        assertTrue(v.toString().startsWith("fatal: device: "), v.toString());
        NsaArgumentException e = v.toException();
        assertEquals("cu_seqlens_q", e.subject());
        assertEquals("cu_seqlens", e.rule());
        assertTrue(e.getMessage().startsWith("cu_seqlens_q: rule 'cu_seqlens' broken: cu_seqlens_q decreases at index 2"),
                e.getMessage());
        assertTrue(e.getMessage().contains("all " + v.violations().size() + " violations: " + v.reason()), e.getMessage());
        for (Fa2Rule rule : List.of(Fa2Rule.DEVICE, Fa2Rule.DTYPE, Fa2Rule.HEAD_DIM, Fa2Rule.ALIGNMENT,
                Fa2Rule.CU_SEQLENS, Fa2Rule.CAUSALITY)) {
            assertTrue(v.reason().contains(rule.id() + ": "), rule + " missing from " + v.reason());
        }
    }

    @Test
    void nonFatalVerdictThrowsItsFirstViolation() {
        Fa2Verdict v = check(withDevice(dense(SM80, DType.FP32, 2, 8, 8, 2, 2, 136, 136), Fa2Device.of(7, 5)));
        assertFalse(v.ok());
        assertFalse(v.fatal());
        assertTrue(v.toString().startsWith("excluded: device: compute capability 7.5"), v.toString());
        NsaArgumentException e = v.toException();
        assertEquals("device", e.subject());
        assertEquals("device", e.rule());
        Fa2Verdict single = check(dense(SM90, DType.INT32, 64, 64));
        assertEquals("q: rule 'dtype' broken: q dtype INT32 is not fp16 or bf16", single.toException().getMessage());
    }

    @Test
    void rulesHaveIdsTextAndFatality() {
        assertEquals(List.of("device", "dtype", "head_dim", "contiguity", "alignment", "cu_seqlens", "causality", "batch",
                "shape"), Arrays.stream(Fa2Rule.values()).map(Fa2Rule::id).toList());
        for (Fa2Rule r : Fa2Rule.values()) {
            assertFalse(r.text().isBlank());
            assertEquals(r == Fa2Rule.SHAPE || r == Fa2Rule.CU_SEQLENS, r.fatal(), r.id());
        }
        assertEquals(new Fa2Options(false, true, false, false, false), Fa2Options.defaults());
        assertEquals(DType.FP16, Fa2Options.defaults().castDType());
        assertEquals("head_dim: k head_dim 100 is not a multiple of 8",
                new Fa2Violation(Fa2Rule.HEAD_DIM, "k", "k head_dim 100 is not a multiple of 8").toString());
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3})
    void tensorViewRejectsInconsistentDescriptions(int rank) {
        NsaArgumentException e = assertThrows(NsaArgumentException.class,
                () -> new TensorView("q", DType.FP16, new int[rank], new long[rank + 1], 0));
        assertEquals("q", e.subject());
        assertThrows(NsaArgumentException.class, () -> new TensorView("k", DType.FP16, new int[] {-1, 2}, new long[2], 0));
        TensorView t = TensorView.contiguous("q", DType.BF16, 0x100, 2, 3, 4);
        assertEquals(List.of(12L, 4L, 1L), Arrays.stream(t.strides()).boxed().toList());
        assertEquals(24, t.numel());
        assertEquals(t, TensorView.contiguous("q", DType.BF16, 0x100, 2, 3, 4));
        assertEquals("q BF16 [2, 3, 4] strides [12, 4, 1] @0x100", t.toString());
    }
}
