package dev.nsa4j.nsa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.attention.GateOverride;
import dev.nsa4j.attention.NsaResult;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.kernels.GpuSuite;
import dev.nsa4j.oracle.DecodeReads;
import dev.nsa4j.oracle.NsaOracle;
import dev.nsa4j.oracle.PhiWeights;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The GPU decoder's tensor-core step (cuda-tc/decode_tc.cu's split kernel, decode.cu's merge and scorer) against
 * the decode invariant: prefill(S) + k steps against rows S..S+k−1 of the oracle's forward over S + k tokens (K̃
 * rounded to the cache dtype), fp16 and bf16, every output MAE &lt; 1e-5 in exact P (fp32 outputs). The step scores
 * blocks from tensor-core dot products, so near ties may choose other blocks than the oracle: the oracle is given
 * the step's chosen blocks for the decode rows (its own elsewhere), and the rows that chose differently are counted
 * and bounded as for the tensor-core scorer of the forward (at most 1 + rows / 100). Cases: h = 4, 16 and 32 (two
 * head chunks), Dk 64 / 128 / 192 with Dv 128, the paper's blocks and l = d = l' = 64 with n = 16, w = 512, lengths
 * 0 and below l, and sequences of different lengths crossing blocks and pages. Fast P (NSA_FAST_P=1) rounds P to
 * the input dtype, as the forward's fast mode does: held to MAE &lt; 1e-3.
 */
@Tag("gpu")
class GpuDecodeTcGpuTest extends GpuSuite {
    /** (name, H, G, Dk, Dv, l, d, l', n, w, steps, prefill lengths). */
    static Stream<Arguments> cases() {
        return Stream.of(
                c("h = 16, Dk 128, lengths across blocks and pages", 32, 2, 128, 128, 32, 16, 64, 8, 128, 24, 700, 0, 65),
                c("h = 4, Dk 64", 8, 2, 64, 64, 16, 8, 32, 5, 48, 30, 1, 100, 257),
                c("h = 32: two head chunks", 64, 2, 64, 64, 32, 16, 64, 16, 512, 12, 1500),
                c("Dk 192, Dv 128, G = 1", 16, 1, 192, 128, 32, 16, 64, 16, 256, 12, 900),
                c("l = d = l' = 64, n = 16, w = 512", 32, 2, 128, 128, 64, 64, 64, 16, 512, 10, 2000, 63),
                c("S < l and length 0", 16, 2, 64, 64, 32, 16, 64, 16, 512, 40, 0, 5),
                GpuDecodeGpuTest.mlp(c("phi = mlp, h = 4, Dk 64", 8, 2, 64, 64, 16, 8, 32, 5, 48, 24, 1, 100)));
    }

    private static Arguments c(String name, int h, int g, int dk, int dv, int l, int d, int lp, int n, int w, int steps,
                               int... lens) {
        NsaConfig cfg = NsaConfig.builder().heads(h).kvGroups(g).headDims(dk, dv).blockLen(l).stride(d).selBlock(lp)
                .nSel(n).window(w).build();
        return Arguments.of(name, cfg, steps, lens);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void exactPStepsEqualTheLongerForward(String name, NsaConfig cfg, int steps, int[] lens) {
        for (DType dt : new DType[] {DType.BF16, DType.FP16}) {
            check(name + " " + dt, cfg, dt, steps, lens, 1e-5);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void fastPStepsStayCloseToTheLongerForward(String name, NsaConfig cfg, int steps, int[] lens) {
        check(name + " bf16 fast P", cfg, DType.BF16, steps, lens, 1e-3, "NSA_FAST_P", "1");
    }

    private static void check(String at, NsaConfig cfg, DType dt, int steps, int[] lens, double tol, String... flags) {
        int bsz = lens.length;
        int[] full = DecodeBatch.grown(lens, steps);
        int cap = Arrays.stream(full).max().orElse(0);
        DecodeBatch all = DecodeBatch.random(cfg, dt, full, new Random(at.hashCode()));
        int g = cfg.kvGroups();
        int n = cfg.nSel();
        NsaGpuDecoder.Step[] got = new NsaGpuDecoder.Step[steps];
        PhiWeights phi = DecodeBatch.phi(cfg);
        try (NsaAttention nsa = PipelineModes.SEL_KERNEL.open(cfg, phi, flags);
             NsaGpuDecoder dec = NsaGpuDecoder.open(nsa, bsz, cap, dt)) {
            assertTrue(dec.route().startsWith("tensor-core"), at + ": " + dec.route());
            dec.prefill(all.prefix(lens).inputs());
            for (int s = 0; s < steps; s++) {
                got[s] = dec.step(all.step(lens, s));
            }
        }
        NsaOracle oracle = PipelineModes.SEL_KERNEL.oracle(cfg, phi, dt);
        int[] idx = oracle.forward(all.inputs(), DType.FP32, GateOverride.NONE).indexArray().clone();
        int differ = 0;
        for (int s = 0; s < steps; s++) {
            int[] gi = got[s].indices().toIntArray();
            for (int b = 0; b < bsz; b++) {
                assertEquals(expectedReads(cfg, lens[b] + s, gi, b), got[s].reads()[b], at + " step " + s
                        + ": reads of sequence " + b);
                int row = all.cu()[b] + lens[b] + s;
                for (int gg = 0; gg < g; gg++) {
                    boolean same = true;
                    for (int e = 0; e < n; e++) {
                        int at0 = (row * g + gg) * n + e;
                        same &= idx[at0] == gi[(b * g + gg) * n + e];
                        idx[at0] = gi[(b * g + gg) * n + e];
                    }
                    differ += same ? 0 : 1;
                }
            }
        }
        int rows = steps * bsz * g;
        System.out.printf(Locale.ROOT, "%s: %d of %d (step, group) rows chose other blocks than the oracle%n", at,
                differ, rows);
        assertTrue(differ <= 1 + rows / 100, at + ": " + differ + " of " + rows + " rows chose other blocks");
        HostTensor given = HostTensor.ofInts(idx, all.cu()[bsz], g, n);
        NsaResult want = oracle.forward(all.inputs(given), DType.FP32, GateOverride.NONE);
        for (int s = 0; s < steps; s++) {
            int[] r = new int[bsz];
            for (int b = 0; b < bsz; b++) {
                r[b] = all.cu()[b] + lens[b] + s;
            }
            DecodeBatch.assertOutputs(want, r, cfg, got[s], at + " step " + s, tol);
        }
    }

    /** NSA-SPEC's reads of query t over the G groups, given the chosen blocks the step wrote for sequence b. */
    private static DecodeReads expectedReads(NsaConfig cfg, int t, int[] indices, int b) {
        int g = cfg.kvGroups();
        int n = cfg.nSel();
        int lp = cfg.selBlock();
        long sel = 0;
        for (int gg = 0; gg < g; gg++) {
            java.util.Set<Integer> seen = new java.util.HashSet<>();
            for (int e = 0; e < n; e++) {
                int j = indices[(b * g + gg) * n + e];
                if (j >= 0 && (long) j * lp <= t && seen.add(j)) {
                    sel += Math.min(lp, t + 1 - (long) j * lp);
                }
            }
        }
        long ncmp = t + 1 < cfg.blockLen() ? 0 : (t + 1 - cfg.blockLen()) / cfg.stride() + 1;
        return new DecodeReads(g * ncmp, sel, (long) g * Math.min(cfg.window(), t + 1));
    }
}
