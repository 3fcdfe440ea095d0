package dev.nsa4j.kernels.internal;

import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceTensor;
import java.util.List;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.oracle.CompressionMlp;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;

/**
 * Compression with phi = mlp (the NSA spec (docs/nsa-spec.md) "Compression branch", docs/decisions.md D2), varlen: compressed token
 * i of a sequence, group g, is {@code W2·SiLU(W1·vec(block + P) + b1) + b2} with block its raw positions
 * {@code [i·d, i·d + l)} of that group, {@code vec} the row-major flattening of {@code [l, D]}.
 *
 * <p>Shapes: {@code k} {@code [nnz, G, D]} (fp32/fp16/bf16), {@code out} fp32 {@code [nnz_cmp, G, D]},
 * cu arrays as {@link CompressAvg}; weights fp32 on the device ({@link Weights}). One thread block per
 * (compressed token, group); every dot product is summed in fp32 in a fixed order (per-lane strided sums,
 * then a fixed butterfly), so results are deterministic. Limits: {@code l·D <= }{@link #MAX_IN},
 * {@code hidden <= }{@link #MAX_HIDDEN} (shared-memory staging). {@code nnz_cmp = 0} launches nothing.
 */
public final class CompressMlp {
    /** Largest l·D: x = vec(block + P) is staged in shared memory (must match NSA_MLP_MAX_IN). */
    public static final int MAX_IN = 8192;
    /** Largest hidden size: SiLU(h) is staged in shared memory (must match NSA_MLP_MAX_HIDDEN). */
    public static final int MAX_HIDDEN = 2048;

    private static final List<DType> FLOATS = List.of(DType.FP32, DType.FP16, DType.BF16);

    private CompressMlp() {
    }

    /**
     * Device-resident fp32 weights of one MLP (contiguous): {@code pos [l, D]}, {@code w1 [hidden, l·D]},
     * {@code b1 [hidden]}, {@code w2 [D, hidden]}, {@code b2 [D]}. Closing frees the tensors it owns.
     */
    public record Weights(DeviceTensor pos, DeviceTensor w1, DeviceTensor b1, DeviceTensor w2, DeviceTensor b2)
            implements AutoCloseable {

        /** Uploads {@code mlp}'s fp64 weights rounded to fp32 (stream-ordered). */
        public static Weights upload(CudaStream stream, CompressionMlp mlp) {
            int l = mlp.blockLen();
            int d = mlp.dim();
            int h = mlp.hidden();
            checkLimits("phi", l, d, h);
            DeviceTensor pos = null, w1 = null, b1 = null, w2 = null;
            try {
                pos = DeviceTensor.upload(stream, HostTensor.of(DType.FP32, mlp.weight("pos"), l, d));
                w1 = DeviceTensor.upload(stream, HostTensor.of(DType.FP32, mlp.weight("w1"), h, l * d));
                b1 = DeviceTensor.upload(stream, HostTensor.of(DType.FP32, mlp.weight("b1"), h));
                w2 = DeviceTensor.upload(stream, HostTensor.of(DType.FP32, mlp.weight("w2"), d, h));
                DeviceTensor b2 = DeviceTensor.upload(stream, HostTensor.of(DType.FP32, mlp.weight("b2"), d));
                return new Weights(pos, w1, b1, w2, b2);
            } catch (RuntimeException e) {
                for (DeviceTensor t : new DeviceTensor[]{w2, b1, w1, pos}) {
                    if (t != null) {
                        t.close();
                    }
                }
                throw e;
            }
        }

        public int hidden() {
            return w1.dim(0);
        }

        @Override
        public void close() {
            b2.close();
            w2.close();
            b1.close();
            w1.close();
            pos.close();
        }
    }

    /** A validated launch; {@code work} is the number of (compressed token, group) items. */
    public record Launch(KernelKey key, CompressMlpParams params, long work) {
    }

    /**
     * Rejects sizes the kernel cannot stage.
     *
     * @param name the subject of the error, e.g. {@code phi_k}
     * @throws NsaArgumentException naming {@code name} and the limit
     */
    public static void checkLimits(String name, int blockLen, int dim, int hidden) {
        if ((long) blockLen * dim > MAX_IN) {
            throw new NsaArgumentException(name, "l·D <= " + MAX_IN + " (phi = mlp GPU kernel, shared-memory staging)",
                    "l·D = " + blockLen + "·" + dim + " = " + ((long) blockLen * dim));
        }
        if (hidden > MAX_HIDDEN) {
            throw new NsaArgumentException(name, "hidden <= " + MAX_HIDDEN + " (phi = mlp GPU kernel)",
                    "hidden is " + hidden);
        }
    }

    /** Validates and enqueues on {@code stream}, with the plan's cu arrays already on the device. */
    public static void run(KernelModule module, CudaStream stream, DeviceTensor k, DeviceTensor cuSeqlens,
                           DeviceTensor cuSeqlensCmp, CompressionPlan plan, Weights weights, DeviceTensor out) {
        enqueue(module, stream.handle(), plan(k, cuSeqlens, cuSeqlensCmp, plan, weights, out));
    }

    /** Validates, uploads the plan's cu arrays (stream-ordered) and enqueues on {@code stream}. */
    public static void run(KernelModule module, CudaStream stream, DeviceTensor k, CompressionPlan plan,
                           Weights weights, DeviceTensor out) {
        DeviceTensor probe = plan.offsetsPlaceholder();
        if (plan(k, probe, probe, plan, weights, out).work() == 0) {   // validate before allocating
            return;
        }
        try (CompressionPlan.DeviceOffsets o = plan.upload(stream)) {
            run(module, stream, k, o.cu(), o.cuCmp(), plan, weights, out);
        }
    }

    /** Raw-pointer entry (interop): validates {@code p}, then enqueues on a raw stream. */
    public static void launch(KernelModule module, long stream, CompressMlpParams p, DType in) {
        enqueue(module, stream, plan(p, in));
    }

    private static void enqueue(KernelModule module, long stream, Launch l) {
        if (l.work() > 0) {
            // one block per item, capped like every grid-stride kernel (results do not depend on the grid)
            module.launch(l.key(), module.gridFor(l.work() * KernelModule.BLOCK), stream, l.params().toBytes());
        }
    }

    /** Validates device tensors against the plan and the weights (no CUDA call) and picks the kernel. */
    public static Launch plan(DeviceTensor k, DeviceTensor cuSeqlens, DeviceTensor cuSeqlensCmp, CompressionPlan plan,
                              Weights weights, DeviceTensor out) {
        if (plan == null) {
            throw new NsaArgumentException("plan", "plan present", "compression plan is null");
        }
        if (weights == null) {
            throw new NsaArgumentException("phi", "phi weights present", "phi = mlp weights are null");
        }
        plan.checkTensors(k, cuSeqlens, cuSeqlensCmp, out);
        Checks.dtype("out", out.dtype(), List.of(DType.FP32), "out fp32");
        int l = plan.blockLen();
        int dim = k.dim(2);
        Checks.rank("phi.w1", weights.w1(), 2, "[hidden, l·D]");
        int hidden = weights.w1().dim(0);
        weight("phi.pos", weights.pos(), l, dim);
        weight("phi.w1", weights.w1(), hidden, l * dim);
        weight("phi.b1", weights.b1(), hidden);
        weight("phi.w2", weights.w2(), dim, hidden);
        weight("phi.b2", weights.b2(), dim);
        CompressMlpParams p = new CompressMlpParams(k.address(), out.address(), cuSeqlens.address(),
                cuSeqlensCmp.address(), weights.pos().address(), weights.w1().address(), weights.b1().address(),
                weights.w2().address(), weights.b2().address(), k.stride(0), k.stride(1), out.stride(0), out.stride(1),
                plan.nnz(), plan.nnzCmp(), plan.batch(), k.dim(1), dim, l, plan.blockStride(), hidden);
        return plan(p, k.dtype());
    }

    private static void weight(String name, DeviceTensor t, int... dims) {
        Checks.rank(name, t, dims.length, java.util.Arrays.toString(dims));
        for (int i = 0; i < dims.length; i++) {
            Checks.dim(name, t, i, dims[i], name + " has shape " + java.util.Arrays.toString(dims));
        }
        Checks.dtype(name, t.dtype(), List.of(DType.FP32), "fp32 weights");
        Checks.contiguous(name, t.shape());
    }

    /** Validates raw params (no CUDA call) and picks the kernel. */
    public static Launch plan(CompressMlpParams p, DType in) {
        Checks.dtype("k", in, FLOATS, "fp32, fp16 or bf16");
        Checks.positive("l", p.blockLen(), "compression block length l");
        Checks.positive("d", p.blockStride(), "compression stride d");
        Checks.positive("phi.w1", p.hidden(), "hidden");
        Checks.nonNegative("k", p.nnz(), "nnz");
        Checks.nonNegative("out", p.nnzCmp(), "nnz_cmp");
        Checks.nonNegative("cu_seqlens", p.batch(), "batch");
        Checks.nonNegative("k", p.groups(), "G");
        Checks.nonNegative("k", p.dim(), "D");
        for (long s : new long[]{p.kTokStride(), p.kGroupStride(), p.outTokStride(), p.outGroupStride()}) {
            Checks.nonNegative("strides", s, "stride");
        }
        checkLimits("phi", p.blockLen(), p.dim(), p.hidden());
        KernelKey key = KernelCatalog.compressMlp(in);
        long work = (long) p.nnzCmp() * p.groups();
        if (work == 0 || p.dim() == 0) {
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
        Checks.pointer("out", p.out(), DType.FP32);
        Checks.pointer("cu_seqlens", p.cuSeqlens(), DType.INT32);
        Checks.pointer("cu_seqlens_cmp", p.cuSeqlensCmp(), DType.INT32);
        Checks.pointer("phi.pos", p.pos(), DType.FP32);
        Checks.pointer("phi.w1", p.w1(), DType.FP32);
        Checks.pointer("phi.b1", p.b1(), DType.FP32);
        Checks.pointer("phi.w2", p.w2(), DType.FP32);
        Checks.pointer("phi.b2", p.b2(), DType.FP32);
        return new Launch(key, p, work);
    }
}
