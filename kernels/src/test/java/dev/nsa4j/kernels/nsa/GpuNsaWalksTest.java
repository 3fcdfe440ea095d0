package dev.nsa4j.kernels.nsa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.kernels.AttnWalk;
import org.junit.jupiter.api.Test;

/** {@link GpuNsa.Walks} without a GPU: no runners unless given, and the copies keep them. */
class GpuNsaWalksTest {
    @Test
    void runnersAreOptionalAndKept() {
        GpuNsa.Walks w = new GpuNsa.Walks(AttnWalk.RANGES, AttnWalk.ALL, AttnWalk.RANGES);
        assertNull(w.cmpRunner());
        assertNull(w.winRunner());
        assertFalse(w.selPacked());
        assertEquals(w, new GpuNsa.Walks(AttnWalk.RANGES, AttnWalk.ALL, AttnWalk.RANGES, false, null, null));
        GpuNsa.BranchAttention cmp = (s, q, k, v, cq, cqh, ck, ckh, spec, o, l) -> { };
        GpuNsa.BranchAttention win = (s, q, k, v, cq, cqh, ck, ckh, spec, o, l) -> { };
        GpuNsa.Walks r = w.withRunners(cmp, win).withPackedSel();
        assertSame(cmp, r.cmpRunner());
        assertSame(win, r.winRunner());
        assertTrue(r.selPacked());
        assertEquals(AttnWalk.ALL, r.sel());
        assertNull(r.withRunners(null, null).cmpRunner());
        assertThrows(NullPointerException.class, () -> new GpuNsa.Walks(null, AttnWalk.ALL, AttnWalk.ALL));
    }
}
