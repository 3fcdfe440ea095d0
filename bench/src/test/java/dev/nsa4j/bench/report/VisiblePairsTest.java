package dev.nsa4j.bench.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.kernels.Mask;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class VisiblePairsTest {

    static List<Mask> masks() {
        List<Mask> m = new ArrayList<>(List.of(Mask.NONE, Mask.CAUSAL));
        for (int w = 1; w <= 14; w++) {
            m.add(MaskText.checkedWindow(w));
        }
        for (int l : new int[] {1, 2, 3, 4, 8}) {
            for (int d = 1; d <= Math.min(l, 4); d++) {
                m.add(MaskText.checkedBlockCausal(l, d));
            }
        }
        return m;
    }

    /** The definitions, written out per mask (independent of MaskText.visible). */
    static boolean definition(Mask m, int t, int s) {
        return switch (m) {
            case Mask.None n -> true;
            case Mask.Causal c -> s <= t;
            case Mask.Window w -> t - w.w() + 1 <= s && s <= t;
            case Mask.BlockCausal b -> s * b.d() + b.l() - 1 <= t;
            case Mask.Chosen c -> throw new IllegalArgumentException("not a bench mask");
        };
    }

    @Test
    void closedFormsEqualBruteForceOnSmallShapes() {
        int cases = 0;
        for (Mask m : masks()) {
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
        for (Mask m : masks()) {
            for (int t = 0; t < 20; t++) {
                for (int sk = 0; sk <= 20; sk++) {
                    for (int s = 0; s < sk; s++) {
                        boolean inRange = s >= MaskText.visibleFrom(m, t) && s < MaskText.visibleTo(m, t, sk);
                        assertEquals(definition(m, t, s), inRange, m + " t=" + t + " s=" + s + " sk=" + sk);
                        assertEquals(definition(m, t, s), MaskText.visible(m, t, s));
                    }
                }
            }
        }
    }

    /** The same fixed values are asserted by bench/peers/torch_sdpa.py --self-test. */
    @Test
    void fixedValuesSharedWithThePythonPeer() {
        assertEquals(1_001_000, VisiblePairs.count(Mask.CAUSAL, 2, 1000, 1000));
        assertEquals(1_966_336, VisiblePairs.count(MaskText.checkedWindow(512), 1, 4096, 4096));
        Mask.BlockCausal bc = MaskText.checkedBlockCausal(32, 16);
        assertEquals(255, MaskText.compressedLen(bc, 4096));
        assertEquals(1_555_245, VisiblePairs.count(bc, 3, 4096, 255));
        assertEquals(4L * 16 * 8_390_656 * 64, VisiblePairs.flops(VisiblePairs.count(Mask.CAUSAL, 1, 4096, 4096),
                16, 64, 64));
    }

    @Test
    void largeShapesStayExactInLongArithmetic() {
        int s = 1 << 20;
        assertEquals((long) s * (s + 1) / 2, VisiblePairs.perSequence(Mask.CAUSAL, s, s));
        assertEquals((long) s * s, VisiblePairs.perSequence(MaskText.checkedWindow(s), s, s) * 2 - s);
        assertEquals((long) s * s, VisiblePairs.perSequence(Mask.NONE, s, s));
        assertThrows(ArithmeticException.class, () -> VisiblePairs.flops(Long.MAX_VALUE / 4, 64, 128, 128));
        assertThrows(IllegalArgumentException.class, () -> VisiblePairs.count(Mask.NONE, -1, 1, 1));
    }

    @Test
    void maskColumnsAreCheckedAgainstTheMask() {
        assertEquals(MaskText.checkedWindow(7), MaskText.of("window", 7, 0, 0));
        assertEquals(MaskText.checkedBlockCausal(32, 16), MaskText.of("block-causal", 0, 32, 16));
        assertEquals(Mask.CAUSAL, MaskText.of("causal", 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> MaskText.of("causal", 5, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> MaskText.of("window", 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> MaskText.of("window", 4, 32, 16));
        assertThrows(IllegalArgumentException.class, () -> MaskText.of("block-causal", 0, 32, 0));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MaskText.of("sliding", 0, 0, 0));
        assertTrue(e.getMessage().contains("none, causal, window, block-causal"), e.getMessage());
        assertEquals("block-causal l=32 d=16", MaskText.describe(MaskText.checkedBlockCausal(32, 16)));
        assertEquals("window w=5", MaskText.describe(MaskText.checkedWindow(5)));
        assertEquals("none", MaskText.describe(Mask.NONE));
        assertThrows(IllegalArgumentException.class, () -> MaskText.id(Mask.chosen(64)));
    }
}
