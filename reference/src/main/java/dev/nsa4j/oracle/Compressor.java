package dev.nsa4j.oracle;

/**
 * phi: one compressed token from the l raw tokens of a block. Shared by prefill and decode so that both
 * produce bitwise the same compressed keys and values.
 */
final class Compressor {
    private Compressor() {}

    /**
     * Compresses l consecutive tokens: element c of block token r is
     * {@code src[off + r*tokenStride + c*dimStride]}; element c of the result goes to
     * {@code dst[dstOff + c*dstStride]}.
     *
     * @param mlp {@code null} for phi = avg
     */
    static void compress(double[] src, int off, int tokenStride, int dimStride, int blockLen, int dim,
                         CompressionMlp mlp, double[] dst, int dstOff, int dstStride) {
        if (mlp == null) {
            for (int c = 0; c < dim; c++) {
                double s = 0;
                for (int r = 0; r < blockLen; r++) {
                    s += src[off + r * tokenStride + c * dimStride];
                }
                dst[dstOff + c * dstStride] = s / blockLen;
            }
            return;
        }
        int in = blockLen * dim;
        double[] x = new double[in];
        for (int r = 0; r < blockLen; r++) {
            for (int c = 0; c < dim; c++) {
                x[r * dim + c] = src[off + r * tokenStride + c * dimStride] + mlp.pos[r * dim + c];
            }
        }
        int hidden = mlp.hidden();
        double[] act = new double[hidden];
        for (int j = 0; j < hidden; j++) {
            act[j] = silu(Kernels.dot(mlp.w1, j * in, x, 0, in) + mlp.b1[j]);
        }
        for (int c = 0; c < dim; c++) {
            dst[dstOff + c * dstStride] = Kernels.dot(mlp.w2, c * hidden, act, 0, hidden) + mlp.b2[c];
        }
    }

    static double silu(double h) {
        return h / (1.0 + Math.exp(-h));
    }
}
