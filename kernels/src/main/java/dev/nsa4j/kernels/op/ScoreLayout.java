package dev.nsa4j.kernels.op;

import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.kernels.internal.TcGeometry;
import dev.nsa4j.kernels.internal.TcModule;

/**
 * Which tensor-core kernel the tc scorer multiplies q·K̃ with. All compute the same function with the same per-token
 * steps (cuda-tc/score_common.cuh, nsa_topn.h); their fp32 products and head sums may round differently, so chosen
 * sets can differ only at near ties, as any may from the reference scorer's.
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
    WGMMA("wgmma"),
    /**
     * {@code nsa_block_score_kr_*}: Hopper warpgroup MMA in key-row tiles (64 compressed tokens × 4 heads · 16 query
     * tokens, the head sum in registers, K̃ and q loaded by the tensor memory accelerator; docs/decisions.md D34). SM
     * 9.0, h ≤ 16, Dk 128, d dividing l', n ≤ {@link TcGeometry#SCORE_KR_MAX_N}; picked where it measured faster
     * than {@link #WGMMA} ({@link #prefersKeyRows}).
     */
    KEY_ROWS("wgmma key rows");

    private final String label;

    ScoreLayout(String label) {
        this.label = label;
    }

    /** {@code mma.sync}, {@code wgmma}, {@code wgmma key rows}. */
    public String label() {
        return label;
    }

    /** The kernel's symbol for {@code spec}. */
    public String symbol(TcBlockScoreOp.Spec spec) {
        return switch (this) {
            case MMA -> TcModule.blockScoreSymbol(spec.dtype(), spec.dk());
            case WGMMA -> TcModule.blockScoreWgSymbol(spec.dtype(), spec.dk());
            case KEY_ROWS -> TcModule.blockScoreKrSymbol(spec.dtype(), spec.dk(), TcGeometry.scoreKrHeads(spec.h()));
        };
    }

    /** Dynamic shared memory per block for {@code spec}. */
    public long smemBytes(TcBlockScoreOp.Spec spec) {
        return switch (this) {
            case MMA -> TcGeometry.scoreSmemBytes(spec.dk(), spec.h());
            case WGMMA -> TcGeometry.scoreWgSmemBytes(spec.dk());
            case KEY_ROWS -> TcGeometry.scoreKrSmemBytes(spec.dk(), TcGeometry.scoreKrHeads(spec.h()));
        };
    }

    /** Static shared memory per block, which the device's opt-in limit also counts. */
    public int staticSmemBytes() {
        return this == KEY_ROWS ? TcGeometry.SCORE_KR_STATIC_SMEM_BYTES : TcGeometry.SCORE_STATIC_SMEM_BYTES;
    }

    /** Threads per block. */
    public int threads() {
        return this == KEY_ROWS ? TcGeometry.SCORE_KR_THREADS : TcGeometry.THREADS;
    }

    /** Grid x for sequences of at most {@code maxLen} tokens. */
    public int gridX(int maxLen) {
        return this == KEY_ROWS ? TcGeometry.scoreKrGridX(maxLen) : TcGeometry.scoreGridX(maxLen);
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
        return sharedMemory(device, spec, WGMMA);
    }

    /**
     * Why {@link #KEY_ROWS} cannot serve {@code spec} on {@code device}, or null when it can: {@link #whyNotWgmma}'s
     * rules, Dk one of {@link TcModule#SCORE_KR_HEAD_DIMS}, l' a multiple of d (its overlap weights depend on the
     * key's place in the block only), n ≤ 35, and its shared memory within the device's opt-in limit.
     */
    public static String whyNotKeyRows(DeviceInfo device, TcBlockScoreOp.Spec spec) {
        String wg = whyNotWgmma(device, spec);
        if (wg != null) {
            return wg;
        }
        if (!TcModule.SCORE_KR_HEAD_DIMS.contains(spec.dk())) {
            return "Dk = " + spec.dk() + " is not one of " + TcModule.SCORE_KR_HEAD_DIMS;
        }
        int d = spec.plan().blockStride();
        if (spec.selBlock() % d != 0) {
            return "l' = " + spec.selBlock() + " is not a multiple of d = " + d;
        }
        if (spec.nSel() > TcGeometry.SCORE_KR_MAX_N) {
            return "n = " + spec.nSel() + " > " + TcGeometry.SCORE_KR_MAX_N;
        }
        return sharedMemory(device, spec, KEY_ROWS);
    }

    private static String sharedMemory(DeviceInfo device, TcBlockScoreOp.Spec spec, ScoreLayout layout) {
        long need = layout.smemBytes(spec);
        long allowed = device.maxDynamicSharedMemory(layout.staticSmemBytes());
        return need > allowed ? "needs " + need + " bytes of shared memory, the device allows " + allowed : null;
    }

    /**
     * True where {@link #KEY_ROWS} measured faster than {@link #WGMMA} (H200, Hkv 4, Dk 128, n 16, 64k tokens unless
     * said; docs/results/sel-kernel-h200.md): four or more compressed tokens per selection block (l'/d ≥ 4, the paper
     * config: 9.48 against 13.39 ms at h = 16) or at most 8 heads per group (the token tiles' rows past h are wasted:
     * at l = d = l' = 64, 3.54 against 4.28 ms at h = 4 and 3.77 against 4.29 at h = 8). With 16 heads it is slower
     * at l = d = l' (4.41 against 4.31 ms) and at l'/d = 2 (l = 128, d = 32, 4096 tokens: 0.075 against 0.067).
     */
    public static boolean prefersKeyRows(TcBlockScoreOp.Spec spec) {
        return spec.selBlock() / spec.plan().blockStride() >= 4 || spec.h() <= 8;
    }

    /**
     * The layout for {@code spec} on {@code device}: {@link #KEY_ROWS} where both flags allow it,
     * {@link #whyNotKeyRows} is null and {@link #prefersKeyRows}; else {@link #WGMMA} where {@code allowWgmma} and
     * {@link #whyNotWgmma} is null; else {@link #MMA}.
     *
     * @param allowWgmma {@code NSA_USE_WGMMA}
     * @param allowTma   {@code NSA_USE_TMA} (the key-row scorer's loads)
     */
    public static ScoreLayout forDevice(DeviceInfo device, TcBlockScoreOp.Spec spec, boolean allowWgmma,
                                        boolean allowTma) {
        if (!allowWgmma) {
            return MMA;
        }
        if (allowTma && prefersKeyRows(spec) && whyNotKeyRows(device, spec) == null) {
            return KEY_ROWS;
        }
        return whyNotWgmma(device, spec) == null ? WGMMA : MMA;
    }

    /**
     * Why {@link #forDevice} picked its layout, for route reasons: {@code wgmma key rows: SM 9.0, h = 16, l'/d = 4},
     * {@code wgmma: SM 9.0, h = 16 (key rows: slower at l'/d = 1 and h = 16)}, {@code mma.sync: NSA_USE_WGMMA=0},
     * {@code mma.sync: no wgmma, h = 32 > 16}.
     */
    public static String why(DeviceInfo device, TcBlockScoreOp.Spec spec, boolean allowWgmma, boolean allowTma) {
        if (!allowWgmma) {
            return MMA.label + ": NSA_USE_WGMMA=0";
        }
        int r = spec.selBlock() / spec.plan().blockStride();
        ScoreLayout picked = forDevice(device, spec, true, allowTma);
        if (picked == KEY_ROWS) {
            return KEY_ROWS.label + ": SM 9.0, h = " + spec.h() + ", l'/d = " + r;
        }
        if (picked == MMA) {
            return MMA.label + ": no wgmma, " + whyNotWgmma(device, spec);
        }
        String notKr = allowTma ? whyNotKeyRows(device, spec) : "NSA_USE_TMA=0";
        if (notKr == null) {
            notKr = "slower at l'/d = " + r + " and h = " + spec.h();
        }
        return WGMMA.label + ": SM 9.0, h = " + spec.h() + " (key rows: " + notKr + ")";
    }
}
