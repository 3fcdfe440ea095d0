package dev.nsa4j.attention;

import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;

/**
 * Outputs of one NSA attention call, in the layout of its inputs ({@code [B,S,...]} or {@code [nnz,...]}).
 * <ul>
 *   <li>{@link #o()}, {@link #oCmp()}, {@link #oSel()}, {@link #oWin()}: {@code [.., H, Dv]} in the output dtype</li>
 *   <li>{@link #lseCmp()}, {@link #lseSel()}, {@link #lseWin()}: per-branch natural log-sum-exp of the scaled
 *       scores, {@code [.., H]} fp32; {@code -inf} where a branch saw no key</li>
 *   <li>{@link #indices()}: I(t, g), {@code [.., G, n]} int32, sorted ascending and -1 padded (or the caller's)</li>
 * </ul>
 * {@link #fp64(Output)} gives the unrounded fp64 values the oracle computed.
 */
public final class NsaResult {
    /** The floating-point outputs, for {@link #fp64(Output)}. */
    public enum Output { O, O_CMP, O_SEL, O_WIN, LSE_CMP, LSE_SEL, LSE_WIN }

    private final double[] o, oCmp, oSel, oWin, lseCmp, lseSel, lseWin;
    private final int[] indices;
    private final BatchLayout layout;
    private final DType outType;
    private final int heads;
    private final int groups;
    private final int dv;
    private final int nSel;

    private NsaResult(double[] o, double[] oCmp, double[] oSel, double[] oWin, double[] lseCmp, double[] lseSel,
                      double[] lseWin, int[] indices, BatchLayout layout, DType outType, int heads, int groups, int dv,
                      int nSel) {
        this.o = o;
        this.oCmp = oCmp;
        this.oSel = oSel;
        this.oWin = oWin;
        this.lseCmp = lseCmp;
        this.lseSel = lseSel;
        this.lseWin = lseWin;
        this.indices = indices;
        this.layout = layout;
        this.outType = outType;
        this.heads = heads;
        this.groups = groups;
        this.dv = dv;
        this.nSel = nSel;
    }

    /**
     * Outputs of a checked call (the oracle's, or a GPU path's), in its layout: {@code o*} row-major
     * {@code [.., H, Dv]}, {@code lse*} {@code [.., H]}, {@code indices} {@code [.., G, n]}. The arrays are
     * taken, not copied.
     *
     * @param outType the outputs' dtype, {@code null} for the layout's
     * @throws IllegalArgumentException if an array's length does not fit the layout, or outType is not a float
     */
    public static NsaResult of(NsaConfig cfg, BatchLayout layout, DType outType, double[] o, double[] oCmp,
                               double[] oSel, double[] oWin, double[] lseCmp, double[] lseSel, double[] lseWin,
                               int[] indices) {
        if (outType != null && !outType.isFloating()) {
            throw new IllegalArgumentException("output dtype must be fp32, fp16 or bf16, not " + outType);
        }
        long rows = (long) layout.nnz() * cfg.heads();
        for (double[] a : new double[][] {o, oCmp, oSel, oWin}) {
            requireLength(a.length, rows * cfg.headDimV());
        }
        for (double[] a : new double[][] {lseCmp, lseSel, lseWin}) {
            requireLength(a.length, rows);
        }
        requireLength(indices.length, (long) layout.nnz() * cfg.kvGroups() * cfg.nSel());
        return new NsaResult(o, oCmp, oSel, oWin, lseCmp, lseSel, lseWin, indices, layout,
                outType == null ? layout.dtype() : outType, cfg.heads(), cfg.kvGroups(), cfg.headDimV(), cfg.nSel());
    }

    private static void requireLength(long got, long want) {
        if (got != want) {
            throw new IllegalArgumentException("output of " + got + " values where the layout needs " + want);
        }
    }

    public HostTensor o() { return tensor(o, dv); }
    public HostTensor oCmp() { return tensor(oCmp, dv); }
    public HostTensor oSel() { return tensor(oSel, dv); }
    public HostTensor oWin() { return tensor(oWin, dv); }
    public HostTensor lseCmp() { return lse(lseCmp); }
    public HostTensor lseSel() { return lse(lseSel); }
    public HostTensor lseWin() { return lse(lseWin); }

    /** The chosen blocks, int32 {@code [B,S,G,n]} or {@code [nnz,G,n]}. */
    public HostTensor indices() {
        return HostTensor.ofInts(indices, layout.dims(groups, nSel));
    }

    /** The dtype of {@link #o()} and the branch outputs. */
    public DType outputDType() {
        return outType;
    }

    /** The batch layout the outputs follow. */
    public BatchLayout layout() {
        return layout;
    }

    /** A copy of an output's fp64 values, row-major in the output's layout. */
    public double[] fp64(Output which) {
        return (switch (which) {
            case O -> o;
            case O_CMP -> oCmp;
            case O_SEL -> oSel;
            case O_WIN -> oWin;
            case LSE_CMP -> lseCmp;
            case LSE_SEL -> lseSel;
            case LSE_WIN -> lseWin;
        }).clone();
    }

    /** A copy of the chosen blocks, row-major {@code [.., G, n]}. */
    public int[] indexArray() {
        return indices.clone();
    }

    private HostTensor tensor(double[] v, int dim) {
        return HostTensor.of(outType, v, layout.dims(heads, dim));
    }

    private HostTensor lse(double[] v) {
        int[] dims = layout.dims(heads, 1);
        return HostTensor.of(DType.FP32, v, java.util.Arrays.copyOf(dims, dims.length - 1));
    }
}
