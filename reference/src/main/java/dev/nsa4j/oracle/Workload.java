package dev.nsa4j.oracle;

import dev.nsa4j.attention.NsaResult;
import dev.nsa4j.config.NsaConfig;

/**
 * The keys an NSA forward really attends, per branch, summed over query heads: compressed keys ncmp(t),
 * selected tokens ≤ t of the distinct chosen blocks, window keys min(w, t + 1). FLOPs follow the usual
 * attention count, 2·(Dk + Dv) per (query head, key): one multiply-add per element of q·k and of p·v
 * (4·D when Dk = Dv, docs/architecture.md's 4·B·H·Sq·Sk_visible·D). Compression, scoring and the gates are
 * left out: they are O(S·D) or O(S·S/d) and small next to attention.
 */
public record Workload(long compressedKeys, long selectedKeys, long windowKeys, int headDimQk, int headDimV) {

    public long keys() {
        return compressedKeys + selectedKeys + windowKeys;
    }

    public double flops() {
        return 2.0 * (headDimQk + headDimV) * keys();
    }

    /** Counts the keys of a finished forward from its batch layout and chosen blocks. */
    public static Workload of(NsaConfig cfg, NsaResult result) {
        int[] cu = result.layout().cu();
        int[] idx = result.indexArray();
        int g = cfg.kvGroups();
        int n = cfg.nSel();
        int h = cfg.headsPerGroup();
        long cmp = 0, sel = 0, win = 0;
        boolean[] seen = new boolean[cfg.selBlocks(Math.max(1, maxLen(cu)))];
        for (int b = 0; b + 1 < cu.length; b++) {
            for (int t = 0; t < cu[b + 1] - cu[b]; t++) {
                int tok = cu[b] + t;
                cmp += (long) cfg.visibleCompressed(t) * cfg.heads();
                win += (long) Math.min(cfg.window(), t + 1) * cfg.heads();
                for (int gg = 0; gg < g; gg++) {
                    int off = (tok * g + gg) * n;
                    for (int k = 0; k < n; k++) {
                        int j = idx[off + k];
                        if (j >= 0 && !seen[j] && j * cfg.selBlock() <= t) {
                            seen[j] = true;
                            sel += (long) h * (Math.min((j + 1) * cfg.selBlock(), t + 1) - j * cfg.selBlock());
                        }
                    }
                    for (int k = 0; k < n; k++) {
                        if (idx[off + k] >= 0) {
                            seen[idx[off + k]] = false;
                        }
                    }
                }
            }
        }
        return new Workload(cmp, sel, win, cfg.headDimQk(), cfg.headDimV());
    }

    private static int maxLen(int[] cu) {
        int m = 0;
        for (int b = 0; b + 1 < cu.length; b++) {
            m = Math.max(m, cu[b + 1] - cu[b]);
        }
        return m;
    }
}
