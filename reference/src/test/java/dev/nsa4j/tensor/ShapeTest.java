package dev.nsa4j.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ShapeTest {
    @Test
    void contiguousStridesAndCounts() {
        Shape s = Shape.of(2, 3, 4);
        assertArrayEquals(new long[] {12, 4, 1}, s.strides());
        assertEquals(24, s.numel());
        assertEquals(24, s.span());
        assertTrue(s.isContiguous());
        assertEquals(1 * 12 + 2 * 4 + 3, s.offset(1, 2, 3));
        assertEquals("[2, 3, 4]", s.toString());
    }

    @Test
    void scalarAndEmpty() {
        Shape scalar = Shape.of();
        assertEquals(0, scalar.rank());
        assertEquals(1, scalar.numel());
        assertEquals(1, scalar.span());
        assertEquals(0, scalar.offset());
        Shape empty = Shape.of(0, 3);
        assertEquals(0, empty.numel());
        assertEquals(0, empty.span());
        assertTrue(empty.isContiguous());
    }

    /** Shape.of(3, 0) is made with strides [1, 1]: a zero-length axis must not break the contiguity test. */
    @Test
    void emptyTrailingAxisIsContiguous() {
        assertTrue(Shape.of(3, 0).isContiguous());
    }

    @Test
    void stridedViewsAndContiguity() {
        Shape t = Shape.strided(new int[] {3, 2}, new long[] {1, 3});
        assertFalse(t.isContiguous());
        assertEquals(6, t.span());
        assertEquals(3 + 2, t.offset(2, 1));
        assertTrue(t.toString().contains("strides"));
        // a slice of every other row: contiguous in the last axis only
        Shape rows = Shape.strided(new int[] {2, 4}, new long[] {8, 1});
        assertFalse(rows.isContiguous());
        assertTrue(rows.isContiguousFrom(1));
        // size-1 axes may carry any stride
        assertTrue(Shape.strided(new int[] {1, 4}, new long[] {99, 1}).isContiguous());
        assertTrue(t.sameDims(Shape.of(3, 2)));
        assertFalse(t.equals(Shape.of(3, 2)));
        assertEquals(Shape.of(3, 2), Shape.strided(new int[] {3, 2}, new long[] {2, 1}));
        assertEquals(Shape.of(3, 2).hashCode(), Shape.strided(new int[] {3, 2}, new long[] {2, 1}).hashCode());
    }

    @Test
    void rejectsBadInput() {
        assertThrows(IllegalArgumentException.class, () -> Shape.of(2, -1));
        assertThrows(IllegalArgumentException.class, () -> Shape.strided(new int[] {2}, new long[] {1, 1}));
        assertThrows(IllegalArgumentException.class, () -> Shape.strided(new int[] {2}, new long[] {-1}));
        assertThrows(IndexOutOfBoundsException.class, () -> Shape.of(2, 3).offset(2, 0));
        assertThrows(IllegalArgumentException.class, () -> Shape.of(2, 3).offset(1));
    }
}
