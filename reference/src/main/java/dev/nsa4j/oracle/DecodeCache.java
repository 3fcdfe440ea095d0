package dev.nsa4j.oracle;

import dev.nsa4j.config.NsaConfig;

/**
 * Decode state of one attention layer for a batch of B sequences (the NSA spec (docs/nsa-spec.md) "Decode"). Per sequence it holds
 * every k_sel/v_sel token, the last w k_win/v_win tokens, the raw k_cmp/v_cmp tokens the next compressed
 * token still needs, the compressed tokens K̃/Ṽ, and the length. Made by {@link NsaDecoder#prefill};
 * advanced by {@link NsaDecoder#step}. Not thread-safe.
 */
public final class DecodeCache {
    final NsaConfig cfg;
    final Sequence[] seqs;

    static final class Sequence {
        int length;
        final TokenCache sel;
        final TokenCache win;
        final TokenCache raw;
        final TokenCache cmp;

        Sequence(NsaConfig c, int winStart, int rawStart, int hint) {
            int g = c.kvGroups();
            sel = new TokenCache(g, c.headDimQk(), c.headDimV(), 0, hint);
            win = new TokenCache(g, c.headDimQk(), c.headDimV(), winStart, Math.min(hint, c.window() + 1));
            raw = new TokenCache(g, c.headDimQk(), c.headDimV(), rawStart, c.blockLen() + 1);
            cmp = new TokenCache(g, c.headDimQk(), c.headDimV(), 0, c.compressedLen(hint) + 1);
        }
    }

    DecodeCache(NsaConfig cfg, Sequence[] seqs) {
        this.cfg = cfg;
        this.seqs = seqs;
    }

    public int batch() {
        return seqs.length;
    }

    /** Tokens sequence b holds (the position the next step computes). */
    public int length(int b) {
        return seqs[b].length;
    }

    /** Compressed tokens sequence b holds: S_cmp(length). */
    public int compressedLength(int b) {
        return seqs[b].cmp.size();
    }

    /** Window tokens sequence b keeps: min(w, length). */
    public int windowTokens(int b) {
        return seqs[b].win.size();
    }

    /** Raw compression tokens sequence b keeps for its next compressed token. */
    public int pendingRawTokens(int b) {
        return seqs[b].raw.size();
    }
}
