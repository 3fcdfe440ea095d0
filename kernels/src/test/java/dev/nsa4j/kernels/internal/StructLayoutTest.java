package dev.nsa4j.kernels.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.junit.jupiter.api.Test;

/** The Java mirrors of nsa_params.h against offsets computed by hand from the C rules. */
class StructLayoutTest {

    @Test
    void gateCombineParamsMatchesHandComputedOffsets() {
        StructLayout l = GateCombineParams.LAYOUT;
        // 5 pointers at 0..32, 10 int64 strides at 40..112, 3 int32 at 120,124,128, size rounded to 8.
        String[] ptrs = {"o_cmp", "o_sel", "o_win", "gates", "out"};
        for (int i = 0; i < ptrs.length; i++) {
            assertEquals(8 * i, l.offsetOf(ptrs[i]), ptrs[i]);
        }
        assertEquals(40, l.offsetOf("cmp_tok_stride"));
        assertEquals(48, l.offsetOf("cmp_head_stride"));
        assertEquals(104, l.offsetOf("out_tok_stride"));
        assertEquals(112, l.offsetOf("out_head_stride"));
        assertEquals(120, l.offsetOf("nnz"));
        assertEquals(124, l.offsetOf("heads"));
        assertEquals(128, l.offsetOf("dv"));
        assertEquals(136, l.size());
        assertEquals(18, l.fields().size());
    }

    @Test
    void compressAvgParamsMatchesHandComputedOffsets() {
        StructLayout l = CompressAvgParams.LAYOUT;
        assertEquals(0, l.offsetOf("k"));
        assertEquals(24, l.offsetOf("cu_seqlens_cmp"));
        assertEquals(32, l.offsetOf("k_tok_stride"));
        assertEquals(56, l.offsetOf("out_group_stride"));
        assertEquals(64, l.offsetOf("nnz"));
        assertEquals(88, l.offsetOf("block_stride"));
        assertEquals(96, l.size());   // 92 rounded up to the 8-byte alignment of the pointers
    }

    @Test
    void compressMlpParamsMatchesHandComputedOffsets() {
        StructLayout l = CompressMlpParams.LAYOUT;
        // 9 pointers at 0..64, 4 int64 strides at 72..96, 8 int32 at 104..132: 136 bytes
        assertEquals(0, l.offsetOf("k"));
        assertEquals(32, l.offsetOf("pos"));
        assertEquals(64, l.offsetOf("b2"));
        assertEquals(72, l.offsetOf("k_tok_stride"));
        assertEquals(96, l.offsetOf("out_group_stride"));
        assertEquals(104, l.offsetOf("nnz"));
        assertEquals(132, l.offsetOf("hidden"));
        assertEquals(136, l.size());
        assertEquals(21, l.fields().size());
        CompressMlpParams c = new CompressMlpParams(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
                20, 21);
        ByteBuffer cb = ByteBuffer.wrap(c.toBytes()).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(136, c.toBytes().length);
        assertEquals(5, cb.getLong(32));
        assertEquals(9, cb.getLong(64));
        assertEquals(13, cb.getLong(96));
        assertEquals(14, cb.getInt(104));
        assertEquals(21, cb.getInt(132));
    }

    @Test
    void attnParamsMatchesHandComputedOffsets() {
        StructLayout l = AttnParams.LAYOUT;
        // 10 pointers at 0..72, 11 int64 strides at 80..160, 14 int32 at 168..220, float scale at 224,
        // size 228 rounded up to the 8-byte alignment of the pointers: 232.
        String[] ptrs = {"q", "k", "v", "o", "lse", "cu_q", "cu_k", "q_start", "k_start", "blocks"};
        for (int i = 0; i < ptrs.length; i++) {
            assertEquals(8 * i, l.offsetOf(ptrs[i]), ptrs[i]);
        }
        String[] strides = {"q_tok_stride", "q_head_stride", "k_tok_stride", "k_head_stride", "v_tok_stride",
                "v_head_stride", "o_tok_stride", "o_head_stride", "lse_tok_stride", "blocks_tok_stride",
                "blocks_head_stride"};
        for (int i = 0; i < strides.length; i++) {
            assertEquals(80 + 8 * i, l.offsetOf(strides[i]), strides[i]);
        }
        String[] ints = {"nnz_q", "batch", "heads", "kv_heads", "dk", "dv", "mask", "walk", "window", "cmp_len",
                "cmp_stride", "sel_block", "n_sel", "out_fp32"};
        for (int i = 0; i < ints.length; i++) {
            assertEquals(168 + 4 * i, l.offsetOf(ints[i]), ints[i]);
        }
        assertEquals(224, l.offsetOf("scale"));
        assertEquals(232, l.size());
        assertEquals(36, l.fields().size());

        AttnParams p = new AttnParams(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 1.5f);
        ByteBuffer b = ByteBuffer.wrap(p.toBytes()).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(232, b.capacity());
        assertEquals(10, b.getLong(72));
        assertEquals(11, b.getLong(80));
        assertEquals(21, b.getLong(160));
        assertEquals(22, b.getInt(168));
        assertEquals(35, b.getInt(220));
        assertEquals(1.5f, b.getFloat(224));
        assertEquals(0, b.getInt(228));   // tail padding stays zero
    }

    @Test
    void blockSelectParamsMatchesHandComputedOffsets() {
        StructLayout l = BlockSelectParams.LAYOUT;
        // 7 pointers at 0..48, 10 int64 strides at 56..128, 11 int32 at 136..176, float scale at 180.
        String[] ptrs = {"q", "k_cmp", "lse", "cu_seqlens", "cu_seqlens_cmp", "indices", "scores"};
        for (int i = 0; i < ptrs.length; i++) {
            assertEquals(8 * i, l.offsetOf(ptrs[i]), ptrs[i]);
        }
        assertEquals(56, l.offsetOf("q_tok_stride"));
        assertEquals(128, l.offsetOf("score_group_stride"));
        assertEquals(136, l.offsetOf("nnz"));
        assertEquals(152, l.offsetOf("kv_heads"));
        assertEquals(168, l.offsetOf("sel_block"));
        assertEquals(172, l.offsetOf("n_sel"));
        assertEquals(176, l.offsetOf("nb_max"));
        assertEquals(180, l.offsetOf("scale"));
        assertEquals(184, l.size());
        assertEquals(29, l.fields().size());
        BlockSelectParams p = new BlockSelectParams(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
                18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 1.5f);
        ByteBuffer bb = ByteBuffer.wrap(p.toBytes()).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(184, p.toBytes().length);
        assertEquals(7, bb.getLong(48));
        assertEquals(8, bb.getLong(56));
        assertEquals(17, bb.getLong(128));
        assertEquals(18, bb.getInt(136));
        assertEquals(28, bb.getInt(176));
        assertEquals(1.5f, bb.getFloat(180));
    }

    @Test
    void selGatherParamsMatchesHandComputedOffsets() {
        StructLayout l = SelGatherParams.LAYOUT;
        // 13 pointers at 0..96, 6 int64 strides at 104..144, 9 int32 at 152..184, padded to 192.
        assertEquals(96, l.offsetOf("packed_cu_k"));
        assertEquals(104, l.offsetOf("k_tok_stride"));
        assertEquals(144, l.offsetOf("blocks_group_stride"));
        assertEquals(152, l.offsetOf("tok0"));
        assertEquals(184, l.offsetOf("cap"));
        assertEquals(192, l.size());
        assertEquals(28, l.fields().size());
        SelGatherParams p = new SelGatherParams(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
                20, 21, 22, 23, 24, 25, 26, 27, 28);
        ByteBuffer bb = ByteBuffer.wrap(p.toBytes()).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(192, p.toBytes().length);
        assertEquals(13, bb.getLong(96));
        assertEquals(19, bb.getLong(144));
        assertEquals(20, bb.getInt(152));
        assertEquals(28, bb.getInt(184));
        assertEquals(0, bb.getInt(188));   // tail padding stays zero
    }

    @Test
    void naturalAlignmentPadsBeforeWiderFieldsAndAtTheEnd() {
        StructLayout l = StructLayout.builder("Mixed").i32("a").pointer("p").f32("f").i32("b").i32("c").build();
        assertEquals(0, l.offsetOf("a"));
        assertEquals(8, l.offsetOf("p"));
        assertEquals(16, l.offsetOf("f"));
        assertEquals(20, l.offsetOf("b"));
        assertEquals(24, l.offsetOf("c"));
        assertEquals(32, l.size());
        StructLayout ints = StructLayout.builder("Ints").i32("a", "b", "c").build();
        assertEquals(12, ints.size());   // int-only struct aligns to 4
    }

    @Test
    void writerPutsLittleEndianValuesAtTheirOffsets() {
        GateCombineParams p = new GateCombineParams(0x1122334455667788L, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                100, 7, 128);
        byte[] b = p.toBytes();
        assertEquals(136, b.length);
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals((byte) 0x88, b[0]);
        assertEquals(0x1122334455667788L, bb.getLong(0));
        assertEquals(5, bb.getLong(32));
        assertEquals(6, bb.getLong(40));
        assertEquals(15, bb.getLong(112));
        assertEquals(100, bb.getInt(120));
        assertEquals(7, bb.getInt(124));
        assertEquals(128, bb.getInt(128));
        assertEquals(0, bb.getInt(132));   // tail padding stays zero

        CompressAvgParams c = new CompressAvgParams(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        ByteBuffer cb = ByteBuffer.wrap(c.toBytes()).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(4, cb.getLong(24));
        assertEquals(8, cb.getLong(56));
        assertEquals(9, cb.getInt(64));
        assertEquals(15, cb.getInt(88));
    }

    @Test
    void writerRejectsWrongKindsAndMissingFields() {
        StructLayout l = StructLayout.builder("S").pointer("p").i32("n").build();
        assertThrows(IllegalStateException.class, () -> l.writer().i32(1));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> l.writer().pointer(1).bytes());
        assertTrue(e.getMessage().contains("n"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> l.writer().pointer(1).i32(2).i32(3));
        assertThrows(IllegalArgumentException.class, () -> StructLayout.builder("D").i32("x").i32("x"));
    }

    @Test
    void probeImageAndDiff() {
        long[] want = ParamsLayouts.expectedProbe();
        assertEquals(want.length, want[0]);
        assertEquals(1 + (1 + 18) + (1 + 15) + (1 + 36) + (1 + 29) + (1 + 21) + (1 + 28) + (1 + 3) + (1 + 49)
                + (1 + 6) + (1 + 11) + (1 + 10) + (1 + 26), want.length);
        assertArrayEquals(new long[]{48, 0, 8, 16, 24, 32, 40}, AttnBwdParams.LAYOUT.probeImage());
        assertArrayEquals(new long[]{88, 0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80}, GateBwdParams.LAYOUT.probeImage());
        assertArrayEquals(new long[]{56, 0, 8, 16, 24, 32, 36, 40, 44, 48, 52}, CompressAvgBwdParams.LAYOUT.probeImage());
        assertEquals(136, want[1]);
        assertNull(ParamsLayouts.diff(want.clone()));
        long[] bad = want.clone();
        bad[2 + 17] = 132;   // GateCombineParams.dv moved
        String d = ParamsLayouts.diff(bad);
        assertTrue(d.contains("GateCombineParams.dv: offset device 132 Java 128"), d);
        assertTrue(ParamsLayouts.diff(new long[]{want.length - 1}).contains("field was added or removed"));
        assertArrayEquals(new long[]{136, 0, 8, 16, 24, 32}, java.util.Arrays.copyOf(GateCombineParams.LAYOUT.probeImage(), 6));
    }
}
