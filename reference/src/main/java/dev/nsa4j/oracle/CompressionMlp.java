package dev.nsa4j.oracle;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.tensor.HostTensor;

/**
 * Weights of phi = mlp for one of K or V (the NSA spec (docs/nsa-spec.md) "Compression branch"):
 * {@code out = W2·SiLU(W1·vec(block + P) + b1) + b2}, with {@code vec} the row-major flattening of the
 * {@code [l, D]} block. Layouts follow {@code torch.nn.Linear} ({@code [out, in]}):
 * <ul>
 *   <li>{@code pos}: P, {@code [l, D]}</li>
 *   <li>{@code w1}: {@code [hidden, l·D]}, {@code b1}: {@code [hidden]}</li>
 *   <li>{@code w2}: {@code [D, hidden]}, {@code b2}: {@code [D]}</li>
 * </ul>
 * One set of weights serves every KV group. Held as fp64 copies; immutable.
 */
public final class CompressionMlp {
    private final int blockLen;
    private final int dim;
    private final int hidden;
    final double[] pos;
    final double[] w1;
    final double[] b1;
    final double[] w2;
    final double[] b2;

    private CompressionMlp(int blockLen, int dim, int hidden, double[] pos, double[] w1, double[] b1,
                           double[] w2, double[] b2) {
        this.blockLen = blockLen;
        this.dim = dim;
        this.hidden = hidden;
        this.pos = pos;
        this.w1 = w1;
        this.b1 = b1;
        this.w2 = w2;
        this.b2 = b2;
    }

    /**
     * Checks every shape against {@code [l, D]} and the hidden size taken from {@code w1}.
     *
     * @param prefix the weight-name prefix used in messages, e.g. {@code phi_k}
     * @throws NsaArgumentException naming the weight whose shape is wrong
     */
    public static CompressionMlp of(String prefix, int blockLen, int dim, HostTensor pos, HostTensor w1,
                                    HostTensor b1, HostTensor w2, HostTensor b2) {
        if (w1 == null || w1.rank() != 2) {
            throw new NsaArgumentException(prefix + ".w1", "shape [hidden, l*D]",
                    "expected a 2-D tensor, got " + describe(w1));
        }
        int hidden = w1.dim(0);
        requireShape(prefix + ".pos", pos, blockLen, dim);
        requireShape(prefix + ".w1", w1, hidden, blockLen * dim);
        requireShape(prefix + ".b1", b1, hidden);
        requireShape(prefix + ".w2", w2, dim, hidden);
        requireShape(prefix + ".b2", b2, dim);
        return new CompressionMlp(blockLen, dim, hidden, pos.toDoubleArray(), w1.toDoubleArray(),
                b1.toDoubleArray(), w2.toDoubleArray(), b2.toDoubleArray());
    }

    /** From fp64 arrays in the layouts above (copied). */
    public static CompressionMlp ofArrays(int blockLen, int dim, int hidden, double[] pos, double[] w1,
                                          double[] b1, double[] w2, double[] b2) {
        checkLen("pos", pos, (long) blockLen * dim);
        checkLen("w1", w1, (long) hidden * blockLen * dim);
        checkLen("b1", b1, hidden);
        checkLen("w2", w2, (long) dim * hidden);
        checkLen("b2", b2, dim);
        return new CompressionMlp(blockLen, dim, hidden, pos.clone(), w1.clone(), b1.clone(), w2.clone(),
                b2.clone());
    }

    private static void checkLen(String name, double[] a, long n) {
        if (a.length != n) {
            throw new NsaArgumentException(name, "length " + n, "got " + a.length + " values");
        }
    }

    private static void requireShape(String name, HostTensor t, int... dims) {
        if (t == null || !java.util.Arrays.equals(t.shape().dims(), dims) || !t.dtype().isFloating()) {
            throw new NsaArgumentException(name, "shape " + java.util.Arrays.toString(dims),
                    "got " + describe(t));
        }
    }

    private static String describe(HostTensor t) {
        return t == null ? "nothing" : t.toString();
    }

    public int blockLen() {
        return blockLen;
    }

    public int dim() {
        return dim;
    }

    public int hidden() {
        return hidden;
    }

    /** A copy of the named weight ({@code pos}, {@code w1}, {@code b1}, {@code w2}, {@code b2}). */
    public double[] weight(String name) {
        return switch (name) {
            case "pos" -> pos.clone();
            case "w1" -> w1.clone();
            case "b1" -> b1.clone();
            case "w2" -> w2.clone();
            case "b2" -> b2.clone();
            default -> throw new IllegalArgumentException("no phi weight named '" + name + "'");
        };
    }
}
