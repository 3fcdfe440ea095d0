package dev.nsa4j.nsa;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import dev.nsa4j.attention.GateOverride;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.config.Phi;
import dev.nsa4j.fa2.Fa2AttentionOp;
import dev.nsa4j.kernels.internal.CompressionPlan;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceBuffer;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.op.AttentionArgs;
import dev.nsa4j.kernels.op.CastArgs;
import dev.nsa4j.kernels.op.CombineArgs;
import dev.nsa4j.kernels.op.CompressArgs;
import dev.nsa4j.kernels.op.DeviceOp;
import dev.nsa4j.kernels.op.KernelOps;
import dev.nsa4j.kernels.op.OpRun;
import dev.nsa4j.kernels.op.PackedSelectionOp;
import dev.nsa4j.kernels.op.SelectArgs;
import dev.nsa4j.kernels.op.Sequences;
import dev.nsa4j.kernels.op.Workspace;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import dev.nsa4j.tensor.Shape;

/**
 * One planned NSA forward on the GPU for one {@link NsaShape}: the ops of every step, the device-resident
 * constants (cu_seqlens of the raw and compressed tokens, the gate-override constant, the NaN/Inf guard) and
 * one workspace for every intermediate and scratch, all allocated when the plan is built. A run only
 * enqueues launches on the caller's stream:
 * <pre>
 *   [q -&gt; fp32 (parity mode)]  k_cmp, v_cmp -&gt; compress -&gt; K̃, Ṽ (input dtype; fp32 in parity mode)   step compress
 *   q, K̃, Ṽ -&gt; cmp attention (fa2 block-causal | sdpa-masked | sdpa) -&gt; o_cmp, lse_cmp              step cmp
 *   q, K̃, lse_cmp -&gt; block scores + top-n (tc scorer | reference) -&gt; I (unless the caller's)         step select
 *   q, k_sel, v_sel, I -&gt; sel attention (sel-kernel | sdpa-masked | sdpa-packed | sdpa) -&gt; o_sel     step sel
 *   q, k_win, v_win -&gt; win attention (fa2 window | sdpa-masked | sdpa) -&gt; o_win                      step win
 *   gates (or the override constant) -&gt; combine, rounded once to o's dtype -&gt; o                       step combine
 * </pre>
 * Without a step timer the window branch runs on the plan's {@link SideStream}, forked from the caller's stream before
 * compression and joined before the combine (it reads only the call's q, k_win, v_win), so it overlaps the
 * others; only a window op that needs no scratch does (it would share the scratch otherwise).
 * Branch outputs are fp32, or o's dtype in the fast mode ({@link #branchDtype}); log-sum-exps are fp32 (in the
 * caller's tensors when given, else in the workspace).
 * Not thread-safe: the owner serialises runs.
 */
final class DevicePipeline implements AutoCloseable {
    /**
     * What one run did: the route of each branch, in the order cmp, sel, win, the per-call fallbacks, and the block
     * scorer's run when it fell back to the reference scorer (else null).
     */
    record Ran(List<Route> routes, Map<Branch, OpRun> fellBack, OpRun selectFellBack) {
    }

    private final NsaPlan plan;
    private final Map<Branch, BranchPlanner.BranchPlan> branches;
    private final DeviceOp<CastArgs> qCast;
    private final DeviceOp<CompressArgs> compressK;
    private final DeviceOp<CompressArgs> compressV;
    private final DeviceOp<SelectArgs> select;
    private final DeviceOp<CastArgs> gatesCast;
    private final DeviceOp<CombineArgs> combine;
    private final boolean guarded;
    private final List<DeviceTensor> constants;
    private final DeviceTensor guard;
    private final DeviceTensor overrideGates;
    private final DeviceBuffer workspace;
    private final Slices slices;
    private final int nnz;
    private final int nnzCmp;
    private final NsaConfig cfg;
    /** The window branch's stream when it runs beside the others (its op needs no scratch), else null. */
    private final SideStream side;

    /** Byte offsets of the workspace's parts (each 256-aligned); 0-size parts have length 0. */
    private record Slices(long q32, long kC, long vC, long oCmp, long oSel, long oWin, long lseCmp, long lseSel,
                          long lseWin, long idx, long gates32, long scratch, long scratchBytes, long total) {
    }

    private DevicePipeline(NsaPlan plan, Map<Branch, BranchPlanner.BranchPlan> branches, DeviceOp<CastArgs> qCast,
                           DeviceOp<CompressArgs> compressK, DeviceOp<CompressArgs> compressV,
                           DeviceOp<SelectArgs> select, DeviceOp<CastArgs> gatesCast, DeviceOp<CombineArgs> combine,
                           boolean guarded, List<DeviceTensor> constants, DeviceTensor guard,
                           DeviceTensor overrideGates, DeviceBuffer workspace, Slices slices, int nnz, int nnzCmp,
                           SideStream side) {
        this.side = side;
        this.plan = plan;
        this.branches = branches;
        this.qCast = qCast;
        this.compressK = compressK;
        this.compressV = compressV;
        this.select = select;
        this.gatesCast = gatesCast;
        this.combine = combine;
        this.guarded = guarded;
        this.constants = constants;
        this.guard = guard;
        this.overrideGates = overrideGates;
        this.workspace = workspace;
        this.slices = slices;
        this.nnz = nnz;
        this.nnzCmp = nnzCmp;
        this.cfg = plan.config();
    }

    NsaPlan plan() {
        return plan;
    }

    /** The planned branch (route, op, counted fallback). */
    BranchPlanner.BranchPlan branch(Branch b) {
        return branches.get(b);
    }

    /**
     * The dtype the branches write o_cmp, o_sel and o_win in: o's dtype when it is fp16 or bf16 and the kernels run
     * their fast mode ({@code NSA_FAST_P=1}, not the parity mode), as fla's and mdy666's NSA do; else fp32, so the
     * combine rounds once. Half-precision branch outputs halve the bytes the branches write and the combine reads.
     */
    static DType branchDtype(FlagSnapshot flags, NsaShape shape) {
        boolean fast = flags.bool(Flag.NSA_FAST_P) && !flags.bool(Flag.NSA_FORCE_PARITY);
        return fast && shape.out() != DType.FP32 ? shape.out() : DType.FP32;
    }

    /**
     * Plans {@code shape}: routes, ops, constants and the workspace, allocated and uploaded on the owner's
     * stream, which is then synchronised once (the plan's memory is ready for any stream).
     *
     * @throws dev.nsa4j.NsaArgumentException for shapes no path can serve, and under {@code NSA_FA2_HARD_FAIL}
     *                                        when a requested FA-2 branch cannot run this shape
     */
    static DevicePipeline build(PipelineEnv env, NsaShape shape, String deviceName) {
        NsaConfig cfg = env.cfg();
        int[] cu = shape.cu();
        CompressionPlan cp = CompressionPlan.of(cu, cfg.blockLen(), cfg.stride());
        int h = cfg.heads(), g = cfg.kvGroups(), dk = cfg.headDimQk(), dv = cfg.headDimV(), n = cfg.nSel();
        int nnz = shape.nnz(), nnzCmp = cp.nnzCmp();
        float scale = (float) cfg.scale();
        boolean parity = env.flags().bool(Flag.NSA_FORCE_PARITY);
        DType dt = shape.dtype();
        DType kDt = parity ? DType.FP32 : dt;
        DType qCmpDt = kDt;   // the cmp branch and the scoring read q in K̃'s dtype
        DType oDt = branchDtype(env.flags(), shape);
        List<DeviceTensor> constants = new ArrayList<>();
        CudaStream own = env.own();
        try {
            DeviceTensor cuD = keep(constants, env.memory().upload(own, HostTensor.ofInts(cu, cu.length)));
            DeviceTensor cuCmpD = keep(constants, env.memory().upload(own,
                    HostTensor.ofInts(cp.cuSeqlensCmp(), cu.length)));
            Sequences raw = new Sequences(cu, cuD);
            Sequences cmpSeq = new Sequences(cp.cuSeqlensCmp(), cuCmpD);
            DeviceTensor guard = keep(constants, env.memory().upload(own, HostTensor.ofInts(new int[] {0}, 1)));
            DeviceTensor overrideGates = null;
            if (env.override() != GateOverride.NONE) {
                double[] gv = new double[3];
                for (int i = 0; i < 3; i++) {
                    gv[i] = env.override().apply(i, 0.0);
                }
                overrideGates = keep(constants, env.memory().upload(own, HostTensor.of(DType.FP32, gv, 3)));
            }

            Map<Branch, BranchPlanner.BranchPlan> branches = new EnumMap<>(Branch.class);
            for (Branch br : Branch.values()) {
                branches.put(br, BranchPlanner.plan(env, br, shape, raw, cmpSeq, kDt, oDt, scale, guard));
            }
            boolean guarded = branches.values().stream().anyMatch(b -> b.op() instanceof Fa2AttentionOp);

            DeviceOp<CastArgs> qCast = qCmpDt != dt ? KernelOps.cast(env.module(), dt, qCmpDt) : null;
            DeviceOp<CompressArgs> compressK, compressV;
            if (cfg.phi() == Phi.MLP) {
                compressK = KernelOps.compressMlp(env.module(), cp, raw, cmpSeq, env.phiK(), dt, kDt, g, dk);
                compressV = KernelOps.compressMlp(env.module(), cp, raw, cmpSeq, env.phiV(), dt, kDt, g, dv);
            } else {
                compressK = KernelOps.compressAvg(env.module(), cp, raw, cmpSeq, dt, kDt);
                compressV = KernelOps.compressAvg(env.module(), cp, raw, cmpSeq, dt, kDt);
            }
            SelectPlanner.Choice select = shape.callerIndices() ? null
                    : SelectPlanner.plan(env, cp, raw, cmpSeq, scale, qCmpDt);
            DeviceOp<CastArgs> gatesCast = shape.gates() != DType.FP32 && overrideGates == null
                    ? KernelOps.cast(env.module(), shape.gates(), DType.FP32) : null;
            // fp32 gates; the fp32 sum is rounded once into o's dtype (in the fast mode after the branches' own roundings)
            DeviceOp<CombineArgs> combine = KernelOps.combine(env.module(), oDt, DType.FP32, shape.out());

            long scratch = Math.max(compressK.workspaceBytes(), compressV.workspaceBytes());
            for (BranchPlanner.BranchPlan b : branches.values()) {
                scratch = Math.max(scratch, b.op().workspaceBytes());
            }
            long[] at = {0};
            long rowsH = (long) nnz * h;
            long branchBytes = rowsH * dv * oDt.byteSize();
            Slices sl = new Slices(
                    part(at, qCmpDt != dt ? rowsH * dk * 4 : 0),
                    part(at, (long) nnzCmp * g * dk * kDt.byteSize()),
                    part(at, (long) nnzCmp * g * dv * kDt.byteSize()),
                    part(at, branchBytes), part(at, branchBytes), part(at, branchBytes),
                    part(at, rowsH * 4), part(at, rowsH * 4), part(at, rowsH * 4),
                    part(at, (long) nnz * g * n * 4),
                    part(at, gatesCast != null ? rowsH * 3 * 4 : 0),
                    part(at, scratch), Workspace.aligned(scratch), 0);
            long total = at[0];
            sl = new Slices(sl.q32, sl.kC, sl.vC, sl.oCmp, sl.oSel, sl.oWin, sl.lseCmp, sl.lseSel, sl.lseWin, sl.idx,
                    sl.gates32, sl.scratch, sl.scratchBytes, total);
            DeviceBuffer ws = env.memory().allocate(own, Math.max(total, 256));
            long held = ws.byteSize();
            for (DeviceTensor c : constants) {
                held += c.byteSize();
            }
            own.synchronize();   // the plan's memory and constants are ready for work on any stream

            List<NsaPlan.Step> steps = new ArrayList<>();
            String compress = (qCast != null ? qCast.describe() + "; " : "") + compressK.describe() + " (k, v)";
            steps.add(new NsaPlan.Step("compress", compress, compressK.workspaceBytes()));
            steps.add(step("cmp", branches.get(Branch.CMP).op()));
            steps.add(new NsaPlan.Step("select", select == null ? "caller indices" : select.describe(), 0));
            DeviceOp<SelectArgs> selectOp = select == null ? null : select.op();
            steps.add(step("sel", branches.get(Branch.SEL).op()));
            steps.add(step("win", branches.get(Branch.WIN).op()));
            String comb = (overrideGates != null ? "gate override " + env.override() + " (device constant); " : "")
                    + (gatesCast != null ? gatesCast.describe() + "; " : "") + combine.describe();
            steps.add(new NsaPlan.Step("combine", comb, 0));
            List<Route> routes = new ArrayList<>();
            for (Branch br : Branch.values()) {
                routes.add(branches.get(br).route());
            }
            NsaPlan plan = new NsaPlan(cfg, shape, deviceName, kDt, oDt, routes, steps, held);
            // the window branch overlaps the others unless its op uses the shared scratch
            SideStream side = branches.get(Branch.WIN).op().workspaceBytes() == 0
                    ? SideStream.create(env.module().context()) : null;
            return new DevicePipeline(plan, branches, qCast, compressK, compressV, selectOp, gatesCast, combine,
                    guarded, constants, guard, overrideGates, ws, sl, nnz, nnzCmp, side);
        } catch (RuntimeException e) {
            for (DeviceTensor c : constants) {
                c.close();
            }
            throw e;
        }
    }

    private static NsaPlan.Step step(String name, DeviceOp<?> op) {
        return new NsaPlan.Step(name, op.describe(), op.workspaceBytes());
    }

    private static DeviceTensor keep(List<DeviceTensor> list, DeviceTensor t) {
        list.add(t);
        return t;
    }

    private static long part(long[] at, long bytes) {
        long off = at[0];
        at[0] += Workspace.aligned(bytes);
        return off;
    }

    /** Whether FA-2 ops add to the guard (so a run zeroes it and the owner may read it). */
    boolean guarded() {
        return guarded;
    }

    /** The NaN/Inf guard: uint32 count of non-finite FA-2 outputs of the last run. */
    DeviceTensor guard() {
        return guard;
    }

    /** Workspace views the host API downloads from. */
    DeviceTensor oCmp() {
        return tensor(slices.oCmp, plan.branchDtype(), nnz, cfg.heads(), cfg.headDimV());
    }

    DeviceTensor oSel() {
        return tensor(slices.oSel, plan.branchDtype(), nnz, cfg.heads(), cfg.headDimV());
    }

    DeviceTensor oWin() {
        return tensor(slices.oWin, plan.branchDtype(), nnz, cfg.heads(), cfg.headDimV());
    }

    DeviceTensor lseCmp() {
        return tensor(slices.lseCmp, DType.FP32, nnz, cfg.heads());
    }

    DeviceTensor lseSel() {
        return tensor(slices.lseSel, DType.FP32, nnz, cfg.heads());
    }

    DeviceTensor lseWin() {
        return tensor(slices.lseWin, DType.FP32, nnz, cfg.heads());
    }

    DeviceTensor indices() {
        return tensor(slices.idx, DType.INT32, nnz, cfg.kvGroups(), cfg.nSel());
    }

    private DeviceTensor tensor(long offset, DType dtype, int... dims) {
        // an empty part still gets a valid, aligned address inside the workspace (never null)
        return DeviceTensor.wrap(workspace.address() + offset, dtype, Shape.of(dims));
    }

    private static DeviceTensor or(DeviceTensor given, DeviceTensor fallback) {
        return given != null ? given : fallback;
    }

    /**
     * The rules this plan adds to {@link DeviceInputCheck}'s, checked before anything is enqueued: tensors the plan
     * casts on the device must be contiguous; packed selection views q as {@code [nnz·G, H/G, Dk]}.
     */
    void checkCall(DeviceInputCheck.Call c) {
        branchOut("o_cmp", c.oCmp());
        branchOut("o_sel", c.oSel());
        branchOut("o_win", c.oWin());
        if (qCast != null) {
            contiguous("q", c.q(), "contiguous (the parity mode casts q to fp32 on the device)");
        }
        if (gatesCast != null) {
            contiguous("gates", c.gates(), "contiguous when not fp32 (cast to fp32 on the device)");
        }
        if (branches.get(Branch.SEL).op() instanceof PackedSelectionOp && c.q().stride(0) != cfg.heads() * c.q().stride(1)) {
            throw new dev.nsa4j.NsaArgumentException("q", "token stride = H·head stride (sdpa-packed views q as [nnz·G, H/G, Dk])",
                    "strides " + java.util.Arrays.toString(c.q().shape().strides()));
        }
    }

    private void branchOut(String name, DeviceTensor t) {
        DType branchDtype = plan.branchDtype();
        if (t != null && t.dtype() != branchDtype) {
            throw new dev.nsa4j.NsaArgumentException(name, "dtype " + NsaShape.name(branchDtype)
                    + (branchDtype == DType.FP32 ? " (branch outputs are fp32 unless NSA_FAST_P=1 with a half-precision o)"
                    : " (NSA_FAST_P=1 with a " + NsaShape.name(branchDtype) + " o writes branch outputs in o's dtype)"),
                    name + " is " + NsaShape.name(t.dtype()));
        }
    }

    private static void contiguous(String name, DeviceTensor t, String rule) {
        if (!t.shape().isContiguous()) {
            throw new dev.nsa4j.NsaArgumentException(name, rule, "strides " + java.util.Arrays.toString(t.shape().strides()));
        }
    }

    /**
     * Enqueues one forward on {@code s} for a checked call of this plan's shape; no allocation, no host copy, no
     * synchronisation.
     */
    Ran run(CudaStream s, DeviceInputCheck.Call c, StepTimer timer) {
        int h = cfg.heads(), g = cfg.kvGroups(), dk = cfg.headDimQk(), dv = cfg.headDimV();
        Workspace scratch = new Workspace(workspace.address() + slices.scratch, slices.scratchBytes);
        if (guarded) {
            DeviceBuffer.wrap(guard.address(), 4).fill(s, (byte) 0);
        }
        timer.begin(s);
        // Untimed forwards run the window branch on the side stream, beside compression, cmp, scoring and sel; a
        // step timer needs the steps one after another on s.
        Map<Branch, OpRun> ran = new EnumMap<>(Branch.class);
        DeviceTensor oWin = or(c.oWin(), oWin()), lseWin = or(c.lseWin(), lseWin());
        boolean overlap = side != null && timer == StepTimer.NONE;
        if (overlap) {
            ran.put(Branch.WIN, branches.get(Branch.WIN).op().launch(side.fork(s),
                    new AttentionArgs(c.q(), c.kWin(), c.vWin(), oWin, lseWin, null), Workspace.NONE));
        }
        DeviceTensor qCmp = c.q();
        if (qCast != null) {
            qCmp = tensor(slices.q32, plan.compressedDtype(), nnz, h, dk);
            qCast.launch(s, new CastArgs(c.q(), qCmp), Workspace.NONE);
        }
        DeviceTensor kC = tensor(slices.kC, plan.compressedDtype(), nnzCmp, g, dk);
        DeviceTensor vC = tensor(slices.vC, plan.compressedDtype(), nnzCmp, g, dv);
        compressK.launch(s, new CompressArgs(c.kCmp(), kC), scratch);
        compressV.launch(s, new CompressArgs(c.vCmp(), vC), scratch);
        timer.mark("compress", s);

        DeviceTensor oCmp = or(c.oCmp(), oCmp()), lseCmp = or(c.lseCmp(), lseCmp());
        ran.put(Branch.CMP, branches.get(Branch.CMP).op().launch(s,
                new AttentionArgs(qCmp, kC, vC, oCmp, lseCmp, null), scratch));
        timer.mark("cmp", s);

        DeviceTensor idx;
        OpRun scored = null;
        if (select != null) {
            idx = or(c.indicesOut(), indices());
            scored = select.launch(s, new SelectArgs(qCmp, kC, lseCmp, idx), Workspace.NONE);
        } else {
            idx = c.indices();
            if (c.indicesOut() != null) {
                c.indicesOut().copyFrom(s, idx);
            }
        }
        timer.mark("select", s);

        DeviceTensor oSel = or(c.oSel(), oSel()), lseSel = or(c.lseSel(), lseSel());
        ran.put(Branch.SEL, branches.get(Branch.SEL).op().launch(s,
                new AttentionArgs(c.q(), c.kSel(), c.vSel(), oSel, lseSel, idx), scratch));
        timer.mark("sel", s);

        if (overlap) {
            side.join(s);
        } else {
            ran.put(Branch.WIN, branches.get(Branch.WIN).op().launch(s,
                    new AttentionArgs(c.q(), c.kWin(), c.vWin(), oWin, lseWin, null), scratch));
        }
        timer.mark("win", s);

        DeviceTensor gates;
        if (overrideGates != null) {
            gates = overrideGates.view(Shape.strided(new int[] {nnz, h, 3}, new long[] {0, 0, 1}));
        } else if (gatesCast != null) {
            gates = tensor(slices.gates32, DType.FP32, nnz, h, 3);
            gatesCast.launch(s, new CastArgs(c.gates(), gates), Workspace.NONE);
        } else {
            gates = c.gates();
        }
        combine.launch(s, new CombineArgs(oCmp, oSel, oWin, gates, c.o()), Workspace.NONE);
        timer.mark("combine", s);

        List<Route> routes = new ArrayList<>(3);
        Map<Branch, OpRun> fellBack = new EnumMap<>(Branch.class);
        for (Branch br : Branch.values()) {
            Route planned = branches.get(br).route();
            OpRun r = ran.get(br);
            if (r.fellBack()) {
                fellBack.put(br, r);
                routes.add(new Route(br, Path.of(r.path()), r.reason()));
            } else {
                routes.add(r.reason().isEmpty() ? planned : new Route(br, planned.path(), planned.reason() + "; " + r.reason()));
            }
        }
        return new Ran(routes, fellBack, scored != null && scored.fellBack() ? scored : null);
    }

    @Override
    public void close() {
        if (side != null) {
            side.close();
        }
        workspace.close();
        for (DeviceTensor c : constants) {
            c.close();
        }
    }
}
