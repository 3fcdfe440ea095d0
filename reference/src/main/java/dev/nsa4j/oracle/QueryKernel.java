package dev.nsa4j.oracle;

import dev.nsa4j.attention.GateOverride;
import dev.nsa4j.config.NsaConfig;
import java.util.Arrays;

/**
 * All three branches and the gate combination for one query position t and one KV group g: the h query
 * heads of the group share the chosen blocks. Prefill and decode both call {@link #compute}, so they
 * agree bitwise. Holds per-thread scratch; not thread-safe.
 */
final class QueryKernel {
    private final NsaConfig cfg;
    private final BlockSelector selector;
    /** Per-head probabilities, head hh at [hh·stride, ..). */
    private final double[] probs;
    private final int stride;
    private final double[] groupScores;
    private final int[] ranges;
    private final int[] chosen;

    /**
     * @param maxLen the longest sequence this kernel will see (sizes the scratch)
     */
    QueryKernel(NsaConfig cfg, int maxLen) {
        this.cfg = cfg;
        int maxBlocks = cfg.selBlocks(Math.max(maxLen, 1));
        this.selector = new BlockSelector(cfg, maxBlocks);
        this.stride = Math.max(maxLen, 1);
        this.probs = new double[cfg.headsPerGroup() * stride];
        this.groupScores = new double[maxBlocks];
        this.ranges = new int[2 * (cfg.nSel() + 1)];
        this.chosen = new int[cfg.nSel()];
    }

    /** Inputs and outputs of one (t, g) computation: offsets point at head g·h (heads contiguous). */
    static final class Io {
        double[] q;
        int qOff;
        KvView cmp;
        int ncmp;
        KvView sel;
        KvView win;
        /** Caller-supplied chosen blocks ({@code n} entries at {@code givenOff}), or null to compute. */
        int[] given;
        int givenOff;
        double[] gates;
        int gatesOff;
        GateOverride override = GateOverride.NONE;
        // outputs
        double[] oCmp;
        double[] oSel;
        double[] oWin;
        double[] o;
        int oOff;
        double[] lseCmp;
        double[] lseSel;
        double[] lseWin;
        int lseOff;
        int[] indices;
        int indicesOff;
    }

    /**
     * Computes the branches for query position t. Returns the number of selected tokens attended by the
     * whole group (tokens ≤ t of the chosen blocks), the decode reads counter's selection share.
     */
    int compute(int t, Io io) {
        int h = cfg.headsPerGroup();
        int dk = cfg.headDimQk();
        int dv = cfg.headDimV();
        double scale = cfg.scale();

        // compressed branch; its probabilities feed the block scores
        ranges[0] = 0;
        ranges[1] = io.ncmp;
        int candidates = t / cfg.selBlock() + 1;
        boolean scoring = io.given == null && candidates > cfg.nSel();
        if (scoring) {
            Arrays.fill(groupScores, 0, candidates, 0.0);
        }
        Kernels.attendGroup(io.q, io.qOff, h, dk, scale, io.cmp, dv, ranges, 1, probs, stride, io.oCmp, io.oOff,
                io.lseCmp, io.lseOff, scoring);
        if (scoring) {
            for (int hh = 0; hh < h; hh++) {
                selector.accumulate(probs, hh * stride, io.ncmp, groupScores);
            }
        }

        // chosen blocks
        int n = cfg.nSel();
        if (io.given != null) {
            System.arraycopy(io.given, io.givenOff, chosen, 0, n);
            Arrays.sort(chosen);
        } else {
            selector.choose(t, groupScores, chosen, 0);
        }
        if (io.indices != null) {
            if (io.given != null) {
                System.arraycopy(io.given, io.givenOff, io.indices, io.indicesOff, n);
            } else {
                System.arraycopy(chosen, 0, io.indices, io.indicesOff, n);
            }
        }

        // selected branch over the distinct chosen blocks' tokens <= t, merged into ranges
        int lp = cfg.selBlock();
        int nr = 0;
        int selTokens = 0;
        int prev = -1;
        for (int k = 0; k < n; k++) {
            int j = chosen[k];
            if (j < 0 || j == prev) {
                continue;
            }
            prev = j;
            int start = j * lp;
            if (start > t) {
                break; // sorted: every later block starts after t too
            }
            int end = Math.min(start + lp, t + 1);
            selTokens += end - start;
            if (nr > 0 && ranges[2 * nr - 1] == start) {
                ranges[2 * nr - 1] = end;
            } else {
                ranges[2 * nr] = start;
                ranges[2 * nr + 1] = end;
                nr++;
            }
        }
        Kernels.attendGroup(io.q, io.qOff, h, dk, scale, io.sel, dv, ranges, nr, probs, stride, io.oSel, io.oOff,
                io.lseSel, io.lseOff, false);

        // sliding window [max(0, t - w + 1), t]
        ranges[0] = Math.max(0, t - cfg.window() + 1);
        ranges[1] = t + 1;
        Kernels.attendGroup(io.q, io.qOff, h, dk, scale, io.win, dv, ranges, 1, probs, stride, io.oWin, io.oOff,
                io.lseWin, io.lseOff, false);

        // gates, per head, order (cmp, sel, win)
        for (int hh = 0; hh < h; hh++) {
            int go = io.gatesOff + 3 * hh;
            double gc = io.override.apply(0, io.gates[go]);
            double gs = io.override.apply(1, io.gates[go + 1]);
            double gw = io.override.apply(2, io.gates[go + 2]);
            int oo = io.oOff + hh * dv;
            for (int c = 0; c < dv; c++) {
                io.o[oo + c] = gc * io.oCmp[oo + c] + gs * io.oSel[oo + c] + gw * io.oWin[oo + c];
            }
        }
        return selTokens;
    }
}
