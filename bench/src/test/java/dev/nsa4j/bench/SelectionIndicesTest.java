package dev.nsa4j.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.nsa4j.NsaArgumentException;

/** The selection bench's block sets: NSA's shape (forced blocks, sorted, distinct, causal), files, the key count. */
class SelectionIndicesTest {
    @Test
    void randomSetsHaveTheForcedBlocksAndAreSortedDistinctAndCausal() {
        int b = 2, s = 1500, g = 3, n = 16, lsel = 64;
        int[] idx = SelectionIndices.random(b, s, g, n, lsel, 7);
        assertEquals(b * s * g * n, idx.length);
        for (int row = 0; row < b * s * g; row++) {
            int t = (row / g) % s, cur = t / lsel;
            int[] r = java.util.Arrays.copyOfRange(idx, row * n, row * n + n);
            if (cur + 1 <= n) {
                for (int e = 0; e < n; e++) {
                    assertEquals(e <= cur ? e : -1, r[e], "row " + row);
                }
                continue;
            }
            assertEquals(0, r[0]);
            assertEquals(cur - 1, r[n - 2]);
            assertEquals(cur, r[n - 1]);
            for (int e = 1; e < n; e++) {
                assertTrue(r[e - 1] < r[e], "row " + row + " sorted and distinct");
            }
        }
        assertArrayEquals(idx, SelectionIndices.random(b, s, g, n, lsel, 7));
        assertTrue(!java.util.Arrays.equals(idx, SelectionIndices.random(b, s, g, n, lsel, 8)));
        assertThrows(NsaArgumentException.class, () -> SelectionIndices.random(1, 10, 1, 2, 64, 0));
    }

    @Test
    void attendedKeysCountTheKeysUpToTheQueryOfEachDistinctBlock() {
        int s = 130, lsel = 64, n = 3;
        int[] idx = SelectionIndices.random(1, s, 1, n, lsel, 0);   // every row holds all its blocks (cur <= 2)
        // t < 64: t + 1 keys; 64 <= t < 128: 64 + (t - 63); t = 128, 129: 128 + (t - 127)
        assertEquals(2080 + 64 * 64 + 2080 + 129 + 130, SelectionIndices.attendedKeys(idx, 1, s, 1, n, lsel));
        // duplicates, negatives and blocks after the query count nothing
        int[] messy = {0, 0, -1, 5, 5, 0};
        assertEquals(1 + 2, SelectionIndices.attendedKeys(messy, 1, 2, 1, 3, lsel));
    }

    @Test
    void filesAreRawLittleEndianInt32OfTheShapesSize(@TempDir Path dir) throws Exception {
        int[] want = {0, -1, 3, 7, 1 << 20, -1};
        ByteBuffer buf = ByteBuffer.allocate(4 * want.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : want) {
            buf.putInt(v);
        }
        Path f = dir.resolve("idx.bin");
        Files.write(f, buf.array());
        assertArrayEquals(want, SelectionIndices.read(f, want.length));
        NsaArgumentException e = assertThrows(NsaArgumentException.class, () -> SelectionIndices.read(f, 5));
        assertTrue(e.getMessage().contains("--indices") && e.getMessage().contains("24 bytes"), e.getMessage());
    }
}
