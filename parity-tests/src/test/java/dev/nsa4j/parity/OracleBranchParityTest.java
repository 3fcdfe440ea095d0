package dev.nsa4j.parity;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.attention.GateOverride;
import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.attention.NsaResult;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.oracle.NsaOracle;
import dev.nsa4j.attention.NsaResult.Output;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The CPU parity suite: the oracle's per-branch outputs ({@link NsaOracle}) against a brute-force masked
 * attention written here from docs/nsa-spec.md (masks tested key by key, two-pass softmax, avg compression by
 * explicit means), through the parity harness. The selection branch uses the oracle's chosen blocks I(t, g)
 * as its mask, so it checks the attention over the chosen blocks, not the choice.
 */
class OracleBranchParityTest {

    /** One case: config, batch layout (dense B×S, or varlen lengths). */
    record Case(String name, NsaConfig cfg, int[] lens, boolean varlen) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Arguments> cases() {
        return Stream.of(
                new Case("dense B=2 S=37 GQA 2, l=8 d=4 w=5",
                        NsaConfig.builder().heads(4).kvGroups(2).headDims(8, 6).blockLen(8).stride(4).selBlock(8)
                                .nSel(3).window(5).build(), new int[] {37, 37}, false),
                new Case("varlen {0,1,19,29} G=H, w=1",
                        NsaConfig.builder().heads(3).kvGroups(3).headDim(5).blockLen(4).stride(2).selBlock(4)
                                .nSel(4).window(1).build(), new int[] {0, 1, 19, 29}, true),
                new Case("dense S=23 G=1 Dk!=Dv, l=d=l'=1, w>=S",
                        NsaConfig.builder().heads(4).kvGroups(1).headDims(4, 7).blockLen(1).stride(1).selBlock(1)
                                .nSel(3).window(40).build(), new int[] {23}, false)
        ).map(Arguments::of);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void branchOutputsMatchBruteForce(Case c) {
        NsaConfig cfg = c.cfg();
        int[] cu = new int[c.lens().length + 1];
        for (int b = 0; b < c.lens().length; b++) {
            cu[b + 1] = cu[b] + c.lens()[b];
        }
        int nnz = cu[cu.length - 1];
        Random rnd = new Random(c.name().hashCode());
        int h = cfg.heads(), g = cfg.kvGroups(), dk = cfg.headDimQk(), dv = cfg.headDimV();
        double[][] t = new double[8][];
        int[][] dims = {{h, dk}, {g, dk}, {g, dv}, {g, dk}, {g, dv}, {g, dk}, {g, dv}, {h, 3}};
        HostTensor[] x = new HostTensor[8];
        for (int i = 0; i < 8; i++) {
            int[] shape = c.varlen() ? new int[] {nnz, dims[i][0], dims[i][1]}
                    : new int[] {c.lens().length, c.lens()[0], dims[i][0], dims[i][1]};
            double lo = i == 7 ? 0 : -1;
            double[] v = rnd.doubles((long) nnz * dims[i][0] * dims[i][1], lo, 1).toArray();
            x[i] = HostTensor.of(DType.FP32, v, shape);
            t[i] = x[i].toDoubleArray();   // fp32-rounded values, what the oracle reads
        }
        NsaInputs.Builder ib = NsaInputs.builder().q(x[0]).cmp(x[1], x[2]).sel(x[3], x[4]).win(x[5], x[6]).gates(x[7]);
        if (c.varlen()) {
            ib.cuSeqlens(HostTensor.ofInts(cu, cu.length));
        }
        NsaResult r = new NsaOracle(cfg).forward(ib.build(), DType.FP32, GateOverride.NONE);
        int[] chosen = r.indexArray();
        int n = cfg.nSel();

        Attn cmp = new Attn(nnz, h, dv);
        Attn win = new Attn(nnz, h, dv);
        Attn sel = new Attn(nnz, h, dv);
        int hpg = h / g;
        for (int b = 0; b < c.lens().length; b++) {
            int c0 = cu[b], len = c.lens()[b];
            int ncmp = len < cfg.blockLen() ? 0 : (len - cfg.blockLen()) / cfg.stride() + 1;
            for (int grp = 0; grp < g; grp++) {
                double[][] kc = new double[ncmp][dk];
                double[][] vc = new double[ncmp][dv];
                for (int i = 0; i < ncmp; i++) {
                    for (int j = 0; j < cfg.blockLen(); j++) {
                        int tok = c0 + i * cfg.stride() + j;
                        for (int e = 0; e < dk; e++) {
                            kc[i][e] += t[1][(tok * g + grp) * dk + e] / cfg.blockLen();
                        }
                        for (int e = 0; e < dv; e++) {
                            vc[i][e] += t[2][(tok * g + grp) * dv + e] / cfg.blockLen();
                        }
                    }
                }
                double[][] ks = rows(t[3], c0, len, g, grp, dk), vs = rows(t[4], c0, len, g, grp, dv);
                double[][] kw = rows(t[5], c0, len, g, grp, dk), vw = rows(t[6], c0, len, g, grp, dv);
                for (int pos = 0; pos < len; pos++) {
                    final int q = pos;
                    int row = c0 + pos;
                    List<Integer> blocks = new ArrayList<>();
                    for (int k = 0; k < n; k++) {
                        blocks.add(chosen[(row * g + grp) * n + k]);
                    }
                    for (int head = grp * hpg; head < (grp + 1) * hpg; head++) {
                        double[] qv = Arrays.copyOfRange(t[0], (row * h + head) * dk, (row * h + head + 1) * dk);
                        cmp.attend(row, head, qv, kc, vc, i -> i * cfg.stride() + cfg.blockLen() - 1 <= q, cfg.scale());
                        win.attend(row, head, qv, kw, vw, s -> q - cfg.window() + 1 <= s && s <= q, cfg.scale());
                        sel.attend(row, head, qv, ks, vs, s -> s <= q && blocks.contains(s / cfg.selBlock()),
                                cfg.scale());
                    }
                }
            }
        }
        ParityHarness outputs = ParityHarness.outputs();
        ParityHarness lse = ParityHarness.lse();
        List<ParityReport> reports = List.of(
                outputs.compare("o_cmp", "cpu-oracle", r.fp64(Output.O_CMP), "brute-force", cmp.out),
                outputs.compare("o_win", "cpu-oracle", r.fp64(Output.O_WIN), "brute-force", win.out),
                outputs.compare("o_sel", "cpu-oracle", r.fp64(Output.O_SEL), "brute-force", sel.out),
                lse.compare("lse_cmp", "cpu-oracle", r.fp64(Output.LSE_CMP), "brute-force", cmp.lse),
                lse.compare("lse_win", "cpu-oracle", r.fp64(Output.LSE_WIN), "brute-force", win.lse),
                lse.compare("lse_sel", "cpu-oracle", r.fp64(Output.LSE_SEL), "brute-force", sel.lse),
                outputs.compare("o_cmp fp32", "cpu-oracle", r.oCmp(), "brute-force",
                        HostTensor.of(DType.FP32, cmp.out, r.oCmp().shape().dims())));
        ParityAssert.assertParity(reports);
        for (ParityReport p : reports) {
            assertTrue(p.maxAbs() < 1e-6, p.line());   // fp64 both sides: far inside the rule
        }
        if (cfg.blockLen() > 1) {
            assertTrue(Arrays.stream(cmp.lse).anyMatch(v -> v == Double.NEGATIVE_INFINITY),
                    "the case exercises rows with no compressed key");
        }
    }

    /** The rows of one KV group of one sequence: [len][dim]. */
    static double[][] rows(double[] flat, int c0, int len, int groups, int grp, int dim) {
        double[][] out = new double[len][];
        for (int s = 0; s < len; s++) {
            int at = ((c0 + s) * groups + grp) * dim;
            out[s] = Arrays.copyOfRange(flat, at, at + dim);
        }
        return out;
    }

    /** Brute-force masked softmax attention into row-major [nnz, H, Dv] outputs and [nnz, H] lse. */
    static final class Attn {
        final double[] out;
        final double[] lse;
        final int heads;
        final int dv;

        Attn(int nnz, int heads, int dv) {
            this.out = new double[nnz * heads * dv];
            this.lse = new double[nnz * heads];
            this.heads = heads;
            this.dv = dv;
        }

        void attend(int row, int head, double[] q, double[][] k, double[][] v, java.util.function.IntPredicate visible,
                    double scale) {
            double[] score = new double[k.length];
            double max = Double.NEGATIVE_INFINITY;
            for (int s = 0; s < k.length; s++) {
                if (visible.test(s)) {
                    double dot = 0;
                    for (int e = 0; e < q.length; e++) {
                        dot += q[e] * k[s][e];
                    }
                    score[s] = dot * scale;
                    max = Math.max(max, score[s]);
                }
            }
            int o = (row * heads + head) * dv;
            if (max == Double.NEGATIVE_INFINITY) {
                lse[row * heads + head] = Double.NEGATIVE_INFINITY;
                return;
            }
            double sum = 0;
            for (int s = 0; s < k.length; s++) {
                if (visible.test(s)) {
                    sum += Math.exp(score[s] - max);
                }
            }
            for (int s = 0; s < k.length; s++) {
                if (visible.test(s)) {
                    double p = Math.exp(score[s] - max) / sum;
                    for (int e = 0; e < dv; e++) {
                        out[o + e] += p * v[s][e];
                    }
                }
            }
            lse[row * heads + head] = max + Math.log(sum);
        }
    }
}
