package dev.nsa4j.kernels.nsa;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.config.Phi;
import dev.nsa4j.kernels.Attention;
import dev.nsa4j.kernels.AttnSpec;
import dev.nsa4j.kernels.AttnWalk;
import dev.nsa4j.kernels.BlockSelect;
import dev.nsa4j.kernels.CompressAvg;
import dev.nsa4j.kernels.CompressMlp;
import dev.nsa4j.kernels.CompressionPlan;
import dev.nsa4j.kernels.CudaContext;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.GateCombine;
import dev.nsa4j.kernels.KernelModule;
import dev.nsa4j.kernels.SelPacked;
import dev.nsa4j.oracle.CompressionMlp;
import dev.nsa4j.oracle.GateOverride;
import dev.nsa4j.oracle.InputCheck;
import dev.nsa4j.oracle.NsaInputs;
import dev.nsa4j.oracle.NsaResult;
import dev.nsa4j.oracle.PhiWeights;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import dev.nsa4j.tensor.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * NSA attention on the GPU through the reference paths (ROUTING.md {@code sdpa}, {@code sdpa-masked}, and
 * {@code sdpa-packed} for the selection branch):
 * <pre>
 *   k_cmp, v_cmp ─ compress (avg or mlp, fp32 out) ─ K̃, Ṽ ─ attention, block-causal ─ o_cmp, lse_cmp
 *   q, K̃, lse_cmp ─ block scores, group sum, top-n + forced ─ I   (or the caller's indices)
 *   q, k_sel, v_sel, I ─ attention over the chosen blocks ─ o_sel
 *   q, k_win, v_win ─ attention over the window ─ o_win
 *   gates ─ combine ─ o
 * </pre>
 * Every intermediate and output is fp32 on the device (the parity harness compares fp32 outputs); the
 * compressed branch runs on fp32 copies of q and fp32 K̃/Ṽ, so half-precision inputs lose nothing to a
 * rounded mean. Outputs are rounded to the requested dtype on the host. Inputs are checked host-side by
 * {@link InputCheck} (shapes, dtypes, cu_seqlens, indices) before anything is uploaded, so no input
 * reaches a kernel that could make it read out of bounds. phi = mlp runs {@link CompressMlp} with the
 * {@link PhiWeights} given at construction, uploaded once as fp32 (l·D and hidden within
 * {@link CompressMlp#MAX_IN} and {@link CompressMlp#MAX_HIDDEN}).
 *
 * <p>The compressed and window branches may be handed to a caller's {@link BranchAttention} through
 * {@link Walks#withRunners} (nsa-core routes them to FlashAttention-2 that way); the rest stays here.
 *
 * <p>Runs on its own stream of the given context; each call synchronises that stream before returning.
 * Not thread-safe (one stream); make one per thread.
 */
public final class GpuNsa implements AutoCloseable {
    /**
     * How each branch walks its keys: {@link AttnWalk#ALL} is path {@code sdpa}, RANGES {@code sdpa-masked}.
     * {@code selPacked} runs the selection branch on path {@code sdpa-packed} ({@link SelPacked}: gather the
     * chosen blocks' keys/values per (token, group), then dense attention; same bits as RANGES) and then
     * {@code sel} is not used. {@code cmpRunner} / {@code winRunner}, when not null, compute the compressed /
     * window branch instead of {@link Attention#run} (e.g. a FlashAttention-2 router, which lives in a module
     * this one does not depend on); they receive the {@link AttnSpec} the reference call would have used,
     * {@code cmp} / {@code win} walk included. Without runners the forward is exactly the reference one.
     */
    public record Walks(AttnWalk cmp, AttnWalk sel, AttnWalk win, boolean selPacked, BranchAttention cmpRunner,
                        BranchAttention winRunner) {
        public Walks {
            Objects.requireNonNull(cmp, "cmp");
            Objects.requireNonNull(sel, "sel");
            Objects.requireNonNull(win, "win");
        }

        /** No runners: every branch on the reference kernels. */
        public Walks(AttnWalk cmp, AttnWalk sel, AttnWalk win, boolean selPacked) {
            this(cmp, sel, win, selPacked, null, null);
        }

        /** The selection branch on {@code sel}'s walk (not packed), no runners. */
        public Walks(AttnWalk cmp, AttnWalk sel, AttnWalk win) {
            this(cmp, sel, win, false);
        }

        /** The same walks with the selection branch on path {@code sdpa-packed}. */
        public Walks withPackedSel() {
            return new Walks(cmp, sel, win, true, cmpRunner, winRunner);
        }

        /** The same walks with these runners for the compressed and window branches ({@code null}: reference). */
        public Walks withRunners(BranchAttention cmpRunner, BranchAttention winRunner) {
            return new Walks(cmp, sel, win, selPacked, cmpRunner, winRunner);
        }
    }

    /**
     * Computes one attention branch (compressed or window) of a forward in place of {@link Attention#run}, on
     * {@code stream} (the forward's; enqueue there, or synchronise it before reading device data). Layouts are
     * {@link Attention}'s varlen ones: {@code q [nnz, H, Dk]} (fp32 for the compressed branch, the input dtype
     * for the window branch), {@code k [nnz_k, G, Dk]}, {@code v [nnz_k, G, Dv]} in q's dtype, {@code out}
     * fp32 {@code [nnz, H, Dv]}, {@code lse} fp32 {@code [nnz, H]}. {@code cuQ} / {@code cuK} are int32
     * {@code [B + 1]} on the device; {@code cuQHost} / {@code cuKHost} hold the same values on the host (for the
     * compressed branch {@code cuK} counts compressed tokens). {@code spec} is the reference call's mask,
     * walk and scale. The implementation must write {@code out} and {@code lse} with the reference's
     * semantics (rows without a visible key: 0 and −inf) and records itself which path ran.
     */
    @FunctionalInterface
    public interface BranchAttention {
        void attend(CudaStream stream, DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor cuQ,
                    int[] cuQHost, DeviceTensor cuK, int[] cuKHost, AttnSpec spec, DeviceTensor out,
                    DeviceTensor lse);
    }

    /**
     * Byte budget of the packed-selection buffers of one chunk of query tokens ({@link SelPacked}): they take
     * {@code G·n·l'·(Dk + Dv)·elem} bytes per token (elem: the dtype of k_sel/v_sel), so a forward needs
     * {@code nnz·G·n·l'·(Dk + Dv)·elem} in all and runs in chunks of tokens above this budget.
     */
    public static final long SEL_PACK_BUDGET_BYTES = SelPacked.DEFAULT_BUDGET_BYTES;

    /** Chooses I(t, g) on the device from q (fp32), K̃ (fp32) and lse_cmp; writes int32 [nnz, G, n]. */
    @FunctionalInterface
    public interface BlockChooser {
        void choose(KernelModule module, CudaStream stream, NsaConfig cfg, DeviceTensor q32, DeviceTensor kCmpC,
                    DeviceTensor lseCmp, DeviceTensor cu, DeviceTensor cuCmp, CompressionPlan plan,
                    DeviceTensor indices);
    }

    private final NsaConfig cfg;
    private final KernelModule module;
    private final CudaStream stream;
    private final BlockChooser chooser;
    private final PhiWeights phi;
    private final CompressMlp.Weights phiK;
    private final CompressMlp.Weights phiV;

    /** With the block-selection kernel ({@link BlockSelect}) choosing I(t, g). */
    public GpuNsa(NsaConfig cfg, CudaContext context) {
        this(cfg, null, context, GpuNsa::selectOnDevice);
    }

    /** With the block-selection kernel; {@code phi} is required for phi = mlp and ignored for avg. */
    public GpuNsa(NsaConfig cfg, PhiWeights phi, CudaContext context) {
        this(cfg, phi, context, GpuNsa::selectOnDevice);
    }

    private static void selectOnDevice(KernelModule module, CudaStream stream, NsaConfig cfg, DeviceTensor q32,
                                       DeviceTensor kCmpC, DeviceTensor lseCmp, DeviceTensor cu, DeviceTensor cuCmp,
                                       CompressionPlan plan, DeviceTensor indices) {
        BlockSelect.run(module, stream, q32, kCmpC, lseCmp, cu, cuCmp, plan, cfg.selBlock(), cfg.nSel(),
                (float) cfg.scale(), indices, null);
    }

    /**
     * @param chooser the selection kernel; {@code null} means callers must pass their own indices
     */
    public GpuNsa(NsaConfig cfg, CudaContext context, BlockChooser chooser) {
        this(cfg, null, context, chooser);
    }

    /**
     * @param phi     the compression MLPs, required for phi = mlp (checked against l, Dk, Dv and the kernel's
     *                limits before anything is loaded), ignored for avg
     * @param chooser the selection kernel; {@code null} means callers must pass their own indices
     * @throws NsaArgumentException naming {@code phi}, {@code phi_k} or {@code phi_v} and the rule broken
     */
    public GpuNsa(NsaConfig cfg, PhiWeights phi, CudaContext context, BlockChooser chooser) {
        this.cfg = Objects.requireNonNull(cfg, "cfg");
        Objects.requireNonNull(context, "context");
        boolean mlp = cfg.phi() == Phi.MLP;
        if (mlp) {
            checkPhi(cfg, phi);
        }
        this.phi = mlp ? phi : null;
        this.module = KernelModule.load(context);
        this.chooser = chooser;
        CudaStream s = null;
        CompressMlp.Weights wk = null;
        CompressMlp.Weights wv = null;
        try {
            s = CudaStream.create(context);
            if (mlp) {
                wk = CompressMlp.Weights.upload(s, phi.k());
                wv = CompressMlp.Weights.upload(s, phi.v());
            }
        } catch (RuntimeException e) {
            if (wk != null) {
                wk.close();
            }
            if (s != null) {
                s.close();
            }
            module.close();
            throw e;
        }
        this.phiK = wk;
        this.phiV = wv;
        this.stream = s;
    }

    /** phi = mlp weights that fit the config and the GPU kernel (no CUDA call). */
    public static void checkPhi(NsaConfig cfg, PhiWeights phi) {
        if (phi == null) {
            throw new NsaArgumentException("phi", "phi = mlp needs phi_k/phi_v weights",
                    "config says phi=MLP but no PhiWeights were given");
        }
        checkMlp("phi_k", phi.k(), cfg.blockLen(), cfg.headDimQk());
        checkMlp("phi_v", phi.v(), cfg.blockLen(), cfg.headDimV());
    }

    private static void checkMlp(String name, CompressionMlp m, int blockLen, int dim) {
        if (m.blockLen() != blockLen || m.dim() != dim) {
            throw new NsaArgumentException(name, "weights for [l, D] = [" + blockLen + ", " + dim + "]",
                    "weights are for [l, D] = [" + m.blockLen() + ", " + m.dim() + "]");
        }
        CompressMlp.checkLimits(name, blockLen, dim, m.hidden());
    }

    public NsaConfig config() {
        return cfg;
    }

    /**
     * The kernel module this instance loaded (into the context given at construction), for callers that run
     * a branch themselves ({@link BranchAttention}) or load another image into the same context. Owned by
     * this instance: closed by {@link #close()}.
     */
    public KernelModule module() {
        return module;
    }

    /**
     * One forward.
     *
     * @param outType  dtype of the outputs, {@code null} for q's
     * @throws NsaArgumentException for inputs that break a rule, before any upload
     */
    public NsaResult forward(NsaInputs in, DType outType, GateOverride override, Walks walks) {
        InputCheck.Layout layout = InputCheck.check(cfg, phi, in);
        if (in.indices() == null && chooser == null) {
            throw new NsaArgumentException("indices", "indices given when no selection kernel is loaded",
                    "this GpuNsa has no block chooser; pass indices");
        }
        int nnz = layout.nnz();
        int hq = cfg.heads();
        int g = cfg.kvGroups();
        int dk = cfg.headDimQk();
        int dv = cfg.headDimV();
        int[] cu = layout.cu();
        CompressionPlan plan = CompressionPlan.of(cu, cfg.blockLen(), cfg.stride());
        float scale = (float) cfg.scale();
        List<DeviceTensor> live = new ArrayList<>();
        try {
            DeviceTensor q = up(live, in.q(), nnz, hq, dk);
            DeviceTensor q32 = in.q().dtype() == DType.FP32 ? q : up(live, in.q().to(DType.FP32), nnz, hq, dk);
            DeviceTensor cuD = keep(live, DeviceTensor.upload(stream, HostTensor.ofInts(cu, cu.length)));
            DeviceTensor cuCmp = keep(live, DeviceTensor.upload(stream,
                    HostTensor.ofInts(plan.cuSeqlensCmp(), cu.length)));

            // compressed branch, fp32
            int nnzCmp = plan.nnzCmp();
            DeviceTensor kC = keep(live, DeviceTensor.allocate(stream, DType.FP32, nnzCmp, g, dk));
            DeviceTensor vC = keep(live, DeviceTensor.allocate(stream, DType.FP32, nnzCmp, g, dv));
            if (phiK != null) {
                CompressMlp.run(module, stream, up(live, in.kCmp(), nnz, g, dk), cuD, cuCmp, plan, phiK, kC);
                CompressMlp.run(module, stream, up(live, in.vCmp(), nnz, g, dv), cuD, cuCmp, plan, phiV, vC);
            } else {
                CompressAvg.run(module, stream, up(live, in.kCmp(), nnz, g, dk), cuD, cuCmp, plan, kC);
                CompressAvg.run(module, stream, up(live, in.vCmp(), nnz, g, dv), cuD, cuCmp, plan, vC);
            }
            DeviceTensor oCmp = out(live, nnz, hq, dv);
            DeviceTensor lseCmp = keep(live, DeviceTensor.allocate(stream, DType.FP32, nnz, hq));
            attend(walks.cmpRunner(), q32, kC, vC, cuD, cu, cuCmp, plan.cuSeqlensCmp(),
                    AttnSpec.blockCausal(cfg.blockLen(), cfg.stride()).withWalk(walks.cmp()).withScale(scale), oCmp,
                    lseCmp);

            // chosen blocks
            DeviceTensor idx;
            if (in.indices() != null) {
                idx = up(live, in.indices(), nnz, g, cfg.nSel());
            } else {
                idx = keep(live, DeviceTensor.allocate(stream, DType.INT32, nnz, g, cfg.nSel()));
                chooser.choose(module, stream, cfg, q32, kC, lseCmp, cuD, cuCmp, plan, idx);
            }

            // selected and window branches
            DeviceTensor oSel = out(live, nnz, hq, dv);
            DeviceTensor lseSel = keep(live, DeviceTensor.allocate(stream, DType.FP32, nnz, hq));
            if (walks.selPacked()) {
                SelPacked.run(module, stream, q, up(live, in.kSel(), nnz, g, dk), up(live, in.vSel(), nnz, g, dv),
                        cuD, cuD, null, null, idx, cfg.selBlock(), scale, oSel, lseSel, SEL_PACK_BUDGET_BYTES);
            } else {
                Attention.run(module, stream, q, up(live, in.kSel(), nnz, g, dk), up(live, in.vSel(), nnz, g, dv),
                        cuD, cuD, idx, AttnSpec.chosen(cfg.selBlock()).withWalk(walks.sel()).withScale(scale), oSel,
                        lseSel);
            }
            DeviceTensor oWin = out(live, nnz, hq, dv);
            DeviceTensor lseWin = keep(live, DeviceTensor.allocate(stream, DType.FP32, nnz, hq));
            attend(walks.winRunner(), q, up(live, in.kWin(), nnz, g, dk), up(live, in.vWin(), nnz, g, dv), cuD, cu,
                    cuD, cu, AttnSpec.window(cfg.window()).withWalk(walks.win()).withScale(scale), oWin, lseWin);

            // gates (overrides applied on the host), combine
            DeviceTensor gates = keep(live, DeviceTensor.upload(stream, gatesFp32(in.gates(), override, nnz)));
            DeviceTensor o = out(live, nnz, hq, dv);
            GateCombine.run(module, stream, oCmp, oSel, oWin, gates, o);

            return NsaResult.of(cfg, layout, outType, fp64(o), fp64(oCmp), fp64(oSel), fp64(oWin), fp64(lseCmp),
                    fp64(lseSel), fp64(lseWin), idx.toHost(stream).toIntArray());
        } finally {
            for (int i = live.size() - 1; i >= 0; i--) {
                live.get(i).close();
            }
        }
    }

    /** One compressed or window branch: the caller's runner when given, else the reference kernel. */
    private void attend(BranchAttention runner, DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor cuQ,
                        int[] cuQHost, DeviceTensor cuK, int[] cuKHost, AttnSpec spec, DeviceTensor out,
                        DeviceTensor lse) {
        if (runner == null) {
            Attention.run(module, stream, q, k, v, cuQ, cuK, null, spec, out, lse);
        } else {
            runner.attend(stream, q, k, v, cuQ, cuQHost, cuK, cuKHost, spec, out, lse);
        }
    }

    private static DeviceTensor keep(List<DeviceTensor> live, DeviceTensor t) {
        live.add(t);
        return t;
    }

    /** Uploads a checked token tensor and views it as [nnz, heads, dim]. */
    private DeviceTensor up(List<DeviceTensor> live, HostTensor t, int nnz, int heads, int dim) {
        return keep(live, DeviceTensor.upload(stream, t)).view(Shape.of(nnz, heads, dim));
    }

    private DeviceTensor out(List<DeviceTensor> live, int nnz, int heads, int dim) {
        return keep(live, DeviceTensor.allocate(stream, DType.FP32, nnz, heads, dim));
    }

    private double[] fp64(DeviceTensor t) {
        return t.toHost(stream).toDoubleArray();
    }

    private HostTensor gatesFp32(HostTensor gates, GateOverride override, int nnz) {
        double[] g = gates.toDoubleArray();
        if (override != GateOverride.NONE) {
            for (int i = 0; i < g.length; i++) {
                g[i] = override.apply(i % 3, g[i]);
            }
        }
        return HostTensor.of(DType.FP32, g, nnz, cfg.heads(), 3);
    }

    @Override
    public void close() {
        if (phiK != null) {
            phiK.close();
            phiV.close();
        }
        stream.close();
        module.close();
    }
}
