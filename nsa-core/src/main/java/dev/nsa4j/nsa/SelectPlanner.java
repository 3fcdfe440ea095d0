package dev.nsa4j.nsa;

import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.kernels.internal.CompressionPlan;
import dev.nsa4j.kernels.op.DeviceOp;
import dev.nsa4j.kernels.op.KernelOps;
import dev.nsa4j.kernels.op.ScoreLayout;
import dev.nsa4j.kernels.op.SelectArgs;
import dev.nsa4j.kernels.op.Sequences;
import dev.nsa4j.kernels.op.TcBlockScoreOp;
import dev.nsa4j.tensor.DType;

/**
 * Chooses the block scorer of a shape's plan (docs/routing.md "Block scoring"): the tensor-core scorer
 * ({@link TcBlockScoreOp}) where K̃ is fp16/bf16, the parity mode and {@code NSA_EXACT_SCORES} are off, the
 * tensor-core image is loaded and the scorer's plan-time check passes; else the fp32 reference scorer, whose chosen
 * blocks equal the oracle's, with the reason in the plan's step. The tc scorer multiplies with wgmma on SM 9.0 where
 * {@link ScoreLayout#forDevice} allows it and {@code NSA_USE_WGMMA} is not 0 (in key-row tiles where that measured
 * faster and {@code NSA_USE_TMA} is not 0), else with mma.sync.
 */
final class SelectPlanner {
    private SelectPlanner() {
    }

    /** The scorer op and the plan's description of the step. */
    record Choice(DeviceOp<SelectArgs> op, String describe) {
    }

    /** True when the flags ask for the reference scorer: {@code NSA_EXACT_SCORES=1}, implied by the parity mode. */
    static boolean exactScores(FlagSnapshot f) {
        return f.bool(Flag.NSA_EXACT_SCORES) || f.bool(Flag.NSA_FORCE_PARITY);
    }

    /** The tc scorer's spec for this shape. */
    static TcBlockScoreOp.Spec spec(NsaConfig cfg, CompressionPlan cp, float scale, DType kDt) {
        return new TcBlockScoreOp.Spec(kDt, cfg.heads(), cfg.kvGroups(), cfg.headDimQk(), cp, cfg.selBlock(),
                cfg.nSel(), scale);
    }

    /**
     * Why this shape is scored on the reference scorer, or null for the tc scorer.
     *
     * @param kDt           the dtype of q and K̃ as the scorer reads them
     * @param tcUnavailable null when the tensor-core image is loaded, else why not
     */
    static String whyReference(FlagSnapshot f, NsaConfig cfg, CompressionPlan cp, float scale, DType kDt,
                               DeviceInfo device, String tcUnavailable) {
        if (f.bool(Flag.NSA_FORCE_PARITY)) {
            return "NSA_FORCE_PARITY=1";
        }
        if (f.bool(Flag.NSA_EXACT_SCORES)) {
            return "NSA_EXACT_SCORES=1";
        }
        if (kDt == DType.FP32) {
            return "K̃ in fp32";
        }
        if (tcUnavailable != null) {
            return tcUnavailable;
        }
        String why = TcBlockScoreOp.unsupported(device, spec(cfg, cp, scale, kDt));
        return why == null ? null : "tc scorer blocked for this shape: " + why;
    }

    /** The scorer for q and K̃ in {@code kDt} (the compressed tokens' dtype). */
    static Choice plan(PipelineEnv env, CompressionPlan cp, Sequences raw, Sequences cmpSeq, float scale,
                       DType kDt) {
        NsaConfig cfg = env.cfg();
        DeviceOp<SelectArgs> reference = KernelOps.blockSelect(env.module(), cp, raw, cmpSeq, cfg.selBlock(),
                cfg.nSel(), scale, kDt);
        String why = whyReference(env.flags(), cfg, cp, scale, kDt, env.device(),
                env.tc() == null ? env.tcUnavailable() : null);
        if (why != null) {
            return new Choice(reference, reference.describe() + " (reference scorer: " + why + ")");
        }
        TcBlockScoreOp.Spec spec = spec(cfg, cp, scale, kDt);
        boolean wgmma = env.flags().bool(Flag.NSA_USE_WGMMA);
        boolean tma = env.flags().bool(Flag.NSA_USE_TMA);
        TcBlockScoreOp op = TcBlockScoreOp.plan(env.tc(), spec, ScoreLayout.forDevice(env.device(), spec, wgmma, tma),
                raw, cmpSeq, reference);
        return new Choice(op, spec.describe() + " (" + ScoreLayout.why(env.device(), spec, wgmma, tma)
                + "; near ties may differ from the oracle; NSA_EXACT_SCORES=1: reference)");
    }
}
