package dev.nsa4j.oracle;

import dev.nsa4j.attention.NsaInputs;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.attention.NsaResult;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.config.Phi;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * the NSA spec (docs/nsa-spec.md) "Decode" invariant: prefill(S) followed by k steps gives the rows S..S+k−1 of prefill(S + k),
 * chosen blocks included. The oracle runs the same loops in both, so the equality is bitwise.
 */
class DecodeInvariantTest {

    /** Dense fp64-exact random tensors for one sequence set: token-major [tokens, heads, dim]. */
    record Tokens(int tokens, double[] q, double[] kc, double[] vc, double[] ks, double[] vs, double[] kw,
                  double[] vw, double[] gates) {
        static Tokens random(NsaConfig c, int tokens, long seed) {
            SplittableRandom r = new SplittableRandom(seed);
            return new Tokens(tokens, gauss(r, tokens * c.heads() * c.headDimQk()),
                    gauss(r, tokens * c.kvGroups() * c.headDimQk()), gauss(r, tokens * c.kvGroups() * c.headDimV()),
                    gauss(r, tokens * c.kvGroups() * c.headDimQk()), gauss(r, tokens * c.kvGroups() * c.headDimV()),
                    gauss(r, tokens * c.kvGroups() * c.headDimQk()), gauss(r, tokens * c.kvGroups() * c.headDimV()),
                    uniform(r, tokens * c.heads() * 3));
        }

        private static double[] gauss(SplittableRandom r, int n) {
            double[] v = new double[n];
            for (int i = 0; i < n; i++) {
                v[i] = (float) (r.nextDouble() * 2 - 1); // fp32-exact, so the fp32 tensors hold them exactly
            }
            return v;
        }

        private static double[] uniform(SplittableRandom r, int n) {
            double[] v = new double[n];
            for (int i = 0; i < n; i++) {
                v[i] = (float) r.nextDouble();
            }
            return v;
        }

        /** Dense inputs [1, to-from, ...] of tokens [from, to) of sequence-major token arrays. */
        NsaInputs slice(NsaConfig c, int from, int to) {
            int n = to - from;
            return NsaInputs.builder()
                    .q(t(q, from, n, c.heads(), c.headDimQk()))
                    .cmp(t(kc, from, n, c.kvGroups(), c.headDimQk()), t(vc, from, n, c.kvGroups(), c.headDimV()))
                    .sel(t(ks, from, n, c.kvGroups(), c.headDimQk()), t(vs, from, n, c.kvGroups(), c.headDimV()))
                    .win(t(kw, from, n, c.kvGroups(), c.headDimQk()), t(vw, from, n, c.kvGroups(), c.headDimV()))
                    .gates(t(gates, from, n, c.heads(), 3))
                    .build();
        }

        private static HostTensor t(double[] all, int from, int n, int heads, int dim) {
            int per = heads * dim;
            return HostTensor.of(DType.FP32, Arrays.copyOfRange(all, from * per, (from + n) * per), 1, n, heads, dim);
        }
    }

    static Stream<Arguments> configs() {
        List<Arguments> out = new ArrayList<>();
        // (H, G, Dk, Dv, l, d, l', n, w, S, k)
        int[][] rows = {
            {4, 2, 8, 8, 8, 4, 16, 3, 8, 5, 20},      // S < l, crosses l and several l' blocks
            {4, 2, 8, 8, 8, 4, 16, 3, 8, 0, 12},      // from an empty prefill
            {4, 1, 8, 4, 8, 8, 8, 3, 4, 31, 10},      // G = 1, Dk != Dv, d = l
            {4, 4, 4, 8, 4, 2, 8, 4, 64, 15, 20},     // G = H, w > S
            {6, 3, 8, 8, 16, 8, 32, 5, 16, 63, 4},    // crosses 64
            {2, 1, 8, 8, 4, 4, 4, 3, 1, 9, 9},        // w = 1, l = d = l'
            {2, 2, 4, 4, 1, 1, 1, 6, 3, 7, 9},        // l = d = l' = 1
            {8, 2, 16, 16, 32, 16, 64, 16, 512, 100, 40}, // paper-like blocks, S crosses 128
        };
        for (int[] r : rows) {
            NsaConfig c = NsaConfig.builder().heads(r[0]).kvGroups(r[1]).headDims(r[2], r[3]).blockLen(r[4])
                    .stride(r[5]).selBlock(r[6]).nSel(r[7]).window(r[8]).build();
            out.add(Arguments.of(c, r[9], r[10]));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} S={1} k={2}")
    @MethodSource("configs")
    void prefillPlusStepsEqualsLongerPrefill(NsaConfig cfg, int s, int k) {
        checkInvariant(cfg, null, s, k, 11);
    }

    @Test
    void invariantHoldsWithMlpCompression() {
        NsaConfig cfg = NsaConfig.builder().heads(4).kvGroups(2).headDims(4, 6).blockLen(4).stride(2).selBlock(8)
                .nSel(3).window(5).phi(Phi.MLP).build();
        checkInvariant(cfg, randomPhi(cfg, 5), 7, 14, 3);
    }

    static PhiWeights randomPhi(NsaConfig c, int hidden) {
        SplittableRandom r = new SplittableRandom(99);
        return new PhiWeights(mlp(r, c.blockLen(), c.headDimQk(), hidden), mlp(r, c.blockLen(), c.headDimV(), hidden));
    }

    private static CompressionMlp mlp(SplittableRandom r, int l, int d, int hidden) {
        return CompressionMlp.ofArrays(l, d, hidden, rnd(r, l * d), rnd(r, hidden * l * d), rnd(r, hidden),
                rnd(r, d * hidden), rnd(r, d));
    }

    private static double[] rnd(SplittableRandom r, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = r.nextDouble() - 0.5;
        }
        return v;
    }

    private static void checkInvariant(NsaConfig cfg, PhiWeights phi, int s, int k, long seed) {
        Tokens all = Tokens.random(cfg, s + k, seed);
        NsaDecoder decoder = new NsaDecoder(cfg, phi, java.util.concurrent.ForkJoinPool.commonPool());
        NsaResult full = new NsaOracle(cfg, phi, java.util.concurrent.ForkJoinPool.commonPool())
                .forward(all.slice(cfg, 0, s + k));
        NsaDecoder.Prefill pre = decoder.prefill(all.slice(cfg, 0, s));
        int hd = cfg.heads() * cfg.headDimV();
        int gn = cfg.kvGroups() * cfg.nSel();
        double[] fullO = full.fp64(NsaResult.Output.O);
        int[] fullIdx = full.indexArray();
        assertArrayEquals(Arrays.copyOf(fullO, s * hd), pre.result().fp64(NsaResult.Output.O), "prefill rows");
        for (int step = 0; step < k; step++) {
            int t = s + step;
            NsaDecoder.Step r = decoder.step(pre.cache(), all.slice(cfg, t, t + 1));
            for (NsaResult.Output which : NsaResult.Output.values()) {
                int width = which.name().startsWith("LSE") ? cfg.heads() : hd;
                assertArrayEquals(Arrays.copyOfRange(full.fp64(which), t * width, (t + 1) * width),
                        r.result().fp64(which), which + " at t=" + t);
            }
            assertArrayEquals(Arrays.copyOfRange(fullIdx, t * gn, (t + 1) * gn), r.result().indexArray(),
                    "chosen blocks at t=" + t);
            assertEquals(t + 1, pre.cache().length(0));
            assertEquals(cfg.compressedLen(t + 1), pre.cache().compressedLength(0));
            assertEquals(Math.min(cfg.window(), t + 1), pre.cache().windowTokens(0));
            // reads: ncmp(t) + selected tokens <= t + min(w, t+1), per group
            DecodeReads reads = r.reads()[0];
            assertEquals((long) cfg.visibleCompressed(t) * cfg.kvGroups(), reads.compressed());
            assertEquals((long) Math.min(cfg.window(), t + 1) * cfg.kvGroups(), reads.window());
            assertEquals(selectedTokens(cfg, t, r.result().indexArray()), reads.selected());
            assertEquals(reads.compressed() + reads.selected() + reads.window(), reads.total());
        }
    }

    /** Tokens <= t in the distinct chosen blocks, summed over groups: counted from the indices, independently. */
    private static long selectedTokens(NsaConfig cfg, int t, int[] idx) {
        long n = 0;
        for (int g = 0; g < cfg.kvGroups(); g++) {
            java.util.Set<Integer> blocks = new java.util.TreeSet<>();
            for (int j = 0; j < cfg.nSel(); j++) {
                if (idx[g * cfg.nSel() + j] >= 0) {
                    blocks.add(idx[g * cfg.nSel() + j]);
                }
            }
            for (int b : blocks) {
                for (int p = b * cfg.selBlock(); p < (b + 1) * cfg.selBlock(); p++) {
                    n += p <= t ? 1 : 0;
                }
            }
        }
        return n;
    }

    @Test
    void varlenPrefillThenStepsMatchesPerSequencePrefills() {
        NsaConfig cfg = NsaConfig.builder().heads(4).kvGroups(2).headDim(8).blockLen(4).stride(2).selBlock(8)
                .nSel(3).window(6).build();
        int[] lens = {0, 1, 9, 17};
        int steps = 6;
        Tokens[] seqs = new Tokens[lens.length];
        for (int b = 0; b < lens.length; b++) {
            seqs[b] = Tokens.random(cfg, lens[b] + steps, 100 + b);
        }
        // varlen prefill of the first lens[b] tokens of each sequence
        NsaDecoder decoder = new NsaDecoder(cfg);
        NsaDecoder.Prefill pre = decoder.prefill(varlen(cfg, seqs, lens));
        for (int step = 0; step < steps; step++) {
            NsaInputs in = stepInputs(cfg, seqs, lens, step);
            NsaDecoder.Step r = decoder.step(pre.cache(), in);
            for (int b = 0; b < lens.length; b++) {
                int t = lens[b] + step;
                NsaResult full = new NsaOracle(cfg).forward(seqs[b].slice(cfg, 0, t + 1));
                int hd = cfg.heads() * cfg.headDimV();
                assertArrayEquals(Arrays.copyOfRange(full.fp64(NsaResult.Output.O), t * hd, (t + 1) * hd),
                        Arrays.copyOfRange(r.result().fp64(NsaResult.Output.O), b * hd, (b + 1) * hd),
                        "sequence " + b + " t=" + t);
            }
        }
    }

    private static NsaInputs varlen(NsaConfig c, Tokens[] seqs, int[] lens) {
        int nnz = Arrays.stream(lens).sum();
        int[] cu = new int[lens.length + 1];
        for (int b = 0; b < lens.length; b++) {
            cu[b + 1] = cu[b] + lens[b];
        }
        double[][] parts = new double[8][];
        int[][] widths = widths(c);
        HostTensor[] ts = new HostTensor[8];
        for (int f = 0; f < 8; f++) {
            int per = widths[f][0] * widths[f][1];
            parts[f] = new double[nnz * per];
            for (int b = 0; b < lens.length; b++) {
                System.arraycopy(field(seqs[b], f), 0, parts[f], cu[b] * per, lens[b] * per);
            }
            ts[f] = HostTensor.of(DType.FP32, parts[f], nnz, widths[f][0], widths[f][1]);
        }
        return NsaInputs.builder().q(ts[0]).cmp(ts[1], ts[2]).sel(ts[3], ts[4]).win(ts[5], ts[6]).gates(ts[7])
                .cuSeqlens(HostTensor.ofInts(cu, cu.length)).build();
    }

    /** (heads, dim) of the eight token tensors, in the order q, k/v cmp, k/v sel, k/v win, gates. */
    private static int[][] widths(NsaConfig c) {
        return new int[][] {{c.heads(), c.headDimQk()}, {c.kvGroups(), c.headDimQk()}, {c.kvGroups(), c.headDimV()},
            {c.kvGroups(), c.headDimQk()}, {c.kvGroups(), c.headDimV()}, {c.kvGroups(), c.headDimQk()},
            {c.kvGroups(), c.headDimV()}, {c.heads(), 3}};
    }

    private static double[] field(Tokens t, int f) {
        return switch (f) {
            case 0 -> t.q();
            case 1 -> t.kc();
            case 2 -> t.vc();
            case 3 -> t.ks();
            case 4 -> t.vs();
            case 5 -> t.kw();
            case 6 -> t.vw();
            default -> t.gates();
        };
    }

    /** One token per sequence, [B,1,...]: token lens[b] + step of sequence b. */
    private static NsaInputs stepInputs(NsaConfig c, Tokens[] seqs, int[] lens, int step) {
        int[][] widths = widths(c);
        HostTensor[] ts = new HostTensor[8];
        for (int f = 0; f < 8; f++) {
            int per = widths[f][0] * widths[f][1];
            double[] v = new double[seqs.length * per];
            for (int b = 0; b < seqs.length; b++) {
                System.arraycopy(field(seqs[b], f), (lens[b] + step) * per, v, b * per, per);
            }
            ts[f] = HostTensor.of(DType.FP32, v, seqs.length, 1, widths[f][0], widths[f][1]);
        }
        return NsaInputs.builder().q(ts[0]).cmp(ts[1], ts[2]).sel(ts[3], ts[4]).win(ts[5], ts[6]).gates(ts[7]).build();
    }

    @Test
    void stepRejectsBadInputBeforeTouchingTheCache() {
        NsaConfig cfg = NsaConfig.builder().heads(4).kvGroups(2).headDim(8).blockLen(4).stride(2).selBlock(8)
                .nSel(3).window(6).build();
        Tokens all = Tokens.random(cfg, 12, 5);
        NsaDecoder decoder = new NsaDecoder(cfg);
        NsaDecoder.Prefill pre = decoder.prefill(all.slice(cfg, 0, 10));
        // two tokens per sequence is not a step
        NsaArgumentException e = assertThrows(NsaArgumentException.class,
                () -> decoder.step(pre.cache(), all.slice(cfg, 10, 12)));
        assertEquals("q", e.subject());
        assertEquals(10, pre.cache().length(0));
        // an index past the blocks of t + 1 = 11 tokens (2 blocks of 8)
        NsaInputs ok = all.slice(cfg, 10, 11);
        int[] idx = new int[cfg.kvGroups() * cfg.nSel()];
        idx[0] = 2;
        NsaInputs bad = new NsaInputs(ok.q(), ok.kCmp(), ok.vCmp(), ok.kSel(), ok.vSel(), ok.kWin(), ok.vWin(),
                ok.gates(), null, HostTensor.ofInts(idx, 1, 1, cfg.kvGroups(), cfg.nSel()));
        e = assertThrows(NsaArgumentException.class, () -> decoder.step(pre.cache(), bad));
        assertEquals("indices", e.subject());
        assertEquals(10, pre.cache().length(0));
        // the cache still steps correctly afterwards
        decoder.step(pre.cache(), ok);
        assertEquals(11, pre.cache().length(0));
    }
}
