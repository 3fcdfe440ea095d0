package dev.nsa4j.kernels.op;

import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.kernels.internal.TcGeometry;
import dev.nsa4j.kernels.internal.TcModule;

/**
 * Which tensor-core instruction the tc scorer multiplies q·K̃ with. Both compute the same function with the same
 * per-token steps (cuda-tc/score_common.cuh); their fp32 products may round differently, so chosen sets can differ
 * only at near ties, as either may from the reference scorer's.
 */
public enum ScoreLayout {
    /** {@code nsa_block_score_*}: mma.sync per warp (every SM 8.x / 9.0 device, any h). */
    MMA("mma.sync"),
    /**
     * {@code nsa_block_score_wg_*}: Hopper warpgroup MMA, four tokens' heads as one 64-row tile so each K̃ tile is
     * read once per CTA (SM 9.0 only, h ≤ {@link TcGeometry#SCORE_WG_MAX_HEADS}). On an H200 at Hq/Hkv 64/4, Dk 128 it
     * measured 1.17× (l = d = 64) and 1.23× (l = 32, d = 16) faster than {@link #MMA} at 64k tokens
     * (docs/results/sel-kernel-h200.md).
     */
    WGMMA("wgmma");

    private final String label;

    ScoreLayout(String label) {
        this.label = label;
    }

    /** {@code mma.sync}, {@code wgmma}. */
    public String label() {
        return label;
    }

    /** The kernel's symbol for {@code spec}. */
    public String symbol(TcBlockScoreOp.Spec spec) {
        return this == WGMMA ? TcModule.blockScoreWgSymbol(spec.dtype(), spec.dk())
                : TcModule.blockScoreSymbol(spec.dtype(), spec.dk());
    }

    /** Dynamic shared memory per block for {@code spec}. */
    public long smemBytes(TcBlockScoreOp.Spec spec) {
        return this == WGMMA ? TcGeometry.scoreWgSmemBytes(spec.dk()) : TcGeometry.scoreSmemBytes(spec.dk(), spec.h());
    }

    /**
     * Why {@link #WGMMA} cannot serve {@code spec} on {@code device}, or null when it can: SM 9.0 (the sm_90a image),
     * h ≤ 16, and its shared memory within the device's opt-in limit.
     */
    public static String whyNotWgmma(DeviceInfo device, TcBlockScoreOp.Spec spec) {
        if (device.sm() != 90) {
            return "sm_" + device.sm() + " is not SM 9.0";
        }
        if (spec.h() > TcGeometry.SCORE_WG_MAX_HEADS) {
            return "h = " + spec.h() + " > " + TcGeometry.SCORE_WG_MAX_HEADS;
        }
        long need = WGMMA.smemBytes(spec);
        long allowed = device.maxDynamicSharedMemory(TcGeometry.SCORE_STATIC_SMEM_BYTES);
        return need > allowed ? "needs " + need + " bytes of shared memory, the device allows " + allowed : null;
    }

    /** {@link #WGMMA} where {@code allowWgmma} and {@link #whyNotWgmma} is null, else {@link #MMA}. */
    public static ScoreLayout forDevice(DeviceInfo device, TcBlockScoreOp.Spec spec, boolean allowWgmma) {
        return allowWgmma && whyNotWgmma(device, spec) == null ? WGMMA : MMA;
    }

    /**
     * Why {@link #forDevice} picked its layout, for route reasons: {@code wgmma: SM 9.0, h = 16},
     * {@code mma.sync: NSA_USE_WGMMA=0}, {@code mma.sync: no wgmma, h = 32 > 16}.
     */
    public static String why(DeviceInfo device, TcBlockScoreOp.Spec spec, boolean allowWgmma) {
        if (!allowWgmma) {
            return MMA.label + ": NSA_USE_WGMMA=0";
        }
        String not = whyNotWgmma(device, spec);
        return not == null ? WGMMA.label + ": SM 9.0, h = " + spec.h() : MMA.label + ": no wgmma, " + not;
    }
}
