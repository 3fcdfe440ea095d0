package dev.nsa4j.kernels.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

import dev.nsa4j.tensor.DType;

/** The host-side rules of {@link TensorMaps} (no driver call: every case here is refused before it). */
class TensorMapsTest {
    private static TensorMaps.Rows rows(DType dt, long address, long n, int heads, int d, long rowStride, long headStride) {
        return new TensorMaps.Rows("k", dt, address, n, heads, d, rowStride, headStride);
    }

    @Test
    void packedRowsAreMappable() {
        TensorMaps.Rows k = rows(DType.BF16, 0x7f0000000000L, 65536, 4, 128, 512, 128);
        assertEquals(List.of(), k.problems());
        assertArrayEquals(new long[] {128, 4, 65536}, k.dims());
        assertArrayEquals(new long[] {256, 1024}, k.byteStrides());
        assertEquals(List.of(), rows(DType.FP16, 0x1000, 1, 1, 64, 64, 64).problems());
    }

    @Test
    void everyBrokenRuleIsNamedWithItsValues() {
        assertEquals(List.of("k at 0x1008 is not 16-byte aligned"),
                rows(DType.BF16, 0x1008, 10, 4, 128, 512, 128).problems());
        assertEquals(List.of("k row stride 516 elements (1032 bytes): a positive multiple of 16 bytes below 2^40",
                        "k head stride 129 elements (258 bytes): a positive multiple of 16 bytes below 2^40"),
                rows(DType.BF16, 0x1000, 10, 4, 128, 516, 129).problems());
        assertEquals(List.of("k is FP32, tensor maps here are fp16 or bf16"),
                rows(DType.FP32, 0x1000, 10, 4, 128, 512, 128).problems());
        assertEquals(List.of("k [0, 4, 128]: every dimension in [1, 2^32]"),
                rows(DType.BF16, 0x1000, 0, 4, 128, 512, 128).problems());
        assertEquals(List.of("k head dim 96 is not a multiple of 64 (the box width)"),
                rows(DType.BF16, 0x1000, 10, 4, 96, 384, 96).problems());
        assertEquals(List.of("k row stride 549755813888 elements (1099511627776 bytes): a positive multiple of 16 bytes "
                + "below 2^40"), rows(DType.BF16, 0x1000, 10, 4, 128, 1L << 39, 128).problems());
    }

    @Test
    void encodeRefusesBeforeTheDriver() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TensorMaps.encode(rows(DType.BF16, 0x1008, 10, 4, 128, 512, 128), 32));
        assertEquals("tensor map of k: k at 0x1008 is not 16-byte aligned", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> TensorMaps.encode(rows(DType.BF16, 0x1000, 10, 4, 128, 512, 128), 257));
        assertTrue(e.getMessage().contains("box rows 257 outside [1, 256]"), e.getMessage());
    }
}
