package dev.nsa4j.kernels.internal;

import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.tensor.DType;

/**
 * Dtype cast of a contiguous device tensor ({@code nsa_cast_<from>_o<to>}, cast.cu): fp16/bf16 to fp32 (exact)
 * and fp32 to fp16/bf16 (round to nearest even). Same dims on both sides; validated before the launch.
 */
public final class Cast {
    private Cast() {
    }

    /** Validates (no CUDA call) and enqueues {@code out = (out.dtype) in} on {@code stream}. */
    public static void run(KernelModule module, CudaStream stream, DeviceTensor in, DeviceTensor out) {
        if (in == null || out == null) {
            throw new NsaArgumentException(in == null ? "in" : "out", "tensor present", "cast tensor is null");
        }
        Checks.contiguous("in", in.shape());
        Checks.contiguous("out", out.shape());
        if (!in.shape().sameDims(out.shape())) {
            throw new NsaArgumentException("out", "same dims as in", "in " + in.shape() + ", out " + out.shape());
        }
        KernelKey key = KernelCatalog.require(KernelCatalog.cast(in.dtype(), out.dtype()));
        long n = in.shape().numel();
        if (n == 0) {
            return;
        }
        Checks.pointer("in", in.address(), in.dtype());
        Checks.pointer("out", out.address(), out.dtype());
        module.launch(key, module.gridFor(n), stream.handle(), new CastParams(in.address(), out.address(), n).toBytes());
    }

    /** True when a cast kernel {@code from -> to} exists. */
    public static boolean supported(DType from, DType to) {
        return KernelCatalog.all().contains(KernelCatalog.cast(from, to));
    }
}
