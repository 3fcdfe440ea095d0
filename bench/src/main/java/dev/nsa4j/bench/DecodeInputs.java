package dev.nsa4j.bench;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.tensor.HostTensor;
import dev.nsa4j.tensor.Shape;
import java.lang.foreign.MemorySegment;
import java.util.function.UnaryOperator;

/**
 * The inputs of {@code nsa decode}: one dense call of B sequences x T tokens ({@code [B,T,...]}, as {@code nsa run}
 * takes them), read as a prefill of its first S tokens and one decode step per later token. Slices are views
 * (strided where the token axis is not the outermost), never copies.
 *
 * @param all    the whole call: q, k_c/v_c per branch, gates; no cu_seqlens, no indices
 * @param batch  B
 * @param tokens T, tokens per sequence
 */
record DecodeInputs(NsaInputs all, int batch, int tokens) {
    /**
     * @throws NsaArgumentException for varlen inputs or caller-chosen indices (a decode step takes neither)
     */
    static DecodeInputs of(NsaInputs all) {
        if (all.isVarlen()) {
            throw new NsaArgumentException("cu_seqlens", "absent: nsa decode takes a dense [B,T,...] call",
                    "cu_seqlens.npy is present; decode prefills B sequences of one length");
        }
        if (all.indices() != null) {
            throw new NsaArgumentException("indices", "absent: the decoder chooses the blocks each step",
                    "indices.npy is present");
        }
        if (all.q().rank() != 4) {
            throw new NsaArgumentException("q", "shape [B,T,H,Dk]", "got " + all.q().shape());
        }
        return new DecodeInputs(all, all.q().dim(0), all.q().dim(1));
    }

    /** The first {@code s} tokens of every sequence: the prefill. */
    NsaInputs prefix(int s) {
        return map(t -> tokens(t, 0, s));
    }

    /**
     * The prefill as contiguous copies. The GPU decoder's prefill reads its host k/v as contiguous {@code [nnz,G,D]}
     * rows (it views them so), so a strided prefix would fill its caches with the wrong tokens.
     */
    NsaInputs contiguousPrefix(int s) {
        return map(t -> copyTokens(t, 0, s));
    }

    /** Token {@code t} of every sequence as {@code [B,1,...]}: one decode step. */
    NsaInputs token(int t) {
        return map(x -> tokens(x, t, 1));
    }

    private NsaInputs map(UnaryOperator<HostTensor> f) {
        return NsaInputs.builder().q(f.apply(all.q())).cmp(f.apply(all.kCmp()), f.apply(all.vCmp()))
                .sel(f.apply(all.kSel()), f.apply(all.vSel())).win(f.apply(all.kWin()), f.apply(all.vWin()))
                .gates(f.apply(all.gates())).build();
    }

    /** Tokens {@code [from, from + len)} of a {@code [B,T,...]} tensor, as a new contiguous tensor. */
    static HostTensor copyTokens(HostTensor t, int from, int len) {
        if (!t.isContiguous()) {
            return tokens(t, from, len).to(t.dtype());
        }
        int[] dims = t.shape().dims();
        long row = t.shape().stride(1) * t.dtype().byteSize();   // bytes of one token
        int total = dims[1];
        dims[1] = len;
        HostTensor out = HostTensor.zeros(t.dtype(), dims);
        for (int b = 0; b < dims[0]; b++) {
            MemorySegment.copy(t.segment(), ((long) b * total + from) * row, out.segment(), (long) b * len * row,
                    len * row);
        }
        return out;
    }

    /** Tokens {@code [from, from + len)} of a {@code [B,T,...]} tensor, a view with the same strides. */
    static HostTensor tokens(HostTensor t, int from, int len) {
        if (from < 0 || len < 0 || from + len > t.dim(1)) {
            throw new IllegalArgumentException("tokens [" + from + ", " + (from + len) + ") of " + t.shape());
        }
        Shape s = t.shape();
        int[] dims = s.dims();
        dims[1] = len;
        long off = from * s.stride(1) * t.dtype().byteSize();
        return HostTensor.wrap(t.segment().asSlice(off), t.dtype(), Shape.strided(dims, s.strides()));
    }
}
