package dev.nsa4j.kernels.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.kernels.DeviceTensor;
import java.util.List;

import org.junit.jupiter.api.Test;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.Shape;

/** Packed-selection checks and chunk plans (no CUDA call, CPU only): every rule names its tensor. */
class SelPackedValidationTest {
    static final long BASE = 0x7f0000000000L;
    static final int NNZ = 100, H = 8, G = 2, DK = 64, DV = 32, N = 4, LP = 16;

    static DeviceTensor t(long addr, DType d, int... dims) {
        return DeviceTensor.wrap(addr, d, Shape.of(dims));
    }

    static NsaArgumentException fails(Runnable r) {
        return assertThrows(NsaArgumentException.class, r::run);
    }

    static final class Args {
        DeviceTensor q = t(BASE, DType.BF16, NNZ, H, DK);
        DeviceTensor k = t(BASE + 0x100000, DType.BF16, NNZ, G, DK);
        DeviceTensor v = t(BASE + 0x200000, DType.BF16, NNZ, G, DV);
        DeviceTensor cu = t(BASE + 0x300000, DType.INT32, 3);
        DeviceTensor blocks = t(BASE + 0x400000, DType.INT32, NNZ, G, N);
        DeviceTensor out = t(BASE + 0x500000, DType.FP32, NNZ, H, DV);
        DeviceTensor lse = t(BASE + 0x600000, DType.FP32, NNZ, H);
        int lp = LP, chunk = 30;
        float scale = Float.NaN;
        long pk = BASE + 0x1000000, pv = BASE + 0x2000000, len = BASE + 0x3000000, last = BASE + 0x3100000,
                cq = BASE + 0x3200000, ck = BASE + 0x3300000;

        List<SelPacked.Chunk> plan() {
            return SelPacked.plan(q, k, v, cu, cu, null, null, blocks, lp, scale, out, lse, chunk, pk, pv, len, last,
                    cq, ck);
        }
    }

    static NsaArgumentException fails(Args a) {
        return fails(a::plan);
    }

    @Test
    void chunksCoverTheTokensWithTheViewOfStepTwo() {
        Args a = new Args();
        List<SelPacked.Chunk> cs = a.plan();
        assertEquals(4, cs.size());   // 30 + 30 + 30 + 10
        SelPacked.Chunk c1 = cs.get(1);
        SelGatherParams g = c1.gather().params();
        assertEquals("nsa_sel_gather_bf16", c1.gather().key().symbol());
        assertEquals(30, g.tok0());
        assertEquals(30, g.rows());
        assertEquals(N * LP, g.cap());
        assertEquals(60, c1.gather().rows());
        assertEquals(15, c1.gather().grid());
        AttnParams p = c1.attention().params();
        assertEquals("nsa_attention_bf16_d2", c1.attention().key().symbol());
        assertEquals(BASE + 30L * H * DK * 2, p.q());
        assertEquals(BASE + 0x500000 + 30L * H * DV * 4, p.o());
        assertEquals(BASE + 0x600000 + 30L * H * 4, p.lse());
        assertEquals(60, p.nnzQ());
        assertEquals(60, p.batch());
        assertEquals(H / G, p.heads());
        assertEquals(1, p.kvHeads());
        assertEquals((long) (H / G) * DK, p.qTokStride());
        assertEquals(AttnMask.CAUSAL.code(), p.mask());
        assertEquals(AttnWalk.RANGES.code(), p.walk());
        assertEquals(a.last, p.qStart());
        assertEquals(a.ck, p.cuK());
        assertEquals(1, p.outFp32());
        assertEquals((float) (1 / Math.sqrt(DK)), p.scale());
        assertEquals(10, cs.get(3).gather().params().rows());
        assertEquals(0, SelPacked.plan(t(0, DType.BF16, 0, H, DK), a.k, a.v, t(BASE, DType.INT32, 1),
                t(BASE, DType.INT32, 1), null, null, t(0, DType.INT32, 0, G, N), LP, 1f, t(0, DType.FP32, 0, H, DV),
                null, 1, 0, 0, 0, 0, 0, 0).size());
    }

    @Test
    void memoryAndChunkSizes() {
        assertEquals(G * ((long) N * LP * (DK + DV) * 2 + 16), SelPacked.bytesPerToken(G, N, LP, DK, DV, DType.BF16));
        long per = SelPacked.bytesPerToken(G, N, LP, DK, DV, DType.BF16);
        assertEquals(NNZ, SelPacked.tokensPerChunk(NNZ, G, N, LP, DK, DV, DType.BF16, 1L << 30));
        assertEquals(7, SelPacked.tokensPerChunk(NNZ, G, N, LP, DK, DV, DType.BF16, 7 * per + 1));
        assertEquals(0, SelPacked.tokensPerChunk(0, G, N, LP, DK, DV, DType.BF16, 1));
        NsaArgumentException e = fails(() -> SelPacked.tokensPerChunk(NNZ, G, N, LP, DK, DV, DType.BF16, per - 1));
        assertEquals("blocks", e.subject());
        assertTrue(e.getMessage().contains("budget"), e.getMessage());
        // int32 row offsets: G·n·l' = 2·64·65536 keys per token -> 255 tokens per chunk at most
        assertEquals(255, SelPacked.tokensPerChunk(1000, 2, 64, 65536, 1, 1, DType.FP16, Long.MAX_VALUE));
    }

    @Test
    void rulesNameTheirTensor() {
        Args a = new Args();
        a.q = DeviceTensor.wrap(BASE, DType.BF16, Shape.strided(new int[]{NNZ, H, DK}, new long[]{2L * H * DK, DK, 1}));
        assertEquals("q", fails(a).subject());
        a = new Args();
        a.out = DeviceTensor.wrap(BASE + 0x500000, DType.FP32,
                Shape.strided(new int[]{NNZ, H, DV}, new long[]{2L * H * DV, DV, 1}));
        assertEquals("out", fails(a).subject());
        a = new Args();
        a.lse = DeviceTensor.wrap(BASE + 0x600000, DType.FP32, Shape.strided(new int[]{NNZ, H}, new long[]{2L * H, 1}));
        assertEquals("lse", fails(a).subject());
        a = new Args();
        a.blocks = t(BASE + 0x400000, DType.INT32, NNZ, G + 1, N);
        assertEquals("blocks", fails(a).subject());
        a = new Args();
        a.lp = 0;
        assertEquals("sel_block", fails(a).subject());
        a = new Args();
        a.v = t(BASE + 0x200000, DType.FP16, NNZ, G, DV);
        assertEquals("v", fails(a).subject());
        a = new Args();
        a.chunk = 0;
        assertEquals("chunk", fails(a).subject());
        a = new Args();
        a.pk = BASE + 1;
        assertEquals("packed_k", fails(a).subject());
        a = new Args();
        a.ck = 0;
        assertEquals("packed_cu_k", fails(a).subject());
    }
}
