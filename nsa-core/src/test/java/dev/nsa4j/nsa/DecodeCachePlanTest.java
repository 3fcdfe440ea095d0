package dev.nsa4j.nsa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.tensor.DType;
import org.junit.jupiter.api.Test;

/** {@link DecodeCachePlan}'s sizes and rules, and {@link NsaGpuDecoder#open}'s refusal of a CPU attention (CPU only). */
class DecodeCachePlanTest {
    private static final NsaConfig PAPER = NsaConfig.builder().heads(64).kvGroups(4).headDims(128, 128).blockLen(32)
            .stride(16).selBlock(64).nSel(16).window(512).build();

    @Test
    void sizesFollowTheCapacity() {
        DecodeCachePlan p = new DecodeCachePlan(PAPER, 16, 65536, DType.BF16);
        assertEquals(1024, p.tableStride());
        assertEquals(16 * 1024, p.pages());
        assertEquals((65536 - 32) / 16 + 1, p.cmpCap());
        long kvBytes = 4L * (128 + 128) * 2;
        long tokens = 16L * 1024 * 64 + 16L * (512 + 32 + p.cmpCap());
        assertEquals(tokens * kvBytes + 4L * 16 * 1024 + 4L * 16, p.cacheBytes());
        DecodeCachePlan odd = new DecodeCachePlan(PAPER, 1, 65, DType.FP32);
        assertEquals(2, odd.tableStride());
        assertEquals(3, odd.cmpCap());
        assertEquals(0, new DecodeCachePlan(PAPER, 1, 31, DType.FP32).cmpCap());
    }

    @Test
    void splitsFillAWaveAndRespectTheShare() {
        // paper config at 64k + 128: cmpCap 4103, sel keys n·l' = 1024, win 512; B = 16: 64 cells of 16 heads
        DecodeCachePlan p = new DecodeCachePlan(PAPER, 16, 65536 + 128, DType.BF16);
        assertEquals(new DecodeCachePlan.Splits(4, 3, 1), p.splits(132));
        assertEquals(p.splits(132), p.splits(132, 2, 64));
        assertEquals(new DecodeCachePlan.Splits(6, 4, 2), p.splits(132, 3, 64));
        // B = 1: 4 cells, 66 splits wanted per cell, capped by the 64-key shares (cmp: ceil(4103 / 64) = 65)
        DecodeCachePlan one = new DecodeCachePlan(PAPER, 1, 65536 + 128, DType.BF16);
        assertEquals(new DecodeCachePlan.Splits(65, 16, 8), one.splits(132));
        // 256-key shares (and 200, rounded up to 256): cmp ceil(4103 / 256) = 17, sel 4, win 2
        assertEquals(new DecodeCachePlan.Splits(17, 4, 2), one.splits(132, 2, 256));
        assertEquals(one.splits(132, 2, 256), one.splits(132, 2, 200));
        NsaArgumentException e = assertThrows(NsaArgumentException.class, () -> one.splits(132, 0, 64));
        assertTrue(e.getMessage().contains("NSA_DECODE_CTAS_PER_SM"), e.getMessage());
        e = assertThrows(NsaArgumentException.class, () -> one.splits(132, 2, 0));
        assertTrue(e.getMessage().contains("NSA_DECODE_SPLIT_KEYS"), e.getMessage());
    }

    @Test
    void badSizesNameTheRule() {
        NsaArgumentException e = assertThrows(NsaArgumentException.class,
                () -> new DecodeCachePlan(PAPER, 0, 10, DType.BF16));
        assertTrue(e.getMessage().contains("decode.batch"), e.getMessage());
        e = assertThrows(NsaArgumentException.class, () -> new DecodeCachePlan(PAPER, 1, 0, DType.BF16));
        assertTrue(e.getMessage().contains("decode.capacity"), e.getMessage());
        e = assertThrows(NsaArgumentException.class, () -> new DecodeCachePlan(PAPER, 1, 10, DType.INT32));
        assertTrue(e.getMessage().contains("decode.dtype"), e.getMessage());
        e = assertThrows(NsaArgumentException.class,
                () -> new DecodeCachePlan(PAPER, 1 << 20, Integer.MAX_VALUE, DType.BF16));
        assertTrue(e.getMessage().contains("int32"), e.getMessage());
    }

    @Test
    void theDecoderNeedsAGpu() {
        try (NsaAttention cpu = NsaAttention.builder(PAPER).device("cpu").build()) {
            NsaArgumentException e = assertThrows(NsaArgumentException.class,
                    () -> NsaGpuDecoder.open(cpu, 1, 100, DType.BF16));
            assertTrue(e.getMessage().contains("decode.device") && e.getMessage().contains("NsaDecoder"),
                    e.getMessage());
        }
    }
}
