package dev.nsa4j.nsa;

import java.util.Objects;

import dev.nsa4j.kernels.DeviceTensor;

/**
 * Where a device forward writes, in the caller's memory, in the layout of the inputs ({@code [B,S,...]} or
 * {@code [nnz,...]}):
 * <ul>
 *   <li>{@code o} {@code [.., H, Dv]}, required: q's dtype or fp32 (contiguous when not fp32);</li>
 *   <li>optional per-branch outputs {@code oCmp, oSel, oWin} {@code [.., H, Dv]} contiguous, in the plan's branch
 *   dtype ({@link NsaPlan#branchDtype}): fp32, or o's dtype when {@code NSA_FAST_P=1} and o is fp16 / bf16;</li>
 *   <li>optional per-branch log-sum-exps {@code lseCmp, lseSel, lseWin} {@code [.., H]} fp32 contiguous;</li>
 *   <li>optional chosen blocks {@code indices} {@code [.., G, n]} int32 contiguous (sorted, -1 padded).</li>
 * </ul>
 * What is not asked for stays in the plan's device memory and is never copied.
 */
public record NsaDeviceOutputs(DeviceTensor o, DeviceTensor oCmp, DeviceTensor oSel, DeviceTensor oWin,
                               DeviceTensor lseCmp, DeviceTensor lseSel, DeviceTensor lseWin, DeviceTensor indices) {
    public NsaDeviceOutputs {
        Objects.requireNonNull(o, "o");
    }

    /** Only o. */
    public static NsaDeviceOutputs of(DeviceTensor o) {
        return new NsaDeviceOutputs(o, null, null, null, null, null, null, null);
    }

    public NsaDeviceOutputs withBranches(DeviceTensor cmp, DeviceTensor sel, DeviceTensor win) {
        return new NsaDeviceOutputs(o, cmp, sel, win, lseCmp, lseSel, lseWin, indices);
    }

    public NsaDeviceOutputs withLse(DeviceTensor cmp, DeviceTensor sel, DeviceTensor win) {
        return new NsaDeviceOutputs(o, oCmp, oSel, oWin, cmp, sel, win, indices);
    }

    public NsaDeviceOutputs withIndices(DeviceTensor i) {
        return new NsaDeviceOutputs(o, oCmp, oSel, oWin, lseCmp, lseSel, lseWin, i);
    }
}
