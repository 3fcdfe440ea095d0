package dev.nsa4j.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class DTypeTest {
    @Test
    void parsesNamesAndAliases() {
        assertEquals(DType.FP32, DType.parse("fp32"));
        assertEquals(DType.FP32, DType.parse("Float32"));
        assertEquals(DType.FP16, DType.parse("half"));
        assertEquals(DType.BF16, DType.parse("BF16"));
        assertEquals(DType.INT32, DType.parse("int32"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DType.parse("fp64"));
        assertTrue(e.getMessage().contains("fp32, fp16, bf16, int32"));
    }

    @Test
    void sizesAndDescrs() {
        assertEquals(4, DType.FP32.byteSize());
        assertEquals(2, DType.BF16.byteSize());
        assertEquals("<f2", DType.FP16.npyDescr());
        assertNull(DType.BF16.npyDescr());
        assertTrue(DType.BF16.isFloating());
        assertTrue(!DType.INT32.isFloating());
    }

    @Test
    void bf16RoundsToNearestEven() {
        // 1 + 2^-8 is exactly halfway between bf16 1.0 and 1 + 2^-7: ties go to the even mantissa (1.0)
        assertEquals(1.0f, DType.bf16ToFloat(DType.floatToBf16(1f + 0x1p-8f)));
        // 1 + 3*2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even): rounds up
        assertEquals(1f + 0x1p-6f, DType.bf16ToFloat(DType.floatToBf16(1f + 3 * 0x1p-8f)));
        // just above the tie rounds up
        assertEquals(1f + 0x1p-7f, DType.bf16ToFloat(DType.floatToBf16(1f + 0x1p-8f + 0x1p-20f)));
        assertEquals(-1.0f, DType.bf16ToFloat(DType.floatToBf16(-1f - 0x1p-8f)));
        assertEquals(Float.POSITIVE_INFINITY, DType.bf16ToFloat(DType.floatToBf16(Float.POSITIVE_INFINITY)));
        assertEquals(Float.NEGATIVE_INFINITY, DType.bf16ToFloat(DType.floatToBf16(Float.NEGATIVE_INFINITY)));
        assertEquals(Float.POSITIVE_INFINITY, DType.bf16ToFloat(DType.floatToBf16(Float.MAX_VALUE)));
        assertTrue(Float.isNaN(DType.bf16ToFloat(DType.floatToBf16(Float.NaN))));
        // a NaN whose payload sits only in the low 16 bits must not become Inf
        float lowNaN = Float.intBitsToFloat(0x7f800001);
        assertTrue(Float.isNaN(DType.bf16ToFloat(DType.floatToBf16(lowNaN))));
    }

    @Test
    void fp16RoundsToNearestEven() {
        // 1 + 2^-11 is halfway between fp16 1.0 and 1 + 2^-10: ties to even
        assertEquals(1.0, DType.FP16.roundTrip(1 + 0x1p-11));
        assertEquals(1 + 0x1p-9, DType.FP16.roundTrip(1 + 3 * 0x1p-11));
        assertEquals(65504.0, DType.FP16.roundTrip(65504));
        assertEquals(Double.POSITIVE_INFINITY, DType.FP16.roundTrip(65520));
        assertEquals(Double.NEGATIVE_INFINITY, DType.FP16.roundTrip(Double.NEGATIVE_INFINITY));
        assertTrue(Double.isNaN(DType.FP16.roundTrip(Double.NaN)));
        assertEquals(0x1p-24, DType.FP16.roundTrip(0x1p-24));
        assertEquals(0.0, DType.FP16.roundTrip(0x1p-26));
        assertEquals(1 + 0x1p-7, DType.BF16.roundTrip(1.0 + 0x1p-8 + 0x1p-12));
        assertEquals(3, DType.INT32.roundTrip(3.7));
        assertEquals((float) 0.1, DType.FP32.roundTrip(0.1));
    }
}
