package dev.nsa4j.fa2.contract;

import static dev.nsa4j.fa2.contract.Fixtures.SM80;
import static dev.nsa4j.fa2.contract.Fixtures.SM90;
import static dev.nsa4j.fa2.contract.Fixtures.assertBroke;
import static dev.nsa4j.fa2.contract.Fixtures.assertOk;
import static dev.nsa4j.fa2.contract.Fixtures.assertOnly;
import static dev.nsa4j.fa2.contract.Fixtures.at;
import static dev.nsa4j.fa2.contract.Fixtures.check;
import static dev.nsa4j.fa2.contract.Fixtures.dense;
import static dev.nsa4j.fa2.contract.Fixtures.dims;
import static dev.nsa4j.fa2.contract.Fixtures.kvPacked;
import static dev.nsa4j.fa2.contract.Fixtures.kvPackedVarlen;
import static dev.nsa4j.fa2.contract.Fixtures.strides;
import static dev.nsa4j.fa2.contract.Fixtures.varlen;
import static dev.nsa4j.fa2.contract.Fixtures.view;
import static dev.nsa4j.fa2.contract.Fixtures.with;
import static dev.nsa4j.fa2.contract.Fixtures.withCu;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.kernels.Mask;
import dev.nsa4j.tensor.DType;
import org.junit.jupiter.api.Test;

/** The shape, cu_seqlens, contiguity, alignment and causality rules. */
class Fa2LayoutRulesTest {
    private static final DType BF = DType.BF16;

    // --- shape (fatal) --------------------------------------------------------------------------------------

    @Test
    void headsMustBeAMultipleOfKvHeads() {
        Fa2Verdict v = check(dense(SM90, BF, 2, 16, 16, 6, 4, 64, 64));
        assertOnly(v, Fa2Rule.SHAPE, "q", "q heads H = 6 is not a multiple of k heads Hkv = 4");
        NsaArgumentException e = v.toException();
        assertEquals("q", e.subject());
        assertEquals("shape", e.rule());
        assertOnly(check(dense(SM90, BF, 2, 16, 16, 6, 0, 64, 64)), Fa2Rule.SHAPE, "k", "Hkv = 0");
    }

    @Test
    void denseDimsMustAgree() {
        Fa2Request r = dense(SM90, BF, 2, 16, 32, 8, 2, 64, 64);
        assertOnly(check(with(r, "v", dims(r.v(), 2, 31, 2, 64))), Fa2Rule.SHAPE, "v", "v Sk (dim 1) is 31, expected 32 as in k");
        assertOnly(check(with(r, "k", dims(r.k(), 3, 32, 2, 64))), Fa2Rule.SHAPE, "k", "k B (dim 0) is 3, expected 2 as in q");
        Fa2Verdict dk = check(with(r, "k", dims(r.k(), 2, 32, 2, 128)));
        assertBroke(dk, Fa2Rule.SHAPE, "k", "k Dk (dim 3) is 128, expected 64 as in q");
        assertTrue(dk.fatal());
        assertEquals("k", dk.toException().subject());
        assertOnly(check(with(r, "v", dims(r.v(), 2, 32, 4, 64))), Fa2Rule.SHAPE, "v", "v Hkv (dim 2) is 4, expected 2 as in k");
        assertOnly(check(with(r, "out", dims(r.out(), 2, 15, 8, 64))), Fa2Rule.SHAPE, "out", "out Sq (dim 1) is 15, expected 16 as in q");
        assertOnly(check(with(r, "out", dims(r.out(), 2, 16, 4, 64))), Fa2Rule.SHAPE, "out", "out H (dim 2) is 4, expected 8 as in q");
        assertOnly(check(with(r, "out", dims(r.out(), 2, 16, 8, 32))), Fa2Rule.SHAPE, "out", "out Dv (dim 3) is 32, expected 64 as in v");
        assertOnly(check(r.withLse(view("lse", DType.FP32, 2, 16, 4))), Fa2Rule.SHAPE, "lse", "lse H (dim 2) is 4, expected 8 as in q");
        assertOnly(check(r.withLse(view("lse", DType.FP32, 32, 8))), Fa2Rule.SHAPE, "lse", "lse has rank 2 [32, 8], expected rank 3 [B, Sq, H]");
    }

    @Test
    void varlenAndPackedDimsMustAgree() {
        Fa2Request r = varlen(SM90, BF);
        assertOnly(check(with(r, "v", dims(r.v(), 16, 2, 128))), Fa2Rule.SHAPE, "v", "v nnz_k (dim 0) is 16, expected 17 as in k");
        assertOnly(check(with(r, "out", dims(r.out(), 17, 8, 64))), Fa2Rule.SHAPE, "out", "out Dv (dim 2) is 64, expected 128 as in v");
        Fa2Request p = kvPacked(SM90, BF, 2, 8, 8, 4, 2, 64);
        assertOnly(check(with(p, "kv", dims(p.kv(), 2, 8, 3, 2, 64))), Fa2Rule.SHAPE, "kv", "kv pair dim (axis 2) is 3, expected 2");
        Fa2Verdict d = check(with(p, "kv", dims(p.kv(), 2, 8, 2, 2, 128)));
        assertBroke(d, Fa2Rule.SHAPE, "kv", "kv D (dim 4) is 128, expected 64 as in q");
        assertBroke(d, Fa2Rule.SHAPE, "out", "out Dv (dim 3) is 64, expected 128 as in kv");
        assertEquals(2, d.violations().size(), d.toString());
        Fa2Request pv = kvPackedVarlen(SM90, BF, new int[] {0, 2}, new int[] {0, 9}, 4, 2, 64);
        assertOnly(check(with(pv, "kv", dims(pv.kv(), 9, 2, 2, 64, 1))), Fa2Rule.SHAPE, "kv",
                "kv has rank 5 [9, 2, 2, 64, 1], expected rank 4 [nnz_k, pair, Hkv, D]");
    }

    @Test
    void ranksAndPresence() {
        Fa2Request r = dense(SM90, BF, 64, 64);
        assertOnly(check(with(r, "q", dims(r.q(), 128, 8, 64))), Fa2Rule.SHAPE, "q",
                "q has rank 3 [128, 8, 64], expected rank 4 [B, Sq, H, Dk]");
        assertOnly(check(with(r, "v", null)), Fa2Rule.SHAPE, "v", "v is missing (layout DENSE needs it)");
        assertBroke(check(with(r, "kv", view("kv", BF, 2, 64, 2, 2, 64))), Fa2Rule.SHAPE, "kv",
                "kv is only read with layout KV_PACKED");
        Fa2Request p = kvPacked(SM90, BF, 2, 8, 8, 4, 2, 64);
        assertOnly(check(with(p, "kv", null)), Fa2Rule.SHAPE, "kv", "kv is missing (layout KV_PACKED needs it)");
        assertOnly(check(with(p, "k", view("k", BF, 2, 8, 2, 64))), Fa2Rule.SHAPE, "k", "not read with layout KV_PACKED");
        assertOnly(check(withCu(r, new int[] {0, 64, 128}, null)), Fa2Rule.SHAPE, "cu_seqlens_q",
                "cu_seqlens are not read with layout DENSE");
        assertOnly(check(with(r, "k", at(r.k(), 0))), Fa2Rule.SHAPE, "k", "k has 16384 elements at a null device pointer");
        assertOk(check(dense(SM90, BF, 0, 0, 0, 8, 2, 64, 64))); // empty batch: nothing to read
    }

    @Test
    void maskParametersMustBePositive() {
        Fa2Request r = dense(SM90, BF, 64, 64);
        assertOnly(check(r.withMask(Mask.window(0))), Fa2Rule.SHAPE, "mask", "window length w = 0, must be >= 1");
        Fa2Verdict v = check(r.withMask(Mask.blockCausal(0, -2)));
        assertBroke(v, Fa2Rule.SHAPE, "mask", "compression block length l = 0");
        assertBroke(v, Fa2Rule.SHAPE, "mask", "compression stride d = -2");
        assertEquals(2, v.violations().size());
        assertOk(check(r.withMask(Mask.window(1))));
        assertOk(check(r.withMask(Mask.blockCausal(1, 1))));
    }

    // --- cu_seqlens (fatal) ---------------------------------------------------------------------------------

    @Test
    void cuSeqlensInvariantsNameArrayAndIndex() {
        Fa2Request r = varlen(SM90, BF); // cu_q = cu_k = {0, 5, 5, 17}
        assertOnly(check(withCu(r, new int[] {1, 5, 5, 17}, r.cuSeqlensK())), Fa2Rule.CU_SEQLENS, "cu_seqlens_q",
                "cu_seqlens_q[0] is 1, must be 0");
        assertOnly(check(withCu(r, r.cuSeqlensQ(), new int[] {0, 6, 5, 17})), Fa2Rule.CU_SEQLENS, "cu_seqlens_k",
                "cu_seqlens_k decreases at index 2: cu_seqlens_k[1] = 6 > cu_seqlens_k[2] = 5");
        assertOnly(check(withCu(r, r.cuSeqlensQ(), new int[] {0, 5, 5, 16})), Fa2Rule.CU_SEQLENS, "cu_seqlens_k",
                "cu_seqlens_k[B = 3] is 16, expected nnz_k = 17 (dim 0 of k)");
        assertBroke(check(withCu(r, new int[] {0, -5, 5, 17}, r.cuSeqlensK())), Fa2Rule.CU_SEQLENS, "cu_seqlens_q",
                "cu_seqlens_q[1] is -5, offsets are never negative");
        assertOnly(check(withCu(r, r.cuSeqlensQ(), new int[] {0, 5, 17})), Fa2Rule.CU_SEQLENS, "cu_seqlens_k",
                "cu_seqlens_k has length 3, expected B+1 = 4 (B = 3 from cu_seqlens_q)");
        assertOnly(check(withCu(r, new int[0], r.cuSeqlensK())), Fa2Rule.CU_SEQLENS, "cu_seqlens_q",
                "cu_seqlens_q is empty");
        assertOnly(check(withCu(r, r.cuSeqlensQ(), null)), Fa2Rule.CU_SEQLENS, "cu_seqlens_k", "cu_seqlens_k is missing");
        Fa2Verdict v = check(withCu(r, r.cuSeqlensQ(), new int[] {0, 6, 5, 17}));
        NsaArgumentException e = v.toException();
        assertEquals("cu_seqlens_k", e.subject());
        assertEquals("cu_seqlens", e.rule());
    }

    @Test
    void packedVarlenChecksBothArraysAgainstTheirTensors() {
        Fa2Request p = kvPackedVarlen(SM90, BF, new int[] {0, 1, 2}, new int[] {0, 30, 64}, 8, 2, 128);
        assertOk(check(p));
        assertOnly(check(withCu(p, new int[] {0, 1, 3}, p.cuSeqlensK())), Fa2Rule.CU_SEQLENS, "cu_seqlens_q",
                "cu_seqlens_q[B = 2] is 3, expected nnz_q = 2 (dim 0 of q)");
        assertOnly(check(withCu(p, p.cuSeqlensQ(), new int[] {0, 30, 63})), Fa2Rule.CU_SEQLENS, "cu_seqlens_k",
                "expected nnz_k = 64 (dim 0 of kv)");
        assertOnly(check(withCu(p, p.cuSeqlensQ(), null)), Fa2Rule.CU_SEQLENS, "cu_seqlens_k", "missing");
    }

    // --- contiguity -----------------------------------------------------------------------------------------

    @Test
    void lastDimAndHeadStride() {
        Fa2Request r = dense(SM90, BF, 2, 16, 16, 8, 2, 64, 64);
        assertBroke(check(with(r, "q", strides(r.q(), 16384, 1024, 64, 2))), Fa2Rule.CONTIGUITY, "q",
                "q stride of Dk is 2, expected 1 = 1");
        assertOnly(check(with(r, "k", strides(r.k(), 4096, 128, 128, 1))), Fa2Rule.CONTIGUITY, "k",
                "k stride of Hkv is 128, expected Dk = 64");
        // padded heads: the head stride and the token stride both break
        Fa2Verdict padded = check(with(r, "k", strides(r.k(), 4096, 256, 128, 1)));
        assertBroke(padded, Fa2Rule.CONTIGUITY, "k", "k stride of Hkv is 128, expected Dk = 64");
        assertBroke(padded, Fa2Rule.CONTIGUITY, "k", "k stride of Sk is 256, expected Hkv*Dk = 128");
        // a head axis of length 1 may have any stride
        Fa2Request mqa = dense(SM90, BF, 2, 16, 16, 8, 1, 64, 64);
        assertOk(check(with(mqa, "k", strides(mqa.k(), 1024, 64, 999, 1))));
    }

    @Test
    void tokenStrideMustBeExactlyHTimesD() {
        Fa2Request r = varlen(SM90, BF); // q [17, 8, 128]
        assertOnly(check(with(r, "q", strides(r.q(), 1032, 128, 1))), Fa2Rule.CONTIGUITY, "q",
                "q stride of nnz_q is 1032, expected H*Dk = 1024");
        assertOnly(check(with(r, "out", strides(r.out(), 2048, 128, 1))), Fa2Rule.CONTIGUITY, "out",
                "out stride of nnz_q is 2048, expected H*Dv = 1024");
        Fa2Request d = dense(SM90, BF, 2, 16, 16, 8, 2, 64, 64);
        assertOnly(check(with(d, "v", strides(d.v(), 4096, 256, 64, 1))), Fa2Rule.CONTIGUITY, "v",
                "v stride of Sk is 256, expected Hkv*Dv = 128");
        // a padded dense batch stride is fine for inputs
        assertOk(check(with(d, "q", strides(d.q(), 65536, 512, 64, 1))));
    }

    @Test
    void kvPackedPairAndTokenStrides() {
        Fa2Request p = kvPackedVarlen(SM90, BF, new int[] {0, 4}, new int[] {0, 10}, 4, 2, 64); // kv [10, 2, 2, 64]
        assertOnly(check(with(p, "kv", strides(p.kv(), 256, 64, 64, 1))), Fa2Rule.CONTIGUITY, "kv",
                "kv stride of pair is 64, expected Hkv*D = 128");
        assertOnly(check(with(p, "kv", strides(p.kv(), 512, 128, 64, 1))), Fa2Rule.CONTIGUITY, "kv",
                "kv stride of nnz_k is 512, expected 2*Hkv*D = 256");
        Fa2Request d = kvPacked(SM90, BF, 2, 8, 8, 4, 2, 64); // kv [2, 8, 2, 2, 64]
        assertOnly(check(with(d, "kv", strides(d.kv(), 2048, 264, 128, 64, 1))), Fa2Rule.CONTIGUITY, "kv",
                "kv stride of Sk is 264, expected 2*Hkv*D = 256");
    }

    @Test
    void denseOutputBatchesMustNotOverlapAndLseIsTokenMajor() {
        Fa2Request d = dense(SM90, BF, 2, 16, 16, 8, 2, 64, 64);
        assertOnly(check(with(d, "out", strides(d.out(), 4096, 512, 64, 1))), Fa2Rule.CONTIGUITY, "out",
                "out stride of B is 4096 < Sq*H*Dv = 8192");
        Fa2Request v = varlen(SM90, BF).withLse(new TensorView("lse", DType.FP32, new int[] {17, 8}, new long[] {1, 17}, 6L << 20));
        assertBroke(check(v), Fa2Rule.CONTIGUITY, "lse", "lse stride of H is 17, expected 1 = 1");
        assertBroke(check(v), Fa2Rule.CONTIGUITY, "lse", "lse stride of nnz_q is 1, expected H = 8");
    }

    // --- alignment ------------------------------------------------------------------------------------------

    @Test
    void pointersMustBe16ByteAligned() {
        Fa2Request r = dense(SM80, DType.FP16, 64, 64);
        Fa2Violation eight = assertOnly(check(with(r, "k", at(r.k(), 0x7f0000000008L))), Fa2Rule.ALIGNMENT, "k",
                "k address 0x7f0000000008 is only 8-byte aligned", "FA-2 needs 16-byte aligned pointers");
        assertTrue(eight.detail().contains("foreign pointer"), eight.detail());
        assertOnly(check(with(r, "out", at(r.out(), 0x7f0000000004L))), Fa2Rule.ALIGNMENT, "out",
                "out address 0x7f0000000004 is not 16-byte aligned");
        assertOnly(check(r.withLse(at(view("lse", DType.FP32, 2, 64, 8), 0x1004))), Fa2Rule.ALIGNMENT, "lse",
                "not 16-byte aligned");
        Fa2Request p = kvPacked(SM90, BF, 1, 8, 8, 2, 2, 64);
        assertOnly(check(with(p, "kv", at(p.kv(), 0x1008))), Fa2Rule.ALIGNMENT, "kv", "only 8-byte aligned");
    }

    @Test
    void rowStridesMustBeMultiplesOf16Bytes() {
        Fa2Request d = dense(SM90, BF, 2, 16, 16, 8, 2, 64, 64);
        assertOnly(check(with(d, "q", strides(d.q(), 8196, 512, 64, 1))), Fa2Rule.ALIGNMENT, "q",
                "q stride of B is 8196 elements = 16392 bytes, not a multiple of 16");
        // a non-multiple token stride breaks both rules
        Fa2Request v = varlen(SM90, BF);
        Fa2Verdict both = check(with(v, "k", strides(v.k(), 260, 128, 1)));
        assertBroke(both, Fa2Rule.CONTIGUITY, "k", "k stride of nnz_k is 260, expected Hkv*Dk = 256");
        assertBroke(both, Fa2Rule.ALIGNMENT, "k", "k stride of nnz_k is 260 elements = 520 bytes");
        assertEquals(2, both.violations().size());
    }

    // --- causality ------------------------------------------------------------------------------------------

    @Test
    void fullKeysNeedACausalMask() {
        Fa2Request r = dense(SM90, BF, 64, 64).withMask(Mask.NONE);
        Fa2Verdict v = check(r);
        assertOnly(v, Fa2Rule.CAUSALITY, "mask", "full-length keys (prefill) need a causal mask", "got NONE");
        assertOk(check(r.withMask(Mask.CAUSAL)));
        assertOk(check(r.withMask(Mask.window(128))));
        assertOk(check(r.withMask(Mask.blockCausal(32, 16))));
        assertOk(check(r.withKeys(KeyExtent.INDEPENDENT)));
    }

    @Test
    void unmaskedSlicedKeysMustEndAtTheQuery() {
        Fa2Request r = kvPackedVarlen(SM90, BF, new int[] {0, 1, 2, 3}, new int[] {0, 10, 30, 31}, 8, 2, 128)
                .withMask(Mask.NONE);
        assertOk(check(r.withKeys(KeyExtent.sliced(new int[] {9, 19, 0}, new int[] {9, 19, 0}))));
        Fa2Verdict v = check(r.withKeys(KeyExtent.sliced(new int[] {9, 25, 3}, new int[] {9, 19, 0})));
        assertOnly(v, Fa2Rule.CAUSALITY, "kv", "kv slice of sequence 1 ends at 25 but its query is at 19",
                "(and 1 more sequences)");
        // a causal-type mask makes any slice fine
        assertOk(check(r.withMask(Mask.CAUSAL).withKeys(KeyExtent.sliced(new int[] {9, 25, 3}, new int[] {9, 19, 0}))));
    }

    @Test
    void unmaskedSlicedKeysServeOneQueryPerSequence() {
        Fa2Request r = varlen(SM90, BF, new int[] {0, 1, 3}, new int[] {0, 5, 9}, 4, 4, 64, 64).withMask(Mask.NONE)
                .withKeys(KeyExtent.sliced(new int[] {4, 8}, new int[] {4, 8}));
        assertOnly(check(r), Fa2Rule.CAUSALITY, "q", "q has 2 queries in sequence 1");
        Fa2Request d = dense(SM90, BF, 2, 2, 8, 4, 4, 64, 64).withMask(Mask.NONE)
                .withKeys(KeyExtent.sliced(new int[] {7, 7}, new int[] {7, 7}));
        assertOnly(check(d), Fa2Rule.CAUSALITY, "q", "q has 2 queries in sequence 0");
    }

    @Test
    void slicedArraysNeedOneEntryPerSequence() {
        Fa2Request r = dense(SM90, BF, 2, 1, 8, 4, 4, 64, 64).withKeys(KeyExtent.sliced(new int[] {7}, new int[] {7, 7}));
        assertOnly(check(r), Fa2Rule.SHAPE, "keys", "sliced keys give 1 slice ends and 2 query positions, expected B = 2");
    }
}
