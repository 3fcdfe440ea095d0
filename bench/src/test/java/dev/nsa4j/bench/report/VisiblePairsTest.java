package dev.nsa4j.bench.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class VisiblePairsTest {

    static List<MaskSpec> masks() {
        List<MaskSpec> m = new ArrayList<>(List.of(MaskSpec.NONE, MaskSpec.CAUSAL));
        for (int w = 1; w <= 14; w++) {
            m.add(MaskSpec.window(w));
        }
        for (int l : new int[] {1, 2, 3, 4, 8}) {
            for (int d = 1; d <= Math.min(l, 4); d++) {
                m.add(MaskSpec.blockCausal(l, d));
            }
        }
        return m;
    }

    /** The definitions, written out per mask (independent of MaskSpec.visible). */
    static boolean definition(MaskSpec m, int t, int s) {
        return switch (m) {
            case MaskSpec.None n -> true;
            case MaskSpec.Causal c -> s <= t;
            case MaskSpec.Window w -> t - w.window() + 1 <= s && s <= t;
            case MaskSpec.BlockCausal b -> s * b.cmpStride() + b.cmpLen() - 1 <= t;
        };
    }

    @Test
    void closedFormsEqualBruteForceOnSmallShapes() {
        int cases = 0;
        for (MaskSpec m : masks()) {
            for (int sq = 0; sq <= 12; sq++) {
                for (int sk = 0; sk <= 12; sk++) {
                    long brute = 0;
                    for (int t = 0; t < sq; t++) {
                        for (int s = 0; s < sk; s++) {
                            brute += definition(m, t, s) ? 1 : 0;
                        }
                    }
                    assertEquals(brute, VisiblePairs.perSequence(m, sq, sk), m + " sq=" + sq + " sk=" + sk);
                    assertEquals(3 * brute, VisiblePairs.count(m, 3, sq, sk));
                    cases++;
                }
            }
        }
        assertTrue(cases > 5000);
    }

    @Test
    void rangesAndPredicateAgreeWithTheDefinition() {
        for (MaskSpec m : masks()) {
            for (int t = 0; t < 20; t++) {
                for (int sk = 0; sk <= 20; sk++) {
                    for (int s = 0; s < sk; s++) {
                        boolean inRange = s >= m.visibleFrom(t) && s < m.visibleTo(t, sk);
                        assertEquals(definition(m, t, s), inRange, m + " t=" + t + " s=" + s + " sk=" + sk);
                        assertEquals(definition(m, t, s), m.visible(t, s));
                    }
                }
            }
        }
    }

    /** The same fixed values are asserted by bench/peers/torch_sdpa.py --self-test. */
    @Test
    void fixedValuesSharedWithThePythonPeer() {
        assertEquals(1_001_000, VisiblePairs.count(MaskSpec.CAUSAL, 2, 1000, 1000));
        assertEquals(1_966_336, VisiblePairs.count(MaskSpec.window(512), 1, 4096, 4096));
        MaskSpec.BlockCausal bc = new MaskSpec.BlockCausal(32, 16);
        assertEquals(255, bc.compressedLen(4096));
        assertEquals(1_555_245, VisiblePairs.count(bc, 3, 4096, 255));
        assertEquals(4L * 16 * 8_390_656 * 64, VisiblePairs.flops(VisiblePairs.count(MaskSpec.CAUSAL, 1, 4096, 4096),
                16, 64, 64));
    }

    @Test
    void largeShapesStayExactInLongArithmetic() {
        int s = 1 << 20;
        assertEquals((long) s * (s + 1) / 2, VisiblePairs.perSequence(MaskSpec.CAUSAL, s, s));
        assertEquals((long) s * s, VisiblePairs.perSequence(MaskSpec.window(s), s, s) * 2 - s);
        assertEquals((long) s * s, VisiblePairs.perSequence(MaskSpec.NONE, s, s));
        assertThrows(ArithmeticException.class, () -> VisiblePairs.flops(Long.MAX_VALUE / 4, 64, 128, 128));
        assertThrows(IllegalArgumentException.class, () -> VisiblePairs.count(MaskSpec.NONE, -1, 1, 1));
    }

    @Test
    void maskColumnsAreCheckedAgainstTheMask() {
        assertEquals(MaskSpec.window(7), MaskSpec.of("window", 7, 0, 0));
        assertEquals(MaskSpec.blockCausal(32, 16), MaskSpec.of("block-causal", 0, 32, 16));
        assertEquals(MaskSpec.CAUSAL, MaskSpec.of("causal", 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> MaskSpec.of("causal", 5, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> MaskSpec.of("window", 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> MaskSpec.of("window", 4, 32, 16));
        assertThrows(IllegalArgumentException.class, () -> MaskSpec.of("block-causal", 0, 32, 0));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MaskSpec.of("sliding", 0, 0, 0));
        assertTrue(e.getMessage().contains("none, causal, window, block-causal"), e.getMessage());
        assertEquals("block-causal l=32 d=16", MaskSpec.blockCausal(32, 16).describe());
        assertEquals("window w=5", MaskSpec.window(5).describe());
        assertEquals("none", MaskSpec.NONE.describe());
    }
}
