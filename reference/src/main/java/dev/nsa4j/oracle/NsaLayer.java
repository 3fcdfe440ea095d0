package dev.nsa4j.oracle;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.attention.BatchLayout;
import dev.nsa4j.attention.GateOverride;
import dev.nsa4j.attention.NsaResult;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import java.util.Objects;
import java.util.concurrent.ForkJoinPool;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_MT_DDRM;

/**
 * The NSA layer on the CPU oracle (the NSA spec (docs/nsa-spec.md) "The NSA layer"):
 * <pre>
 *   x ─ q = x·wqᵀ, k_c = x·wk_cᵀ, v_c = x·wv_cᵀ (EJML) ─ RoPE(q, k_c) at each token's position ─┐
 *   x ─ gates = sigmoid(x·wgᵀ + bg)  (or through a SiLU hidden layer) ──────────────────────────┤
 *                                                        NSA attention (the oracle) ─ o ─ y = o·woᵀ
 * </pre>
 * x is {@code [B,S,dim]}, or {@code [nnz,dim]} with {@code cu_seqlens}; positions restart at every sequence.
 * Outputs y in x's dtype. Gate overrides replace the computed gates (ablations). Thread-safe.
 */
public final class NsaLayer {
    private final NsaLayerWeights weights;
    private final NsaLayerConfig lc;
    private final NsaConfig cfg;
    private final NsaOracle oracle;
    private final NsaDecoder decoder;

    public NsaLayer(NsaLayerWeights weights) {
        this(weights, Parallel.shared());
    }

    public NsaLayer(NsaLayerWeights weights, ForkJoinPool pool) {
        this.weights = Objects.requireNonNull(weights, "weights");
        this.lc = weights.config();
        this.cfg = lc.attention();
        this.oracle = new NsaOracle(cfg, weights.phi(), pool);
        this.decoder = new NsaDecoder(cfg, weights.phi(), pool);
    }

    /** The layer output and the attention call inside it (branch outputs, chosen blocks, gates used). */
    public record Output(HostTensor y, NsaResult attention, HostTensor gates) {}

    /** A prefill's output and the decode cache it filled. */
    public record Prefill(Output output, DecodeCache cache) {}

    public Output forward(HostTensor x, HostTensor cuSeqlens, GateOverride override) {
        Projected p = project(x, cuSeqlens, null);
        return finish(p, oracle.forwardRaw(p.batch, override), x.dtype());
    }

    public Prefill prefill(HostTensor x, HostTensor cuSeqlens, GateOverride override) {
        Projected p = project(x, cuSeqlens, null);
        OracleCore.Result raw = oracle.forwardRaw(p.batch, override);
        return new Prefill(finish(p, raw, x.dtype()), decoder.fill(p.batch, raw));
    }

    /** One decode step: x {@code [B,1,dim]}, one token per sequence, each at its cache position. */
    public Output step(DecodeCache cache, HostTensor x, GateOverride override) {
        if (x.rank() != 3 || x.dim(0) != cache.batch() || x.dim(1) != 1) {
            throw new NsaArgumentException("x", "shape [B,1,dim] with B = cache batch",
                    "got " + x.shape() + " for a cache of " + cache.batch() + " sequences");
        }
        int[] positions = new int[cache.batch()];
        for (int b = 0; b < positions.length; b++) {
            positions[b] = cache.length(b);
        }
        Projected p = project(x, null, positions);
        NsaDecoder.StepOutputs out = new NsaDecoder.StepOutputs(cfg, cache.batch());
        decoder.stepRaw(cache, p.batch, null, override, out);
        return finish(p, out.asResult(), x.dtype());
    }

    private record Projected(BatchLayout layout, OracleCore.Batch batch) {}

    /** Projections, rotary embedding and gates in fp64. {@code positions}: per-sequence start, or null for 0. */
    private Projected project(HostTensor x, HostTensor cuT, int[] positions) {
        int dim = lc.modelDim();
        BatchLayout layout = layoutOf(x, cuT, dim);
        int nnz = layout.nnz();
        double[] xd = x.toDoubleArray();
        DMatrixRMaj xm = DMatrixRMaj.wrap(nnz, dim, xd);
        double[] q = linear(xm, "wq");
        double[] kc = linear(xm, "wk_cmp");
        double[] ks = linear(xm, "wk_sel");
        double[] kw = linear(xm, "wk_win");
        int[] cu = layout.cu();
        for (int b = 0; b < layout.batch(); b++) {
            for (int tok = cu[b]; tok < cu[b + 1]; tok++) {
                int pos = (positions == null ? 0 : positions[b]) + tok - cu[b];
                Rope.rotate(q, tok * cfg.heads() * cfg.headDimQk(), cfg.heads(), cfg.headDimQk(), pos, lc.ropeBase());
                for (double[] k : new double[][] {kc, ks, kw}) {
                    Rope.rotate(k, tok * cfg.kvGroups() * cfg.headDimQk(), cfg.kvGroups(), cfg.headDimQk(), pos,
                            lc.ropeBase());
                }
            }
        }
        double[] gates;
        if (lc.gateHidden() > 0) {
            double[] hidden = linear(xm, "wg_hidden");
            addBias(hidden, weights.raw("bg_hidden"));
            for (int i = 0; i < hidden.length; i++) {
                hidden[i] = Compressor.silu(hidden[i]);
            }
            gates = linear(DMatrixRMaj.wrap(nnz, lc.gateHidden(), hidden), "wg");
        } else {
            gates = linear(xm, "wg");
        }
        addBias(gates, weights.raw("bg"));
        for (int i = 0; i < gates.length; i++) {
            gates[i] = 1.0 / (1.0 + Math.exp(-gates[i]));
        }
        OracleCore.Batch batch = new OracleCore.Batch(cu, q, kc, linear(xm, "wv_cmp"), ks, linear(xm, "wv_sel"), kw,
                linear(xm, "wv_win"), gates, null);
        return new Projected(layout, batch);
    }

    private static BatchLayout layoutOf(HostTensor x, HostTensor cuT, int dim) {
        if (x == null || !x.dtype().isFloating()) {
            throw new NsaArgumentException("x", "dtype fp32, fp16 or bf16", "got " + x);
        }
        BatchLayout layout = InputCheck.layout("x", x, cuT, "[B,S,dim]", "[nnz,dim]");
        if (x.dim(x.rank() - 1) != dim) {
            throw new NsaArgumentException("x", layout.varlen() ? "shape [nnz,dim]" : "shape [B,S,dim]",
                    "dim=" + dim + ", got " + x.shape());
        }
        return layout;
    }

    private double[] linear(DMatrixRMaj x, String name) {
        double[] w = weights.raw(name);
        int out = w.length / x.numCols;
        DMatrixRMaj y = new DMatrixRMaj(x.numRows, out);
        CommonOps_MT_DDRM.multTransB(x, DMatrixRMaj.wrap(out, x.numCols, w), y);
        return y.data;
    }

    private static void addBias(double[] y, double[] bias) {
        for (int i = 0; i < y.length; i++) {
            y[i] += bias[i % bias.length];
        }
    }

    private Output finish(Projected p, OracleCore.Result raw, DType dt) {
        int nnz = p.layout.nnz();
        int hv = cfg.heads() * cfg.headDimV();
        double[] y = linear(DMatrixRMaj.wrap(nnz, hv, raw.o()), "wo");
        int[] yDims = p.layout.varlen() ? new int[] {nnz, lc.modelDim()}
                : new int[] {p.layout.batch(), p.layout.seqLen(), lc.modelDim()};
        NsaResult attn = oracle.wrap(raw, p.layout, dt);
        HostTensor gates = HostTensor.of(DType.FP32, p.batch.gates(), p.layout.dims(cfg.heads(), 3));
        return new Output(HostTensor.of(dt, y, yDims), attn, gates);
    }
}
