package dev.nsa4j.kernels.op;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.kernels.CudaException;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.kernels.internal.BlockSelect;
import dev.nsa4j.kernels.internal.BlockSelectParams;
import dev.nsa4j.kernels.internal.CompressionPlan;
import dev.nsa4j.kernels.internal.TcGeometry;
import dev.nsa4j.kernels.internal.TcModule;
import dev.nsa4j.kernels.internal.TensorMaps;
import dev.nsa4j.tensor.DType;

/**
 * Block scoring + top-n on tensor cores ({@code nsa_block_score_*} of {@link TcModule}), fused: the same inputs and
 * the same sorted, −1 padded indices as the reference scorer ({@link BlockSelect}, {@link KernelOps#blockSelect}),
 * which it may differ from only at near ties (it reorders the fp32 sums and uses {@code ex2.approx}); the parity
 * mode and {@code NSA_EXACT_SCORES=1} use the reference.
 * <ul>
 * <li>{@link #unsupported} is the plan-time check (dtype, Dk, device, grid, a selection block overlapping at most
 *     64 compressed tokens, and the shared memory against the device's opt-in limit).</li>
 * <li>Each launch validates the call host-side ({@link #prepare}): what no scorer can serve throws an
 *     {@link NsaArgumentException} naming the tensor and the rule; q or K̃ that the kernel's 16-byte loads cannot
 *     follow run the call on the reference scorer ({@link OpRun#fellBack(String, String, String)}); so does a
 *     failed launch.</li>
 * </ul>
 * The op multiplies with the {@link ScoreLayout} chosen at plan time (on SM 9.0 for h ≤ 16 the key-row or the
 * token-tile wgmma kernel unless the caller turns them off); the plan-time rules are the mma.sync layout's, which
 * serves every shape the op accepts. Launch geometry is {@link TcGeometry}'s.
 */
public final class TcBlockScoreOp implements DeviceOp<SelectArgs> {
    /** The kind of op ({@link OpRun#path()}), as the reference scorer's. */
    public static final String KIND = "select";
    private static final int MAX_GRID_YZ = 65535;

    /**
     * The planned scoring: q and K̃ in {@code dtype}, {@code heads} query heads over {@code kvHeads} groups, head dim
     * Dk, the sequences and compression of {@code plan}, l' = {@code selBlock}, n = {@code nSel}.
     */
    public record Spec(DType dtype, int heads, int kvHeads, int dk, CompressionPlan plan, int selBlock, int nSel,
                       float scale) {
        /** @throws NsaArgumentException for sizes no path can serve */
        public Spec {
            Objects.requireNonNull(dtype, "dtype");
            Objects.requireNonNull(plan, "plan");
            if (heads < 1 || kvHeads < 1 || heads % kvHeads != 0) {
                throw new NsaArgumentException("q", "H >= 1, G >= 1 and H % G == 0", "H = " + heads + ", G = " + kvHeads);
            }
            if (dk < 1) {
                throw new NsaArgumentException("q", "Dk >= 1", "Dk = " + dk);
            }
        }

        /** The longest sequence of the plan. */
        public int maxLen() {
            int[] cu = plan.cuSeqlens();
            int m = 0;
            for (int b = 0; b + 1 < cu.length; b++) {
                m = Math.max(m, cu[b + 1] - cu[b]);
            }
            return m;
        }

        /** Query heads per KV group. */
        public int h() {
            return heads / kvHeads;
        }

        /** The mma.sync layout's symbol ({@link ScoreLayout#symbol} for either). */
        public String symbol() {
            return ScoreLayout.MMA.symbol(this);
        }

        /** The mma.sync layout's dynamic shared memory per block ({@link TcGeometry#scoreSmemBytes}). */
        public long smemBytes() {
            return ScoreLayout.MMA.smemBytes(this);
        }

        /** {@code tc block scores + top-16 bf16 dk128}. */
        public String describe() {
            return "tc block scores + top-" + nSel + " " + TcModule.dtypeName(dtype) + " dk" + dk;
        }
    }

    /** A host-validated call: the kernel's params and the rules its tensors break (empty: it can launch). */
    public record Prepared(BlockSelectParams params, long work, List<Refusal> refusals) {
        public Prepared {
            refusals = List.copyOf(refusals);
        }

        /** True when the kernel can run the call. */
        public boolean launchable() {
            return refusals.isEmpty();
        }
    }

    private final TcModule tc;
    private final Spec spec;
    private final Sequences raw;
    private final Sequences compressed;
    private final DeviceOp<SelectArgs> fallback;
    private final ScoreLayout layout;
    /** The plan's longest sequence (the grid's x extent), computed once. */
    private final int maxLen;

    private TcBlockScoreOp(TcModule tc, Spec spec, ScoreLayout layout, Sequences raw, Sequences compressed,
                           DeviceOp<SelectArgs> fallback) {
        this.tc = tc;
        this.spec = spec;
        this.layout = layout;
        this.raw = raw;
        this.compressed = compressed;
        this.fallback = fallback;
        this.maxLen = spec.maxLen();
    }

    /** Every plan-time rule {@code spec} breaks on {@code device} (empty: the kernel can serve the shape). */
    public static List<Refusal> refusals(DeviceInfo device, Spec spec) {
        List<Refusal> r = new ArrayList<>();
        TcLayout.deviceAndDtype(r, device, spec.dtype(), "q and K̃", "the tc scorer");
        if (!TcModule.SCORE_HEAD_DIMS.contains(spec.dk())) {
            r.add(new Refusal(Refusal.HEAD_DIM, "Dk = " + spec.dk() + " is not one of " + TcModule.SCORE_HEAD_DIMS));
        }
        long span = TcGeometry.scoreBlockSpan(spec.plan().blockLen(), spec.plan().blockStride(), spec.selBlock());
        if (span > TcGeometry.SCORE_TILE) {
            r.add(new Refusal(Refusal.SEL_BLOCK, "a selection block overlaps up to (l' + l - 1)/d + 1 = " + span
                    + " compressed tokens, more than " + TcGeometry.SCORE_TILE + " (l = " + spec.plan().blockLen()
                    + ", d = " + spec.plan().blockStride() + ", l' = " + spec.selBlock() + ")"));
        }
        if (spec.plan().batch() > MAX_GRID_YZ || spec.kvHeads() > MAX_GRID_YZ) {
            r.add(new Refusal(Refusal.GRID, "B = " + spec.plan().batch() + ", G = " + spec.kvHeads() + "; at most "
                    + MAX_GRID_YZ + " each"));
        }
        long allowed = device.maxDynamicSharedMemory(TcGeometry.SCORE_STATIC_SMEM_BYTES);
        long need = spec.smemBytes();
        if (need > allowed) {
            r.add(new Refusal(Refusal.SHARED_MEMORY, "needs " + need + " bytes of dynamic shared memory per block "
                    + "(h = " + spec.h() + ", Dk = " + spec.dk() + "), the device allows " + allowed));
        }
        return List.copyOf(r);
    }

    /** Why the kernel cannot serve {@code spec} on {@code device} (every rule, with the values), or null. */
    public static String unsupported(DeviceInfo device, Spec spec) {
        return Refusal.reason(refusals(device, spec));
    }

    /**
     * The op for {@code spec}.
     *
     * @param raw        the raw tokens' sequences (the plan's cu_seqlens on the device)
     * @param compressed the compressed tokens' sequences (the plan's cu_seqlens_cmp on the device)
     * @param fallback   the reference scorer ({@link KernelOps#blockSelect}) a call the kernel cannot serve runs on
     * @throws NsaArgumentException when {@link #unsupported} refuses the shape
     */
    public static TcBlockScoreOp plan(TcModule tc, Spec spec, Sequences raw, Sequences compressed,
                                      DeviceOp<SelectArgs> fallback) {
        Objects.requireNonNull(tc, "tc");
        Objects.requireNonNull(spec, "spec");
        return plan(tc, spec, ScoreLayout.forDevice(tc.device(), spec, true, true), raw, compressed, fallback);
    }

    /**
     * The op for {@code spec} in {@code layout} (a test's or a flag's choice; {@link ScoreLayout#forDevice} picks the
     * faster one).
     *
     * @throws NsaArgumentException when {@link #unsupported} refuses the shape, or {@code layout} is
     *                              {@link ScoreLayout#WGMMA} where {@link ScoreLayout#whyNotWgmma} refuses it, or
     *                              {@link ScoreLayout#KEY_ROWS} where {@link ScoreLayout#whyNotKeyRows} does
     */
    public static TcBlockScoreOp plan(TcModule tc, Spec spec, ScoreLayout layout, Sequences raw, Sequences compressed,
                                      DeviceOp<SelectArgs> fallback) {
        Objects.requireNonNull(tc, "tc");
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(layout, "layout");
        Objects.requireNonNull(raw, "raw");
        Objects.requireNonNull(compressed, "compressed");
        Objects.requireNonNull(fallback, "fallback");
        String why = unsupported(tc.device(), spec);
        if (why != null) {
            throw new NsaArgumentException("tc scorer", "a shape the tc scorer serves (TcBlockScoreOp.unsupported)", why);
        }
        String notWg = layout == ScoreLayout.WGMMA ? ScoreLayout.whyNotWgmma(tc.device(), spec) : null;
        if (notWg != null) {
            throw new NsaArgumentException("tc scorer", "the wgmma layout on SM 9.0 with h <= 16 (ScoreLayout)", notWg);
        }
        String notKr = layout == ScoreLayout.KEY_ROWS ? ScoreLayout.whyNotKeyRows(tc.device(), spec) : null;
        if (notKr != null) {
            throw new NsaArgumentException("tc scorer", "the key-row layout on SM 9.0 with h <= 16, Dk 128, d | l', "
                    + "n <= " + TcGeometry.SCORE_KR_MAX_N + " (ScoreLayout)", notKr);
        }
        return new TcBlockScoreOp(tc, spec, layout, raw, compressed, fallback);
    }

    /**
     * Validates one call host-side (no CUDA call): the reference scorer's rules and the planned shape, then the
     * kernel's layout rules.
     *
     * @throws NsaArgumentException naming the tensor and the rule, for tensors no scorer can serve
     */
    public static Prepared prepare(Spec spec, Sequences raw, Sequences compressed, SelectArgs a) {
        Objects.requireNonNull(a, "args");
        BlockSelect.Launch l = BlockSelect.plan(a.q(), a.kCmp(), a.lse(), raw.device(), compressed.device(),
                spec.plan(), spec.selBlock(), spec.nSel(), spec.scale(), a.indices(), null);
        if (a.q().dtype() != spec.dtype()) {
            throw new NsaArgumentException("q", "q in the planned dtype " + spec.dtype(), "q is " + a.q().dtype());
        }
        if (a.q().dim(1) != spec.heads() || a.q().dim(2) != spec.dk()) {
            throw new NsaArgumentException("q", "q [nnz, H, Dk] with the planned H = " + spec.heads() + " and Dk = "
                    + spec.dk(), "q is " + a.q().shape());
        }
        if (a.kCmp().dim(1) != spec.kvHeads()) {
            throw new NsaArgumentException("k_cmp", "k_cmp [nnz_cmp, G, Dk] with the planned G = " + spec.kvHeads(),
                    "k_cmp is " + a.kCmp().shape());
        }
        List<Refusal> r = new ArrayList<>();
        if (l.work() > 0) {
            TcLayout.rows16(r, "q", a.q());
            if (a.kCmp().dim(0) > 0) {
                TcLayout.rows16(r, "k_cmp", a.kCmp());
            }
        }
        return new Prepared(withoutScores(l.params()), l.work(), r);
    }

    /** The params with no scores output ({@code scores} null, {@code nb_max} 0): the kernel writes indices only. */
    private static BlockSelectParams withoutScores(BlockSelectParams p) {
        return new BlockSelectParams(p.q(), p.kCmp(), p.lse(), p.cuSeqlens(), p.cuSeqlensCmp(), p.indices(), 0L,
                p.qTokStride(), p.qHeadStride(), p.kTokStride(), p.kGroupStride(), p.lseTokStride(), p.lseHeadStride(),
                p.idxTokStride(), p.idxGroupStride(), 0, 0, p.nnz(), p.nnzCmp(), p.batch(), p.heads(), p.kvHeads(),
                p.dk(), p.blockLen(), p.blockStride(), p.selBlock(), p.nSel(), 0, p.scale());
    }

    public Spec spec() {
        return spec;
    }

    /** The instruction layout this op launches. */
    public ScoreLayout layout() {
        return layout;
    }

    /** {@code tc block scores + top-16 bf16 dk128 (wgmma)}. */
    @Override
    public String describe() {
        return spec.describe() + " (" + layout.label() + ")";
    }

    @Override
    public OpRun launch(CudaStream stream, SelectArgs a, Workspace workspace) {
        Prepared p = prepare(spec, raw, compressed, a);
        if (!p.launchable()) {
            return fallBack(stream, a, workspace, "tc scorer blocked: " + Refusal.reason(p.refusals()), "contract");
        }
        if (p.work() == 0) {
            return OpRun.ran(KIND);
        }
        BlockSelectParams params = p.params();
        // no compressed token to map: the key-row layout's tensor maps need a row, the wgmma layout (which the
        // key-row one implies) reads none and writes the same indices
        ScoreLayout run = layout == ScoreLayout.KEY_ROWS && a.kCmp().dim(0) == 0 ? ScoreLayout.WGMMA : layout;
        try {
            byte[][] args = run == ScoreLayout.KEY_ROWS ? new byte[][] {params.toBytes(),
                    TensorMaps.encode(SelKernelOp.mapRows("q", a.q()), TcGeometry.SCORE_KR_Q_BOX),
                    TensorMaps.encode(SelKernelOp.mapRows("k_cmp", a.kCmp()), TcGeometry.SCORE_KR_TILE)}
                    : new byte[][] {params.toBytes()};
            tc.kernels().launchSymbol(run.symbol(spec), run.gridX(maxLen), params.batch(), params.kvHeads(),
                    run.threads(), (int) run.smemBytes(spec), stream.handle(), args);
        } catch (IllegalArgumentException e) {   // a tensor map's rule that prepare's checks did not already name
            return fallBack(stream, a, workspace, "tc scorer blocked: " + e.getMessage(), "contract");
        } catch (CudaException e) {
            return fallBack(stream, a, workspace, "tc scorer failed: " + e.getMessage(), "kernel");
        }
        return OpRun.ran(KIND);
    }

    private OpRun fallBack(CudaStream stream, SelectArgs a, Workspace ws, String why, String cause) {
        fallback.launch(stream, a, ws);
        return OpRun.fellBack(KIND, "reference scorer: " + why, cause);
    }

    @Override
    public String toString() {
        return describe();
    }
}
