package dev.nsa4j.testutil;

import dev.nsa4j.config.NsaConfig;

/** Short factories for small test configs. */
public final class Configs {
    private Configs() {}

    /** H, G, Dk, Dv, l, d, l', n, w with avg phi and the default scale 1/sqrt(Dk). */
    public static NsaConfig of(int h, int g, int dk, int dv, int l, int d, int lp, int n, int w) {
        return NsaConfig.builder().heads(h).kvGroups(g).headDims(dk, dv).blockLen(l).stride(d).selBlock(lp)
                .nSel(n).window(w).build();
    }

    /** A one-head, one-group config with D = 1 and the given scale: for cases computed by hand. */
    public static NsaConfig tiny(int l, int d, int lp, int n, int w, double scale) {
        return NsaConfig.builder().heads(1).kvGroups(1).headDim(1).blockLen(l).stride(d).selBlock(lp).nSel(n)
                .window(w).scale(scale).build();
    }
}
