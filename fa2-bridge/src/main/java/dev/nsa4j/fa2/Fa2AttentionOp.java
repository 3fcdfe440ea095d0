package dev.nsa4j.fa2;

import java.util.Objects;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.fa2.contract.Fa2Options;
import dev.nsa4j.fa2.contract.Fa2Verdict;
import dev.nsa4j.fa2.contract.KeyExtent;
import dev.nsa4j.kernels.CudaException;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceBuffer;
import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.Mask;
import dev.nsa4j.kernels.op.AttentionArgs;
import dev.nsa4j.kernels.op.DeviceOp;
import dev.nsa4j.kernels.op.OpRun;
import dev.nsa4j.kernels.op.ReferenceAttentionOp;
import dev.nsa4j.kernels.op.Sequences;
import dev.nsa4j.kernels.op.Workspace;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.Shape;

/**
 * A branch attention (compressed or window) on FlashAttention-2, planned for one shape, with the guarded
 * fallback of docs/routing.md folded into the launch:
 * <ul>
 * <li>{@link #plan} checks the contract on the planned shapes (dtype, head dims, device, layout of contiguous
 *     tensors) before anything runs; a refusal there is the caller's route decision (the reference op runs
 *     the branch, with the verdict's reason);</li>
 * <li>each launch re-checks the contract on the call's tensors (strides, 16-byte alignment of foreign
 *     pointers); a call FA-2 cannot serve runs on the reference op with the reason ({@code NSA_FA2_HARD_FAIL}:
 *     throws instead); so does a kernel that fails to launch;</li>
 * <li>after FA-2, a non-finite count of the output is added on the device to a guard counter (uint32, the
 *     caller zeroes it per forward and reads it when it synchronises), so the NaN/Inf check costs no
 *     allocation and no synchronisation.</li>
 * </ul>
 * fp32 inputs run only under {@code NSA_FA2_ALLOW_FP32} ({@link Fa2Options#allowFp32()}): q, k and v are cast
 * to fp16 or bf16 into this op's scratch first.
 */
public final class Fa2AttentionOp implements DeviceOp<AttentionArgs> {
    private final Fa2Module fa2;
    private final DeviceInfo device;
    private final Fa2Attention.Spec spec;
    private final Fa2Options options;
    private final boolean hardFail;
    private final Sequences queries;
    private final Sequences keys;
    private final ReferenceAttentionOp fallback;
    private final DeviceTensor guard;
    private final DType castTo;
    private final long splitBytes;
    private final long castQBytes;
    private final long castKBytes;
    private final long castVBytes;
    private final String describe;
    private final Fa2Layout.Choice layout;

    /** The outcome of planning: the op, or why FA-2 cannot serve this shape. */
    public record Planned(Fa2AttentionOp op, Fa2Verdict verdict) {
        /** True when the contract accepted the planned shapes. */
        public boolean accepted() {
            return op != null;
        }
    }

    private Fa2AttentionOp(Fa2Module fa2, DeviceInfo device, Fa2Attention.Spec spec, Fa2Options options,
                           boolean hardFail, Sequences queries, Sequences keys, ReferenceAttentionOp fallback,
                           DeviceTensor guard, Fa2Attention.Plan plan, Shape q, Shape k, Shape v, DType castTo) {
        this.fa2 = fa2;
        this.device = device;
        this.spec = spec;
        this.options = options;
        this.hardFail = hardFail;
        this.queries = queries;
        this.keys = keys;
        this.fallback = fallback;
        this.guard = guard;
        this.castTo = castTo;
        this.splitBytes = Workspace.aligned(plan.workspaceBytes());
        int half = castTo == null ? 0 : castTo.byteSize();
        this.castQBytes = Workspace.aligned(q.numel() * half);
        this.castKBytes = Workspace.aligned(k.numel() * half);
        this.castVBytes = Workspace.aligned(v.numel() * half);
        this.layout = plan.layout();
        this.describe = "fa2 " + (layout.layout() == Fa2Layout.HOPPER ? "hopper " : "")
                + Fa2Mask.of(spec.mask()).symbolPart() + (spec.exactP() ? " exact-P " : " ")
                + Fa2Kernels.dtypeName(castTo != null ? castTo : plan.dtype()) + " d" + q.dim(2)
                + (q.dim(2) != v.dim(2) ? "/" + v.dim(2) : "") + (plan.splits() > 1 ? " split " + plan.splits() : "")
                + (castTo != null ? " (fp32 cast)" : "");
    }

    /**
     * Checks the contract on contiguous tensors of the planned shapes ({@code q [nnz_q, H, Dk]},
     * {@code k [nnz_k, G, Dk]}, {@code v [nnz_k, G, Dv]}, {@code out [nnz_q, H, Dv]} in {@code outType}, lse fp32)
     * and, when it passes, plans the launch.
     *
     * @param fallback the reference op a call FA-2 cannot serve runs on (same mask, scale and sequences)
     * @param guard    uint32 counter the non-finite count is added to (4-byte aligned device memory)
     * @throws NsaArgumentException for shapes no path can serve (the contract's fatal rules)
     */
    public static Planned plan(Fa2Module fa2, DeviceInfo device, Mask mask, float scale, boolean exactP,
                               Sequences queries, Sequences keys, int heads, int kvHeads, int dk, int dv, DType in,
                               DType outType, Fa2Options options, boolean hardFail, ReferenceAttentionOp fallback,
                               DeviceTensor guard) {
        Objects.requireNonNull(fa2, "fa2");
        Objects.requireNonNull(fallback, "fallback");
        Objects.requireNonNull(guard, "guard");
        Shape q = Shape.of(queries.total(), heads, dk);
        Shape k = Shape.of(keys.total(), kvHeads, dk);
        Shape v = Shape.of(keys.total(), kvHeads, dv);
        Shape o = Shape.of(queries.total(), heads, dv);
        Fa2Attention.Spec spec = Fa2Attention.Spec.of(mask, KeyExtent.FULL).withExactP(exactP).withScale(scale);
        Fa2Attention.Inputs probe = inputs(placeholder(in, q), placeholder(in, k), placeholder(in, v),
                placeholder(outType, o), placeholder(DType.FP32, Shape.of(queries.total(), heads)), queries, keys);
        Fa2Attention.Plan p = Fa2Attention.plan(device, probe, spec, options);
        Fa2Verdict verdict = p.verdict();
        if (verdict.fatal()) {
            throw verdict.toException();
        }
        if (!verdict.ok()) {
            return new Planned(null, verdict);
        }
        DType castTo = verdict.castTo().orElse(null);
        Fa2Attention.Plan launchPlan = p;
        if (castTo != null) {
            launchPlan = Fa2Attention.plan(device, inputs(placeholder(castTo, q), placeholder(castTo, k),
                    placeholder(castTo, v), placeholder(outType, o), placeholder(DType.FP32, Shape.of(queries.total(),
                            heads)), queries, keys), spec, options);
            if (!launchPlan.launchable()) {
                return new Planned(null, launchPlan.verdict());
            }
        }
        return new Planned(new Fa2AttentionOp(fa2, device, spec, options, hardFail, queries, keys, fallback, guard,
                launchPlan, q, k, v, castTo), verdict);
    }

    /** A contiguous stand-in at an aligned dummy address: the contract reads shapes and addresses, never memory. */
    private static DeviceTensor placeholder(DType dtype, Shape s) {
        return DeviceTensor.wrap(256, dtype, s);
    }

    private static Fa2Attention.Inputs inputs(DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor out,
                                              DeviceTensor lse, Sequences queries, Sequences keys) {
        return Fa2Attention.Inputs.varlen(q, k, v, out, lse, queries.device(), queries.cu(), keys.device(), keys.cu());
    }

    /** The kernel layout the planned shapes run on and why (a call whose tensors differ may run on the other). */
    public Fa2Layout.Choice layout() {
        return layout;
    }

    @Override
    public String describe() {
        return describe;
    }

    @Override
    public long workspaceBytes() {
        return splitBytes + castQBytes + castKBytes + castVBytes;
    }

    @Override
    public OpRun launch(CudaStream stream, AttentionArgs a, Workspace ws) {
        AttentionArgs run = a;
        if (castTo != null) {
            if (!a.q().shape().isContiguous() || !a.k().shape().isContiguous() || !a.v().shape().isContiguous()) {
                return fallBack(stream, a, ws, "NSA_FA2_ALLOW_FP32 casts contiguous q, k and v only", "contract");
            }
            long base = ws.address() + splitBytes;
            DeviceTensor q = DeviceTensor.wrap(base, castTo, a.q().shape());
            DeviceTensor k = DeviceTensor.wrap(base + castQBytes, castTo, a.k().shape());
            DeviceTensor v = DeviceTensor.wrap(base + castQBytes + castKBytes, castTo, a.v().shape());
            cast(stream, a.q(), q);
            cast(stream, a.k(), k);
            cast(stream, a.v(), v);
            run = new AttentionArgs(q, k, v, a.out(), a.lse(), null);
        }
        Fa2Attention.Plan p = Fa2Attention.plan(device, inputs(run.q(), run.k(), run.v(), run.out(), run.lse(),
                queries, keys), spec, options);
        if (p.verdict().fatal()) {
            throw p.verdict().toException();
        }
        if (!p.launchable()) {
            return fallBack(stream, a, ws, p.verdict().reason(), "contract");
        }
        try {
            Fa2Attention.enqueue(fa2, stream.handle(), p, p.workspaceBytes() > 0
                    ? DeviceBuffer.wrap(ws.address(), splitBytes) : null);
        } catch (CudaException e) {
            return fallBack(stream, a, ws, "FA-2 kernel failed: " + e.getMessage(), "kernel");
        }
        countNonFinite(stream, a.out());
        String note = castTo != null ? "fp32 inputs cast to " + castTo : "";
        if (p.layout().layout() != layout.layout()) {   // this call's tensors (strides, addresses) chose the other
            note = (note.isEmpty() ? "" : note + "; ") + p.layout().reason();
        }
        return new OpRun("fa2", note, null);
    }

    private OpRun fallBack(CudaStream stream, AttentionArgs a, Workspace ws, String why, String cause) {
        if (hardFail) {
            throw new NsaArgumentException("fa2", "NSA_FA2_HARD_FAIL: an eligible call must run on FA-2",
                    "FA-2 blocked: " + why);
        }
        fallback.launch(stream, a, ws);
        return new OpRun(fallback.path(), "fa2 blocked: " + why, cause);
    }

    private void cast(CudaStream stream, DeviceTensor src, DeviceTensor dst) {
        long n = src.shape().numel();
        if (n > 0) {
            int grid = (int) Math.min((n + 255) / 256, 8L * device.smCount());
            fa2.kernels().launchSymbol("nsa_fa2_cast_fp32_" + Fa2Kernels.dtypeName(dst.dtype()), grid, 1, 1, 256, 0,
                    stream.handle(), new Fa2ElementwiseParams(src.address(), dst.address(), n).toBytes());
        }
    }

    /** Adds the non-finite count of a contiguous output to the guard (strided outputs are not scanned). */
    private void countNonFinite(CudaStream stream, DeviceTensor out) {
        long n = out.shape().numel();
        if (n == 0 || !out.shape().isContiguous()) {
            return;
        }
        fa2.countNonFinite(stream.handle(), out, guard.address(), device.smCount());
    }
}
