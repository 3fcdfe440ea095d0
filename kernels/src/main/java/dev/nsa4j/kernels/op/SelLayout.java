package dev.nsa4j.kernels.op;

import java.util.ArrayList;
import java.util.List;

import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.kernels.internal.TcGeometry;

/**
 * How the kernel maps query tokens to CTAs. Both compute the same function to the rounding of fp32 sums (each is
 * deterministic, and neither depends on the order of the indices).
 */
public enum SelLayout {
    /** One token per CTA ({@code nsa_sel_kernel_*}): a chosen block is read once per token and group. */
    TOKEN("token"),
    /**
     * Four consecutive tokens per CTA ({@code nsa_sel_union_*}): a block chosen by several of them is read once;
     * the forced blocks (0, current, previous) are shared by tokens of one block, the rest as often as the tokens
     * agree.
     */
    UNION("union");

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

    /** {@code token}, {@code union}. */
    public String label() {
        return label;
    }

    private static int bound(boolean exactP) {
        return exactP ? UNION_MAX_KEYS_PER_SELECTED_EXACT_P : UNION_MAX_KEYS_PER_SELECTED;
    }

    /**
     * The layout for keys up to {@code maxKeyLen} tokens per sequence: {@link #UNION} when
     * {@code maxKeyLen <= 32 · n · l'} ({@link #UNION_MAX_KEYS_PER_SELECTED}; exact P:
     * {@code 8 · n · l'}, {@link #UNION_MAX_KEYS_PER_SELECTED_EXACT_P}), else {@link #TOKEN}.
     */
    public static SelLayout choose(int nSel, int selBlock, long maxKeyLen, boolean exactP) {
        return maxKeyLen <= (long) bound(exactP) * nSel * selBlock ? UNION : TOKEN;
    }

    /** Why {@link #choose} picked this layout, for route reasons: {@code union layout (keys 4096 <= 8·n·l')}. */
    public static String why(int nSel, int selBlock, long maxKeyLen, boolean exactP) {
        SelLayout l = choose(nSel, selBlock, maxKeyLen, exactP);
        return l.label + " layout (keys " + maxKeyLen + (l == UNION ? " <= " : " > ") + bound(exactP) + "·n·l')";
    }

    static long smemAllowed(DeviceInfo device, SelLayout layout) {
        return device.maxDynamicSharedMemory(layout == UNION ? TcGeometry.SEL_UNION_STATIC_SMEM_BYTES
                : TcGeometry.SEL_STATIC_SMEM_BYTES);
    }

    /** The layouts whose shared memory {@code device} allows for {@code spec}. */
    static List<SelLayout> fitting(DeviceInfo device, SelKernelOp.Spec spec) {
        List<SelLayout> fit = new ArrayList<>(2);
        for (SelLayout layout : values()) {
            if (spec.smemBytes(layout) <= smemAllowed(device, layout)) {
                fit.add(layout);
            }
        }
        return fit;
    }

    /**
     * The layout for keys up to {@code maxKeyLen} tokens on {@code device}: {@link #choose}'s, or the other one
     * where only that fits the device's shared memory (the kernel serves every length in either layout).
     */
    public static SelLayout forDevice(DeviceInfo device, SelKernelOp.Spec spec, long maxKeyLen) {
        SelLayout wish = choose(spec.nSel(), spec.selBlock(), maxKeyLen, spec.exactP());
        List<SelLayout> fit = fitting(device, spec);
        return fit.contains(wish) || fit.isEmpty() ? wish : fit.get(0);
    }

    /**
     * Why {@link #forDevice} picked its layout, for route reasons: {@code union layout (keys 4096 <= 8·n·l')}, or
     * {@code token layout (the union layout's 65536 bytes of shared memory exceed the device's 45020)}.
     */
    public static String why(DeviceInfo device, SelKernelOp.Spec spec, long maxKeyLen) {
        SelLayout wish = choose(spec.nSel(), spec.selBlock(), maxKeyLen, spec.exactP());
        SelLayout got = forDevice(device, spec, maxKeyLen);
        if (got == wish) {
            return why(spec.nSel(), spec.selBlock(), maxKeyLen, spec.exactP());
        }
        return got.label() + " layout (the " + wish.label() + " layout's " + spec.smemBytes(wish)
                + " bytes of shared memory exceed the device's " + smemAllowed(device, wish) + ")";
    }
}
