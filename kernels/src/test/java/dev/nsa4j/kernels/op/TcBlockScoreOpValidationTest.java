package dev.nsa4j.kernels.op;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.internal.BlockSelectParams;
import dev.nsa4j.kernels.internal.CompressionPlan;
import dev.nsa4j.kernels.internal.TcGeometry;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.Shape;

/**
 * The tensor-core scorer's host-side checks without a GPU (fake addresses): plan-time rules (dtype, Dk, device, the
 * shared memory the longest sequence needs), per-call refusals naming the rule, and named errors for what no scorer
 * can serve.
 */
class TcBlockScoreOpValidationTest {
    static final long BASE = 0x7f0000000000L;
    static final int H = 16, G = 4, DK = 128, N = 16, LP = 64;
    // sequences 0, 1000, 1: l = 32, d = 16 -> S_cmp 0, 61, 0
    static final CompressionPlan PLAN = CompressionPlan.of(new int[] {0, 0, 1000, 1001}, 32, 16);
    static final int NNZ = 1001, NNZ_CMP = 61;
    static final DeviceInfo H200 = new DeviceInfo(0, "NVIDIA H200", 9, 0, 132, 141L << 30, 232448);
    static final TcBlockScoreOp.Spec SPEC = new TcBlockScoreOp.Spec(DType.BF16, H, G, DK, PLAN, LP, N, 0.0884f);
    static final Sequences RAW = new Sequences(PLAN.cuSeqlens(), t(BASE + 0x900000, DType.INT32, 4));
    static final Sequences CMP = new Sequences(PLAN.cuSeqlensCmp(), t(BASE + 0x900100, DType.INT32, 4));

    static DeviceTensor t(long addr, DType d, int... dims) {
        return DeviceTensor.wrap(addr, d, Shape.of(dims));
    }

    static final class Args {
        DeviceTensor q = t(BASE, DType.BF16, NNZ, H, DK);
        DeviceTensor k = t(BASE + 0x1000000, DType.BF16, NNZ_CMP, G, DK);
        DeviceTensor lse = t(BASE + 0x2000000, DType.FP32, NNZ, H);
        DeviceTensor idx = t(BASE + 0x3000000, DType.INT32, NNZ, G, N);

        TcBlockScoreOp.Prepared prepare() {
            return TcBlockScoreOp.prepare(SPEC, RAW, CMP, new SelectArgs(q, k, lse, idx));
        }
    }

    @Test
    void aValidCallIsLaunchableAndWritesIndicesOnly() {
        TcBlockScoreOp.Prepared p = new Args().prepare();
        assertTrue(p.launchable(), p.refusals().toString());
        BlockSelectParams bp = p.params();
        assertEquals(0L, bp.scores());
        assertEquals(0, bp.nbMax());
        assertEquals(N, bp.nSel());
        assertEquals(3, bp.batch());
        assertEquals("nsa_block_score_bf16_dk128", SPEC.symbol());
        assertEquals("tc block scores + top-16 bf16 dk128", SPEC.describe());
        assertEquals(1000, SPEC.maxLen());
        // (2 stages·64 + 4 tokens·16 rows (h = 4 pads to one m16 tile))·128·2 + 4 rings of 128 floats
        assertEquals((2 * 64 + 4 * 16) * DK * 2 + 4 * 128 * 4, SPEC.smemBytes());
        assertEquals(250, TcGeometry.scoreGridX(SPEC.maxLen()));
        TcBlockScoreOp.Spec h32 = new TcBlockScoreOp.Spec(DType.FP16, 64, 2, 64, PLAN, LP, N, 0.1f);
        assertEquals("nsa_block_score_fp16_dk64", h32.symbol());
        assertEquals((2 * 64 + 4 * 16 * 2) * 64 * 2 + 4 * 128 * 4, h32.smemBytes());
    }

    @Test
    void misalignedOrStridedQOrKeysAreRefusedNamingTheRule() {
        Args q = new Args();
        q.q = t(BASE + 8, DType.BF16, NNZ, H, DK);
        TcBlockScoreOp.Prepared p = q.prepare();
        assertFalse(p.launchable());
        assertEquals("alignment: q at 0x" + Long.toHexString(BASE + 8) + " is not 16-byte aligned (16-byte loads)",
                Refusal.reason(p.refusals()));
        Args k = new Args();
        k.k = DeviceTensor.wrap(BASE + 0x1000000, DType.BF16, Shape.strided(new int[] {NNZ_CMP, G, DK},
                new long[] {(long) G * DK + 2, DK, 1}));
        assertEquals("strides: k_cmp token stride 514 is not multiples of 8 elements (16-byte loads)",
                Refusal.reason(k.prepare().refusals()));
    }

    @Test
    void whatNoScorerServesThrowsNamingTheTensor() {
        Args k16 = new Args();
        k16.k = t(BASE + 0x1000000, DType.FP16, NNZ_CMP, G, DK);
        assertEquals("k_cmp", assertThrows(NsaArgumentException.class, k16::prepare).subject());
        Args fp16 = new Args();
        fp16.q = t(BASE, DType.FP16, NNZ, H, DK);
        fp16.k = t(BASE + 0x1000000, DType.FP16, NNZ_CMP, G, DK);
        NsaArgumentException e = assertThrows(NsaArgumentException.class, fp16::prepare);
        assertEquals("q", e.subject());
        assertEquals("q in the planned dtype BF16", e.rule());
        Args rows = new Args();
        rows.idx = t(BASE + 0x3000000, DType.INT32, NNZ - 1, G, N);
        assertEquals("indices", assertThrows(NsaArgumentException.class, rows::prepare).subject());
        Args groups = new Args();
        groups.k = t(BASE + 0x1000000, DType.BF16, NNZ_CMP, 2, DK);
        groups.idx = t(BASE + 0x3000000, DType.INT32, NNZ, 2, N);
        assertEquals("k_cmp", assertThrows(NsaArgumentException.class, groups::prepare).subject());
    }

    @Test
    void planTimeRules() {
        assertNull(TcBlockScoreOp.unsupported(H200, SPEC));
        assertEquals("dtype: q and K̃ are fp32; the tc scorer takes fp16 or bf16", TcBlockScoreOp.unsupported(H200,
                new TcBlockScoreOp.Spec(DType.FP32, H, G, DK, PLAN, LP, N, 0.1f)));
        assertEquals("head_dim: Dk = 96 is not one of [64, 128, 192, 256]", TcBlockScoreOp.unsupported(H200,
                new TcBlockScoreOp.Spec(DType.BF16, H, G, 96, PLAN, LP, N, 0.1f)));
        DeviceInfo v100 = new DeviceInfo(0, "V100", 7, 0, 80, 32L << 30, 98304);
        assertTrue(TcBlockScoreOp.unsupported(v100, SPEC).startsWith("device: "), TcBlockScoreOp.unsupported(v100, SPEC));
        // h = 64, Dk = 256: (2·64 + 4·16·4)·256·2 + 4·128·4 bytes fit the H200's 227 KiB, not the A100's 163 KiB
        CompressionPlan longPlan = CompressionPlan.of(new int[] {0, 131072}, 32, 16);
        TcBlockScoreOp.Spec big = new TcBlockScoreOp.Spec(DType.BF16, 128, 2, 256, longPlan, LP, N, 0.1f);
        long need = (128 + 4 * 16 * 4) * 256L * 2 + 4L * 128 * 4;
        assertEquals(need, big.smemBytes(), "independent of the sequence length");
        assertNull(TcBlockScoreOp.unsupported(H200, big));
        DeviceInfo a100 = new DeviceInfo(0, "NVIDIA A100", 8, 0, 108, 80L << 30, 166912);
        assertEquals("shared_memory: needs " + need + " bytes of dynamic shared memory per block (h = 64, Dk = 256), "
                + "the device allows " + (166912 - 4 * 128 * 8), TcBlockScoreOp.unsupported(a100, big),
                "the opt-in limit less the top-n buffers' static 4 KiB");
        // a selection block overlapping more than 64 compressed tokens: (1024 + 8 - 1)/8 + 1 = 129
        CompressionPlan fine = CompressionPlan.of(new int[] {0, 4096}, 8, 8);
        assertEquals("sel_block: a selection block overlaps up to (l' + l - 1)/d + 1 = 129 compressed tokens, more "
                + "than 64 (l = 8, d = 8, l' = 1024)", TcBlockScoreOp.unsupported(H200,
                new TcBlockScoreOp.Spec(DType.BF16, H, G, DK, fine, 1024, N, 0.1f)));
    }

    @Test
    void layoutIsKeyRowsWhereItMeasuredFaster() {
        assertEquals(ScoreLayout.KEY_ROWS, ScoreLayout.forDevice(H200, SPEC, true, true));
        assertEquals("wgmma key rows: SM 9.0, h = 4, l'/d = 4", ScoreLayout.why(H200, SPEC, true, true));
        assertEquals("nsa_block_score_kr_bf16_dk128_h4", ScoreLayout.KEY_ROWS.symbol(SPEC));
        assertEquals(384, ScoreLayout.KEY_ROWS.threads());
        assertEquals(32, ScoreLayout.KEY_ROWS.gridX(1000));
        // the fla shape (l = d = l' = 64) with 16 heads per group stays on the token tiles; with 8 it moves
        CompressionPlan fla = CompressionPlan.of(new int[] {0, 4096}, 64, 64);
        TcBlockScoreOp.Spec fla16 = new TcBlockScoreOp.Spec(DType.BF16, 64, G, DK, fla, 64, N, 0.0884f);
        assertEquals(ScoreLayout.WGMMA, ScoreLayout.forDevice(H200, fla16, true, true));
        assertEquals("wgmma: SM 9.0, h = 16 (key rows: slower at l'/d = 1 and h = 16)",
                ScoreLayout.why(H200, fla16, true, true));
        TcBlockScoreOp.Spec fla8 = new TcBlockScoreOp.Spec(DType.BF16, 32, G, DK, fla, 64, N, 0.0884f);
        assertEquals(ScoreLayout.KEY_ROWS, ScoreLayout.forDevice(H200, fla8, true, true));
        assertEquals("nsa_block_score_kr_bf16_dk128_h8", ScoreLayout.KEY_ROWS.symbol(fla8));
        // two compressed tokens per selection block (l = 128, d = 32) with 16 heads: the token tiles
        CompressionPlan two = CompressionPlan.of(new int[] {0, 4096}, 128, 32);
        assertEquals("wgmma: SM 9.0, h = 16 (key rows: slower at l'/d = 2 and h = 16)", ScoreLayout.why(H200,
                new TcBlockScoreOp.Spec(DType.BF16, 64, G, DK, two, 64, N, 0.0884f), true, true));
        // the flags, and each rule of its own
        assertEquals(ScoreLayout.WGMMA, ScoreLayout.forDevice(H200, SPEC, true, false));
        assertEquals("wgmma: SM 9.0, h = 4 (key rows: NSA_USE_TMA=0)", ScoreLayout.why(H200, SPEC, true, false));
        assertEquals(ScoreLayout.MMA, ScoreLayout.forDevice(H200, SPEC, false, true));
        assertEquals("Dk = 64 is not one of [128]", ScoreLayout.whyNotKeyRows(H200,
                new TcBlockScoreOp.Spec(DType.BF16, H, G, 64, PLAN, LP, N, 0.1f)));
        assertEquals("wgmma: SM 9.0, h = 4 (key rows: Dk = 64 is not one of [128])", ScoreLayout.why(H200,
                new TcBlockScoreOp.Spec(DType.BF16, H, G, 64, PLAN, LP, N, 0.1f), true, true));
        assertEquals("l' = 40 is not a multiple of d = 16", ScoreLayout.whyNotKeyRows(H200,
                new TcBlockScoreOp.Spec(DType.BF16, H, G, DK, PLAN, 40, N, 0.1f)));
        assertEquals("n = 36 > 35", ScoreLayout.whyNotKeyRows(H200,
                new TcBlockScoreOp.Spec(DType.BF16, H, G, DK, PLAN, LP, 36, 0.1f)));
        assertEquals("h = 32 > 16", ScoreLayout.whyNotKeyRows(H200,
                new TcBlockScoreOp.Spec(DType.BF16, 128, G, DK, PLAN, LP, N, 0.1f)));
        DeviceInfo a100 = new DeviceInfo(0, "NVIDIA A100", 8, 0, 108, 80L << 30, 166912);
        assertEquals("sm_80 is not SM 9.0", ScoreLayout.whyNotKeyRows(a100, SPEC));
        DeviceInfo small = new DeviceInfo(0, "NVIDIA H100 (128 KiB opt-in)", 9, 0, 132, 80L << 30, 131072);
        assertEquals("needs " + ScoreLayout.KEY_ROWS.smemBytes(SPEC) + " bytes of shared memory, the device allows "
                + (131072 - 17408), ScoreLayout.whyNotKeyRows(small, SPEC));
        assertEquals(ScoreLayout.WGMMA, ScoreLayout.forDevice(small, SPEC, true, true));
    }

    @Test
    void layoutIsWgmmaOnSm90ForUpToSixteenHeads() {
        assertEquals(ScoreLayout.WGMMA, ScoreLayout.forDevice(H200, SPEC, true, false));
        assertEquals("wgmma: SM 9.0, h = 4 (key rows: NSA_USE_TMA=0)", ScoreLayout.why(H200, SPEC, true, false));
        assertEquals("nsa_block_score_wg_bf16_dk128", ScoreLayout.WGMMA.symbol(SPEC));
        assertEquals(1024 + (64 + 2 * 64) * DK * 2 + 4 * 128 * 4, ScoreLayout.WGMMA.smemBytes(SPEC));
        assertEquals(SPEC.smemBytes(), ScoreLayout.MMA.smemBytes(SPEC));
        // the flag, more than 16 heads per group, any other SM
        assertEquals(ScoreLayout.MMA, ScoreLayout.forDevice(H200, SPEC, false, true));
        assertEquals("mma.sync: NSA_USE_WGMMA=0", ScoreLayout.why(H200, SPEC, false, true));
        TcBlockScoreOp.Spec h32 = new TcBlockScoreOp.Spec(DType.BF16, 128, G, DK, PLAN, LP, N, 0.1f);
        assertEquals(ScoreLayout.MMA, ScoreLayout.forDevice(H200, h32, true, true));
        assertEquals("mma.sync: no wgmma, h = 32 > 16", ScoreLayout.why(H200, h32, true, true));
        TcBlockScoreOp.Spec h16 = new TcBlockScoreOp.Spec(DType.FP16, 64, G, 256, PLAN, LP, N, 0.1f);
        assertEquals(ScoreLayout.WGMMA, ScoreLayout.forDevice(H200, h16, true, true));
        DeviceInfo a100 = new DeviceInfo(0, "NVIDIA A100", 8, 0, 108, 80L << 30, 166912);
        assertEquals(ScoreLayout.MMA, ScoreLayout.forDevice(a100, SPEC, true, true));
        assertEquals("mma.sync: no wgmma, sm_80 is not SM 9.0", ScoreLayout.why(a100, SPEC, true, true));
        DeviceInfo small = new DeviceInfo(0, "NVIDIA H100 (48 KiB opt-in)", 9, 0, 132, 80L << 30, 49152);
        assertEquals("needs " + ScoreLayout.WGMMA.smemBytes(SPEC) + " bytes of shared memory, the device allows "
                + (49152 - 4 * 128 * 8),
                ScoreLayout.whyNotWgmma(small, SPEC));
    }
}
