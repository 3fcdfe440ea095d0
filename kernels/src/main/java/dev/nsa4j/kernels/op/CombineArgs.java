package dev.nsa4j.kernels.op;

import dev.nsa4j.kernels.DeviceTensor;

/** The gate combine: {@code o = g_cmp·o_cmp + g_sel·o_sel + g_win·o_win} over {@code [nnz, H, Dv]}; gates {@code [nnz, H, 3]}. */
public record CombineArgs(DeviceTensor oCmp, DeviceTensor oSel, DeviceTensor oWin, DeviceTensor gates,
                          DeviceTensor out) {
}
