package dev.nsa4j.oracle;

/**
 * Rotary position embedding, rotate-half convention (as in GPT-NeoX and Llama's Hugging Face code): for
 * i in [0, D/2), with θ_i = base^(−2i/D) and angle = position·θ_i,
 * {@code x'[i] = x[i]·cos − x[i + D/2]·sin} and {@code x'[i + D/2] = x[i + D/2]·cos + x[i]·sin}.
 */
final class Rope {
    private Rope() {}

    /** Rotates {@code heads} vectors of {@code dim} (even) at {@code x[off..]} in place for one position. */
    static void rotate(double[] x, int off, int heads, int dim, int position, double base) {
        int half = dim / 2;
        for (int i = 0; i < half; i++) {
            double angle = position * Math.pow(base, -2.0 * i / dim);
            double cos = Math.cos(angle);
            double sin = Math.sin(angle);
            for (int hh = 0; hh < heads; hh++) {
                int o = off + hh * dim;
                double a = x[o + i];
                double b = x[o + i + half];
                x[o + i] = a * cos - b * sin;
                x[o + i + half] = b * cos + a * sin;
            }
        }
    }
}
