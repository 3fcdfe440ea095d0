package dev.nsa4j.oracle;

import dev.nsa4j.attention.GateOverride;
import dev.nsa4j.config.NsaConfig;
import java.util.concurrent.ForkJoinPool;

/**
 * NSA prefill over fp64 token-major buffers of a varlen batch (dense batches are varlen batches with equal
 * lengths). Parallel over (sequence, group, query tile); every output element is written by one task in a
 * fixed order, so results are bitwise repeatable whatever the thread count.
 */
final class OracleCore {
    /** Queries per task: enough work to amortise the scratch, small enough to balance on many cores. */
    static final int QUERY_TILE = 32;

    private OracleCore() {}

    /** fp64 inputs: {@code q [nnz,H,Dk]}, {@code k_c [nnz,G,Dk]}, {@code v_c [nnz,G,Dv]}, {@code gates [nnz,H,3]}. */
    record Batch(int[] cu, double[] q, double[] kCmp, double[] vCmp, double[] kSel, double[] vSel,
                 double[] kWin, double[] vWin, double[] gates, int[] indices) {
        int sequences() {
            return cu.length - 1;
        }

        int nnz() {
            return cu[cu.length - 1];
        }

        int maxLen() {
            int m = 0;
            for (int b = 0; b < sequences(); b++) {
                m = Math.max(m, cu[b + 1] - cu[b]);
            }
            return m;
        }
    }

    /**
     * fp64 outputs, token-major; {@code indices [nnz,G,n]}. Compressed keys are dim-major per
     * (sequence, group) segment at {@link #segment}; compressed values token-major {@code [cmpCu[B],G,Dv]}.
     */
    record Result(double[] o, double[] oCmp, double[] oSel, double[] oWin, double[] lseCmp, double[] lseSel,
                  double[] lseWin, int[] indices, int[] cmpCu, double[] kCmpT, double[] vCmpC) {}

    /** Start of the dim-major segment of group g of a sequence starting at token {@code first} of length len. */
    static int segment(int first, int len, int g, int groups, int dim) {
        return dim * (first * groups + g * len);
    }

    static Result forward(NsaConfig cfg, Batch in, CompressionMlp mlpK, CompressionMlp mlpV,
                          GateOverride override, ForkJoinPool pool) {
        return forward(cfg, in, mlpK, mlpV, override, pool, null);
    }

    /**
     * @param compressedIn when not null, every compressed token K̃/Ṽ is rounded to this dtype after compression
     *                     (what a GPU path that stores them in the input dtype computes with)
     */
    static Result forward(NsaConfig cfg, Batch in, CompressionMlp mlpK, CompressionMlp mlpV,
                          GateOverride override, ForkJoinPool pool, dev.nsa4j.tensor.DType compressedIn) {
        int bsz = in.sequences();
        int nnz = in.nnz();
        int hq = cfg.heads();
        int g = cfg.kvGroups();
        int h = cfg.headsPerGroup();
        int dk = cfg.headDimQk();
        int dv = cfg.headDimV();
        int[] cu = in.cu;

        // keys, dim-major per (sequence, group)
        double[] kCmpT = new double[nnz * g * dk];
        double[] kSelT = in.kSel == in.kCmp ? kCmpT : new double[nnz * g * dk];
        double[] kWinT = in.kWin == in.kCmp ? kCmpT : in.kWin == in.kSel ? kSelT : new double[nnz * g * dk];
        Parallel.forEach(pool, bsz, b -> {
            int len = cu[b + 1] - cu[b];
            int off = dk * cu[b] * g;
            Kernels.transposeSequence(in.kCmp, cu[b], len, g, dk, kCmpT, off);
            if (kSelT != kCmpT) {
                Kernels.transposeSequence(in.kSel, cu[b], len, g, dk, kSelT, off);
            }
            if (kWinT != kCmpT && kWinT != kSelT) {
                Kernels.transposeSequence(in.kWin, cu[b], len, g, dk, kWinT, off);
            }
        });

        // compressed tokens, per sequence
        int[] cmpCu = new int[bsz + 1];
        for (int b = 0; b < bsz; b++) {
            cmpCu[b + 1] = cmpCu[b] + cfg.compressedLen(cu[b + 1] - cu[b]);
        }
        int totalCmp = cmpCu[bsz];
        double[] kc = new double[totalCmp * g * dk];
        double[] vc = new double[totalCmp * g * dv];
        int[] cmpSeq = new int[totalCmp];
        for (int b = 0; b < bsz; b++) {
            java.util.Arrays.fill(cmpSeq, cmpCu[b], cmpCu[b + 1], b);
        }
        Parallel.forEach(pool, totalCmp * g, task -> {
            int ci = task / g;
            int gg = task % g;
            int b = cmpSeq[ci];
            int len = cu[b + 1] - cu[b];
            int ncmp = cmpCu[b + 1] - cmpCu[b];
            int i = ci - cmpCu[b];
            int start = i * cfg.stride();
            Compressor.compress(kCmpT, segment(cu[b], len, gg, g, dk) + start, 1, len, cfg.blockLen(), dk, mlpK,
                    kc, segment(cmpCu[b], ncmp, gg, g, dk) + i, ncmp);
            Compressor.compress(in.vCmp, ((cu[b] + start) * g + gg) * dv, g * dv, 1, cfg.blockLen(), dv, mlpV,
                    vc, (ci * g + gg) * dv, 1);
        });
        if (compressedIn != null) {
            for (int i = 0; i < kc.length; i++) {
                kc[i] = compressedIn.roundTrip(kc[i]);
            }
            for (int i = 0; i < vc.length; i++) {
                vc[i] = compressedIn.roundTrip(vc[i]);
            }
        }

        double[] o = new double[nnz * hq * dv];
        double[] oCmp = new double[nnz * hq * dv];
        double[] oSel = new double[nnz * hq * dv];
        double[] oWin = new double[nnz * hq * dv];
        double[] lseCmp = new double[nnz * hq];
        double[] lseSel = new double[nnz * hq];
        double[] lseWin = new double[nnz * hq];
        int[] indices = new int[nnz * g * cfg.nSel()];

        // tasks: (sequence, group, query tile)
        int[] tileCu = new int[bsz + 1];
        for (int b = 0; b < bsz; b++) {
            int len = cu[b + 1] - cu[b];
            tileCu[b + 1] = tileCu[b] + (len + QUERY_TILE - 1) / QUERY_TILE;
        }
        int tiles = tileCu[bsz];
        int maxLen = in.maxLen();
        Parallel.forEach(pool, tiles * g, task -> {
            int tile = task / g;
            int gg = task % g;
            int b = 0;
            while (tileCu[b + 1] <= tile) {
                b++;
            }
            int base = cu[b];
            int len = cu[b + 1] - base;
            int ncmpSeq = cmpCu[b + 1] - cmpCu[b];
            int t0 = (tile - tileCu[b]) * QUERY_TILE;
            int t1 = Math.min(len, t0 + QUERY_TILE);
            int seg = segment(base, len, gg, g, dk);
            QueryKernel kernel = new QueryKernel(cfg, maxLen);
            QueryKernel.Io io = new QueryKernel.Io();
            io.q = in.q;
            io.cmp = new KvView(kc, segment(cmpCu[b], ncmpSeq, gg, g, dk), ncmpSeq, vc, (cmpCu[b] * g + gg) * dv,
                    g * dv);
            io.sel = new KvView(kSelT, seg, len, in.vSel, (base * g + gg) * dv, g * dv);
            io.win = new KvView(kWinT, seg, len, in.vWin, (base * g + gg) * dv, g * dv);
            io.given = in.indices;
            io.gates = in.gates;
            io.override = override;
            io.oCmp = oCmp;
            io.oSel = oSel;
            io.oWin = oWin;
            io.o = o;
            io.lseCmp = lseCmp;
            io.lseSel = lseSel;
            io.lseWin = lseWin;
            io.indices = indices;
            for (int t = t0; t < t1; t++) {
                int tok = base + t;
                int head0 = tok * hq + gg * h;
                io.qOff = head0 * dk;
                io.ncmp = cfg.visibleCompressed(t);
                io.givenOff = (tok * g + gg) * cfg.nSel();
                io.gatesOff = head0 * 3;
                io.oOff = head0 * dv;
                io.lseOff = head0;
                io.indicesOff = (tok * g + gg) * cfg.nSel();
                kernel.compute(t, io);
            }
        });
        return new Result(o, oCmp, oSel, oWin, lseCmp, lseSel, lseWin, indices, cmpCu, kc, vc);
    }
}
