package dev.nsa4j.kernels.internal;

import dev.nsa4j.kernels.Mask;
import java.util.Objects;

/**
 * The mask, the walk and the scale of one reference attention call. The mask's parameters are the call's:
 * w for {@link Mask.Window}, l and d for {@link Mask.BlockCausal}, l' for {@link Mask.Chosen} (the kernels check
 * them). {@code scale} NaN means the default {@code 1/sqrt(Dk)}.
 */
public record AttnSpec(Mask mask, AttnWalk walk, float scale) {
    public AttnSpec {
        Objects.requireNonNull(mask, "mask");
        Objects.requireNonNull(walk, "walk");
    }

    /** {@code mask}, walk ALL, default scale. */
    public static AttnSpec of(Mask mask) {
        return new AttnSpec(mask, AttnWalk.ALL, Float.NaN);
    }

    public static AttnSpec none() {
        return of(Mask.NONE);
    }

    public static AttnSpec causal() {
        return of(Mask.CAUSAL);
    }

    /** Sliding window of {@code w} keys, the query's own included. */
    public static AttnSpec window(int w) {
        return of(Mask.window(w));
    }

    /** Compressed keys of block length {@code l} and stride {@code d}. */
    public static AttnSpec blockCausal(int l, int d) {
        return of(Mask.blockCausal(l, d));
    }

    /** Chosen selection blocks of length {@code selBlock} (l'). */
    public static AttnSpec chosen(int selBlock) {
        return of(Mask.chosen(selBlock));
    }

    public AttnSpec withWalk(AttnWalk w) {
        return new AttnSpec(mask, w, scale);
    }

    public AttnSpec withScale(float s) {
        return new AttnSpec(mask, walk, s);
    }

    /** True for the chosen-block mask (the call passes the blocks). */
    public boolean chosenBlocks() {
        return mask instanceof Mask.Chosen;
    }

    /** w of a window mask, else 0. */
    public int window() {
        return mask instanceof Mask.Window w ? w.w() : 0;
    }

    /** l of a block-causal mask, else 0. */
    public int cmpLen() {
        return mask instanceof Mask.BlockCausal b ? b.l() : 0;
    }

    /** d of a block-causal mask, else 0. */
    public int cmpStride() {
        return mask instanceof Mask.BlockCausal b ? b.d() : 0;
    }

    /** l' of a chosen-block mask, else 0. */
    public int selBlock() {
        return mask instanceof Mask.Chosen c ? c.selBlock() : 0;
    }

    /** The scale for head dim {@code dk}: {@link #scale} or {@code 1/sqrt(dk)}. */
    public float scaleFor(int dk) {
        return Float.isNaN(scale) ? (float) (1.0 / Math.sqrt(dk)) : scale;
    }
}
