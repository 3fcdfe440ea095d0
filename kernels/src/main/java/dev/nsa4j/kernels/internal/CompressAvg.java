package dev.nsa4j.kernels.internal;

import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceTensor;
import java.util.List;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.tensor.DType;

/**
 * Compression with phi = avg (the NSA spec (docs/nsa-spec.md) "Compression branch"), varlen: compressed token i of a sequence is
 * the mean of its raw positions {@code [i·d, i·d + l)}, per KV group, summed in fp32 in ascending position
 * order and divided by l.
 *
 * <p>Shapes: {@code k} {@code [nnz, G, D]} (fp32/fp16/bf16), {@code out} {@code [nnz_cmp, G, D]} in k's dtype or
 * fp32, {@code cu_seqlens}/{@code cu_seqlens_cmp} int32 {@code [B + 1]} on the device, matching the
 * {@link CompressionPlan} (the host's copy; device arrays cannot be checked without a sync, so a
 * device array that disagrees with the plan yields NaN rows, never an out-of-bounds read).
 * Deterministic; {@code nnz_cmp = 0} launches nothing.
 */
public final class CompressAvg {
    private static final List<DType> FLOATS = List.of(DType.FP32, DType.FP16, DType.BF16);

    private CompressAvg() {
    }

    /** A validated launch. */
    public record Launch(KernelKey key, CompressAvgParams params, long work) {
    }

    /** Validates and enqueues on {@code stream}, with the plan's cu arrays already on the device. */
    public static void run(KernelModule module, CudaStream stream, DeviceTensor k, DeviceTensor cuSeqlens,
                           DeviceTensor cuSeqlensCmp, CompressionPlan plan, DeviceTensor out) {
        enqueue(module, stream.handle(), plan(k, cuSeqlens, cuSeqlensCmp, plan, out));
    }

    /**
     * Validates, uploads the plan's cu arrays (stream-ordered, freed stream-ordered after the launch) and
     * enqueues on {@code stream}.
     */
    public static void run(KernelModule module, CudaStream stream, DeviceTensor k, CompressionPlan plan,
                           DeviceTensor out) {
        DeviceTensor probe = plan.offsetsPlaceholder();
        if (plan(k, probe, probe, plan, out).work() == 0) {   // validate before allocating
            return;
        }
        try (CompressionPlan.DeviceOffsets o = plan.upload(stream)) {
            run(module, stream, k, o.cu(), o.cuCmp(), plan, out);
        }
    }

    /** Raw-pointer entry (interop): validates {@code p}, then enqueues on a raw stream. */
    public static void launch(KernelModule module, long stream, CompressAvgParams p, DType in, DType out) {
        enqueue(module, stream, plan(p, in, out));
    }

    private static void enqueue(KernelModule module, long stream, Launch l) {
        if (l.work() > 0) {
            module.launch(l.key(), module.gridFor(l.work()), stream, l.params().toBytes());
        }
    }

    /** Validates device tensors against the plan (no CUDA call) and picks the kernel. */
    public static Launch plan(DeviceTensor k, DeviceTensor cuSeqlens, DeviceTensor cuSeqlensCmp, CompressionPlan plan,
                              DeviceTensor out) {
        if (plan == null) {
            throw new NsaArgumentException("plan", "plan present", "compression plan is null");
        }
        plan.checkTensors(k, cuSeqlens, cuSeqlensCmp, out);
        CompressAvgParams p = new CompressAvgParams(k.address(), out.address(), cuSeqlens.address(),
                cuSeqlensCmp.address(), k.stride(0), k.stride(1), out.stride(0), out.stride(1),
                plan.nnz(), plan.nnzCmp(), plan.batch(), k.dim(1), k.dim(2), plan.blockLen(), plan.blockStride());
        return plan(p, k.dtype(), out.dtype());
    }

    /** Validates raw params (no CUDA call) and picks the kernel. */
    public static Launch plan(CompressAvgParams p, DType in, DType outDtype) {
        Checks.dtype("k", in, FLOATS, "fp32, fp16 or bf16");
        Checks.dtype("out", outDtype, KernelCatalog.outputs(in), "out in the input dtype or fp32");
        Checks.positive("l", p.blockLen(), "compression block length l");
        Checks.positive("d", p.blockStride(), "compression stride d");
        Checks.nonNegative("k", p.nnz(), "nnz");
        Checks.nonNegative("out", p.nnzCmp(), "nnz_cmp");
        Checks.nonNegative("cu_seqlens", p.batch(), "batch");
        Checks.nonNegative("k", p.groups(), "G");
        Checks.nonNegative("k", p.dim(), "D");
        for (long s : new long[]{p.kTokStride(), p.kGroupStride(), p.outTokStride(), p.outGroupStride()}) {
            Checks.nonNegative("strides", s, "stride");
        }
        long work = (long) p.nnzCmp() * p.groups() * p.dim();
        int es = in.byteSize();
        int vec = 16 / es;
        // the variant depends on the layout alone, so an empty call names the kernel a non-empty one would run
        boolean wide = p.dim() % vec == 0
                && Checks.rowsAligned16(p.k(), es, p.kTokStride(), p.kGroupStride())
                && Checks.rowsAligned16(p.out(), outDtype.byteSize(), p.outTokStride(), p.outGroupStride());
        KernelKey key = KernelCatalog.compressAvg(in, outDtype, wide ? KernelCatalog.VEC16 : KernelCatalog.SCALAR);
        if (work == 0) {
            return new Launch(key, p, 0);
        }
        if (p.batch() == 0) {
            throw new NsaArgumentException("cu_seqlens_cmp", "nnz_cmp = cu_seqlens_cmp[B]",
                    "batch is 0 but nnz_cmp is " + p.nnzCmp());
        }
        if (p.nnz() == 0) {
            throw new NsaArgumentException("k", "nnz_cmp = 0 when nnz = 0", "nnz is 0 but nnz_cmp is " + p.nnzCmp());
        }
        Checks.pointer("k", p.k(), in);
        Checks.pointer("out", p.out(), outDtype);
        Checks.pointer("cu_seqlens", p.cuSeqlens(), DType.INT32);
        Checks.pointer("cu_seqlens_cmp", p.cuSeqlensCmp(), DType.INT32);
        return new Launch(key, p, wide ? work / vec : work);
    }
}
