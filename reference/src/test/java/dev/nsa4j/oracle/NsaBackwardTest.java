package dev.nsa4j.oracle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.attention.GateOverride;
import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.config.Phi;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import java.util.Random;
import java.util.concurrent.ForkJoinPool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The oracle backward ({@link NsaBackward}) against central finite differences of the fp64 forward
 * ({@link OracleCore}) on small varlen cases: every element of q, of each branch's k_c and v_c, of the gates and,
 * for phi = mlp, of both MLPs' parameters; the loss is L = Σ grad_o · o with the forward's chosen blocks held
 * fixed (selection is not differentiated). Relative error (max-abs over the tensor's largest gradient) below 1e-6.
 * Each branch alone also equals the dense masked formulation of attention's backward (phi = avg).
 */
class NsaBackwardTest {
    private static final double EPS = 1e-6;
    private static final int[] LENS = {0, 13, 9, 5};

    private static NsaConfig cfg(Phi phi) {
        return NsaConfig.builder().heads(4).kvGroups(2).headDims(4, 3).blockLen(4).stride(2).selBlock(4).nSel(3)
                .window(5).phi(phi).build();
    }

    @ParameterizedTest
    @EnumSource(Phi.class)
    void gradientsMatchFiniteDifferences(Phi phiKind) {
        NsaConfig cfg = cfg(phiKind);
        Random rnd = new Random(phiKind.ordinal() + 3);
        PhiWeights phi = phiKind == Phi.MLP ? new PhiWeights(mlp(rnd, 4, 4, 6), mlp(rnd, 4, 3, 5)) : null;
        Case c = Case.random(cfg, phi, rnd);
        NsaBackward.Gradients gr = new NsaBackward(cfg, phi).backward(c.batch, c.gradO);
        check(c, c.batch.q(), gr.dq(), "dq");
        check(c, c.batch.kCmp(), gr.dkCmp(), "dk_cmp");
        check(c, c.batch.vCmp(), gr.dvCmp(), "dv_cmp");
        check(c, c.batch.kSel(), gr.dkSel(), "dk_sel");
        check(c, c.batch.vSel(), gr.dvSel(), "dv_sel");
        check(c, c.batch.kWin(), gr.dkWin(), "dk_win");
        check(c, c.batch.vWin(), gr.dvWin(), "dv_win");
        check(c, c.batch.gates(), gr.dGates(), "d_gates");
        if (phi == null) {
            assertNull(gr.phiK());
            return;
        }
        CompressionMlp[] ms = {phi.k(), phi.v()};
        NsaBackward.MlpGrads[] gs = {gr.phiK(), gr.phiV()};
        for (int side = 0; side < 2; side++) {
            String p = side == 0 ? "phi_k." : "phi_v.";
            check(c, ms[side].pos, gs[side].pos(), p + "pos");
            check(c, ms[side].w1, gs[side].w1(), p + "w1");
            check(c, ms[side].b1, gs[side].b1(), p + "b1");
            check(c, ms[side].w2, gs[side].w2(), p + "w2");
            if (side == 0) {
                // b2 of K̃ adds one vector to every compressed key: each score of a query moves by the same q·b2,
                // which its softmax ignores, so the gradient is 0
                checkZero(c, ms[side].b2, gs[side].b2(), p + "b2");
            } else {
                check(c, ms[side].b2, gs[side].b2(), p + "b2");
            }
        }
    }

    /**
     * Each branch alone (its gate 1 on every row, the others 0) against the dense masked formulation: per (sequence,
     * head) the full score matrix over all of the branch's keys with the invisible ones masked, P = softmax by rows,
     * dV = Pᵀ dO, dS = P ∘ (dO Vᵀ − rowsum(dO ∘ O)), dQ = scale dS K, dK = scale dSᵀ Q; the compressed branch over
     * K̃ = avg of the raw tokens, its dK̃ spread back as 1/l to each of a block's tokens.
     */
    @Test
    void everyBranchEqualsTheDenseMaskedFormulation() {
        NsaConfig cfg = cfg(Phi.AVG);
        Case c = Case.random(cfg, null, new Random(29));
        for (int branch = 0; branch < 3; branch++) {
            double[] gates = c.batch.gates().clone();
            for (int i = 0; i < gates.length; i++) {
                gates[i] = i % 3 == branch ? 1 : 0;
            }
            OracleCore.Batch b = c.batch;
            OracleCore.Batch one = new OracleCore.Batch(b.cu(), b.q(), b.kCmp(), b.vCmp(), b.kSel(), b.vSel(),
                    b.kWin(), b.vWin(), gates, b.indices());
            NsaBackward.Gradients got = new NsaBackward(cfg, null).backward(one, c.gradO);
            double[][] want = DenseMasked.gradients(cfg, one, c.gradO, branch);
            double[][] have = {got.dq(), branch == 0 ? got.dkCmp() : branch == 1 ? got.dkSel() : got.dkWin(),
                    branch == 0 ? got.dvCmp() : branch == 1 ? got.dvSel() : got.dvWin()};
            String[] names = {"dq", "dk", "dv"};
            for (int t = 0; t < 3; t++) {
                for (int e = 0; e < want[t].length; e++) {
                    assertEquals(want[t][e], have[t][e], 1e-12, "branch " + branch + " " + names[t] + "[" + e + "]");
                }
            }
        }
    }

    /** The dense masked formulation of one branch's backward (phi = avg), for {@link #everyBranchEqualsTheDenseMaskedFormulation}. */
    private static final class DenseMasked {
        /** {dq, dk_c, dv_c} of branch {@code c} (0 cmp, 1 sel, 2 win) with every gate of that branch 1. */
        static double[][] gradients(NsaConfig cfg, OracleCore.Batch in, double[] gradO, int c) {
            int hq = cfg.heads();
            int g = cfg.kvGroups();
            int dk = cfg.headDimQk();
            int dv = cfg.headDimV();
            int l = cfg.blockLen();
            int nnz = in.nnz();
            double[] dq = new double[nnz * hq * dk];
            double[] dkRaw = new double[nnz * g * dk];
            double[] dvRaw = new double[nnz * g * dv];
            double[] kAll = c == 0 ? in.kCmp() : c == 1 ? in.kSel() : in.kWin();
            double[] vAll = c == 0 ? in.vCmp() : c == 1 ? in.vSel() : in.vWin();
            for (int b = 0; b < in.sequences(); b++) {
                int first = in.cu()[b];
                int len = in.cu()[b + 1] - first;
                int nk = c == 0 ? cfg.compressedLen(len) : len;   // the branch's key rows
                for (int h = 0; h < hq; h++) {
                    int gg = h / cfg.headsPerGroup();
                    double[][] k = new double[nk][dk];
                    double[][] v = new double[nk][dv];
                    for (int j = 0; j < nk; j++) {
                        for (int tok : tokensOf(cfg, c, first, j)) {
                            for (int d = 0; d < dk; d++) {
                                k[j][d] += kAll[(tok * g + gg) * dk + d] / (c == 0 ? l : 1);
                            }
                            for (int d = 0; d < dv; d++) {
                                v[j][d] += vAll[(tok * g + gg) * dv + d] / (c == 0 ? l : 1);
                            }
                        }
                    }
                    double[][] dK = new double[nk][dk];
                    double[][] dV = new double[nk][dv];
                    for (int t = 0; t < len; t++) {
                        int row = first + t;
                        double[] p = new double[nk];
                        double max = Double.NEGATIVE_INFINITY;
                        for (int j = 0; j < nk; j++) {
                            if (!visible(cfg, in, c, row, gg, t, j)) {
                                p[j] = Double.NEGATIVE_INFINITY;
                                continue;
                            }
                            double dot = 0;
                            for (int d = 0; d < dk; d++) {
                                dot += in.q()[(row * hq + h) * dk + d] * k[j][d];
                            }
                            p[j] = cfg.scale() * dot;
                            max = Math.max(max, p[j]);
                        }
                        if (max == Double.NEGATIVE_INFINITY) {
                            continue;   // no visible key: o = 0, no gradient
                        }
                        double sum = 0;
                        for (int j = 0; j < nk; j++) {
                            p[j] = p[j] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(p[j] - max);
                            sum += p[j];
                        }
                        double[] o = new double[dv];
                        for (int j = 0; j < nk; j++) {
                            p[j] /= sum;
                            for (int d = 0; d < dv; d++) {
                                o[d] += p[j] * v[j][d];
                            }
                        }
                        double rowsum = 0;
                        for (int d = 0; d < dv; d++) {
                            rowsum += gradO[(row * hq + h) * dv + d] * o[d];
                        }
                        for (int j = 0; j < nk; j++) {
                            double dp = 0;
                            for (int d = 0; d < dv; d++) {
                                double go = gradO[(row * hq + h) * dv + d];
                                dp += go * v[j][d];
                                dV[j][d] += p[j] * go;
                            }
                            double ds = p[j] * (dp - rowsum) * cfg.scale();
                            for (int d = 0; d < dk; d++) {
                                dq[(row * hq + h) * dk + d] += ds * k[j][d];
                                dK[j][d] += ds * in.q()[(row * hq + h) * dk + d];
                            }
                        }
                    }
                    for (int j = 0; j < nk; j++) {
                        for (int tok : tokensOf(cfg, c, first, j)) {
                            for (int d = 0; d < dk; d++) {
                                dkRaw[(tok * g + gg) * dk + d] += dK[j][d] / (c == 0 ? l : 1);
                            }
                            for (int d = 0; d < dv; d++) {
                                dvRaw[(tok * g + gg) * dv + d] += dV[j][d] / (c == 0 ? l : 1);
                            }
                        }
                    }
                }
            }
            return new double[][] {dq, dkRaw, dvRaw};
        }

        /** The raw token rows behind key row j of branch c: a compressed token's l block tokens, else token j. */
        private static int[] tokensOf(NsaConfig cfg, int c, int first, int j) {
            if (c != 0) {
                return new int[] {first + j};
            }
            int[] t = new int[cfg.blockLen()];
            for (int r = 0; r < t.length; r++) {
                t[r] = first + j * cfg.stride() + r;
            }
            return t;
        }

        /** The mask: key row j of branch c seen by token t (row {@code row}) of group g. */
        private static boolean visible(NsaConfig cfg, OracleCore.Batch in, int c, int row, int g, int t, int j) {
            if (c == 0) {
                return j * cfg.stride() + cfg.blockLen() - 1 <= t;
            }
            if (c == 2) {
                return j <= t && j > t - cfg.window();
            }
            if (j > t) {
                return false;
            }
            int n = cfg.nSel();
            for (int e = 0; e < n; e++) {
                if (in.indices()[(row * cfg.kvGroups() + g) * n + e] == j / cfg.selBlock()) {
                    return true;
                }
            }
            return false;
        }
    }

    @Test
    void anAveragingMlpGivesTheRawTokensTheAvgGradients() {
        NsaConfig avg = cfg(Phi.AVG);
        NsaConfig mlp = cfg(Phi.MLP);
        PhiWeights phi = new PhiWeights(MlpPhiTest.averagingMlp(4, 4), MlpPhiTest.averagingMlp(4, 3));
        Case c = Case.random(avg, null, new Random(17));
        NsaBackward.Gradients a = new NsaBackward(avg, null).backward(c.batch, c.gradO);
        NsaBackward.Gradients m = new NsaBackward(mlp, phi).backward(c.batch, c.gradO);
        double[][] x = {a.dq(), a.dkCmp(), a.dvCmp(), a.dkSel(), a.dGates()};
        double[][] y = {m.dq(), m.dkCmp(), m.dvCmp(), m.dkSel(), m.dGates()};
        for (int i = 0; i < x.length; i++) {
            for (int e = 0; e < x[i].length; e++) {
                assertEquals(x[i][e], y[i][e], 1e-12, "tensor " + i + " element " + e);
            }
        }
    }

    @Test
    void thePublicApiChecksItsTensorsAndMatchesTheCore() {
        NsaConfig cfg = cfg(Phi.AVG);
        Case c = Case.random(cfg, null, new Random(5));
        int nnz = c.batch.nnz();
        HostTensor[] t = new HostTensor[8];
        double[][] a = {c.batch.q(), c.batch.kCmp(), c.batch.vCmp(), c.batch.kSel(), c.batch.vSel(), c.batch.kWin(),
                c.batch.vWin(), c.batch.gates()};
        int[] heads = {4, 2, 2, 2, 2, 2, 2, 4};
        int[] dims = {4, 4, 3, 4, 3, 4, 3, 3};
        for (int i = 0; i < 8; i++) {
            float[] f = new float[a[i].length];
            for (int e = 0; e < f.length; e++) {
                f[e] = (float) a[i][e];
                a[i][e] = f[e];   // the core then sees exactly the fp32 values the public API reads
            }
            t[i] = HostTensor.ofFloats(f, nnz, heads[i], dims[i]);
        }
        NsaInputs in = NsaInputs.builder().q(t[0]).cmp(t[1], t[2]).sel(t[3], t[4]).win(t[5], t[6]).gates(t[7])
                .cuSeqlens(HostTensor.ofInts(c.batch.cu().clone(), c.batch.cu().length)).build();
        HostTensor idx = HostTensor.ofInts(c.batch.indices().clone(), nnz, 2, 3);
        HostTensor go = HostTensor.of(DType.FP32, c.gradO, nnz, 4, 3);
        NsaBackward bw = new NsaBackward(cfg, null);
        NsaBackward.Gradients api = bw.backward(in, idx, go);
        double[] gradO32 = go.toDoubleArray();
        NsaBackward.Gradients core = bw.backward(c.batch, gradO32);
        for (int e = 0; e < api.dq().length; e++) {
            assertEquals(core.dq()[e], api.dq()[e], 0.0);
        }
        assertEquals("grad_o", assertThrows(NsaArgumentException.class,
                () -> bw.backward(in, idx, HostTensor.zeros(DType.FP32, nnz, 4, 2))).subject());
        assertEquals("indices", assertThrows(NsaArgumentException.class,
                () -> bw.backward(in, HostTensor.ofInts(new int[nnz * 2], nnz, 2, 1), go)).subject());
        assertEquals("phi", assertThrows(NsaArgumentException.class,
                () -> new NsaBackward(cfg(Phi.MLP), null)).subject());
    }

    /** Central differences of L over every element of {@code x} (an array the case's forward reads). */
    private static void check(Case c, double[] x, double[] grad, String what) {
        double maxGrad = 0;
        for (double v : grad) {
            maxGrad = Math.max(maxGrad, Math.abs(v));
        }
        assertTrue(maxGrad > 0, what + ": all-zero gradient (the case does not exercise it)");
        double worst = 0;
        int at = -1;
        double fdAt = 0;
        for (int e = 0; e < x.length; e++) {
            double fd = centralDifference(c, x, e);
            double err = Math.abs(fd - grad[e]);
            if (err > worst) {
                worst = err;
                at = e;
                fdAt = fd;
            }
        }
        double rel = worst / maxGrad;
        System.out.printf(java.util.Locale.ROOT, "%s %s: relative error %.2e over %d elements%n", c.cfg.phi(), what,
                rel, x.length);
        assertTrue(rel < 1e-6, what + ": relative error " + rel + " at [" + at + "] (finite difference " + fdAt
                + ", backward " + (at < 0 ? 0 : grad[at]) + ", largest gradient " + maxGrad + ")");
    }

    /** A gradient that is 0 by symmetry: the backward's and the finite differences' both below 1e-9. */
    private static void checkZero(Case c, double[] x, double[] grad, String what) {
        for (int e = 0; e < x.length; e++) {
            assertEquals(0, grad[e], 1e-9, what + "[" + e + "] backward");
            assertEquals(0, centralDifference(c, x, e), 1e-9, what + "[" + e + "] finite difference");
        }
    }

    /** dL/dx[e] by central differences of the case's forward; x[e] is restored. */
    private static double centralDifference(Case c, double[] x, int e) {
        double keep = x[e];
        x[e] = keep + EPS;
        double up = c.loss();
        x[e] = keep - EPS;
        double down = c.loss();
        x[e] = keep;
        return (up - down) / (2 * EPS);
    }

    private static CompressionMlp mlp(Random rnd, int l, int d, int hidden) {
        int in = l * d;
        return CompressionMlp.ofArrays(l, d, hidden, uniform(rnd, in, 0.5), uniform(rnd, hidden * in, 1.5 / Math.sqrt(in)),
                uniform(rnd, hidden, 0.5), uniform(rnd, d * hidden, 1.5 / Math.sqrt(hidden)), uniform(rnd, d, 0.5));
    }

    private static double[] uniform(Random rnd, int n, double a) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = a * (2 * rnd.nextDouble() - 1);
        }
        return v;
    }

    /** A varlen batch in fp64 (every branch its own k/v), its forward's chosen blocks fixed, and grad_o. */
    private record Case(NsaConfig cfg, PhiWeights phi, OracleCore.Batch batch, double[] gradO) {
        static Case random(NsaConfig cfg, PhiWeights phi, Random rnd) {
            int[] cu = new int[LENS.length + 1];
            for (int b = 0; b < LENS.length; b++) {
                cu[b + 1] = cu[b] + LENS[b];
            }
            int nnz = cu[LENS.length];
            int h = cfg.heads();
            int g = cfg.kvGroups();
            int dk = cfg.headDimQk();
            int dv = cfg.headDimV();
            double[] gates = uniform(rnd, nnz * h * 3, 0.5);
            for (int i = 0; i < gates.length; i++) {
                gates[i] += 0.5;
            }
            OracleCore.Batch free = new OracleCore.Batch(cu, uniform(rnd, nnz * h * dk, 1.5),
                    uniform(rnd, nnz * g * dk, 1.5), uniform(rnd, nnz * g * dv, 1), uniform(rnd, nnz * g * dk, 1.5),
                    uniform(rnd, nnz * g * dv, 1), uniform(rnd, nnz * g * dk, 1.5), uniform(rnd, nnz * g * dv, 1),
                    gates, null);
            int[] chosen = forward(cfg, phi, free).indices();
            OracleCore.Batch fixed = new OracleCore.Batch(cu, free.q(), free.kCmp(), free.vCmp(), free.kSel(),
                    free.vSel(), free.kWin(), free.vWin(), free.gates(), chosen);
            return new Case(cfg, phi, fixed, uniform(rnd, nnz * h * dv, 1));
        }

        double loss() {
            double[] o = forward(cfg, phi, batch).o();
            double l = 0;
            for (int i = 0; i < o.length; i++) {
                l += gradO[i] * o[i];
            }
            return l;
        }

        private static OracleCore.Result forward(NsaConfig cfg, PhiWeights phi, OracleCore.Batch b) {
            return OracleCore.forward(cfg, b, phi == null ? null : phi.k(), phi == null ? null : phi.v(),
                    GateOverride.NONE, ForkJoinPool.commonPool());
        }
    }
}
