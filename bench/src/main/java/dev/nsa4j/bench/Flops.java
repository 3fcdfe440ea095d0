package dev.nsa4j.bench;

import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.oracle.InputCheck;

/**
 * FLOPs of one NSA forward pass, counted as attention benches do: 2·(Dk + Dv) per (query head, visible key)
 * (= 4·D for Dk = Dv), summed over the three branches with the keys each really saw (compressed tokens
 * ncmp(t), selected tokens <= t, window tokens min(w, t + 1)). Compression and scoring are not counted.
 */
final class Flops {
    private Flops() {}

    static double forward(NsaConfig cfg, InputCheck.Layout layout, int[] indices) {
        int[] cu = layout.cu();
        int g = cfg.kvGroups();
        int n = cfg.nSel();
        long headKeys = 0;
        long groupSelKeys = 0;
        for (int b = 0; b < layout.batch(); b++) {
            for (int t = 0; t < cu[b + 1] - cu[b]; t++) {
                headKeys += cfg.visibleCompressed(t) + Math.min(cfg.window(), t + 1);
                long row = (long) (cu[b] + t) * g * n;
                for (int i = 0; i < g * n; i++) {
                    int j = indices[(int) (row + i)];
                    if (j >= 0) {
                        long start = (long) j * cfg.selBlock();
                        groupSelKeys += Math.max(0, Math.min(start + cfg.selBlock(), t + 1L) - start);
                    }
                }
            }
        }
        double perKey = 2.0 * (cfg.headDimQk() + cfg.headDimV());
        return perKey * ((double) headKeys * cfg.heads() + (double) groupSelKeys * cfg.headsPerGroup());
    }
}
