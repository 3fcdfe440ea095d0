package dev.nsa4j.oracle;

import dev.nsa4j.attention.BatchLayout;
import dev.nsa4j.attention.GateOverride;
import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.attention.NsaResult;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.config.Phi;
import dev.nsa4j.tensor.DType;
import java.util.Objects;
import java.util.concurrent.ForkJoinPool;

/**
 * The CPU oracle: NSA attention exactly as docs/nsa-spec.md defines it, accumulated in fp64. Every GPU path is
 * judged against it, and it is the embedded default where no CUDA device exists.
 *
 * <pre>{@code
 * NsaOracle oracle = new NsaOracle(NsaConfig.builder().heads(16).kvGroups(4).headDim(64).build());
 * NsaResult r = oracle.forward(NsaInputs.builder().q(q).sharedKv(k, v).gates(gates).build());
 * HostTensor o = r.o();            // [B,S,H,Dv] in q's dtype
 * HostTensor chosen = r.indices(); // [B,S,G,n] int32
 * }</pre>
 *
 * <p>Thread-safe: each call allocates its own buffers. Parallel over (sequence, group, query tile) on the
 * given pool (default: one worker per core); results are bitwise identical whatever the parallelism.
 */
public final class NsaOracle {
    private final NsaConfig cfg;
    private final PhiWeights phi;
    private final ForkJoinPool pool;
    private final DType compressedIn;

    /** For phi = avg. */
    public NsaOracle(NsaConfig cfg) {
        this(cfg, null, Parallel.shared());
    }

    /**
     * @param phi  the compression MLPs; required when {@code cfg.phi()} is {@link Phi#MLP}, ignored for avg
     * @param pool where the work runs
     */
    public NsaOracle(NsaConfig cfg, PhiWeights phi, ForkJoinPool pool) {
        this.cfg = Objects.requireNonNull(cfg, "cfg");
        this.phi = phi;
        this.pool = Objects.requireNonNull(pool, "pool");
        this.compressedIn = null;
    }

    private NsaOracle(NsaConfig cfg, PhiWeights phi, ForkJoinPool pool, DType compressedIn) {
        this.cfg = cfg;
        this.phi = phi;
        this.pool = pool;
        this.compressedIn = compressedIn;
    }

    /**
     * This oracle with every compressed token K̃/Ṽ rounded to {@code dtype} after compression (fp64 arithmetic
     * otherwise): the reference for GPU paths that store K̃/Ṽ in the input dtype (the NSA spec (docs/nsa-spec.md) "Numerics": fast paths
     * are judged against the oracle with the same roundings applied). {@code null} or fp32 inputs: K̃ as computed.
     */
    public NsaOracle withCompressedRoundedTo(DType dtype) {
        return new NsaOracle(cfg, phi, pool, dtype == null || dtype == DType.FP32 ? null : dtype);
    }

    /** The pool the oracle uses unless given one: one daemon worker per core, shared by every oracle. */
    public static ForkJoinPool defaultPool() {
        return Parallel.shared();
    }

    public NsaConfig config() {
        return cfg;
    }

    /** Forward with outputs in q's dtype and the gates as given. */
    public NsaResult forward(NsaInputs in) {
        return forward(in, null, GateOverride.NONE);
    }

    /**
     * Forward.
     *
     * @param outType  dtype of the outputs; {@code null} for q's dtype
     * @param override gate override for ablations
     * @throws dev.nsa4j.NsaArgumentException for any input that breaks a rule, before computing anything
     */
    public NsaResult forward(NsaInputs in, DType outType, GateOverride override) {
        BatchLayout layout = InputCheck.check(cfg, phi, in);
        Objects.requireNonNull(override, "override");
        return wrap(forwardRaw(toBatch(layout, in), override), layout, outType);
    }

    PhiWeights phiWeights() {
        return phi;
    }

    /** fp64 copies of a checked call's tensors. */
    static OracleCore.Batch toBatch(BatchLayout layout, NsaInputs in) {
        return new OracleCore.Batch(layout.cu(), in.q().toDoubleArray(), in.kCmp().toDoubleArray(),
                in.vCmp().toDoubleArray(), in.kSel().toDoubleArray(), in.vSel().toDoubleArray(),
                in.kWin().toDoubleArray(), in.vWin().toDoubleArray(), in.gates().toDoubleArray(),
                in.indices() == null ? null : in.indices().toIntArray());
    }

    NsaResult wrap(OracleCore.Result raw, BatchLayout layout, DType outType) {
        return NsaResult.of(cfg, layout, outType, raw.o(), raw.oCmp(), raw.oSel(), raw.oWin(), raw.lseCmp(),
                raw.lseSel(), raw.lseWin(), raw.indices());
    }

    /** The fp64 core, for callers in this module that already hold fp64 activations (the layer). */
    OracleCore.Result forwardRaw(OracleCore.Batch batch, GateOverride override) {
        boolean mlp = cfg.phi() == Phi.MLP;
        return OracleCore.forward(cfg, batch, mlp ? phi.k() : null, mlp ? phi.v() : null, override, pool, compressedIn);
    }
}
