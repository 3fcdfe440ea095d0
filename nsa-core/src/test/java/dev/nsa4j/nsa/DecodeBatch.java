package dev.nsa4j.nsa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.attention.NsaResult;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.config.Phi;
import dev.nsa4j.oracle.PhiWeights;
import dev.nsa4j.kernels.GpuFixture;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;

/** A varlen batch ([nnz, heads, dim] tensors, gates fp32) and its slices: prefixes and single tokens. */
record DecodeBatch(NsaConfig cfg, DType dt, int[] cu, HostTensor[] t) {
    /** Hidden width of the decode tests' phi = mlp weights. */
    static final int MLP_HIDDEN = 48;

    /** Each length plus {@code steps}: the tokens a prefill of {@code lens} and {@code steps} steps cover. */
    static int[] grown(int[] lens, int steps) {
        int[] full = new int[lens.length];
        for (int b = 0; b < lens.length; b++) {
            full[b] = lens[b] + steps;
        }
        return full;
    }

    /** Fixed phi = mlp weights for {@code c} (K̃ at Dk, Ṽ at Dv), or null when phi = avg. */
    static PhiWeights phi(NsaConfig c) {
        if (c.phi() != Phi.MLP) {
            return null;
        }
        Random rnd = new Random(31L * c.blockLen() + c.headDimQk());
        return new PhiWeights(PipelineParityGpuTest.mlp(rnd, c.blockLen(), c.headDimQk(), MLP_HIDDEN),
                PipelineParityGpuTest.mlp(rnd, c.blockLen(), c.headDimV(), MLP_HIDDEN));
    }

    static DecodeBatch random(NsaConfig c, DType dt, int[] lens, Random rnd) {
        int[] cu = new int[lens.length + 1];
        for (int b = 0; b < lens.length; b++) {
            cu[b + 1] = cu[b] + lens[b];
        }
        int nnz = cu[lens.length];
        HostTensor[] t = new HostTensor[8];
        t[0] = GpuFixture.random(rnd, dt, -1, 1, nnz, c.heads(), c.headDimQk());
        for (int i = 1; i <= 6; i++) {
            t[i] = GpuFixture.random(rnd, dt, -1, 1, nnz, c.kvGroups(), i % 2 == 1 ? c.headDimQk() : c.headDimV());
        }
        t[7] = GpuFixture.random(rnd, DType.FP32, 0, 1, nnz, c.heads(), 3);
        return new DecodeBatch(c, dt, cu, t);
    }

    NsaInputs inputs() {
        return build(t, HostTensor.ofInts(cu.clone(), cu.length));
    }

    /** The whole batch with caller-chosen blocks {@code [nnz, G, n]}. */
    NsaInputs inputs(HostTensor indices) {
        return NsaInputs.builder().q(t[0]).cmp(t[1], t[2]).sel(t[3], t[4]).win(t[5], t[6]).gates(t[7])
                .cuSeqlens(HostTensor.ofInts(cu.clone(), cu.length)).indices(indices).build();
    }

    /** The first lens[b] tokens of every sequence, varlen. */
    DecodeBatch prefix(int[] lens) {
        int[] pcu = new int[lens.length + 1];
        for (int b = 0; b < lens.length; b++) {
            pcu[b + 1] = pcu[b] + lens[b];
        }
        int[] rows = new int[pcu[lens.length]];
        for (int b = 0, r = 0; b < lens.length; b++) {
            for (int s = 0; s < lens[b]; s++) {
                rows[r++] = cu[b] + s;
            }
        }
        HostTensor[] p = new HostTensor[t.length];
        for (int i = 0; i < t.length; i++) {
            p[i] = gather(t[i], rows, rows.length, t[i].dim(1), t[i].dim(2));
        }
        return new DecodeBatch(cfg, dt, pcu, p);
    }

    /** Token lens[b] + s of every sequence as a [B,1,...] step. */
    NsaInputs step(int[] lens, int s) {
        return build(stepTensors(lens, s), null);
    }

    /** The step's q, k_cmp, v_cmp, k_sel, v_sel, k_win, v_win, gates as [B,1,...] tensors. */
    HostTensor[] stepTensors(int[] lens, int s) {
        int[] rows = new int[lens.length];
        for (int b = 0; b < lens.length; b++) {
            rows[b] = cu[b] + lens[b] + s;
        }
        HostTensor[] p = new HostTensor[t.length];
        for (int i = 0; i < t.length; i++) {
            p[i] = gather(t[i], rows, rows.length, 1, t[i].dim(1), t[i].dim(2));
        }
        return p;
    }

    private static NsaInputs build(HostTensor[] p, HostTensor cu) {
        NsaInputs.Builder b = NsaInputs.builder().q(p[0]).cmp(p[1], p[2]).sel(p[3], p[4]).win(p[5], p[6])
                .gates(p[7]);
        if (cu != null) {
            b.cuSeqlens(cu);
        }
        return b.build();
    }

    private static HostTensor gather(HostTensor src, int[] rows, int... dims) {
        HostTensor out = HostTensor.zeros(src.dtype(), dims);
        long rowBytes = (long) src.dim(1) * src.dim(2) * src.dtype().byteSize();
        for (int r = 0; r < rows.length; r++) {
            MemorySegment.copy(src.segment(), rows[r] * rowBytes, out.segment(), r * rowBytes, rowBytes);
        }
        return out;
    }

    static double[] floats(HostTensor t) {
        return t.toDoubleArray();
    }

    /** Every value finite (or the same infinity as wanted), and the mean absolute error below {@code tol}. */
    static void assertClose(double[] want, double[] got, double tol, String label) {
        assertEquals(want.length, got.length, label);
        double mae = 0;
        double max = 0;
        int at = -1;
        for (int i = 0; i < want.length; i++) {
            boolean sameInf = Double.isInfinite(want[i]) && want[i] == got[i];
            assertTrue(sameInf || Double.isFinite(got[i]), label + "[" + i + "] = " + got[i] + ", want " + want[i]);
            double d = sameInf ? 0 : Math.abs(want[i] - got[i]);
            mae += d;
            if (d > max) {
                max = d;
                at = i;
            }
        }
        mae /= Math.max(1, want.length);
        assertTrue(mae < tol, label + ": MAE " + mae + " >= " + tol);
        assertTrue(max < MAX_ABS_FACTOR * tol, label + ": max abs " + max + " at [" + at + "] (got " + got[Math.max(0, at)]
                + ", want " + want[Math.max(0, at)] + ") >= " + MAX_ABS_FACTOR + " x the MAE bound " + tol);
    }

    /** The max-abs bound beside every MAE rule: one element off by this multiple of the MAE bound fails the test. */
    static final double MAX_ABS_FACTOR = 100;

    /** The step's outputs against rows {@code rows} (one per sequence) of a forward over the whole batch. */
    static void assertOutputs(NsaResult want, int[] rows, NsaConfig cfg, NsaGpuDecoder.Step got, String at,
                              double tol) {
        int h = cfg.heads();
        int dv = cfg.headDimV();
        Object[][] outs = {{NsaResult.Output.O, got.o(), dv}, {NsaResult.Output.O_CMP, got.oCmp(), dv},
                {NsaResult.Output.O_SEL, got.oSel(), dv}, {NsaResult.Output.O_WIN, got.oWin(), dv},
                {NsaResult.Output.LSE_CMP, got.lseCmp(), 1}, {NsaResult.Output.LSE_SEL, got.lseSel(), 1},
                {NsaResult.Output.LSE_WIN, got.lseWin(), 1}};
        for (Object[] o : outs) {
            double[] all = want.fp64((NsaResult.Output) o[0]);
            int per = h * (int) o[2];
            double[] w = new double[rows.length * per];
            for (int b = 0; b < rows.length; b++) {
                System.arraycopy(all, rows[b] * per, w, b * per, per);
            }
            assertClose(w, floats((HostTensor) o[1]), tol, at + ": " + o[0]);
        }
    }
}
