package dev.nsa4j.fa2;

import java.util.Objects;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.fa2.contract.Fa2Options;
import dev.nsa4j.fa2.contract.Fa2Verdict;
import dev.nsa4j.kernels.internal.AttnSpec;
import dev.nsa4j.kernels.internal.AttnWalk;
import dev.nsa4j.kernels.internal.Attention;
import dev.nsa4j.kernels.CudaException;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceBuffer;
import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.internal.KernelModule;
import dev.nsa4j.kernels.Mask;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import dev.nsa4j.tensor.Shape;

/**
 * The guarded FA-2 path of docs/routing.md: every call is checked against the contract; a call FA-2 cannot
 * serve runs on the reference path ({@code sdpa-masked}) with the reason in the {@link Outcome}; input no
 * path can serve throws an {@link NsaArgumentException} naming the tensor and the rule before any kernel
 * runs. With {@code hardFail} a blocked call throws instead of falling back. A kernel that fails to load or
 * launch falls back with the CUDA error. After FA-2, the output is checked for NaN/Inf (one small kernel and
 * a sync); when it has some and the inputs had none, the call is recomputed on {@code sdpa-masked}.
 *
 * <p>The caller logs and counts outcomes (the {@code nsa} module does, rate-limited, tag {@code fa2.fallback}).
 */
public final class Fa2Bridge implements AutoCloseable {
    /** Which path computed the call. */
    public enum Ran {
        FA2("fa2"), SDPA_MASKED("sdpa-masked");

        private final String id;

        Ran(String id) {
            this.id = id;
        }

        /** docs/routing.md's path name. */
        public String id() {
            return id;
        }
    }

    /**
     * What happened: the path that ran, why (empty when FA-2 ran as asked), and the contract's verdict.
     *
     * @param recomputed true when FA-2 ran but its non-finite output was recomputed on the reference path
     */
    public record Outcome(Ran ran, String reason, Fa2Verdict verdict, boolean recomputed) {
        public boolean fellBack() {
            return ran != Ran.FA2;
        }
    }

    private final KernelModule reference;
    private final DeviceInfo device;
    private final Fa2Module fa2;
    private final String fa2Unavailable;
    private final boolean checkFinite;

    private Fa2Bridge(KernelModule reference, Fa2Module fa2, String fa2Unavailable, boolean checkFinite) {
        this.reference = reference;
        this.device = reference.context().device();
        this.fa2 = fa2;
        this.fa2Unavailable = fa2Unavailable;
        this.checkFinite = checkFinite;
    }

    /**
     * A bridge over {@code reference} (the kernels module's image, loaded) that loads the FA-2 image into the
     * same context; when that fails the bridge still works and every call falls back with the reason.
     *
     * @param checkFinite check FA-2's output for NaN/Inf after each call (costs a stream sync)
     */
    public static Fa2Bridge open(KernelModule reference, boolean checkFinite) {
        Objects.requireNonNull(reference, "reference");
        Fa2Module m = null;
        String why = null;
        try {
            m = Fa2Module.load(reference.context());
        } catch (IllegalStateException | CudaException e) {
            why = "FA-2 kernels unavailable: " + e.getMessage();
        }
        return new Fa2Bridge(reference, m, why, checkFinite);
    }

    /** True when the FA-2 image loaded. */
    public boolean fa2Loaded() {
        return fa2 != null;
    }

    /** Why the FA-2 image is not loaded, or null. */
    public String fa2Unavailable() {
        return fa2Unavailable;
    }

    /** The loaded FA-2 module, or null. */
    public Fa2Module fa2() {
        return fa2;
    }

    /** One attention call on {@code stream}: FA-2 when the contract allows, else {@code sdpa-masked}. */
    public Outcome attend(CudaStream stream, Fa2Attention.Inputs in, Fa2Attention.Spec spec, Fa2Options options,
                          boolean hardFail) {
        Fa2Attention.Plan plan = Fa2Attention.plan(device, in, spec, options);
        Fa2Verdict verdict = plan.verdict();
        if (verdict.fatal()) {
            throw verdict.toException();
        }
        String blocked = !verdict.ok() ? verdict.reason() : fa2 == null ? fa2Unavailable
                : verdict.castTo().isPresent() && !castable(in) ? "NSA_FA2_ALLOW_FP32 casts contiguous q, k and v only" : null;
        if (blocked != null) {
            if (hardFail) {
                throw new NsaArgumentException("fa2", "NSA_FA2_HARD_FAIL: an eligible call must run on FA-2",
                        "FA-2 blocked: " + blocked);
            }
            reference(stream, in, spec);
            return new Outcome(Ran.SDPA_MASKED, blocked, verdict, false);
        }
        try (Casts casts = verdict.castTo().isPresent() ? cast(stream, in, verdict.castTo().get()) : null) {
            Fa2Attention.Inputs run = casts == null ? in : casts.inputs;
            Fa2Attention.Plan p = casts == null ? plan : Fa2Attention.plan(device, run, spec, options);
            try (DeviceBuffer ws = p.workspaceBytes() > 0 ? DeviceBuffer.allocate(stream, p.workspaceBytes()) : null) {
                Fa2Attention.enqueue(fa2, stream.handle(), p, ws);
                if (checkFinite && nonFinite(stream, in.out()) > 0) {
                    long bad = nonFinite(stream, in.q()) + nonFinite(stream, in.k()) + nonFinite(stream, in.v());
                    if (bad == 0) {
                        reference(stream, in, spec);
                        return new Outcome(Ran.SDPA_MASKED, "FA-2 output had NaN/Inf from finite inputs; recomputed on "
                                + "sdpa-masked", verdict, true);
                    }
                }
            }
            return new Outcome(Ran.FA2, casts == null ? "" : "fp32 inputs cast to " + verdict.castTo().get(), verdict, false);
        } catch (CudaException e) {
            if (hardFail) {
                throw e;
            }
            reference(stream, in, spec);
            return new Outcome(Ran.SDPA_MASKED, "FA-2 kernel failed: " + e.getMessage(), verdict, false);
        }
    }

    /** The call on {@code sdpa-masked} (kernels' reference attention, walking only the visible keys). */
    public void reference(CudaStream stream, Fa2Attention.Inputs in, Fa2Attention.Spec spec) {
        AttnSpec as = referenceSpec(spec.mask()).withWalk(AttnWalk.RANGES).withScale(spec.scale());
        if (in.varlen()) {
            Attention.run(reference, stream, in.q(), in.k(), in.v(), in.cuQ(), in.cuK(), in.qStart(), in.kStart(), null,
                    as, in.out(), in.lse());
            return;
        }
        // Dense: one varlen call per batch entry over that entry's slices (any batch stride).
        int batch = in.q().dim(0), sq = in.q().dim(1), sk = in.k().dim(1);
        try (DeviceTensor cuQ = DeviceTensor.upload(stream, HostTensor.ofInts(new int[]{0, sq}, 2));
             DeviceTensor cuK = DeviceTensor.upload(stream, HostTensor.ofInts(new int[]{0, sk}, 2))) {
            for (int b = 0; b < batch; b++) {
                Attention.run(reference, stream, slice(in.q(), b), slice(in.k(), b), slice(in.v(), b), cuQ, cuK,
                        element(in.qStart(), b), element(in.kStart(), b), null, as, slice(in.out(), b),
                        in.lse() == null ? null : slice(in.lse(), b));
            }
            stream.synchronize();   // the cu arrays are freed on return
        }
    }

    /** The reference kernels' spec for a mask (walk ALL, default scale). */
    public static AttnSpec referenceSpec(Mask mask) {
        return AttnSpec.of(mask);
    }

    /** Entry {@code b} of a dense tensor: the view without the batch axis. */
    static DeviceTensor slice(DeviceTensor t, int b) {
        int r = t.rank() - 1;
        int[] dims = new int[r];
        long[] strides = new long[r];
        for (int a = 0; a < r; a++) {
            dims[a] = t.dim(a + 1);
            strides[a] = t.stride(a + 1);
        }
        return DeviceTensor.wrap(t.address() + b * t.stride(0) * t.dtype().byteSize(), t.dtype(), Shape.strided(dims, strides));
    }

    private static DeviceTensor element(DeviceTensor t, int b) {
        return t == null ? null : DeviceTensor.wrap(t.address() + 4L * b, DType.INT32, Shape.of(1));
    }

    /** Non-finite elements of a contiguous tensor (waits for the stream). */
    long nonFinite(CudaStream stream, DeviceTensor t) {
        long n = t.shape().numel();
        if (n == 0) {
            return 0;
        }
        if (!t.shape().isContiguous()) {
            return 0;   // strided outputs/inputs are not scanned (the contract admits them only in padded batch strides)
        }
        try (DeviceTensor count = DeviceTensor.allocate(stream, DType.INT32, 1)) {
            DeviceBuffer.wrap(count.address(), 4).fill(stream, (byte) 0);
            fa2.countNonFinite(stream.handle(), t, count.address(), device.smCount());
            return count.toHost(stream).toIntArray()[0] & 0xffffffffL;
        }
    }

    private static boolean castable(Fa2Attention.Inputs in) {
        return in.q().shape().isContiguous() && in.k().shape().isContiguous() && in.v().shape().isContiguous();
    }

    /** fp16/bf16 copies of contiguous fp32 q, k, v ({@link #castable}); the output keeps its dtype. */
    private Casts cast(CudaStream stream, Fa2Attention.Inputs in, DType to) {
        Casts c = new Casts();
        DeviceTensor q = c.castOf(stream, in.q(), to), k = c.castOf(stream, in.k(), to), v = c.castOf(stream, in.v(), to);
        c.inputs = new Fa2Attention.Inputs(q, k, v, null, in.out(), in.lse(), in.cuQ(), in.cuQHost(), in.cuK(),
                in.cuKHost(), in.qStart(), in.kStart());
        return c;
    }

    private final class Casts implements AutoCloseable {
        private final java.util.List<DeviceTensor> owned = new java.util.ArrayList<>();
        Fa2Attention.Inputs inputs;

        DeviceTensor castOf(CudaStream stream, DeviceTensor src, DType to) {
            DeviceTensor dst = DeviceTensor.allocate(stream, to, src.shape().dims());
            owned.add(dst);
            long n = src.shape().numel();
            if (n > 0) {
                int grid = (int) Math.min((n + 255) / 256, 8L * device.smCount());
                fa2.kernels().launchSymbol("nsa_fa2_cast_fp32_" + Fa2Kernels.dtypeName(to), grid, 1, 1, 256, 0,
                        stream.handle(), new Fa2ElementwiseParams(src.address(), dst.address(), n).toBytes());
            }
            return dst;
        }

        @Override
        public void close() {
            owned.forEach(DeviceTensor::close);
        }
    }

    @Override
    public void close() {
        if (fa2 != null) {
            fa2.close();
        }
    }
}
