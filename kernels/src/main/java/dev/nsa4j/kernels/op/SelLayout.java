package dev.nsa4j.kernels.op;

import java.util.ArrayList;
import java.util.List;

import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.kernels.internal.TcGeometry;
import dev.nsa4j.kernels.internal.TcModule;

/**
 * How the kernel maps query tokens to CTAs and loads the chosen blocks. All compute the same function to the rounding
 * of fp32 sums (each is deterministic, and none depends on the order of the indices).
 */
public enum SelLayout {
    /** One token per CTA ({@code nsa_sel_kernel_*}): a chosen block is read once per token and group. */
    TOKEN("token"),
    /**
     * Four consecutive tokens per CTA ({@code nsa_sel_union_*}): a block chosen by several of them is read once;
     * the forced blocks (0, current, previous) are shared by tokens of one block, the rest as often as the tokens
     * agree.
     */
    UNION("union"),
    /**
     * One token per CTA of one warp ({@code nsa_sel_tma_*}, SM 9.0, (Dk, Dv) in {@link TcModule#SEL_TMA_HEAD_DIMS}):
     * the chosen blocks' 32-key K and V tiles loaded by the tensor memory accelerator into two stages, so the warp
     * issues no copy instructions and meets no CTA barrier. On an H200 at the fla shape (fla's block indices, bf16,
     * 128/128) it measured 1.73× / 1.76× / 1.60× faster than {@link #TOKEN} (fast P) and 1.50× / 1.56× / 1.41× (exact
     * P) at 4k / 16k / 64k keys, and faster than {@link #UNION} at every length (docs/results/sel-kernel-h200.md):
     * where it serves the shape it is the layout at every length.
     */
    TMA("tma");

    /**
     * With P rounded once (fast P) the union layout serves keys up to this many times n·l' tokens long: the longer
     * the keys, the fewer of a CTA's chosen blocks its tokens share on random scores. On an H200 at the fla shape
     * (fla's block indices) the union layout measured 1.41× faster than the token layout at 4096 keys
     * (n·l'/S = 1/4), 1.04× at 16384 (1/16) and 0.93× at 65536 (1/64) (docs/results/sel-kernel-h200.md); real
     * attention's neighbouring queries agree on far more blocks than random ones, so the bound errs towards the
     * token layout.
     */
    public static final int UNION_MAX_KEYS_PER_SELECTED = 32;
    /**
     * In exact-P mode (P·V twice per tile, a high and a low term) the union layout's idle warps cost more: it
     * measured 1.30× faster than the token layout at 4096 keys and 0.96× at 16384 (same run), so it serves keys up
     * to this many times n·l'.
     */
    public static final int UNION_MAX_KEYS_PER_SELECTED_EXACT_P = 8;

    private final String label;

    SelLayout(String label) {
        this.label = label;
    }

    /** {@code token}, {@code union}, {@code tma}. */
    public String label() {
        return label;
    }

    private static int bound(boolean exactP) {
        return exactP ? UNION_MAX_KEYS_PER_SELECTED_EXACT_P : UNION_MAX_KEYS_PER_SELECTED;
    }

    /**
     * The cp.async layout for keys up to {@code maxKeyLen} tokens per sequence: {@link #UNION} when
     * {@code maxKeyLen <= 32 · n · l'} ({@link #UNION_MAX_KEYS_PER_SELECTED}; exact P:
     * {@code 8 · n · l'}, {@link #UNION_MAX_KEYS_PER_SELECTED_EXACT_P}), else {@link #TOKEN}.
     */
    public static SelLayout choose(int nSel, int selBlock, long maxKeyLen, boolean exactP) {
        return maxKeyLen <= (long) bound(exactP) * nSel * selBlock ? UNION : TOKEN;
    }

    /** Why {@link #choose} picked this layout, for route reasons: {@code union layout (keys 4096 <= 8·n·l')}. */
    public static String why(int nSel, int selBlock, long maxKeyLen, boolean exactP) {
        return why(nSel, selBlock, maxKeyLen, exactP, "");
    }

    private static String why(int nSel, int selBlock, long maxKeyLen, boolean exactP, String tail) {
        SelLayout l = choose(nSel, selBlock, maxKeyLen, exactP);
        return l.label + " layout (keys " + maxKeyLen + (l == UNION ? " <= " : " > ") + bound(exactP) + "·n·l'"
                + tail + ")";
    }

    /**
     * Why {@link #TMA} cannot serve {@code spec} on {@code device}, or null when it can: SM 9.0 (the sm_90a image)
     * and (Dk, Dv) one of {@link TcModule#SEL_TMA_HEAD_DIMS} (shared memory: at most 42 KiB, within every SM 9.0
     * device's limit).
     */
    public static String whyNotTma(DeviceInfo device, SelKernelOp.Spec spec) {
        if (device.sm() != 90) {
            return "sm_" + device.sm() + " is not SM 9.0";
        }
        TcModule.HeadDims hd = new TcModule.HeadDims(spec.dk(), spec.dv());
        if (!TcModule.SEL_TMA_HEAD_DIMS.contains(hd)) {
            return "(Dk, Dv) = " + hd + " is not one of " + TcModule.SEL_TMA_HEAD_DIMS;
        }
        int need = spec.smemBytes(TMA);
        long allowed = smemAllowed(device, TMA);
        return need > allowed ? "needs " + need + " bytes of shared memory, the device allows " + allowed : null;
    }

    static long smemAllowed(DeviceInfo device, SelLayout layout) {
        return device.maxDynamicSharedMemory(switch (layout) {
            case TOKEN -> TcGeometry.SEL_STATIC_SMEM_BYTES;
            case UNION -> TcGeometry.SEL_UNION_STATIC_SMEM_BYTES;
            case TMA -> TcGeometry.SEL_TMA_STATIC_SMEM_BYTES;
        });
    }

    /** The cp.async layouts (token, union) whose shared memory {@code device} allows for {@code spec}. */
    static List<SelLayout> fitting(DeviceInfo device, SelKernelOp.Spec spec) {
        List<SelLayout> fit = new ArrayList<>(2);
        for (SelLayout layout : List.of(TOKEN, UNION)) {
            if (spec.smemBytes(layout) <= smemAllowed(device, layout)) {
                fit.add(layout);
            }
        }
        return fit;
    }

    /** True when {@code layout} can serve {@code spec} on {@code device} (shared memory; TMA: {@link #whyNotTma}). */
    static boolean serves(DeviceInfo device, SelKernelOp.Spec spec, SelLayout layout) {
        return layout == TMA ? whyNotTma(device, spec) == null : fitting(device, spec).contains(layout);
    }

    /**
     * The layout for keys up to {@code maxKeyLen} tokens on {@code device}: {@link #TMA} where {@code allowTma} and
     * {@link #whyNotTma} is null; else {@link #choose}'s, or the other cp.async layout where only that fits the
     * device's shared memory (the kernel serves every length in either layout).
     */
    public static SelLayout forDevice(DeviceInfo device, SelKernelOp.Spec spec, long maxKeyLen, boolean allowTma) {
        if (allowTma && whyNotTma(device, spec) == null) {
            return TMA;
        }
        SelLayout wish = choose(spec.nSel(), spec.selBlock(), maxKeyLen, spec.exactP());
        List<SelLayout> fit = fitting(device, spec);
        return fit.contains(wish) || fit.isEmpty() ? wish : fit.get(0);
    }

    /**
     * Why {@link #forDevice} picked its layout, for route reasons: {@code tma layout (SM 9.0)},
     * {@code union layout (keys 4096 <= 8·n·l'; NSA_USE_TMA=0)}, {@code union layout (keys 2048 <= 8·n·l'; no TMA:
     * (Dk, Dv) = (256, 256) is not one of [...])} (why not TMA is said on SM 9.0 only, where it is news), or
     * {@code token layout (the union layout's 65536 bytes of shared memory exceed the device's 45020)}.
     */
    public static String why(DeviceInfo device, SelKernelOp.Spec spec, long maxKeyLen, boolean allowTma) {
        String notTma = allowTma ? whyNotTma(device, spec) : "NSA_USE_TMA=0";
        if (notTma == null) {
            return TMA.label + " layout (SM 9.0)";
        }
        String tail = device.sm() == 90 || !allowTma ? "; " + (allowTma ? "no TMA: " : "") + notTma : "";
        SelLayout wish = choose(spec.nSel(), spec.selBlock(), maxKeyLen, spec.exactP());
        SelLayout got = forDevice(device, spec, maxKeyLen, false);
        if (got == wish) {
            return why(spec.nSel(), spec.selBlock(), maxKeyLen, spec.exactP(), tail);
        }
        return got.label() + " layout (the " + wish.label() + " layout's " + spec.smemBytes(wish)
                + " bytes of shared memory exceed the device's " + smemAllowed(device, wish) + tail + ")";
    }
}
