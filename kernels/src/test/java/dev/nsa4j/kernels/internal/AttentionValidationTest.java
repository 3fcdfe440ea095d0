package dev.nsa4j.kernels.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.Mask;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.Shape;

/** The attention entry point's checks and kernel choice run before any CUDA call: tested on fake addresses. */
class AttentionValidationTest {
    static final long BASE = 0x7f0000000000L;
    static final long STEP = 1L << 24;

    static DeviceTensor t(long addr, DType d, int... dims) {
        return DeviceTensor.wrap(addr, d, Shape.of(dims));
    }

    static NsaArgumentException fails(Runnable r) {
        return assertThrows(NsaArgumentException.class, r::run);
    }

    /** A valid call: nnz_q = nnz_k = 10, B = 2, H = 8, G = 2, Dk = 64, Dv = 32, blocks n = 4. */
    record Call(DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor cuQ, DeviceTensor cuK,
                DeviceTensor qStart, DeviceTensor kStart, DeviceTensor blocks, AttnSpec spec, DeviceTensor out,
                DeviceTensor lse) {
        static Call valid(DType in, DType out, AttnSpec spec) {
            return new Call(t(BASE, in, 10, 8, 64), t(BASE + STEP, in, 10, 2, 64), t(BASE + 2 * STEP, in, 10, 2, 32),
                    t(BASE + 3 * STEP, DType.INT32, 3), t(BASE + 4 * STEP, DType.INT32, 3), null, null,
                    t(BASE + 5 * STEP, DType.INT32, 10, 2, 4), spec, t(BASE + 6 * STEP, out, 10, 8, 32),
                    t(BASE + 7 * STEP, DType.FP32, 10, 8));
        }

        static Call valid() {
            return valid(DType.BF16, DType.FP32, AttnSpec.chosen(64));
        }

        Attention.Launch plan() {
            return Attention.plan(q, k, v, cuQ, cuK, qStart, kStart, blocks, spec, out, lse);
        }

        Call q(DeviceTensor x) { return new Call(x, k, v, cuQ, cuK, qStart, kStart, blocks, spec, out, lse); }
        Call k(DeviceTensor x) { return new Call(q, x, v, cuQ, cuK, qStart, kStart, blocks, spec, out, lse); }
        Call v(DeviceTensor x) { return new Call(q, k, x, cuQ, cuK, qStart, kStart, blocks, spec, out, lse); }
        Call cuQ(DeviceTensor x) { return new Call(q, k, v, x, cuK, qStart, kStart, blocks, spec, out, lse); }
        Call cuK(DeviceTensor x) { return new Call(q, k, v, cuQ, x, qStart, kStart, blocks, spec, out, lse); }
        Call qStart(DeviceTensor x) { return new Call(q, k, v, cuQ, cuK, x, kStart, blocks, spec, out, lse); }
        Call kStart(DeviceTensor x) { return new Call(q, k, v, cuQ, cuK, qStart, x, blocks, spec, out, lse); }
        Call blocks(DeviceTensor x) { return new Call(q, k, v, cuQ, cuK, qStart, kStart, x, spec, out, lse); }
        Call spec(AttnSpec x) { return new Call(q, k, v, cuQ, cuK, qStart, kStart, blocks, x, out, lse); }
        Call out(DeviceTensor x) { return new Call(q, k, v, cuQ, cuK, qStart, kStart, blocks, spec, x, lse); }
        Call lse(DeviceTensor x) { return new Call(q, k, v, cuQ, cuK, qStart, kStart, blocks, spec, out, x); }
    }

    static void failsWith(Call c, String subject, String ruleFragment) {
        NsaArgumentException e = fails(c::plan);
        assertEquals(subject, e.subject(), e.getMessage());
        assertTrue(e.rule().contains(ruleFragment), "rule '" + e.rule() + "' lacks '" + ruleFragment + "'");
    }

    @Test
    void validCallFillsTheParams() {
        Attention.Launch l = Call.valid().plan();
        assertEquals("nsa_attention_bf16_d2", l.key().symbol());
        assertEquals(80, l.rows());
        assertEquals(20, l.grid());
        AttnParams p = l.params();
        assertEquals(BASE, p.q());
        assertEquals(BASE + 5 * STEP, p.blocks());
        assertEquals(BASE + 7 * STEP, p.lse());
        assertEquals(0, p.qStart());
        assertEquals(8 * 64, p.qTokStride());
        assertEquals(64, p.qHeadStride());
        assertEquals(2 * 32, p.vTokStride());
        assertEquals(8, p.lseTokStride());
        assertEquals(8, p.blocksTokStride());
        assertEquals(4, p.blocksHeadStride());
        assertEquals(10, p.nnzQ());
        assertEquals(2, p.batch());
        assertEquals(8, p.heads());
        assertEquals(2, p.kvHeads());
        assertEquals(64, p.dk());
        assertEquals(32, p.dv());
        assertEquals(AttnMask.CHOSEN.code(), p.mask());
        assertEquals(AttnWalk.ALL.code(), p.walk());
        assertEquals(64, p.selBlock());
        assertEquals(4, p.nSel());
        assertEquals(1, p.outFp32());
        assertEquals(0.125f, p.scale());
        assertEquals(232, p.toBytes().length);
    }

    @Test
    void outputDtypeFlagAndExplicitScale() {
        Attention.Launch l = Call.valid(DType.FP16, DType.FP16, AttnSpec.causal().withScale(0.5f)).plan();
        assertEquals("nsa_attention_fp16_d2", l.key().symbol());
        assertEquals(0, l.params().outFp32());
        assertEquals(0.5f, l.params().scale());
        assertEquals(0, l.params().blocks(), "blocks are only passed for the chosen mask");
        assertEquals(0, Call.valid(DType.FP32, DType.FP32, AttnSpec.causal()).plan().params().outFp32());
    }

    @ParameterizedTest(name = "Dk={0} Dv={1} -> d{2}")
    @CsvSource({"1,1,1", "16,16,1", "32,32,1", "33,16,2", "16,33,2", "64,64,2", "65,64,4", "128,128,4", "192,128,8",
            "128,192,8", "256,256,8"})
    void kernelIsTheSmallestDimClassHoldingBothHeadDims(int dk, int dv, int dimClass) {
        assertEquals(dimClass, Attention.dimClass(dk, dv));
        Call c = Call.valid(DType.FP32, DType.FP32, AttnSpec.window(4));
        Call d = c.q(t(BASE, DType.FP32, 10, 8, dk)).k(t(BASE + STEP, DType.FP32, 10, 2, dk))
                .v(t(BASE + 2 * STEP, DType.FP32, 10, 2, dv)).out(t(BASE + 6 * STEP, DType.FP32, 10, 8, dv));
        assertEquals("nsa_attention_fp32_d" + dimClass, d.plan().key().symbol());
        assertTrue(KernelCatalog.all().contains(d.plan().key()));
    }

    @Test
    void headDimsAbove256AreRejected() {
        Call c = Call.valid(DType.FP32, DType.FP32, AttnSpec.causal());
        failsWith(c.q(t(BASE, DType.FP32, 10, 8, 257)).k(t(BASE + STEP, DType.FP32, 10, 2, 257)), "q", "Dk and Dv <= 256");
        failsWith(c.v(t(BASE + 2 * STEP, DType.FP32, 10, 2, 320)).out(t(BASE + 6 * STEP, DType.FP32, 10, 8, 320)), "v",
                "Dk and Dv <= 256");
        failsWith(c.q(t(BASE, DType.FP32, 10, 8, 0)).k(t(BASE + STEP, DType.FP32, 10, 2, 0)), "q", "Dk >= 1");
    }

    @Test
    void ranksAreChecked() {
        Call c = Call.valid();
        failsWith(c.q(t(BASE, DType.BF16, 10, 512)), "q", "[nnz_q, H, Dk]");
        failsWith(c.k(t(BASE, DType.BF16, 10, 2, 64, 1)), "k", "[nnz_k, G, Dk]");
        failsWith(c.v(t(BASE, DType.BF16, 10, 64)), "v", "[nnz_k, G, Dv]");
        failsWith(c.out(t(BASE, DType.FP32, 10, 256)), "out", "[nnz_q, H, Dv]");
        failsWith(c.lse(t(BASE, DType.FP32, 10, 8, 1)), "lse", "[nnz_q, H]");
        failsWith(c.q(null), "q", "tensor present");
        failsWith(c.spec(null), "spec", "spec present");
    }

    @Test
    void shapesMustAgree() {
        Call c = Call.valid();
        failsWith(c.k(t(BASE + STEP, DType.BF16, 10, 2, 32)), "k", "Dk of q");
        failsWith(c.v(t(BASE + 2 * STEP, DType.BF16, 9, 2, 32)), "v", "nnz_k of k");
        failsWith(c.v(t(BASE + 2 * STEP, DType.BF16, 10, 4, 32)), "v", "G of k");
        failsWith(c.out(t(BASE + 6 * STEP, DType.FP32, 11, 8, 32)), "out", "nnz_q of q");
        failsWith(c.out(t(BASE + 6 * STEP, DType.FP32, 10, 4, 32)), "out", "H of q");
        failsWith(c.out(t(BASE + 6 * STEP, DType.FP32, 10, 8, 64)), "out", "Dv of v");
        failsWith(c.lse(t(BASE + 7 * STEP, DType.FP32, 9, 8)), "lse", "nnz_q of q");
        failsWith(c.lse(t(BASE + 7 * STEP, DType.FP32, 10, 2)), "lse", "H of q");
    }

    @Test
    void queryHeadsMustBeAMultipleOfKvHeads() {
        Call c = Call.valid(DType.FP32, DType.FP32, AttnSpec.causal());
        Call bad = c.k(t(BASE + STEP, DType.FP32, 10, 3, 64)).v(t(BASE + 2 * STEP, DType.FP32, 10, 3, 32));
        failsWith(bad, "k", "H % G == 0");
        Call zero = c.k(t(BASE + STEP, DType.FP32, 10, 0, 64)).v(t(BASE + 2 * STEP, DType.FP32, 10, 0, 32));
        failsWith(zero, "k", "G >= 1");
        // G = H and G = 1 are fine
        assertEquals(80, c.k(t(BASE + STEP, DType.FP32, 10, 8, 64)).v(t(BASE + 2 * STEP, DType.FP32, 10, 8, 32)).plan().rows());
        assertEquals(80, c.k(t(BASE + STEP, DType.FP32, 10, 1, 64)).v(t(BASE + 2 * STEP, DType.FP32, 10, 1, 32)).plan().rows());
    }

    @Test
    void dtypesAreChecked() {
        Call c = Call.valid();
        failsWith(Call.valid(DType.INT32, DType.INT32, AttnSpec.causal()), "q", "fp32, fp16 or bf16");
        failsWith(c.k(t(BASE + STEP, DType.FP16, 10, 2, 64)), "k", "same dtype as q");
        failsWith(c.v(t(BASE + 2 * STEP, DType.FP32, 10, 2, 32)), "v", "same dtype as q");
        failsWith(c.out(t(BASE + 6 * STEP, DType.FP16, 10, 8, 32)), "out", "input dtype or fp32");
        failsWith(Call.valid(DType.FP32, DType.BF16, AttnSpec.causal()), "out", "input dtype or fp32");
        failsWith(c.lse(t(BASE + 7 * STEP, DType.BF16, 10, 8)), "lse", "fp32");
        failsWith(c.cuQ(t(BASE + 3 * STEP, DType.FP32, 3)), "cu_q", "int32");
        failsWith(c.cuK(t(BASE + 4 * STEP, DType.FP32, 3)), "cu_k", "int32");
        failsWith(c.blocks(t(BASE + 5 * STEP, DType.FP32, 10, 2, 4)), "blocks", "int32");
        failsWith(c.qStart(t(BASE + 8 * STEP, DType.FP32, 2)), "q_start", "int32");
    }

    @Test
    void cuSeqlensShapes() {
        Call c = Call.valid();
        failsWith(c.cuQ(t(BASE + 3 * STEP, DType.INT32, 3, 1)), "cu_q", "[B + 1]");
        failsWith(c.cuK(t(BASE + 4 * STEP, DType.INT32, 4)), "cu_k", "B of cu_q");
        failsWith(c.cuQ(t(BASE + 3 * STEP, DType.INT32, 0)).cuK(t(BASE + 4 * STEP, DType.INT32, 0)), "cu_q", "B + 1 >= 1");
        DeviceTensor strided = DeviceTensor.wrap(BASE + 3 * STEP, DType.INT32, Shape.strided(new int[]{3}, new long[]{2}));
        failsWith(c.cuQ(strided), "cu_q", "contiguous");
        failsWith(c.cuK(t(BASE + 4 * STEP + 2, DType.INT32, 3)), "cu_k", "aligned to its element size");
        failsWith(c.qStart(t(BASE + 8 * STEP, DType.INT32, 3)), "q_start", "B of cu_q");
        failsWith(c.kStart(t(BASE + 8 * STEP, DType.INT32, 2, 1)), "k_start", "[B]");
        Attention.Launch l = c.qStart(t(BASE + 8 * STEP, DType.INT32, 2)).kStart(t(BASE + 9 * STEP, DType.INT32, 2)).plan();
        assertEquals(BASE + 8 * STEP, l.params().qStart());
        assertEquals(BASE + 9 * STEP, l.params().kStart());
    }

    @Test
    void chosenMaskNeedsBlocks() {
        Call c = Call.valid();
        failsWith(c.blocks(null), "blocks", "blocks present for the chosen-block mask");
        failsWith(c.blocks(t(BASE + 5 * STEP, DType.INT32, 10, 2)), "blocks", "[nnz_q, G, n]");
        failsWith(c.blocks(t(BASE + 5 * STEP, DType.INT32, 9, 2, 4)), "blocks", "nnz_q of q");
        failsWith(c.blocks(t(BASE + 5 * STEP, DType.INT32, 10, 8, 4)), "blocks", "G of k");
        failsWith(c.blocks(t(BASE + 5 * STEP, DType.INT32, 10, 2, 0)), "blocks", "blocks per row n >= 1");
        DeviceTensor strided = DeviceTensor.wrap(BASE + 5 * STEP, DType.INT32,
                Shape.strided(new int[]{10, 2, 4}, new long[]{16, 8, 2}));
        failsWith(c.blocks(strided), "blocks", "last dimension contiguous");
        // other masks ignore blocks (null is fine)
        assertEquals(80, c.spec(AttnSpec.causal()).blocks(null).plan().rows());
    }

    @Test
    void maskScalarsArePositive() {
        Call c = Call.valid();
        failsWith(c.spec(AttnSpec.window(0)), "window", "window w >= 1");
        failsWith(c.spec(AttnSpec.window(-3)), "window", "window w >= 1");
        failsWith(c.spec(AttnSpec.blockCausal(0, 16)), "cmp_len", "compression block length l >= 1");
        failsWith(c.spec(AttnSpec.blockCausal(32, 0)), "cmp_stride", "compression stride d >= 1");
        failsWith(c.spec(AttnSpec.chosen(0)), "sel_block", "selection block length l' >= 1");
        failsWith(c.spec(AttnSpec.causal().withScale(Float.POSITIVE_INFINITY)), "scale", "scale finite");
        assertEquals(1, c.spec(AttnSpec.window(1)).plan().params().window());
        assertEquals(16, c.spec(AttnSpec.blockCausal(32, 16)).plan().params().cmpStride());
        // scalars of masks not in use are not checked
        assertEquals(0, c.spec(AttnSpec.causal()).plan().params().window());
    }

    @Test
    void lastAxisMustBeContiguousOtherAxesMayBeStrided() {
        Call c = Call.valid();
        DeviceTensor strided = DeviceTensor.wrap(BASE, DType.BF16, Shape.strided(new int[]{10, 8, 64}, new long[]{1024, 128, 1}));
        Attention.Launch l = c.q(strided).plan();
        assertEquals(1024, l.params().qTokStride());
        assertEquals(128, l.params().qHeadStride());
        DeviceTensor bad = DeviceTensor.wrap(BASE, DType.BF16, Shape.strided(new int[]{10, 8, 64}, new long[]{1024, 128, 2}));
        failsWith(c.q(bad), "q", "last dimension contiguous");
        failsWith(c.k(DeviceTensor.wrap(BASE + STEP, DType.BF16, Shape.strided(new int[]{10, 2, 64}, new long[]{256, 128, 2}))),
                "k", "last dimension contiguous");
        failsWith(c.v(DeviceTensor.wrap(BASE + STEP, DType.BF16, Shape.strided(new int[]{10, 2, 32}, new long[]{128, 64, 2}))),
                "v", "last dimension contiguous");
        failsWith(c.out(DeviceTensor.wrap(BASE + STEP, DType.FP32, Shape.strided(new int[]{10, 8, 32}, new long[]{512, 64, 2}))),
                "out", "last dimension contiguous");
        failsWith(c.lse(DeviceTensor.wrap(BASE + STEP, DType.FP32, Shape.strided(new int[]{10, 8}, new long[]{16, 2}))),
                "lse", "last dimension contiguous");
        assertEquals(16, c.lse(DeviceTensor.wrap(BASE + STEP, DType.FP32, Shape.strided(new int[]{10, 8}, new long[]{16, 1})))
                .plan().params().lseTokStride());
    }

    @Test
    void pointersMustBeAlignedToTheirElementAndNotNull() {
        Call c = Call.valid();
        failsWith(c.q(t(BASE + 1, DType.BF16, 10, 8, 64)), "q", "aligned to its element size");
        failsWith(c.k(t(BASE + STEP + 1, DType.BF16, 10, 2, 64)), "k", "aligned to its element size");
        failsWith(c.v(t(BASE + 2 * STEP + 1, DType.BF16, 10, 2, 32)), "v", "aligned to its element size");
        failsWith(c.out(t(BASE + 6 * STEP + 2, DType.FP32, 10, 8, 32)), "out", "aligned to its element size");
        failsWith(c.lse(t(BASE + 7 * STEP + 2, DType.FP32, 10, 8)), "lse", "aligned to its element size");
        failsWith(c.blocks(t(BASE + 5 * STEP + 2, DType.INT32, 10, 2, 4)), "blocks", "aligned to its element size");
        failsWith(c.q(t(0, DType.BF16, 10, 8, 64)), "q", "device pointer not null");
        failsWith(c.cuQ(t(0, DType.INT32, 3)), "cu_q", "device pointer not null");
        // 2-byte aligned bf16 is fine (element loads only)
        assertEquals(80, c.q(t(BASE + 2, DType.BF16, 10, 8, 64)).plan().rows());
        // no keys at all: k and v are never read
        Call noKeys = c.k(t(0, DType.BF16, 0, 2, 64)).v(t(0, DType.BF16, 0, 2, 32));
        assertEquals(80, noKeys.plan().rows());
    }

    @Test
    void emptyQueriesLaunchNothingAndNeedNoPointers() {
        Attention.Launch l = Attention.plan(t(0, DType.FP16, 0, 8, 64), t(0, DType.FP16, 0, 2, 64), t(0, DType.FP16, 0, 2, 64),
                t(0, DType.INT32, 1), t(0, DType.INT32, 1), t(0, DType.INT32, 0, 2, 4), AttnSpec.chosen(64),
                t(0, DType.FP16, 0, 8, 64), null);
        assertEquals(0, l.rows());
        assertEquals(0, l.grid());
        assertEquals("nsa_attention_fp16_d2", l.key().symbol());
    }

    @Test
    void rawParamsAreValidated() {
        AttnParams ok = Call.valid().plan().params();
        assertEquals("nsa_attention_bf16_d2", Attention.plan(ok, DType.BF16).key().symbol());
        assertEquals("q", fails(() -> Attention.plan(ok, DType.INT32)).subject());
        assertEquals("mask", fails(() -> Attention.plan(with(ok, "mask", 5), DType.BF16)).subject());
        assertEquals("walk", fails(() -> Attention.plan(with(ok, "walk", 2), DType.BF16)).subject());
        assertEquals("out", fails(() -> Attention.plan(with(ok, "out_fp32", 2), DType.BF16)).subject());
        assertEquals("nnz_q >= 0", fails(() -> Attention.plan(with(ok, "nnz_q", -1), DType.BF16)).rule());
        assertEquals("k", fails(() -> Attention.plan(with(ok, "heads", 7), DType.BF16)).subject());
        assertEquals("blocks", fails(() -> Attention.plan(with(ok, "n_sel", 0), DType.BF16)).subject());
        NsaArgumentException nb = fails(() -> Attention.plan(with(ok, "blocks", 0), DType.BF16));
        assertEquals("blocks", nb.subject());
        assertEquals("strides", fails(() -> Attention.plan(with(ok, "k_tok_stride", -1), DType.BF16)).subject());
        assertEquals("k", fails(() -> Attention.plan(with(ok, "k", 0), DType.BF16)).subject());
        // out_fp32 = 0 makes out bf16: a 2-byte aligned out is then fine
        AttnParams bf = with(with(ok, "out_fp32", 0), "o", BASE + 6 * STEP + 2);
        assertEquals(80, Attention.plan(bf, DType.BF16).rows());
        assertEquals("out", fails(() -> Attention.plan(with(ok, "o", BASE + 6 * STEP + 2), DType.BF16)).subject());
    }

    /** {@code p} with one field replaced (by its C name), through the layout's byte image. */
    static AttnParams with(AttnParams p, String field, long value) {
        long[] ptrs = {p.q(), p.k(), p.v(), p.o(), p.lse(), p.cuQ(), p.cuK(), p.qStart(), p.kStart(), p.blocks()};
        long[] i64 = {p.qTokStride(), p.qHeadStride(), p.kTokStride(), p.kHeadStride(), p.vTokStride(), p.vHeadStride(),
                p.oTokStride(), p.oHeadStride(), p.lseTokStride(), p.blocksTokStride(), p.blocksHeadStride()};
        int[] i32 = {p.nnzQ(), p.batch(), p.heads(), p.kvHeads(), p.dk(), p.dv(), p.mask(), p.walk(), p.window(),
                p.cmpLen(), p.cmpStride(), p.selBlock(), p.nSel(), p.outFp32()};
        int idx = 0;
        for (StructLayout.Field f : AttnParams.LAYOUT.fields()) {
            if (f.name().equals(field)) {
                if (idx < 10) {
                    ptrs[idx] = value;
                } else if (idx < 21) {
                    i64[idx - 10] = value;
                } else {
                    i32[idx - 21] = (int) value;
                }
            }
            idx++;
        }
        return new AttnParams(ptrs[0], ptrs[1], ptrs[2], ptrs[3], ptrs[4], ptrs[5], ptrs[6], ptrs[7], ptrs[8], ptrs[9],
                i64[0], i64[1], i64[2], i64[3], i64[4], i64[5], i64[6], i64[7], i64[8], i64[9], i64[10],
                i32[0], i32[1], i32[2], i32[3], i32[4], i32[5], i32[6], i32[7], i32[8], i32[9], i32[10], i32[11], i32[12],
                i32[13], p.scale());
    }

    @Test
    void maskAndWalkCodesMatchTheCEnums() {
        assertEquals(0, AttnMask.NONE.code());
        assertEquals(1, AttnMask.CAUSAL.code());
        assertEquals(2, AttnMask.WINDOW.code());
        assertEquals(3, AttnMask.BLOCK_CAUSAL.code());
        assertEquals(4, AttnMask.CHOSEN.code());
        assertEquals(0, AttnWalk.ALL.code());
        assertEquals(1, AttnWalk.RANGES.code());
        assertEquals(AttnWalk.RANGES.code(), Call.valid().spec(AttnSpec.window(8).withWalk(AttnWalk.RANGES)).plan().params().walk());
        // the one mask type carries the codes and the parameters the params struct takes
        for (AttnSpec s : new AttnSpec[] {AttnSpec.none(), AttnSpec.causal(), AttnSpec.window(7),
                AttnSpec.blockCausal(32, 16), AttnSpec.chosen(64)}) {
            assertEquals(AttnMask.ofMask(s.mask()).code(), s.mask().code());
        }
        assertEquals(4, Mask.chosen(64).code());
        AttnSpec b = AttnSpec.blockCausal(32, 16);
        assertEquals(32, b.cmpLen());
        assertEquals(16, b.cmpStride());
        assertEquals(0, b.window());
        assertEquals(7, AttnSpec.window(7).window());
        assertEquals(64, AttnSpec.chosen(64).selBlock());
        assertEquals(true, AttnSpec.chosen(64).chosenBlocks());
        assertEquals(7, Call.valid().spec(AttnSpec.window(7)).plan().params().window());
    }
}
