package dev.nsa4j.nsa;

import java.util.Arrays;
import java.util.Objects;

import dev.nsa4j.tensor.DType;

/**
 * The shape class of a forward: what a plan is built for and cached by. Dense batches ({@code [B,S,...]}) are
 * described by B and S; varlen batches by their cumulative lengths ({@code cu_seqlens}, host copy). The dtypes
 * of q (and every k/v), of the gates and of the output, and whether the caller passes the chosen blocks,
 * complete it (they change which kernels run and what scratch is needed).
 *
 * @param cu            int32 {@code [B + 1]}: {@code 0, S, 2S, ...} for dense batches
 * @param varlen        whether the tensors are {@code [nnz, ...]} with cu_seqlens
 * @param dtype         q's and every k/v's dtype
 * @param gates         the gates' dtype (q's or fp32)
 * @param out           the output o's dtype (q's or fp32)
 * @param callerIndices true when the caller passes I (no scoring step)
 */
public record NsaShape(int[] cu, boolean varlen, DType dtype, DType gates, DType out, boolean callerIndices) {
    public NsaShape {
        cu = cu.clone();
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(gates, "gates");
        Objects.requireNonNull(out, "out");
    }

    /** A dense batch of {@code batch} sequences of {@code seqLen} tokens. */
    public static NsaShape dense(int batch, int seqLen, DType dtype, DType gates, DType out, boolean callerIndices) {
        int[] cu = new int[batch + 1];
        for (int b = 0; b < batch; b++) {
            cu[b + 1] = Math.addExact(cu[b], seqLen);
        }
        return new NsaShape(cu, false, dtype, gates, out, callerIndices);
    }

    /** A varlen batch with these cumulative lengths. */
    public static NsaShape varlen(int[] cu, DType dtype, DType gates, DType out, boolean callerIndices) {
        return new NsaShape(cu, true, dtype, gates, out, callerIndices);
    }

    @Override
    public int[] cu() {
        return cu.clone();
    }

    /** B. */
    public int batch() {
        return cu.length - 1;
    }

    /** Tokens, {@code cu[B]}. */
    public int nnz() {
        return cu[cu.length - 1];
    }

    /** S of a dense batch; -1 for varlen. */
    public int seqLen() {
        return varlen || batch() == 0 ? -1 : cu[1];
    }

    /** The same shape with another output dtype. */
    public NsaShape withOut(DType o) {
        return new NsaShape(cu, varlen, dtype, gates, o, callerIndices);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NsaShape s && Arrays.equals(cu, s.cu) && varlen == s.varlen && dtype == s.dtype
                && gates == s.gates && out == s.out && callerIndices == s.callerIndices;
    }

    @Override
    public int hashCode() {
        return Objects.hash(Arrays.hashCode(cu), varlen, dtype, gates, out, callerIndices);
    }

    @Override
    public String toString() {
        String lens = varlen ? "varlen B=" + batch() + " nnz=" + nnz() : "B=" + batch() + " S=" + seqLen();
        return lens + " " + name(dtype) + " (gates " + name(gates) + ", o " + name(out) + ")"
                + (callerIndices ? ", caller indices" : "");
    }

    static String name(DType d) {
        return d.name().toLowerCase(java.util.Locale.ROOT);
    }
}
