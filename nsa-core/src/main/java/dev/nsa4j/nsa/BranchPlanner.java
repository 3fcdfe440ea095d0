package dev.nsa4j.nsa;

import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.fa2.Fa2AttentionOp;
import dev.nsa4j.fa2.contract.Fa2Violation;
import dev.nsa4j.kernels.internal.AttnSpec;
import dev.nsa4j.kernels.internal.AttnWalk;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.Mask;
import dev.nsa4j.kernels.op.AttentionArgs;
import dev.nsa4j.kernels.op.DeviceOp;
import dev.nsa4j.kernels.op.ReferenceAttentionOp;
import dev.nsa4j.kernels.op.Sequences;
import dev.nsa4j.tensor.DType;

/**
 * Routes one branch of a forward for one shape class and builds the op that runs it: the flags' and profile's
 * plan ({@link GpuRoutes}), then for a wished FA-2 branch the length threshold ({@link Fa2Threshold}) and the
 * FA-2 contract on the planned shapes ({@link Fa2AttentionOp#plan}); the selection branch is {@link SelPlanner}'s.
 * The outcome is the route (path and why), the op, and whether calls of this plan count a fallback (a user's wish
 * the shape cannot meet).
 */
final class BranchPlanner {
    private BranchPlanner() {
    }

    /**
     * A branch's planned op and route, and the counted fallback (tag and cause) a call of this plan reports when
     * a user-requested fast path cannot serve the shape.
     */
    record BranchPlan(Route route, DeviceOp<AttentionArgs> op, String fallbackTag, String fallbackCause,
                      String rules) {
    }

    /**
     * The route and op of one branch for this shape (GpuRoutes' plan, the FA-2 threshold and contract).
     *
     * @param kDt the compressed tokens' dtype
     * @param oDt the branch output's dtype ({@link DevicePipeline#branchDtype})
     */
    static BranchPlan plan(PipelineEnv env, Branch br, NsaShape shape, Sequences raw, Sequences cmpSeq,
                            DType kDt, DType oDt, float scale, DeviceTensor guard) {
        NsaConfig cfg = env.cfg();
        GpuRoutes.Plan p = GpuRoutes.plan(br, env.flags(), env.profileLabel(), env.device().sm());
        int h = cfg.heads(), g = cfg.kvGroups(), dk = cfg.headDimQk(), dv = cfg.headDimV();
        Sequences keys = br == Branch.CMP ? cmpSeq : raw;
        AttnSpec spec = switch (br) {
            case CMP -> AttnSpec.blockCausal(cfg.blockLen(), cfg.stride());
            case SEL -> AttnSpec.chosen(cfg.selBlock());
            case WIN -> AttnSpec.window(cfg.window());
        };
        ReferenceAttentionOp reference = new ReferenceAttentionOp(env.module(), spec.withWalk(p.walk()).withScale(scale),
                raw, keys);
        if (br == Branch.SEL) {
            return SelPlanner.plan(env, p, shape, raw, scale, reference);
        }
        GpuRoutes.Fa2Wish wish = p.fa2();
        if (wish == null) {
            return new BranchPlan(p.route(), reference, null, null, null);
        }
        Route ref = wish.reference();
        ReferenceAttentionOp masked = new ReferenceAttentionOp(env.module(), spec.withWalk(
                AttnWalk.RANGES).withScale(scale), raw, keys);
        Fa2Threshold.Decision d = Fa2Threshold.decide(br, Fa2Threshold.callLength(br, cfg.window(), cmpSeq.cu()),
                wish.minLen());
        if (!d.fa2()) {
            return new BranchPlan(new Route(br, ref.path(), d.reason() + "; " + ref.reason()), reference, null, null, null);
        }
        boolean hardFail = env.flags().bool(Flag.NSA_FA2_HARD_FAIL);
        if (env.fa2() == null) {
            if (hardFail) {
                throw new dev.nsa4j.NsaArgumentException("fa2", "NSA_FA2_HARD_FAIL: an eligible call must run on FA-2",
                        "FA-2 blocked: " + env.fa2Unavailable());
            }
            return new BranchPlan(new Route(br, Path.SDPA_MASKED, "fa2 blocked: " + env.fa2Unavailable()), masked,
                    "fa2.fallback", "unavailable", "none");
        }
        Mask mask = br == Branch.CMP ? Mask.blockCausal(cfg.blockLen(), cfg.stride()) : Mask.window(cfg.window());
        DType in = br == Branch.CMP ? kDt : shape.dtype();
        Fa2AttentionOp.Planned fp = Fa2AttentionOp.plan(env.fa2(), env.module().context().device(), mask, scale,
                wish.exactP(), raw, keys, h, g, dk, dv, in, oDt, env.flags().fa2Options(), hardFail, masked,
                guard);
        if (!fp.accepted()) {
            String rules = fp.verdict().violations().stream().map(Fa2Violation::rule).distinct().map(x -> x.id())
                    .reduce((a, b) -> a + "," + b).orElse("none");
            if (hardFail) {
                throw new dev.nsa4j.NsaArgumentException("fa2", "NSA_FA2_HARD_FAIL: an eligible call must run on FA-2",
                        "FA-2 blocked: " + fp.verdict().reason());
            }
            // A refusal of the planned shape is structural for these calls: a route reason. It is a counted
            // fallback only where the user (not the profile) asked for FA-2.
            String why = "fa2 (" + wish.wishedBy() + ") blocked for this shape: " + fp.verdict().reason();
            return new BranchPlan(new Route(br, Path.SDPA_MASKED, why), masked, wish.byUser() ? "fa2.fallback" : null,
                    wish.byUser() ? "contract" : null, rules);
        }
        String reason = wish.wishedBy() + "; " + d.reason() + "; " + wish.precision() + "; " + fp.op().layout().reason();
        return new BranchPlan(new Route(br, Path.FA2, reason), fp.op(), null, null, null);
    }
}
