package dev.nsa4j.nsa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The per-call FA-2 length threshold, without a GPU. */
class Fa2ThresholdTest {
    @Test
    void windowBranchJudgesTheWindowLength() {
        assertEquals(512, Fa2Threshold.callLength(Branch.WIN, 512, new int[] {0, 3}), "the window, not the sequence");
        Fa2Threshold.Decision at = Fa2Threshold.decide(Branch.WIN, 128, 128);
        assertTrue(at.fa2(), "equal to the threshold runs FA-2");
        assertEquals("window 128 >= 128", at.reason());
        Fa2Threshold.Decision below = Fa2Threshold.decide(Branch.WIN, 127, 128);
        assertFalse(below.fa2());
        assertEquals("below NSA_FA2_MIN_LEN_WIN (127 < 128)", below.reason());
        assertEquals(127, below.length());
        assertEquals(128, below.min());
        Fa2Threshold.Decision off = Fa2Threshold.decide(Branch.WIN, 4096, -1);
        assertFalse(off.fa2());
        assertEquals("FA-2 off: NSA_FA2_MIN_LEN_WIN=-1", off.reason());
        assertTrue(Fa2Threshold.decide(Branch.WIN, 1, 0).fa2(), "min len 0: always");
    }

    @Test
    void compressedBranchJudgesTheLongestCompressedSequence() {
        int[] cuCmp = {0, 10, 10, 58, 70};   // lengths 10, 0, 48, 12
        assertEquals(48, Fa2Threshold.longest(cuCmp));
        assertEquals(48, Fa2Threshold.callLength(Branch.CMP, 512, cuCmp), "the window does not matter");
        Fa2Threshold.Decision at = Fa2Threshold.decide(Branch.CMP, 48, 48);
        assertTrue(at.fa2());
        assertEquals("compressed length 48 >= 48", at.reason());
        Fa2Threshold.Decision below = Fa2Threshold.decide(Branch.CMP, 47, 48);
        assertFalse(below.fa2());
        assertEquals("below NSA_FA2_MIN_LEN_CMP (47 < 48)", below.reason());
        assertEquals("FA-2 off: NSA_FA2_MIN_LEN_CMP=-1", Fa2Threshold.decide(Branch.CMP, 1000, -1).reason());
        assertFalse(Fa2Threshold.decide(Branch.CMP, 0, 1).fa2(), "no compressed key");
    }

    @Test
    void edgeCases() {
        assertEquals(0, Fa2Threshold.longest(new int[] {0}), "no sequence");
        assertEquals(0, Fa2Threshold.longest(new int[] {0, 0, 0}), "sequences shorter than a block");
        assertEquals(Flag.NSA_FA2_MIN_LEN_WIN, Fa2Threshold.minLenFlag(Branch.WIN));
        assertEquals(Flag.NSA_FA2_MIN_LEN_CMP, Fa2Threshold.minLenFlag(Branch.CMP));
        assertThrows(IllegalArgumentException.class, () -> Fa2Threshold.minLenFlag(Branch.SEL));
        assertThrows(IllegalArgumentException.class, () -> Fa2Threshold.decide(Branch.SEL, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> Fa2Threshold.callLength(Branch.SEL, 1, new int[] {0}));
    }
}
