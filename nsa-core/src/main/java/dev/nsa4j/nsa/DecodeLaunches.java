package dev.nsa4j.nsa;

import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.internal.CompressMlp;
import dev.nsa4j.kernels.internal.Decode;
import dev.nsa4j.kernels.internal.DecodeParams;
import dev.nsa4j.kernels.internal.GateCombine;
import dev.nsa4j.kernels.internal.KernelModule;
import dev.nsa4j.kernels.internal.TcModule;
import dev.nsa4j.tensor.DType;

/**
 * The launch sequences of a GPU decoder, chosen once when it opens: which step runs (the tensor-core step of
 * cuda-tc/decode_tc.cu or the reference step of decode.cu) and why, the tensor-core step's split counts, a step's
 * launches and the prefill's fill launches. Every method only enqueues (no host synchronisation), so a step
 * captures into a CUDA graph.
 */
final class DecodeLaunches {
    private final KernelModule module;
    /** The split kernels' image, or null: the reference step. */
    private final TcModule tc;
    private final boolean exactP;
    /** The tensor-core step's split counts, or null on the reference step. */
    private final DecodeCachePlan.Splits splits;
    private final String route;
    /** phi = mlp's device weights (K̃, Ṽ), or null for avg. */
    private final CompressMlp.Weights phiK;
    private final CompressMlp.Weights phiV;

    private DecodeLaunches(KernelModule module, TcModule tc, boolean exactP, DecodeCachePlan.Splits splits,
                           String route, CompressMlp.Weights phiK, CompressMlp.Weights phiV) {
        this.module = module;
        this.tc = tc;
        this.exactP = exactP;
        this.splits = splits;
        this.route = route;
        this.phiK = phiK;
        this.phiV = phiV;
    }

    /** The launches for a decoder of {@code plan} on {@code attention}'s GPU (its flags, image and weights). */
    static DecodeLaunches choose(NsaAttention attention, DecodeCachePlan plan) {
        GpuBackend gpu = attention.gpu();
        String why = tcRefusal(gpu, plan);
        boolean exactP = !gpu.effectiveFlags().bool(Flag.NSA_FAST_P);
        FlagSnapshot flags = gpu.effectiveFlags();
        DecodeCachePlan.Splits sp = plan.splits(attention.context().device().smCount(),
                flags.integer(Flag.NSA_DECODE_CTAS_PER_SM), flags.integer(Flag.NSA_DECODE_SPLIT_KEYS));
        String route = why != null ? "reference step (one warp per (sequence, head) and branch): " + why
                : "tensor-core step (branches split over their keys, cmp/sel/win splits " + sp.cmp() + "/" + sp.sel()
                        + "/" + sp.win() + ", " + (exactP ? "exact P" : "fast P (NSA_FAST_P=1)") + ")";
        return new DecodeLaunches(gpu.kernels(), why == null ? gpu.tc() : null, exactP, why == null ? sp : null,
                route, gpu.phiK(), gpu.phiV());
    }

    /** Why the tensor-core step cannot serve this decoder, or null when it can. */
    private static String tcRefusal(GpuBackend gpu, DecodeCachePlan plan) {
        if (gpu.effectiveFlags().bool(Flag.NSA_FORCE_PARITY)) {
            return "parity mode (NSA_FORCE_PARITY=1)";
        }
        if (gpu.tc() == null) {
            return gpu.tcUnavailable();
        }
        return Decode.tcRefusal(plan.dtype(), plan.dims());
    }

    /** Which step runs and why. */
    String route() {
        return route;
    }

    /** The tensor-core step's split counts, or null on the reference step. */
    DecodeCachePlan.Splits splits() {
        return splits;
    }

    /** True when the tensor-core step runs. */
    boolean tensorCore() {
        return tc != null;
    }

    /** The prefill's fill launches: the k/v rows into pages and rings, then K̃/Ṽ (avg, or the MLP for phi = mlp). */
    void fill(CudaStream stream, DType dt, DecodeParams p) {
        long s = stream.handle();
        Decode.fill(module, s, dt, p);
        if (p.dims().phiMlp()) {
            Decode.mlpFill(module, s, dt, p, phiK, phiV);
        } else {
            Decode.fillCmp(module, s, dt, p);
        }
    }

    /**
     * A step's launches. Reference step: append, cmp, select, sel, win, the gate combine, advance. Tensor-core step:
     * append, the cmp split, the scorer (fed by the cmp split's scores), one split launch for sel and win, and finish
     * (the splits merged, the gate combine, advance): five launches. phi = mlp adds the two mlp_emit launches (K̃, Ṽ)
     * after append.
     *
     * @param cache the decoder's caches (the reference step's branch outputs feed its gate combine)
     * @param gates {@code [B, H, 3]}, contiguous
     * @param o     {@code [B, H, Dv]}, contiguous
     */
    void step(CudaStream stream, DType dt, DecodeParams p, DeviceDecodeCache cache, DeviceTensor gates, DeviceTensor o) {
        long s = stream.handle();
        Decode.append(module, s, dt, p);
        if (p.dims().phiMlp()) {
            Decode.mlpEmit(module, s, dt, p, phiK, phiV);
        }
        if (tc != null) {
            Decode.split(tc, s, dt, Decode.Branch.CMP, 1, p, exactP);
            Decode.selectScores(module, s, p);
            Decode.split(tc, s, dt, Decode.Branch.SEL, 2, p, exactP);
            Decode.finish(module, s, gates.dtype(), gates.address(), o.dtype(), o.address(), p);
            return;
        }
        Decode.attend(module, s, dt, Decode.Branch.CMP, p);
        Decode.select(module, s, dt, p);
        Decode.attend(module, s, dt, Decode.Branch.SEL, p);
        Decode.attend(module, s, dt, Decode.Branch.WIN, p);
        GateCombine.run(module, stream, cache.oCmp, cache.oSel, cache.oWin, gates, o);
        Decode.advance(module, s, p);
    }
}
