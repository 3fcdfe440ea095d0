package dev.nsa4j.nsa;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.NsaArgumentException;
import org.junit.jupiter.api.Test;

/** The GPU decoder's block table on the host (CPU only): the own pool's order, a caller's placements and their rules. */
class DecodePageTableTest {
    @Test
    void theOwnPoolHandsOutPagesInOrderAndKeepsThemAcrossAnEnd() {
        DecodePageTable t = DecodePageTable.owned(2, 3);
        assertEquals(6, t.pages());
        t.require(1, 0, "step");
        t.require(0, 0, "step");
        t.require(1, 0, "step");   // already placed: nothing changes
        t.require(1, 2, "step");
        assertArrayEquals(new int[] {1, -1, -1}, t.row(0));
        assertArrayEquals(new int[] {0, -1, 2}, t.row(1));
        assertArrayEquals(new int[] {1, -1, -1, 0, -1, 2}, t.takeChanges());
        assertNull(t.takeChanges(), "uploaded once");
        t.release(1);
        assertArrayEquals(new int[] {0, -1, 2}, t.row(1), "the own pool keeps a sequence's pages for its new tokens");
        t.resetOwned();
        assertArrayEquals(new int[] {-1, -1, -1}, t.row(1));
        t.require(0, 1, "prefill");
        assertEquals(0, t.page(0, 1), "a prefill places every block again from page 0");
        NsaArgumentException e = assertThrows(NsaArgumentException.class, () -> t.assign(0, 0, 5));
        assertTrue(e.getMessage().contains("owns its pool"), e.getMessage());
    }

    @Test
    void aCallersPlacementsAreCheckedAndNeverMadeByTheDecoder() {
        DecodePageTable t = DecodePageTable.callerOwned(2, 4, 5);
        NsaArgumentException none = assertThrows(NsaArgumentException.class, () -> t.require(1, 2, "step"));
        assertEquals("decode.pages", none.subject());
        assertTrue(none.getMessage().contains("block 2 of sequence 1 has no page"), none.getMessage());
        assertTrue(none.getMessage().contains("assignPage before the step"), none.getMessage());
        t.assign(1, 2, 4);
        t.assign(1, 2, 4);   // the same placement again: allowed
        t.require(1, 2, "step");
        assertTrue(assertThrows(NsaArgumentException.class, () -> t.assign(0, 0, 4)).getMessage()
                .contains("page 4 holds block 2 of sequence 1"));
        assertTrue(assertThrows(NsaArgumentException.class, () -> t.assign(1, 2, 3)).getMessage()
                .contains("is in page 4"));
        assertTrue(assertThrows(NsaArgumentException.class, () -> t.assign(0, 0, 5)).getMessage()
                .contains("0 <= page < 5"));
        assertTrue(assertThrows(NsaArgumentException.class, () -> t.assign(0, 4, 0)).getMessage()
                .contains("0 <= block < 4"));
        assertTrue(assertThrows(NsaArgumentException.class, () -> t.assign(2, 0, 0)).getMessage()
                .contains("0 <= sequence < 2"));
        t.resetOwned();
        assertEquals(4, t.page(1, 2), "a prefill keeps a caller's placements");
        t.release(1);
        assertArrayEquals(new int[] {-1, -1, -1, -1}, t.row(1));
        t.assign(0, 0, 4);   // the released page is free again
        assertArrayEquals(new int[] {4, -1, -1, -1, -1, -1, -1, -1}, t.takeChanges());
        assertEquals("decode.pages", assertThrows(NsaArgumentException.class, () -> t.release(2)).subject());
        assertEquals("pages", assertThrows(NsaArgumentException.class,
                () -> DecodePageTable.callerOwned(1, 1, 0)).subject());
    }
}
