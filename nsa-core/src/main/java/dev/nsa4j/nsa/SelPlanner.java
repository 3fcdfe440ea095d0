package dev.nsa4j.nsa;

import java.util.List;

import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.kernels.internal.AttnWalk;
import dev.nsa4j.kernels.internal.SelPacked;
import dev.nsa4j.kernels.op.AttentionArgs;
import dev.nsa4j.kernels.op.DeviceOp;
import dev.nsa4j.kernels.op.PackedSelectionOp;
import dev.nsa4j.kernels.op.ReferenceAttentionOp;
import dev.nsa4j.kernels.op.Refusal;
import dev.nsa4j.kernels.op.SelKernelOp;
import dev.nsa4j.kernels.op.SelLayout;
import dev.nsa4j.kernels.op.Sequences;
import dev.nsa4j.tensor.DType;

/**
 * The selection branch of one shape's plan (docs/routing.md): the reference path the flags pick
 * ({@code sdpa-packed}, {@code sdpa-masked}, or {@code sdpa} in the parity mode) or, where {@code sel-kernel} is
 * wished ({@link GpuRoutes.SelWish}), the kernel when n·l' reaches {@code NSA_SEL_KERNEL_MIN_L}, the tensor-core
 * image is loaded and the kernel's plan-time check ({@link SelKernelOp#refusals}) passes. Below the minimum is a
 * normal route; a refusal of the shape is a route reason, a counted {@code sel.kernel.fallback} only where a property
 * or the environment asked for the kernel (as for FA-2); a missing image is always counted. The kernel runs exact P
 * (branch outputs are fp32; P rounded once under {@code NSA_FAST_P=1}) in the layout {@link SelLayout#forDevice}
 * picks (TMA on SM 9.0 unless {@code NSA_USE_TMA=0}, else by the length), and falls back per call to
 * {@code sdpa-masked}.
 */
final class SelPlanner {
    static final String FALLBACK_TAG = "sel.kernel.fallback";

    private SelPlanner() {
    }

    /**
     * The decision for one shape, before any op is built.
     *
     * @param route         the planned route (path and why)
     * @param kernel        the spec sel-kernel runs with, or null when a reference path runs
     * @param fallbackTag   {@link #FALLBACK_TAG} where calls of the plan count a fallback, else null
     * @param fallbackCause {@code contract} or {@code unavailable} with a tag, else null
     * @param rules         the refused rule ids with a tag ({@code dtype,head_dim}; {@code none}), else null
     */
    record Decision(Route route, SelKernelOp.Spec kernel, String fallbackTag, String fallbackCause, String rules) {
    }

    /**
     * Decides the selection branch from GpuRoutes' plan {@code p} for inputs of {@code dtype}.
     *
     * @param tcUnavailable null when the tensor-core image is loaded, else why not
     */
    static Decision decide(GpuRoutes.Plan p, NsaConfig cfg, DType dtype, float scale, DeviceInfo device,
                           String tcUnavailable) {
        GpuRoutes.SelWish wish = p.sel();
        if (wish == null) {
            return new Decision(p.route(), null, null, null, null);
        }
        Route ref = wish.reference();
        long selected = (long) cfg.nSel() * cfg.selBlock();
        if (selected < wish.minL()) {
            return new Decision(new Route(Branch.SEL, ref.path(), "below NSA_SEL_KERNEL_MIN_L (n·l' = " + selected
                    + " < " + wish.minL() + "); " + ref.reason()), null, null, null, null);
        }
        if (tcUnavailable != null) {
            return new Decision(new Route(Branch.SEL, ref.path(), "sel-kernel blocked: " + tcUnavailable), null,
                    FALLBACK_TAG, "unavailable", "none");
        }
        SelKernelOp.Spec spec = new SelKernelOp.Spec(dtype, cfg.heads(), cfg.kvGroups(), cfg.headDimQk(),
                cfg.headDimV(), cfg.selBlock(), cfg.nSel(), scale, wish.exactP());
        List<Refusal> refusals = SelKernelOp.refusals(device, spec);
        if (!refusals.isEmpty()) {
            // structural for every call of the shape: a route reason, counted only where the user asked
            String why = "sel-kernel (" + wish.wishedBy() + ") blocked for this shape: " + Refusal.reason(refusals);
            return new Decision(new Route(Branch.SEL, ref.path(), why), null, wish.byUser() ? FALLBACK_TAG : null,
                    wish.byUser() ? "contract" : null, wish.byUser() ? Refusal.rules(refusals) : null);
        }
        String reason = wish.wishedBy() + "; n·l' = " + selected + " >= " + wish.minL() + "; " + wish.precision();
        return new Decision(new Route(Branch.SEL, Path.SEL_KERNEL, reason), spec, null, null, null);
    }

    /**
     * The decision and its op.
     *
     * @param reference the reference attention over the chosen blocks with the plan's walk and the scale
     */
    static BranchPlanner.BranchPlan plan(PipelineEnv env, GpuRoutes.Plan p, NsaShape shape, Sequences raw,
                                         float scale, ReferenceAttentionOp reference) {
        Decision d = decide(p, env.cfg(), shape.dtype(), scale, env.device(), env.tc() == null ? env.tcUnavailable() : null);
        DeviceOp<AttentionArgs> op;
        Route route = d.route();
        if (d.kernel() != null) {
            ReferenceAttentionOp masked = reference.spec().walk() == AttnWalk.RANGES ? reference
                    : new ReferenceAttentionOp(env.module(), d.kernel().reference(), raw, raw);
            boolean tma = env.flags().bool(Flag.NSA_USE_TMA);
            op = SelKernelOp.plan(env.tc(), d.kernel(), SelLayout.forDevice(env.device(), d.kernel(), raw.maxLen(), tma),
                    raw, raw, masked);
            route = new Route(route.branch(), route.path(), route.reason() + "; "
                    + SelLayout.why(env.device(), d.kernel(), raw.maxLen(), tma));
        } else if (d.route().path() == Path.SDPA_PACKED) {
            NsaConfig cfg = env.cfg();
            op = new PackedSelectionOp(env.module(), raw, cfg.kvGroups(), cfg.nSel(), cfg.selBlock(), cfg.headDimQk(),
                    cfg.headDimV(), shape.dtype(), scale, SelPacked.DEFAULT_BUDGET_BYTES);
        } else {
            op = reference;
        }
        return new BranchPlanner.BranchPlan(route, op, d.fallbackTag(), d.fallbackCause(), d.rules());
    }
}
