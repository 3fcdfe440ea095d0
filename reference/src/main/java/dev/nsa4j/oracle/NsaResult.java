package dev.nsa4j.oracle;

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

    private final OracleCore.Result raw;
    private final InputCheck.Layout layout;
    private final DType outType;
    private final int heads;
    private final int groups;
    private final int dv;
    private final int nSel;

    NsaResult(OracleCore.Result raw, InputCheck.Layout layout, DType outType, int heads, int groups, int dv,
              int nSel) {
        this.raw = raw;
        this.layout = layout;
        this.outType = outType;
        this.heads = heads;
        this.groups = groups;
        this.dv = dv;
        this.nSel = nSel;
    }

    /**
     * Outputs computed elsewhere (a GPU path), in the layout of a checked call: {@code o*} row-major
     * {@code [.., H, Dv]}, {@code lse*} {@code [.., H]}, {@code indices} {@code [.., G, n]}.
     *
     * @throws IllegalArgumentException if an array's length does not fit the layout
     */
    public static NsaResult of(NsaConfig cfg, InputCheck.Layout layout, DType outType, double[] o, double[] oCmp,
                               double[] oSel, double[] oWin, double[] lseCmp, double[] lseSel, double[] lseWin,
                               int[] indices) {
        long rows = (long) layout.nnz() * cfg.heads();
        for (double[] a : new double[][] {o, oCmp, oSel, oWin}) {
            requireLength(a.length, rows * cfg.headDimV());
        }
        for (double[] a : new double[][] {lseCmp, lseSel, lseWin}) {
            requireLength(a.length, rows);
        }
        requireLength(indices.length, (long) layout.nnz() * cfg.kvGroups() * cfg.nSel());
        OracleCore.Result raw = new OracleCore.Result(o, oCmp, oSel, oWin, lseCmp, lseSel, lseWin, indices, null,
                null, null);
        return new NsaResult(raw, layout, outType == null ? layout.dtype() : outType, cfg.heads(), cfg.kvGroups(),
                cfg.headDimV(), cfg.nSel());
    }

    private static void requireLength(long got, long want) {
        if (got != want) {
            throw new IllegalArgumentException("output of " + got + " values where the layout needs " + want);
        }
    }

    public HostTensor o() { return tensor(raw.o(), dv); }
    public HostTensor oCmp() { return tensor(raw.oCmp(), dv); }
    public HostTensor oSel() { return tensor(raw.oSel(), dv); }
    public HostTensor oWin() { return tensor(raw.oWin(), dv); }
    public HostTensor lseCmp() { return lse(raw.lseCmp()); }
    public HostTensor lseSel() { return lse(raw.lseSel()); }
    public HostTensor lseWin() { return lse(raw.lseWin()); }

    /** The chosen blocks, int32 {@code [B,S,G,n]} or {@code [nnz,G,n]}. */
    public HostTensor indices() {
        return HostTensor.ofInts(raw.indices(), layout.dims(groups, nSel));
    }

    /** The dtype of {@link #o()} and the branch outputs. */
    public DType outputDType() {
        return outType;
    }

    /** The batch layout the outputs follow. */
    public InputCheck.Layout layout() {
        return layout;
    }

    /** A copy of an output's fp64 values, row-major in the output's layout. */
    public double[] fp64(Output which) {
        return (switch (which) {
            case O -> raw.o();
            case O_CMP -> raw.oCmp();
            case O_SEL -> raw.oSel();
            case O_WIN -> raw.oWin();
            case LSE_CMP -> raw.lseCmp();
            case LSE_SEL -> raw.lseSel();
            case LSE_WIN -> raw.lseWin();
        }).clone();
    }

    /** A copy of the chosen blocks, row-major {@code [.., G, n]}. */
    public int[] indexArray() {
        return raw.indices().clone();
    }

    private HostTensor tensor(double[] v, int dim) {
        return HostTensor.of(outType, v, layout.dims(heads, dim));
    }

    private HostTensor lse(double[] v) {
        int[] dims = layout.dims(heads, 1);
        return HostTensor.of(DType.FP32, v, java.util.Arrays.copyOf(dims, dims.length - 1));
    }
}
