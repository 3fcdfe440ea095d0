package dev.nsa4j.bench;

import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.oracle.DecodeReads;

/**
 * The key/value tokens one NSA decode step reads, in closed form from the config and the step's position: what the
 * CPU decoder counts ({@link DecodeReads}, docs/nsa-spec.md §8 "Reads counter"), for the GPU decoder, which does not
 * count. For the query at position t (the sequence held t tokens before the step), per KV group:
 * <ul>
 *   <li>compressed: ncmp(t) = S_cmp(t + 1) = t + 1 &gt;= l ? (t + 1 − l) / d + 1 : 0;</li>
 *   <li>selected: every token &lt;= t while cur + 1 &lt;= n (cur = ⌊t / l'⌋: every candidate block is chosen), else
 *       n − 1 full blocks and the query's own block up to t, (n − 1)·l' + (t mod l' + 1): the chosen set is the
 *       forced blocks 0, cur − 1, cur and n − 3 distinct others of 1 … cur − 2 (spec §4.2), all distinct;</li>
 *   <li>window: min(w, t + 1).</li>
 * </ul>
 * {@link #at} sums them over the G groups, as {@link DecodeReads} does. Bytes count each token once with its key and
 * value ({@code Dk + Dv} elements), in the cache dtype (K̃/Ṽ are stored in it too).
 */
final class DecodeStepReads {
    private DecodeStepReads() {}

    /** The reads of one sequence's step at position {@code t}, summed over the KV groups. */
    static DecodeReads at(NsaConfig cfg, int t) {
        if (t < 0) {
            throw new IllegalArgumentException("position t = " + t + " < 0");
        }
        long g = cfg.kvGroups();
        return new DecodeReads(g * cfg.visibleCompressed(t), g * selectedPerGroup(cfg, t),
                g * Math.min(cfg.window(), t + 1L));
    }

    /** Selected tokens at or before t that one KV group reads at position t (the distinct chosen blocks, clipped at t). */
    static long selectedPerGroup(NsaConfig cfg, int t) {
        int cur = t / cfg.selBlock();
        if (cur + 1 <= cfg.nSel()) {
            return t + 1L;
        }
        return (long) (cfg.nSel() - 1) * cfg.selBlock() + (t % cfg.selBlock() + 1);
    }

    /** Key/value bytes one sequence's NSA step at position t reads: {@link #at} tokens x (Dk + Dv) x elemBytes. */
    static long kvBytes(NsaConfig cfg, int t, int elemBytes) {
        return at(cfg, t).total() * (cfg.headDimQk() + cfg.headDimV()) * elemBytes;
    }

    /** Key/value bytes one sequence's dense decode at position t reads: (t + 1) tokens x G x (Dk + Dv) x elemBytes. */
    static long denseKvBytes(NsaConfig cfg, int t, int elemBytes) {
        return (t + 1L) * cfg.kvGroups() * (cfg.headDimQk() + cfg.headDimV()) * elemBytes;
    }

    /** Bytes of one sequence's query read and output written: Hq·Dk·qBytes + Hq·Dv·oBytes. */
    static long qoBytes(NsaConfig cfg, int qBytes, int oBytes) {
        return (long) cfg.heads() * ((long) cfg.headDimQk() * qBytes + (long) cfg.headDimV() * oBytes);
    }
}
