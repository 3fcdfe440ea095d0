package dev.nsa4j.kernels.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.kernels.DeviceTensor;
import org.junit.jupiter.api.Test;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.Shape;

/** Block-select checks (no CUDA call, CPU only): every rule names its tensor. */
class BlockSelectValidationTest {
    static final long BASE = 0x7f0000000000L;
    static final int H = 8, G = 2, DK = 64, N = 4, LP = 32;
    // sequences 0, 63, 1, 100: l=16, d=8 -> S_cmp 0, 6, 0, 11
    static final CompressionPlan PLAN = CompressionPlan.of(new int[]{0, 0, 63, 64, 164}, 16, 8);
    static final int NNZ = 164, NNZ_CMP = 17, NB = 4;

    static DeviceTensor t(long addr, DType d, int... dims) {
        return DeviceTensor.wrap(addr, d, Shape.of(dims));
    }

    static NsaArgumentException fails(Runnable r) {
        return assertThrows(NsaArgumentException.class, r::run);
    }

    /** Valid arguments, each replaceable. */
    static final class Args {
        DeviceTensor q = t(BASE, DType.BF16, NNZ, H, DK);
        DeviceTensor k = t(BASE + 0x100000, DType.BF16, NNZ_CMP, G, DK);
        DeviceTensor lse = t(BASE + 0x200000, DType.FP32, NNZ, H);
        DeviceTensor cu = t(BASE + 0x300000, DType.INT32, 5);
        DeviceTensor cuCmp = t(BASE + 0x300100, DType.INT32, 5);
        CompressionPlan plan = PLAN;
        int lp = LP, n = N;
        float scale = 0.125f;
        DeviceTensor idx = t(BASE + 0x400000, DType.INT32, NNZ, G, N);
        DeviceTensor scores = t(BASE + 0x500000, DType.FP32, NNZ, G, NB);

        BlockSelect.Launch plan() {
            return BlockSelect.plan(q, k, lse, cu, cuCmp, plan, lp, n, scale, idx, scores);
        }
    }

    static NsaArgumentException fails(Args a) {
        return fails(a::plan);
    }

    @Test
    void validArgumentsPickTheKernelOfQsDtype() {
        Args a = new Args();
        BlockSelect.Launch l = a.plan();
        assertEquals("nsa_block_select_bf16", l.key().symbol());
        assertEquals((long) NNZ * G * 32, l.work());
        assertEquals(NB, l.params().nbMax());
        assertEquals(H, l.params().heads());
        assertEquals(G, l.params().kvHeads());
        assertEquals(H * DK, l.params().qTokStride());
        assertEquals(DK, l.params().kGroupStride());
        assertEquals(G * N, l.params().idxTokStride());
        assertEquals(N, l.params().idxGroupStride());
        assertEquals(8, l.params().blockStride());
        for (DType d : new DType[]{DType.FP32, DType.FP16}) {
            a.q = t(BASE, d, NNZ, H, DK);
            a.k = t(BASE + 0x100000, d, NNZ_CMP, G, DK);
            assertEquals("nsa_block_select_" + KernelKey.dtypeName(d), a.plan().key().symbol());
            assertTrue(KernelCatalog.all().contains(a.plan().key()));
        }
        a.scores = null;
        assertEquals(0L, a.plan().params().scores());
        assertEquals(NB, a.plan().params().nbMax());
        a.scores = t(BASE + 0x500000, DType.FP32, NNZ, G, NB + 3);   // wider is fine
        assertEquals(NB + 3, a.plan().params().nbMax());
    }

    @Test
    void maxBlocksIsTheLongestSequencesBlockCount() {
        assertEquals(4, BlockSelect.maxBlocks(PLAN, 32));
        assertEquals(1, BlockSelect.maxBlocks(PLAN, 128));
        assertEquals(0, BlockSelect.maxBlocks(CompressionPlan.of(new int[]{0, 0, 0}, 16, 8), 32));
        assertEquals(4096, BlockSelect.maxBlocks(CompressionPlan.of(new int[]{0, 262144}, 32, 16), 64));
        assertEquals("l'", fails(() -> BlockSelect.maxBlocks(PLAN, 0)).subject());
    }

    @Test
    void shapesAreChecked() {
        Args a = new Args();
        a.q = t(BASE, DType.BF16, NNZ, H);
        assertEquals("q", fails(a).subject());
        a = new Args();
        a.q = t(BASE, DType.BF16, NNZ - 1, H, DK);
        assertEquals("q has cu_seqlens[B] rows", fails(a).rule());
        a = new Args();
        a.k = t(BASE + 0x100000, DType.BF16, NNZ_CMP + 1, G, DK);
        NsaArgumentException e = fails(a);
        assertEquals("k_cmp", e.subject());
        assertTrue(e.rule().contains("cu_seqlens_cmp[B]"), e.rule());
        a = new Args();
        a.k = t(BASE + 0x100000, DType.BF16, NNZ_CMP, G, DK / 2);
        assertEquals("k_cmp has the Dk of q", fails(a).rule());
        a = new Args();
        a.k = t(BASE + 0x100000, DType.BF16, NNZ_CMP, 3, DK);
        a.idx = t(BASE + 0x400000, DType.INT32, NNZ, 3, N);
        a.scores = null;
        e = fails(a);
        assertEquals("k_cmp", e.subject());
        assertTrue(e.rule().startsWith("H % G == 0"), e.rule());
        a = new Args();
        a.lse = t(BASE + 0x200000, DType.FP32, NNZ, H, 1);
        assertEquals("lse", fails(a).subject());
        a = new Args();
        a.lse = t(BASE + 0x200000, DType.FP32, NNZ, H / 2);
        assertEquals("lse has the H of q", fails(a).rule());
        a = new Args();
        a.lse = t(BASE + 0x200000, DType.FP32, NNZ + 1, H);
        assertEquals("lse has cu_seqlens[B] rows", fails(a).rule());
        a = new Args();
        a.cu = t(BASE + 0x300000, DType.INT32, 4);
        assertEquals("cu_seqlens", fails(a).subject());
        a = new Args();
        a.cuCmp = t(BASE + 0x300100, DType.INT32, 6);
        assertEquals("cu_seqlens_cmp", fails(a).subject());
        a = new Args();
        a.idx = t(BASE + 0x400000, DType.INT32, NNZ, G, N + 1);
        assertEquals("indices has n columns", fails(a).rule());
        a = new Args();
        a.idx = t(BASE + 0x400000, DType.INT32, NNZ, G + 1, N);
        assertEquals("indices has the G of k_cmp", fails(a).rule());
        a = new Args();
        a.idx = t(BASE + 0x400000, DType.INT32, NNZ + 1, G, N);
        assertEquals("indices", fails(a).subject());
        a = new Args();
        a.scores = t(BASE + 0x500000, DType.FP32, NNZ, G, NB - 1);
        e = fails(a);
        assertEquals("scores", e.subject());
        assertTrue(e.rule().contains("nb >="), e.rule());
        a = new Args();
        a.scores = t(BASE + 0x500000, DType.FP32, NNZ, G + 1, NB);
        assertEquals("scores", fails(a).subject());
        a = new Args();
        a.plan = null;
        assertEquals("plan", fails(a).subject());
    }

    @Test
    void dtypesAreChecked() {
        Args a = new Args();
        a.k = t(BASE + 0x100000, DType.FP16, NNZ_CMP, G, DK);
        assertEquals("k_cmp in the dtype of q", fails(a).rule());
        a = new Args();
        a.q = t(BASE, DType.INT32, NNZ, H, DK);
        a.k = t(BASE + 0x100000, DType.INT32, NNZ_CMP, G, DK);
        assertEquals("q", fails(a).subject());
        a = new Args();
        a.lse = t(BASE + 0x200000, DType.BF16, NNZ, H);
        assertEquals("lse", fails(a).subject());
        a = new Args();
        a.idx = t(BASE + 0x400000, DType.FP32, NNZ, G, N);
        assertEquals("indices", fails(a).subject());
        a = new Args();
        a.scores = t(BASE + 0x500000, DType.BF16, NNZ, G, NB);
        assertEquals("scores", fails(a).subject());
        a = new Args();
        a.cu = t(BASE + 0x300000, DType.FP32, 5);
        assertEquals("cu_seqlens", fails(a).subject());
        a = new Args();
        a.cuCmp = t(BASE + 0x300100, DType.FP32, 5);
        assertEquals("cu_seqlens_cmp", fails(a).subject());
    }

    @Test
    void blockSizesAndNFollowTheConfigRules() {
        Args a = new Args();
        a.n = 2;
        a.idx = t(BASE + 0x400000, DType.INT32, NNZ, G, 2);
        NsaArgumentException e = fails(a);
        assertEquals("n", e.subject());
        assertTrue(e.rule().startsWith("n >= 3"), e.rule());
        a.n = BlockSelect.MAX_N + 1;
        a.idx = t(BASE + 0x400000, DType.INT32, NNZ, G, a.n);
        e = fails(a);
        assertEquals("n", e.subject());
        assertTrue(e.rule().contains("n <= 64"), e.rule());
        a.n = BlockSelect.MAX_N;
        a.idx = t(BASE + 0x400000, DType.INT32, NNZ, G, a.n);
        a.plan();   // the limit itself is fine
        a = new Args();
        a.lp = 28;   // not a multiple of d = 8
        a.scores = null;
        assertEquals("d | l'", fails(a).rule());
        a.lp = 8;    // l = 16 > l'
        assertEquals("l <= l'", fails(a).rule());
        a.lp = 0;
        assertEquals("l'", fails(a).subject());
        a = new Args();
        a.plan = CompressionPlan.of(new int[]{0, 0, 63, 64, 164}, 12, 8);   // d does not divide l
        assertEquals("d | l", fails(a).rule());
        a = new Args();
        a.scale = Float.NaN;
        assertEquals("scale", fails(a).subject());
        a.scale = Float.POSITIVE_INFINITY;
        assertEquals("scale", fails(a).subject());
    }

    @Test
    void layoutIsChecked() {
        Args a = new Args();
        a.q = DeviceTensor.wrap(BASE, DType.BF16, Shape.strided(new int[]{NNZ, H, DK}, new long[]{H * DK * 2L, DK * 2L, 2}));
        assertEquals("last dimension contiguous (stride 1)", fails(a).rule());
        a = new Args();
        a.k = DeviceTensor.wrap(BASE, DType.BF16, Shape.strided(new int[]{NNZ_CMP, G, DK}, new long[]{G * DK * 2L, DK * 2L, 2}));
        assertEquals("k_cmp", fails(a).subject());
        a = new Args();
        a.idx = DeviceTensor.wrap(BASE, DType.INT32, Shape.strided(new int[]{NNZ, G, N}, new long[]{G * N * 2L, N * 2L, 2}));
        assertEquals("indices", fails(a).subject());
        a = new Args();
        a.scores = DeviceTensor.wrap(BASE, DType.FP32, Shape.strided(new int[]{NNZ, G, NB}, new long[]{G * NB * 2L, NB * 2L, 2}));
        assertEquals("scores", fails(a).subject());
        a = new Args();
        a.cu = DeviceTensor.wrap(BASE, DType.INT32, Shape.strided(new int[]{5}, new long[]{2}));
        assertEquals("contiguous", fails(a).rule());
        // strided token/head axes are fine (padded rows), and so are lse strides
        a = new Args();
        a.q = DeviceTensor.wrap(BASE, DType.BF16, Shape.strided(new int[]{NNZ, H, DK}, new long[]{H * DK * 2L, DK * 2L, 1}));
        a.lse = DeviceTensor.wrap(BASE + 0x200000, DType.FP32, Shape.strided(new int[]{NNZ, H}, new long[]{1, NNZ}));
        BlockSelect.Launch l = a.plan();
        assertEquals(2L * H * DK, l.params().qTokStride());
        assertEquals(NNZ, l.params().lseHeadStride());
    }

    @Test
    void pointersAreCheckedAtTheirElementAlignment() {
        Args a = new Args();
        a.q = t(BASE + 1, DType.BF16, NNZ, H, DK);
        assertEquals("q", fails(a).subject());
        a = new Args();
        a.q = t(0, DType.BF16, NNZ, H, DK);
        assertEquals("device pointer not null", fails(a).rule());
        a = new Args();
        a.k = t(BASE + 3, DType.BF16, NNZ_CMP, G, DK);
        assertEquals("k_cmp", fails(a).subject());
        a = new Args();
        a.lse = t(BASE + 2, DType.FP32, NNZ, H);
        assertEquals("lse", fails(a).subject());
        a = new Args();
        a.idx = t(BASE + 2, DType.INT32, NNZ, G, N);
        assertEquals("indices", fails(a).subject());
        a = new Args();
        a.scores = t(BASE + 2, DType.FP32, NNZ, G, NB);
        assertEquals("scores", fails(a).subject());
        a = new Args();
        a.cu = t(BASE + 1, DType.INT32, 5);
        assertEquals("cu_seqlens", fails(a).subject());
        // 8-byte aligned foreign pointers are fine (element alignment is all the kernel needs)
        a = new Args();
        a.q = t(BASE + 8, DType.BF16, NNZ, H, DK);
        a.k = t(BASE + 0x100000 + 2, DType.BF16, NNZ_CMP, G, DK);
        a.plan();
    }

    @Test
    void emptyCallsLaunchNothingAndNeedNoPointers() {
        CompressionPlan empty = CompressionPlan.of(new int[]{0, 0, 0}, 16, 8);
        BlockSelect.Launch l = BlockSelect.plan(t(0, DType.FP16, 0, H, DK), t(0, DType.FP16, 0, G, DK),
                t(0, DType.FP32, 0, H), t(0, DType.INT32, 3), t(0, DType.INT32, 3), empty, LP, N, 1f,
                t(0, DType.INT32, 0, G, N), null);
        assertEquals(0, l.work());
        assertEquals("nsa_block_select_fp16", l.key().symbol());
        // no compressed token anywhere: k_cmp may be a null pointer
        CompressionPlan shortSeqs = CompressionPlan.of(new int[]{0, 5, 20}, 16, 8);
        assertEquals(0, shortSeqs.nnzCmp());
        BlockSelect.Launch s = BlockSelect.plan(t(BASE, DType.FP32, 20, H, DK), t(0, DType.FP32, 0, G, DK),
                t(BASE + 0x10000, DType.FP32, 20, H), t(BASE + 0x20000, DType.INT32, 3),
                t(BASE + 0x20100, DType.INT32, 3), shortSeqs, LP, N, 1f, t(BASE + 0x30000, DType.INT32, 20, G, N), null);
        assertEquals(20L * G * 32, s.work());
    }

    @Test
    void rawParamsAreValidatedToo() {
        BlockSelectParams ok = new Args().plan().params();
        BlockSelect.plan(ok, DType.BF16);
        BlockSelectParams badN = new BlockSelectParams(ok.q(), ok.kCmp(), ok.lse(), ok.cuSeqlens(), ok.cuSeqlensCmp(),
                ok.indices(), ok.scores(), ok.qTokStride(), ok.qHeadStride(), ok.kTokStride(), ok.kGroupStride(),
                ok.lseTokStride(), ok.lseHeadStride(), ok.idxTokStride(), ok.idxGroupStride(), ok.scoreTokStride(),
                ok.scoreGroupStride(), ok.nnz(), ok.nnzCmp(), ok.batch(), ok.heads(), ok.kvHeads(), ok.dk(),
                ok.blockLen(), ok.blockStride(), ok.selBlock(), 65, ok.nbMax(), ok.scale());
        assertEquals("n", fails(() -> BlockSelect.plan(badN, DType.BF16)).subject());
        BlockSelectParams badStride = new BlockSelectParams(ok.q(), ok.kCmp(), ok.lse(), ok.cuSeqlens(),
                ok.cuSeqlensCmp(), ok.indices(), ok.scores(), -1, ok.qHeadStride(), ok.kTokStride(), ok.kGroupStride(),
                ok.lseTokStride(), ok.lseHeadStride(), ok.idxTokStride(), ok.idxGroupStride(), ok.scoreTokStride(),
                ok.scoreGroupStride(), ok.nnz(), ok.nnzCmp(), ok.batch(), ok.heads(), ok.kvHeads(), ok.dk(),
                ok.blockLen(), ok.blockStride(), ok.selBlock(), ok.nSel(), ok.nbMax(), ok.scale());
        assertEquals("strides", fails(() -> BlockSelect.plan(badStride, DType.BF16)).subject());
        BlockSelectParams noBatch = new BlockSelectParams(ok.q(), ok.kCmp(), ok.lse(), ok.cuSeqlens(),
                ok.cuSeqlensCmp(), ok.indices(), ok.scores(), ok.qTokStride(), ok.qHeadStride(), ok.kTokStride(),
                ok.kGroupStride(), ok.lseTokStride(), ok.lseHeadStride(), ok.idxTokStride(), ok.idxGroupStride(),
                ok.scoreTokStride(), ok.scoreGroupStride(), ok.nnz(), ok.nnzCmp(), 0, ok.heads(), ok.kvHeads(),
                ok.dk(), ok.blockLen(), ok.blockStride(), ok.selBlock(), ok.nSel(), ok.nbMax(), ok.scale());
        assertEquals("cu_seqlens", fails(() -> BlockSelect.plan(noBatch, DType.BF16)).subject());
    }
}
