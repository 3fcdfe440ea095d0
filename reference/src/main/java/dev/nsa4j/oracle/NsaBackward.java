package dev.nsa4j.oracle;

import java.util.Arrays;
import java.util.Objects;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.attention.BatchLayout;
import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.config.Phi;
import dev.nsa4j.tensor.HostTensor;

/**
 * The NSA backward pass in fp64 on the CPU (NSA-SPEC "Backward"): for a loss L with dL/do = {@code gradO}, the
 * gradients of q, of every branch's k_c and v_c, of the gates and, for phi = mlp, of both MLPs' parameters (P, W1,
 * b1, W2, b2). The chosen blocks are constants (the forward's, or the caller's). Written for clarity, not speed: one
 * (token, head) row at a time, each branch's softmax recomputed in fp64 and differentiated through its log-sum-exp,
 * K̃ / Ṽ differentiated back through phi (avg: each raw token of a block gets 1/l of its compressed token's
 * gradient; mlp: the chain rule through W2, SiLU, W1 and P). The gates are the layer's sigmoid outputs, so their
 * gradient is dL/dg_c = dL/do · o_c (the layer applies the sigmoid's derivative).
 */
public final class NsaBackward {
    private final NsaConfig cfg;
    private final PhiWeights phi;

    /** The gradients of one phi = mlp compression: same shapes as its weights. */
    public record MlpGrads(double[] pos, double[] w1, double[] b1, double[] w2, double[] b2) {
    }

    /**
     * Gradients, fp64, in the inputs' token-major layouts: {@code dq [nnz,H,Dk]}, {@code dk_c [nnz,G,Dk]}, {@code
     * dv_c [nnz,G,Dv]}, {@code dGates [nnz,H,3]}; {@code phiK}, {@code phiV} null for phi = avg.
     */
    public record Gradients(double[] dq, double[] dkCmp, double[] dvCmp, double[] dkSel, double[] dvSel,
                            double[] dkWin, double[] dvWin, double[] dGates, MlpGrads phiK, MlpGrads phiV) {
    }

    /**
     * @param phi the compression weights (required for phi = mlp, ignored for avg)
     * @throws NsaArgumentException when phi = mlp and {@code phi} is null
     */
    public NsaBackward(NsaConfig cfg, PhiWeights phi) {
        this.cfg = Objects.requireNonNull(cfg, "cfg");
        if (cfg.phi() == Phi.MLP && phi == null) {
            throw new NsaArgumentException("phi", "phi = mlp needs phi_k/phi_v weights",
                    "config says phi=MLP but no PhiWeights were given");
        }
        this.phi = cfg.phi() == Phi.MLP ? phi : null;
    }

    /**
     * The gradients of a forward over {@code in} with the chosen blocks {@code indices} ({@code [nnz,G,n]} int32:
     * the forward's {@link dev.nsa4j.attention.NsaResult#indices()} or the caller's), for {@code gradO}
     * ({@code [nnz,H,Dv]} or {@code [B,S,H,Dv]}, any float dtype).
     *
     * @throws NsaArgumentException for inputs that break a rule, or a gradient or index tensor of the wrong size
     */
    public Gradients backward(NsaInputs in, HostTensor indices, HostTensor gradO) {
        Objects.requireNonNull(indices, "indices");
        Objects.requireNonNull(gradO, "grad_o");
        BatchLayout layout = InputCheck.check(cfg, phi, in);
        int nnz = layout.cu()[layout.cu().length - 1];
        long wantIdx = (long) nnz * cfg.kvGroups() * cfg.nSel();
        if (indices.numel() != wantIdx) {
            throw new NsaArgumentException("indices", "[nnz, G, n] = " + wantIdx + " block indices",
                    "got " + indices.shape());
        }
        long wantO = (long) nnz * cfg.heads() * cfg.headDimV();
        if (gradO.numel() != wantO) {
            throw new NsaArgumentException("grad_o", "the output's shape, [nnz, H, Dv] = " + wantO + " elements",
                    "got " + gradO.shape());
        }
        OracleCore.Batch b = NsaOracle.toBatch(layout, in);
        return backward(new OracleCore.Batch(b.cu(), b.q(), b.kCmp(), b.vCmp(), b.kSel(), b.vSel(), b.kWin(),
                b.vWin(), b.gates(), indices.toIntArray()), gradO.toDoubleArray());
    }

    /** The fp64 core over a checked batch whose {@code indices} are set. */
    Gradients backward(OracleCore.Batch in, double[] gradO) {
        int nnz = in.nnz();
        int hq = cfg.heads();
        int g = cfg.kvGroups();
        int dk = cfg.headDimQk();
        int dv = cfg.headDimV();
        Gradients out = new Gradients(new double[nnz * hq * dk], new double[nnz * g * dk], new double[nnz * g * dv],
                new double[nnz * g * dk], new double[nnz * g * dv], new double[nnz * g * dk],
                new double[nnz * g * dv], new double[nnz * hq * 3], phi == null ? null : zeros(phi.k()),
                phi == null ? null : zeros(phi.v()));
        for (int s = 0; s < in.sequences(); s++) {
            sequence(in, gradO, s, out);
        }
        return out;
    }

    private static MlpGrads zeros(CompressionMlp m) {
        return new MlpGrads(new double[m.pos.length], new double[m.w1.length], new double[m.b1.length],
                new double[m.w2.length], new double[m.b2.length]);
    }

    /** One sequence: its compressed tokens, then every (token, head) row's three branches, then phi's backward. */
    private void sequence(OracleCore.Batch in, double[] gradO, int s, Gradients out) {
        int first = in.cu()[s];
        int len = in.cu()[s + 1] - first;
        int g = cfg.kvGroups();
        int hq = cfg.heads();
        int dk = cfg.headDimQk();
        int dv = cfg.headDimV();
        int nc = cfg.compressedLen(len);
        Compressed ck = new Compressed(in.kCmp(), first, nc, dk, phi == null ? null : phi.k());
        Compressed cv = new Compressed(in.vCmp(), first, nc, dv, phi == null ? null : phi.v());
        double[] scores = new double[Math.max(1, Math.max(nc, Math.max(cfg.window(), cfg.nSel() * cfg.selBlock())))];
        for (int t = 0; t < len; t++) {
            int row = first + t;
            // each branch's keys of token t (sel: per group), listed once for all heads
            Keys cmp = new Keys(cfg.compressedLen(t + 1));   // K̃ / Ṽ rows 0 .. ncmp(t) - 1, per group [nc, 1, D]
            for (int i = 0; i < cmp.n; i++) {
                cmp.at[i] = i;
            }
            Keys[] sel = new Keys[g];                        // tokens <= t of the chosen blocks, each block once
            for (int gg = 0; gg < g; gg++) {
                sel[gg] = selected(in.indices(), row, gg, t);
            }
            int lo = Math.max(0, t - cfg.window() + 1);
            Keys win = new Keys(t + 1 - lo);                 // max(0, t - w + 1) .. t
            for (int i = 0; i < win.n; i++) {
                win.at[i] = first + lo + i;
            }
            for (int h = 0; h < hq; h++) {
                int gg = h / cfg.headsPerGroup();
                Row r = new Row(in.q(), (row * hq + h) * dk, gradO, (row * hq + h) * dv, in.gates(), (row * hq + h) * 3,
                        out.dq(), out.dGates());
                branch(r, 0, cmp, new Kv(ck.tokens(gg), cv.tokens(gg), 1, 0, ck.grad(gg), cv.grad(gg)), scores);
                branch(r, 1, sel[gg], new Kv(in.kSel(), in.vSel(), g, gg, out.dkSel(), out.dvSel()), scores);
                branch(r, 2, win, new Kv(in.kWin(), in.vWin(), g, gg, out.dkWin(), out.dvWin()), scores);
            }
        }
        for (int gg = 0; gg < g; gg++) {
            ck.backward(gg, out.dkCmp(), out.phiK());
            cv.backward(gg, out.dvCmp(), out.phiV());
        }
    }

    /** The key rows a branch attends: {@code n} of them, {@code at[i]} a row of its key / value arrays. */
    private static final class Keys {
        final int n;
        final int[] at;

        Keys(int n) {
            this.n = n;
            this.at = new int[Math.max(0, n)];
        }
    }

    private Keys selected(int[] indices, int row, int g, int t) {
        int n = cfg.nSel();
        int lp = cfg.selBlock();
        int first = row - t;
        int[] blocks = Arrays.copyOfRange(indices, (row * cfg.kvGroups() + g) * n, (row * cfg.kvGroups() + g + 1) * n);
        Arrays.sort(blocks);
        int count = 0;
        int[] tmp = new int[n * lp];
        int last = -1;
        for (int j : blocks) {
            if (j < 0 || j == last) {
                continue;
            }
            last = j;
            for (int p = j * lp; p < (j + 1) * lp && p <= t; p++) {
                tmp[count++] = first + p;
            }
        }
        Keys k = new Keys(count);
        System.arraycopy(tmp, 0, k.at, 0, count);
        return k;
    }

    /** One (token, head) row: where its q, dL/do and gates are read, and where dq and the gate gradients go. */
    private record Row(double[] q, int qAt, double[] gradO, int oAt, double[] gates, int gAt, double[] dq,
                       double[] dGates) {
    }

    /** A branch's keys and values ({@code [rows, groups, D]}, group {@code g}) and their gradients (same layout). */
    private record Kv(double[] k, double[] v, int groups, int g, double[] dk, double[] dv) {
    }

    /**
     * Branch {@code c} of row {@code r}: scores s_i = scale q·k_i over the keys, P = softmax (through its
     * log-sum-exp), o_c = Σ P_i v_i; then dg_c = dO·o_c, dO_c = g_c dO, dS_i = P_i (dO_c·v_i − dO_c·o_c), dq +=
     * scale Σ dS_i k_i, dk_i += scale dS_i q, dv_i += P_i dO_c. Key i is row {@code keys.at[i]} of {@code kv};
     * {@code s} is scratch for the scores.
     */
    private void branch(Row r, int c, Keys keys, Kv kv, double[] s) {
        if (keys.n == 0) {
            return;   // o_c = 0 and no gradient reaches q, k or v; dg_c = dO·0 = 0
        }
        int dk = cfg.headDimQk();
        int dv = cfg.headDimV();
        double scale = cfg.scale();
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < keys.n; i++) {
            int ka = (keys.at[i] * kv.groups() + kv.g()) * dk;
            double dot = 0;
            for (int d = 0; d < dk; d++) {
                dot += r.q()[r.qAt() + d] * kv.k()[ka + d];
            }
            s[i] = scale * dot;
            max = Math.max(max, s[i]);
        }
        double sum = 0;
        for (int i = 0; i < keys.n; i++) {
            sum += Math.exp(s[i] - max);
        }
        double lse = max + Math.log(sum);
        double[] o = new double[dv];
        for (int i = 0; i < keys.n; i++) {
            s[i] = Math.exp(s[i] - lse);   // P_i
            int va = (keys.at[i] * kv.groups() + kv.g()) * dv;
            for (int d = 0; d < dv; d++) {
                o[d] += s[i] * kv.v()[va + d];
            }
        }
        double gc = r.gates()[r.gAt() + c];
        double dg = 0;
        for (int d = 0; d < dv; d++) {
            dg += r.gradO()[r.oAt() + d] * o[d];
        }
        r.dGates()[r.gAt() + c] += dg;
        double dOo = gc * dg;   // dO_c · o_c
        for (int i = 0; i < keys.n; i++) {
            int ka = (keys.at[i] * kv.groups() + kv.g()) * dk;
            int va = (keys.at[i] * kv.groups() + kv.g()) * dv;
            double dp = 0;
            for (int d = 0; d < dv; d++) {
                double dOc = gc * r.gradO()[r.oAt() + d];
                dp += dOc * kv.v()[va + d];
                kv.dv()[va + d] += s[i] * dOc;
            }
            double dsc = scale * s[i] * (dp - dOo);
            for (int d = 0; d < dk; d++) {
                r.dq()[r.qAt() + d] += dsc * kv.k()[ka + d];
                kv.dk()[ka + d] += dsc * r.q()[r.qAt() + d];
            }
        }
    }

    /**
     * The compressed tokens of one sequence's k_c (or v_c), per group, with what phi's backward needs: K̃ rows
     * {@code [nc, 1, dim]} per group, their gradients, and for mlp each token's input x and pre-activation.
     */
    private final class Compressed {
        private final double[] raw;
        private final int first;
        private final int nc;
        private final int dim;
        private final CompressionMlp mlp;
        private final double[][] tokens;
        private final double[][] grads;
        private final double[][] xs;
        private final double[][] pre;

        Compressed(double[] raw, int first, int nc, int dim, CompressionMlp mlp) {
            this.raw = raw;
            this.first = first;
            this.nc = nc;
            this.dim = dim;
            this.mlp = mlp;
            int g = cfg.kvGroups();
            tokens = new double[g][nc * dim];
            grads = new double[g][nc * dim];
            xs = mlp == null ? null : new double[g * nc][];
            pre = mlp == null ? null : new double[g * nc][];
            for (int gg = 0; gg < g; gg++) {
                for (int i = 0; i < nc; i++) {
                    compress(gg, i);
                }
            }
        }

        double[] tokens(int g) {
            return tokens[g];
        }

        double[] grad(int g) {
            return grads[g];
        }

        private int rawAt(int g, int i, int r) {
            return ((first + i * cfg.stride() + r) * cfg.kvGroups() + g) * dim;
        }

        private void compress(int g, int i) {
            int l = cfg.blockLen();
            double[] dst = tokens[g];
            if (mlp == null) {
                for (int c = 0; c < dim; c++) {
                    double acc = 0;
                    for (int r = 0; r < l; r++) {
                        acc += raw[rawAt(g, i, r) + c];
                    }
                    dst[i * dim + c] = acc / l;
                }
                return;
            }
            int in = l * dim;
            int hidden = mlp.hidden();
            double[] x = new double[in];
            for (int r = 0; r < l; r++) {
                for (int c = 0; c < dim; c++) {
                    x[r * dim + c] = raw[rawAt(g, i, r) + c] + mlp.pos[r * dim + c];
                }
            }
            double[] h = new double[hidden];
            for (int j = 0; j < hidden; j++) {
                double acc = mlp.b1[j];
                for (int e = 0; e < in; e++) {
                    acc += mlp.w1[j * in + e] * x[e];
                }
                h[j] = acc;
            }
            for (int c = 0; c < dim; c++) {
                double acc = mlp.b2[c];
                for (int j = 0; j < hidden; j++) {
                    acc += mlp.w2[c * hidden + j] * silu(h[j]);
                }
                dst[i * dim + c] = acc;
            }
            xs[g * nc + i] = x;
            pre[g * nc + i] = h;
        }

        /** Group g's compressed-token gradients back into the raw tokens' ({@code dRaw}) and phi's ({@code dPhi}). */
        void backward(int g, double[] dRaw, MlpGrads dPhi) {
            int l = cfg.blockLen();
            double[] dt = grads[g];
            for (int i = 0; i < nc; i++) {
                if (mlp == null) {
                    for (int r = 0; r < l; r++) {
                        int at = rawAt(g, i, r);
                        for (int c = 0; c < dim; c++) {
                            dRaw[at + c] += dt[i * dim + c] / l;
                        }
                    }
                    continue;
                }
                int in = l * dim;
                int hidden = mlp.hidden();
                double[] x = xs[g * nc + i];
                double[] h = pre[g * nc + i];
                double[] dh = new double[hidden];
                for (int c = 0; c < dim; c++) {
                    double d = dt[i * dim + c];
                    dPhi.b2()[c] += d;
                    for (int j = 0; j < hidden; j++) {
                        dPhi.w2()[c * hidden + j] += d * silu(h[j]);
                        dh[j] += d * mlp.w2[c * hidden + j];
                    }
                }
                for (int j = 0; j < hidden; j++) {
                    double dpre = dh[j] * siluGrad(h[j]);
                    dPhi.b1()[j] += dpre;
                    for (int e = 0; e < in; e++) {
                        dPhi.w1()[j * in + e] += dpre * x[e];
                        double dx = dpre * mlp.w1[j * in + e];
                        dPhi.pos()[e] += dx;
                        dRaw[rawAt(g, i, e / dim) + e % dim] += dx;
                    }
                }
            }
        }
    }

    private static double silu(double h) {
        return h / (1 + Math.exp(-h));
    }

    private static double siluGrad(double h) {
        double sg = 1 / (1 + Math.exp(-h));
        return sg * (1 + h * (1 - sg));
    }
}
