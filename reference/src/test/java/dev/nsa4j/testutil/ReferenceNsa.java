package dev.nsa4j.testutil;

import dev.nsa4j.config.NsaConfig;
import java.util.Arrays;

/**
 * The whole NSA forward (avg phi) from {@link BruteForce}'s definitions: per sequence and head, each branch
 * is a dense masked attention; block choice is recomputed from the spec's scoring rules. Outputs are flat
 * token-major arrays in the oracle's layout.
 */
public final class ReferenceNsa {
    public final double[] o;
    public final double[] oCmp;
    public final double[] oSel;
    public final double[] oWin;
    public final double[] lseCmp;
    public final double[] lseSel;
    public final double[] lseWin;
    /** I(t, g) as the spec defines it, flat [nnz, G, n]; or the case's own indices when it has them. */
    public final int[] indices;

    private ReferenceNsa(int nnz, NsaConfig c) {
        o = new double[nnz * c.heads() * c.headDimV()];
        oCmp = new double[o.length];
        oSel = new double[o.length];
        oWin = new double[o.length];
        lseCmp = new double[nnz * c.heads()];
        lseSel = new double[lseCmp.length];
        lseWin = new double[lseCmp.length];
        indices = new int[nnz * c.kvGroups() * c.nSel()];
    }

    /** Computes every output, choosing blocks by the spec (or using {@code cs.indices} when set). */
    public static ReferenceNsa of(NsaCase cs) {
        return of(cs, cs.indices);
    }

    /**
     * @param chosenOverride flat [nnz, G, n] blocks to use for the selection branch, or null to compute them
     */
    public static ReferenceNsa of(NsaCase cs, int[] chosenOverride) {
        NsaConfig c = cs.cfg;
        ReferenceNsa r = new ReferenceNsa(cs.nnz(), c);
        int hq = c.heads();
        int g = c.kvGroups();
        int hpg = hq / g;
        int dk = c.headDimQk();
        int dv = c.headDimV();
        int n = c.nSel();
        for (int b = 0; b < cs.batch(); b++) {
            int s = cs.len(b);
            if (s == 0) {
                continue;
            }
            for (int gg = 0; gg < g; gg++) {
                double[][] kc = BruteForce.avgCompress(cs.rows(cs.kCmp, b, g, gg, dk), c.blockLen(), c.stride());
                double[][] vc = BruteForce.avgCompress(cs.rows(cs.vCmp, b, g, gg, dv), c.blockLen(), c.stride());
                boolean[][] cmpMask = BruteForce.blockCausalMask(s, kc.length, c.blockLen(), c.stride());
                // scores P(t, g, j) = sum over heads of the group of sum_i p_cmp(t, i) * omega(i, j)
                double[][] groupScore = new double[s][c.selBlocks(s)];
                int[][] chosen = new int[s][];
                for (int hh = 0; hh < hpg; hh++) {
                    double[][] qh = cs.rows(cs.q, b, hq, gg * hpg + hh, dk);
                    for (int t = 0; t < s; t++) {
                        double[] p = BruteForce.probs(qh[t], kc, cmpMask[t], c.scale());
                        for (int i = 0; i < kc.length; i++) {
                            for (int j = 0; j <= t / c.selBlock(); j++) {
                                groupScore[t][j] += p[i] * BruteForce.overlap(i, j, c.blockLen(), c.stride(),
                                        c.selBlock());
                            }
                        }
                    }
                }
                for (int t = 0; t < s; t++) {
                    int off = ((cs.cu[b] + t) * g + gg) * n;
                    if (chosenOverride != null) {
                        chosen[t] = Arrays.copyOfRange(chosenOverride, off, off + n);
                    } else {
                        chosen[t] = BruteForce.choose(t, c.selBlock(), n, groupScore[t]);
                    }
                    System.arraycopy(chosen[t], 0, r.indices, off, n);
                }
                boolean[][] selMask = BruteForce.chosenBlockMask(s, chosen, c.selBlock());
                boolean[][] winMask = BruteForce.bandMask(s, c.window());
                double[][] ks = cs.rows(cs.kSel, b, g, gg, dk);
                double[][] vs = cs.rows(cs.vSel, b, g, gg, dv);
                double[][] kw = cs.rows(cs.kWin, b, g, gg, dk);
                double[][] vw = cs.rows(cs.vWin, b, g, gg, dv);
                for (int hh = 0; hh < hpg; hh++) {
                    int head = gg * hpg + hh;
                    double[][] qh = cs.rows(cs.q, b, hq, head, dk);
                    BruteForce.Attention ac = BruteForce.attend(qh, kc, vc, dv, cmpMask, c.scale());
                    BruteForce.Attention as = BruteForce.attend(qh, ks, vs, selMask, c.scale());
                    BruteForce.Attention aw = BruteForce.attend(qh, kw, vw, winMask, c.scale());
                    for (int t = 0; t < s; t++) {
                        int tok = cs.cu[b] + t;
                        int oo = (tok * hq + head) * dv;
                        int go = (tok * hq + head) * 3;
                        r.lseCmp[tok * hq + head] = ac.lse()[t];
                        r.lseSel[tok * hq + head] = as.lse()[t];
                        r.lseWin[tok * hq + head] = aw.lse()[t];
                        for (int x = 0; x < dv; x++) {
                            r.oCmp[oo + x] = ac.out()[t][x];
                            r.oSel[oo + x] = as.out()[t][x];
                            r.oWin[oo + x] = aw.out()[t][x];
                            r.o[oo + x] = cs.gates[go] * ac.out()[t][x] + cs.gates[go + 1] * as.out()[t][x]
                                    + cs.gates[go + 2] * aw.out()[t][x];
                        }
                    }
                }
            }
        }
        return r;
    }
}
