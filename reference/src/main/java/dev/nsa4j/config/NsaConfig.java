package dev.nsa4j.config;

import dev.nsa4j.NsaArgumentException;
import java.util.Objects;

/**
 * The NSA attention configuration (the NSA spec (docs/nsa-spec.md) "Notation"). Every constraint of the spec is checked when a
 * config is made, directly or through {@link #builder()}, with an {@link NsaArgumentException} naming the rule.
 *
 * @param heads      H, query heads
 * @param kvGroups   G, key/value heads (GQA groups); H % G == 0
 * @param headDimQk  Dk, query/key head dim
 * @param headDimV   Dv, value head dim (may differ from Dk)
 * @param blockLen   l, compression block length
 * @param stride     d, compression stride; d | l and d | l'
 * @param selBlock   l', selection block length; l ≤ l'
 * @param nSel       n, selected blocks per (query, group), forced blocks included; n >= 3
 * @param window     w, sliding-window length in tokens, the query's own included; w >= 1
 * @param phi        compression function
 * @param scale      softmax scale (finite, > 0); {@link #builder()} defaults it to 1/sqrt(Dk)
 */
public record NsaConfig(int heads, int kvGroups, int headDimQk, int headDimV, int blockLen, int stride,
                        int selBlock, int nSel, int window, Phi phi, double scale) {

    public NsaConfig {
        Objects.requireNonNull(phi, "phi");
        positive("heads", "H > 0", heads);
        positive("kvGroups", "G > 0", kvGroups);
        positive("headDimQk", "Dk > 0", headDimQk);
        positive("headDimV", "Dv > 0", headDimV);
        positive("blockLen", "l > 0", blockLen);
        positive("stride", "d > 0", stride);
        positive("selBlock", "l' > 0", selBlock);
        positive("window", "w >= 1", window);
        if (heads % kvGroups != 0) {
            throw new NsaArgumentException("config.kvGroups", "H % G == 0",
                    "heads=" + heads + " is not a multiple of kvGroups=" + kvGroups);
        }
        if (blockLen % stride != 0) {
            throw new NsaArgumentException("config.stride", "d | l",
                    "stride d=" + stride + " does not divide blockLen l=" + blockLen);
        }
        if (selBlock % stride != 0) {
            throw new NsaArgumentException("config.stride", "d | l'",
                    "stride d=" + stride + " does not divide selBlock l'=" + selBlock);
        }
        if (blockLen > selBlock) {
            throw new NsaArgumentException("config.blockLen", "l <= l'",
                    "blockLen l=" + blockLen + " exceeds selBlock l'=" + selBlock);
        }
        if (nSel < 3) {
            throw new NsaArgumentException("config.nSel", "n >= 3",
                    "nSel=" + nSel + " cannot hold the forced blocks (initial + 2 local)");
        }
        if (!(scale > 0) || Double.isInfinite(scale)) {
            throw new NsaArgumentException("config.scale", "scale finite and > 0", "scale=" + scale);
        }
    }

    private static void positive(String field, String rule, int value) {
        if (value <= 0) {
            throw new NsaArgumentException("config." + field, rule, field + "=" + value);
        }
    }

    /** h = H / G, query heads per group. */
    public int headsPerGroup() {
        return heads / kvGroups;
    }

    /** S_cmp(S): compressed tokens of a sequence of {@code len} tokens. */
    public int compressedLen(int len) {
        return len < blockLen ? 0 : (len - blockLen) / stride + 1;
    }

    /** ncmp(t) = S_cmp(t + 1): compressed tokens visible to the query at position t. */
    public int visibleCompressed(int t) {
        return compressedLen(t + 1);
    }

    /** ceil(S / l'): selection blocks of a sequence of {@code len} tokens. */
    public int selBlocks(int len) {
        return (int) ((len + (long) selBlock - 1) / selBlock);
    }

    /** A builder starting from the paper's defaults (H=64, G=4, Dk=192, Dv=128, l=32, d=16, l'=64, n=16, w=512, avg). */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this config's values. */
    public Builder toBuilder() {
        Builder b = new Builder().heads(heads).kvGroups(kvGroups).headDims(headDimQk, headDimV)
                .blockLen(blockLen).stride(stride).selBlock(selBlock).nSel(nSel).window(window).phi(phi);
        b.scale = scale;
        return b;
    }

    /** Builder; {@link #build()} validates. Scale defaults to 1/sqrt(Dk) unless set. */
    public static final class Builder {
        private int heads = 64;
        private int kvGroups = 4;
        private int headDimQk = 192;
        private int headDimV = 128;
        private int blockLen = 32;
        private int stride = 16;
        private int selBlock = 64;
        private int nSel = 16;
        private int window = 512;
        private Phi phi = Phi.AVG;
        private Double scale;

        private Builder() {}

        public Builder heads(int v) { heads = v; return this; }
        public Builder kvGroups(int v) { kvGroups = v; return this; }
        public Builder headDim(int v) { headDimQk = v; headDimV = v; return this; }
        public Builder headDims(int dk, int dv) { headDimQk = dk; headDimV = dv; return this; }
        public Builder blockLen(int v) { blockLen = v; return this; }
        public Builder stride(int v) { stride = v; return this; }
        public Builder selBlock(int v) { selBlock = v; return this; }
        public Builder nSel(int v) { nSel = v; return this; }
        public Builder window(int v) { window = v; return this; }
        public Builder phi(Phi v) { phi = Objects.requireNonNull(v); return this; }
        /** Softmax scale; unset (or {@code null}) means 1/sqrt(Dk). */
        public Builder scale(Double v) { scale = v; return this; }

        public NsaConfig build() {
            double s = scale != null ? scale : 1.0 / Math.sqrt(Math.max(headDimQk, 1));
            return new NsaConfig(heads, kvGroups, headDimQk, headDimV, blockLen, stride, selBlock, nSel,
                    window, phi, s);
        }
    }
}
