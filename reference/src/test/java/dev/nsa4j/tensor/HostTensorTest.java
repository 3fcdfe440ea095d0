package dev.nsa4j.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import org.junit.jupiter.api.Test;

class HostTensorTest {
    private static HostTensor iota(DType dt, int... dims) {
        HostTensor t = HostTensor.zeros(dt, dims);
        double[] v = new double[(int) t.numel()];
        for (int i = 0; i < v.length; i++) {
            v[i] = i;
        }
        t.copyFrom(v);
        return t;
    }

    @Test
    void getSetAndFactories() {
        HostTensor t = HostTensor.of(DType.FP32, new double[] {1, 2, 3, 4, 5, 6}, 2, 3);
        assertEquals(6, t.get(1, 2));
        t.set(-1, 0, 1);
        assertEquals(-1, t.get(0, 1));
        assertEquals(2, t.rank());
        assertEquals(3, t.dim(1));
        assertTrue(t.isContiguous());
        HostTensor ints = HostTensor.ofInts(new int[] {7, -8}, 2);
        assertEquals(-8, ints.getInt(1));
        assertThrows(IllegalStateException.class, () -> t.getInt(0, 0));
        assertThrows(IllegalArgumentException.class, () -> HostTensor.ofFloats(new float[3], 2, 2));
        assertThrows(IllegalArgumentException.class,
                () -> HostTensor.wrap(Arena.ofAuto().allocate(8), DType.FP32, Shape.of(3)));
        assertEquals("HostTensor[FP32 [2, 3]]", t.toString());
    }

    @Test
    void viewsReadStridedMemoryInLogicalOrder() {
        for (DType dt : DType.values()) {
            HostTensor base = iota(dt, 2, 3, 4);
            // transpose of the last two axes: [2, 4, 3]
            HostTensor tr = base.view(Shape.strided(new int[] {2, 4, 3}, new long[] {12, 1, 4}));
            assertFalse(tr.isContiguous());
            double[] v = tr.toDoubleArray();
            assertEquals(24, v.length);
            assertEquals(base.get(1, 2, 3), tr.get(1, 3, 2));
            assertEquals(4, v[1], dt.toString()); // tr[0,0,1] = base[0,1,0]
            // every other column: [2, 3, 2] with stride 2 on the last axis
            HostTensor cols = base.view(Shape.strided(new int[] {2, 3, 2}, new long[] {12, 4, 2}));
            assertArrayEquals(new double[] {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22}, cols.toDoubleArray());
            HostTensor copy = cols.to(dt);
            assertTrue(copy.isContiguous());
            assertArrayEquals(cols.toDoubleArray(), copy.toDoubleArray());
        }
        HostTensor ints = iota(DType.INT32, 3, 2);
        HostTensor col = ints.view(Shape.strided(new int[] {3}, new long[] {2}));
        assertArrayEquals(new int[] {0, 2, 4}, col.toIntArray());
    }

    @Test
    void conversionsRoundToNearestEven() {
        HostTensor f = HostTensor.of(DType.FP32, new double[] {1 + 0x1p-11, 1 + 3 * 0x1p-11, 1 + 0x1p-8}, 3);
        assertArrayEquals(new double[] {1, 1 + 0x1p-9, 1 + 0x1p-8}, f.to(DType.FP16).toDoubleArray());
        assertArrayEquals(new double[] {1, 1, 1}, f.to(DType.BF16).toDoubleArray());
        HostTensor special = HostTensor.of(DType.FP16,
                new double[] {Double.NaN, Double.POSITIVE_INFINITY, -70000, 0.1}, 4);
        double[] s = special.toDoubleArray();
        assertTrue(Double.isNaN(s[0]));
        assertEquals(Double.POSITIVE_INFINITY, s[1]);
        assertEquals(Double.NEGATIVE_INFINITY, s[2]);
        assertEquals(Float.float16ToFloat(Float.floatToFloat16(0.1f)), s[3]);
        float[] fl = special.toFloatArray();
        assertEquals((float) s[3], fl[3]);
    }

    @Test
    void scalarAndEmptyTensors() {
        HostTensor scalar = HostTensor.zeros(DType.FP32);
        scalar.set(2.5);
        assertEquals(2.5, scalar.get());
        assertArrayEquals(new double[] {2.5}, scalar.toDoubleArray());
        HostTensor empty = HostTensor.zeros(DType.FP16, 0, 4);
        assertEquals(0, empty.toDoubleArray().length);
        assertEquals(0, empty.to(DType.FP32).numel());
    }
}
