package dev.nsa4j.attention;

import dev.nsa4j.tensor.DType;

/**
 * The batch layout of a checked call ({@code dev.nsa4j.oracle.InputCheck#check}): dense {@code [B,S,...]} or
 * varlen {@code [nnz,...]} with cumulative sequence starts.
 *
 * @param varlen whether cu_seqlens was given
 * @param batch  B
 * @param seqLen S for dense batches, -1 for varlen
 * @param cu     cumulative sequence starts, length B+1
 * @param dtype  dtype of q and every k/v
 */
public record BatchLayout(boolean varlen, int batch, int seqLen, int[] cu, DType dtype) {
    /** Tokens, {@code cu[B]}. */
    public int nnz() {
        return cu[cu.length - 1];
    }

    /** The token dims of an output with {@code heads} heads of {@code dim}: [B,S,heads,dim] or [nnz,heads,dim]. */
    public int[] dims(int heads, int dim) {
        return varlen ? new int[] {nnz(), heads, dim} : new int[] {batch, seqLen, heads, dim};
    }
}
