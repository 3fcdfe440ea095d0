package dev.nsa4j.kernels.internal;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceTensor;
import java.util.List;

import dev.nsa4j.tensor.DType;

/**
 * Gate combine (the NSA spec (docs/nsa-spec.md) "Combination"): {@code o[t,h,:] = g[t,h,0]·o_cmp + g[t,h,1]·o_sel + g[t,h,2]·o_win}.
 *
 * <p>Shapes: {@code o_cmp, o_sel, o_win, out} are {@code [nnz, H, Dv]}; {@code gates} is {@code [nnz, H, 3]} in the
 * order (cmp, sel, win). dtypes: the three branch outputs share one of fp32/fp16/bf16; gates are fp32 or that
 * dtype; {@code out} is that dtype or fp32 (from fp32 branch outputs also fp16 or bf16: the combine rounds once,
 * as a combine to fp32 and a cast would). The token and head axes may be strided; the last axis must be
 * contiguous. fp32 arithmetic in a fixed order; deterministic; {@code out} may be one of the inputs
 * (in place). Everything is validated before a launch ({@link dev.nsa4j.NsaArgumentException} naming the
 * tensor and the rule); {@code nnz = 0} launches nothing.
 */
public final class GateCombine {
    private static final List<DType> FLOATS = List.of(DType.FP32, DType.FP16, DType.BF16);

    private GateCombine() {
    }

    /** A validated launch: the kernel, its params and the number of work items. */
    public record Launch(KernelKey key, GateCombineParams params, long work) {
    }

    /** Validates and enqueues on {@code stream}. */
    public static void run(KernelModule module, CudaStream stream, DeviceTensor oCmp, DeviceTensor oSel,
                           DeviceTensor oWin, DeviceTensor gates, DeviceTensor out) {
        enqueue(module, stream.handle(), plan(oCmp, oSel, oWin, gates, out));
    }

    /** Raw-pointer entry (interop): validates {@code p} against the dtypes, then enqueues on a raw stream. */
    public static void launch(KernelModule module, long stream, GateCombineParams p, DType in, DType gates, DType out) {
        enqueue(module, stream, plan(p, in, gates, out));
    }

    private static void enqueue(KernelModule module, long stream, Launch l) {
        if (l.work() > 0) {
            module.launch(l.key(), module.gridFor(l.work()), stream, l.params().toBytes());
        }
    }

    /** Validates device tensors (no CUDA call) and picks the kernel. */
    public static Launch plan(DeviceTensor oCmp, DeviceTensor oSel, DeviceTensor oWin, DeviceTensor gates,
                              DeviceTensor out) {
        Checks.rank("o_cmp", oCmp, 3, "[nnz, H, Dv]");
        Checks.rank("o_sel", oSel, 3, "[nnz, H, Dv]");
        Checks.rank("o_win", oWin, 3, "[nnz, H, Dv]");
        Checks.rank("gates", gates, 3, "[nnz, H, 3]");
        Checks.rank("out", out, 3, "[nnz, H, Dv]");
        Checks.sameDims("o_sel", oSel, "o_cmp", oCmp);
        Checks.sameDims("o_win", oWin, "o_cmp", oCmp);
        Checks.sameDims("out", out, "o_cmp", oCmp);
        Checks.dim("gates", gates, 0, oCmp.dim(0), "gates [nnz, H, 3] with nnz of o_cmp");
        Checks.dim("gates", gates, 1, oCmp.dim(1), "gates [nnz, H, 3] with H of o_cmp");
        Checks.dim("gates", gates, 2, 3, "gates [nnz, H, 3] in the order (cmp, sel, win)");
        Checks.lastAxisContiguous("o_cmp", oCmp.shape());
        Checks.lastAxisContiguous("o_sel", oSel.shape());
        Checks.lastAxisContiguous("o_win", oWin.shape());
        Checks.lastAxisContiguous("gates", gates.shape());
        Checks.lastAxisContiguous("out", out.shape());
        DType in = oCmp.dtype();
        Checks.dtype("o_cmp", in, FLOATS, "fp32, fp16 or bf16");
        Checks.dtype("o_sel", oSel.dtype(), List.of(in), "same dtype as o_cmp");
        Checks.dtype("o_win", oWin.dtype(), List.of(in), "same dtype as o_cmp");
        if (out.dtype() != in) {
            for (DeviceTensor input : List.of(oCmp, oSel, oWin)) {
                if (overlap(out, input)) {
                    throw new NsaArgumentException("out", "in place only in the inputs' dtype (a narrower out must not "
                            + "overlap o_cmp, o_sel or o_win)", "out " + out.dtype() + " overlaps a " + in + " input");
                }
            }
        }
        GateCombineParams p = new GateCombineParams(oCmp.address(), oSel.address(), oWin.address(), gates.address(),
                out.address(),
                oCmp.stride(0), oCmp.stride(1), oSel.stride(0), oSel.stride(1), oWin.stride(0), oWin.stride(1),
                gates.stride(0), gates.stride(1), out.stride(0), out.stride(1),
                oCmp.dim(0), oCmp.dim(1), oCmp.dim(2));
        return plan(p, in, gates.dtype(), out.dtype());
    }

    private static boolean overlap(DeviceTensor a, DeviceTensor b) {
        return a.byteSize() > 0 && b.byteSize() > 0 && a.address() < b.address() + b.byteSize()
                && b.address() < a.address() + a.byteSize();
    }

    /** Validates raw params (no CUDA call) and picks the kernel (16-byte or narrow accesses). */
    public static Launch plan(GateCombineParams p, DType in, DType gateDtype, DType outDtype) {
        Checks.dtype("o_cmp", in, FLOATS, "fp32, fp16 or bf16");
        Checks.dtype("gates", gateDtype, KernelCatalog.outputs(in), "gates fp32 or the input dtype");
        Checks.dtype("out", outDtype, KernelCatalog.combineOutputs(in),
                in == DType.FP32 ? "out fp32, fp16 or bf16" : "out in the input dtype or fp32");
        Checks.nonNegative("o_cmp", p.nnz(), "nnz");
        Checks.nonNegative("o_cmp", p.heads(), "H");
        Checks.nonNegative("o_cmp", p.dv(), "Dv");
        for (long s : new long[]{p.cmpTokStride(), p.cmpHeadStride(), p.selTokStride(), p.selHeadStride(),
                p.winTokStride(), p.winHeadStride(), p.gateTokStride(), p.gateHeadStride(), p.outTokStride(),
                p.outHeadStride()}) {
            Checks.nonNegative("strides", s, "stride");
        }
        long work = (long) p.nnz() * p.heads() * p.dv();
        if (work == 0) {
            return new Launch(KernelCatalog.gateCombine(in, gateDtype, outDtype, KernelCatalog.SCALAR), p, 0);
        }
        Checks.pointer("o_cmp", p.oCmp(), in);
        Checks.pointer("o_sel", p.oSel(), in);
        Checks.pointer("o_win", p.oWin(), in);
        Checks.pointer("gates", p.gates(), gateDtype);
        Checks.pointer("out", p.out(), outDtype);
        int es = in.byteSize();
        int vec = 16 / es;
        boolean wide = p.dv() % vec == 0
                && Checks.rowsAligned16(p.oCmp(), es, p.cmpTokStride(), p.cmpHeadStride())
                && Checks.rowsAligned16(p.oSel(), es, p.selTokStride(), p.selHeadStride())
                && Checks.rowsAligned16(p.oWin(), es, p.winTokStride(), p.winHeadStride())
                && Checks.rowsAligned16(p.out(), outDtype.byteSize(), p.outTokStride(), p.outHeadStride());
        KernelKey key = KernelCatalog.gateCombine(in, gateDtype, outDtype, wide ? KernelCatalog.VEC16 : KernelCatalog.SCALAR);
        return new Launch(key, p, wide ? work / vec : work);
    }
}
