package dev.nsa4j.kernels;

import java.util.Objects;

/**
 * The mask, the walk and the scalars of one reference attention call. Only the fields the mask uses are
 * checked and meaningful: {@code window} (w) for {@link AttnMask#WINDOW}; {@code cmpLen} (l) and
 * {@code cmpStride} (d) for {@link AttnMask#BLOCK_CAUSAL}; {@code selBlock} (l') for {@link AttnMask#CHOSEN}.
 * {@code scale} NaN means the default {@code 1/sqrt(Dk)}.
 */
public record AttnSpec(AttnMask mask, AttnWalk walk, int window, int cmpLen, int cmpStride, int selBlock,
                       float scale) {
    public AttnSpec {
        Objects.requireNonNull(mask, "mask");
        Objects.requireNonNull(walk, "walk");
    }

    public static AttnSpec none() {
        return new AttnSpec(AttnMask.NONE, AttnWalk.ALL, 0, 0, 0, 0, Float.NaN);
    }

    public static AttnSpec causal() {
        return new AttnSpec(AttnMask.CAUSAL, AttnWalk.ALL, 0, 0, 0, 0, Float.NaN);
    }

    /** Sliding window of {@code w} keys, the query's own included. */
    public static AttnSpec window(int w) {
        return new AttnSpec(AttnMask.WINDOW, AttnWalk.ALL, w, 0, 0, 0, Float.NaN);
    }

    /** Compressed keys of block length {@code l} and stride {@code d}. */
    public static AttnSpec blockCausal(int l, int d) {
        return new AttnSpec(AttnMask.BLOCK_CAUSAL, AttnWalk.ALL, 0, l, d, 0, Float.NaN);
    }

    /** Chosen selection blocks of length {@code selBlock} (l'). */
    public static AttnSpec chosen(int selBlock) {
        return new AttnSpec(AttnMask.CHOSEN, AttnWalk.ALL, 0, 0, 0, selBlock, Float.NaN);
    }

    public AttnSpec withWalk(AttnWalk w) {
        return new AttnSpec(mask, w, window, cmpLen, cmpStride, selBlock, scale);
    }

    public AttnSpec withScale(float s) {
        return new AttnSpec(mask, walk, window, cmpLen, cmpStride, selBlock, s);
    }

    /** The scale for head dim {@code dk}: {@link #scale} or {@code 1/sqrt(dk)}. */
    public float scaleFor(int dk) {
        return Float.isNaN(scale) ? (float) (1.0 / Math.sqrt(dk)) : scale;
    }
}
