package dev.nsa4j.testutil;

import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * One NSA problem held as flat, token-major fp64 arrays ({@code [nnz, heads, dim]}) whose values are
 * already representable in {@link #dtype}, so the brute force and the oracle see the same numbers.
 * Dense batches are cases with equal lengths and {@code varlen == false}.
 */
public final class NsaCase {
    public final NsaConfig cfg;
    public final DType dtype;
    public final boolean varlen;
    public final int[] cu;
    public final double[] q;
    public final double[] kCmp;
    public final double[] vCmp;
    public final double[] kSel;
    public final double[] vSel;
    public final double[] kWin;
    public final double[] vWin;
    public final double[] gates;
    /** Caller-chosen blocks, flat {@code [nnz, G, n]}, or null. */
    public int[] indices;

    private NsaCase(NsaConfig cfg, DType dtype, boolean varlen, int[] cu) {
        this.cfg = cfg;
        this.dtype = dtype;
        this.varlen = varlen;
        this.cu = cu;
        int nnz = cu[cu.length - 1];
        q = new double[nnz * cfg.heads() * cfg.headDimQk()];
        kCmp = new double[nnz * cfg.kvGroups() * cfg.headDimQk()];
        kSel = new double[kCmp.length];
        kWin = new double[kCmp.length];
        vCmp = new double[nnz * cfg.kvGroups() * cfg.headDimV()];
        vSel = new double[vCmp.length];
        vWin = new double[vCmp.length];
        gates = new double[nnz * cfg.heads() * 3];
    }

    /** A zero case (fill the arrays yourself), dense with {@code batch} sequences of {@code len}. */
    public static NsaCase zerosDense(NsaConfig cfg, DType dt, int batch, int len) {
        int[] cu = new int[batch + 1];
        for (int b = 0; b < batch; b++) {
            cu[b + 1] = cu[b] + len;
        }
        return new NsaCase(cfg, dt, false, cu);
    }

    /** A zero varlen case with the given sequence lengths. */
    public static NsaCase zerosVarlen(NsaConfig cfg, DType dt, int... lens) {
        int[] cu = new int[lens.length + 1];
        for (int b = 0; b < lens.length; b++) {
            cu[b + 1] = cu[b] + lens[b];
        }
        return new NsaCase(cfg, dt, true, cu);
    }

    /** Normal(0,1) q/k/v (k and v per branch independent) and uniform [0,1] gates, rounded to dt. */
    public static NsaCase randomDense(NsaConfig cfg, DType dt, long seed, int batch, int len) {
        return zerosDense(cfg, dt, batch, len).fillRandom(seed);
    }

    public static NsaCase randomVarlen(NsaConfig cfg, DType dt, long seed, int... lens) {
        return zerosVarlen(cfg, dt, lens).fillRandom(seed);
    }

    /** Overwrites every array with seeded random values representable in the dtype. */
    public NsaCase fillRandom(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        for (double[] a : new double[][] {q, kCmp, vCmp, kSel, vSel, kWin, vWin}) {
            for (int i = 0; i < a.length; i++) {
                a[i] = gaussian(r);
            }
        }
        for (int i = 0; i < gates.length; i++) {
            gates[i] = r.nextDouble();
        }
        return round();
    }

    private static double gaussian(SplittableRandom r) {
        double u = 1 - r.nextDouble();
        double v = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }

    /** Rounds every value to the dtype (gates too). */
    public NsaCase round() {
        for (double[] a : new double[][] {q, kCmp, vCmp, kSel, vSel, kWin, vWin, gates}) {
            for (int i = 0; i < a.length; i++) {
                a[i] = dtype.roundTrip(a[i]);
            }
        }
        return this;
    }

    /** The same keys and values in all three branches (copies cmp into sel and win). */
    public NsaCase shareKv() {
        System.arraycopy(kCmp, 0, kSel, 0, kCmp.length);
        System.arraycopy(kCmp, 0, kWin, 0, kCmp.length);
        System.arraycopy(vCmp, 0, vSel, 0, vCmp.length);
        System.arraycopy(vCmp, 0, vWin, 0, vCmp.length);
        return this;
    }

    public int batch() {
        return cu.length - 1;
    }

    public int nnz() {
        return cu[cu.length - 1];
    }

    public int len(int b) {
        return cu[b + 1] - cu[b];
    }

    /** Builds the oracle inputs in this case's layout and dtype. */
    public NsaInputs inputs() {
        int h = cfg.heads();
        int g = cfg.kvGroups();
        int dk = cfg.headDimQk();
        int dv = cfg.headDimV();
        NsaInputs.Builder b = NsaInputs.builder()
                .q(tensor(q, h, dk))
                .cmp(tensor(kCmp, g, dk), tensor(vCmp, g, dv))
                .sel(tensor(kSel, g, dk), tensor(vSel, g, dv))
                .win(tensor(kWin, g, dk), tensor(vWin, g, dv))
                .gates(tensor(gates, h, 3));
        if (varlen) {
            b.cuSeqlens(HostTensor.ofInts(cu.clone(), cu.length));
        }
        if (indices != null) {
            b.indices(HostTensor.ofInts(indices.clone(), dims(g, cfg.nSel())));
        }
        return b.build();
    }

    public HostTensor tensor(double[] flat, int heads, int dim) {
        return HostTensor.of(dtype, flat, dims(heads, dim));
    }

    /** [B,S,heads,dim] or [nnz,heads,dim]. */
    public int[] dims(int heads, int dim) {
        return varlen ? new int[] {nnz(), heads, dim} : new int[] {batch(), len(0), heads, dim};
    }

    /** Rows [len][dim] of one head of a flat [nnz, heads, dim] array, for sequence b. */
    public double[][] rows(double[] flat, int b, int heads, int head, int dim) {
        int len = len(b);
        double[][] out = new double[len][dim];
        for (int t = 0; t < len; t++) {
            int off = ((cu[b] + t) * heads + head) * dim;
            out[t] = Arrays.copyOfRange(flat, off, off + dim);
        }
        return out;
    }

    /** The sub-case of sequence b alone, as a dense batch of one. */
    public NsaCase sequence(int b) {
        NsaCase s = zerosDense(cfg, dtype, 1, len(b));
        copyTokens(q, s.q, cfg.heads() * cfg.headDimQk(), b);
        copyTokens(kCmp, s.kCmp, cfg.kvGroups() * cfg.headDimQk(), b);
        copyTokens(kSel, s.kSel, cfg.kvGroups() * cfg.headDimQk(), b);
        copyTokens(kWin, s.kWin, cfg.kvGroups() * cfg.headDimQk(), b);
        copyTokens(vCmp, s.vCmp, cfg.kvGroups() * cfg.headDimV(), b);
        copyTokens(vSel, s.vSel, cfg.kvGroups() * cfg.headDimV(), b);
        copyTokens(vWin, s.vWin, cfg.kvGroups() * cfg.headDimV(), b);
        copyTokens(gates, s.gates, cfg.heads() * 3, b);
        if (indices != null) {
            s.indices = new int[len(b) * cfg.kvGroups() * cfg.nSel()];
            int per = cfg.kvGroups() * cfg.nSel();
            System.arraycopy(indices, cu[b] * per, s.indices, 0, s.indices.length);
        }
        return s;
    }

    private void copyTokens(double[] src, double[] dst, int perToken, int b) {
        System.arraycopy(src, cu[b] * perToken, dst, 0, len(b) * perToken);
    }

    @Override
    public String toString() {
        return (varlen ? "varlen" : "dense") + " lens=" + Arrays.toString(
                java.util.stream.IntStream.range(0, batch()).map(this::len).toArray()) + " " + dtype + " " + cfg;
    }
}
