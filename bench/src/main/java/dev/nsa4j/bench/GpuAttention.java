package dev.nsa4j.bench;

import dev.nsa4j.bench.report.MaskSpec;
import dev.nsa4j.kernels.Attention;
import dev.nsa4j.kernels.AttnSpec;
import dev.nsa4j.kernels.AttnWalk;
import dev.nsa4j.kernels.CudaContext;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.KernelModule;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;

/**
 * Paths {@code sdpa} and {@code sdpa-masked} of {@code nsa attend}: {@link Attention} on device 0's primary
 * context, one stream; q, k, v uploaded in their dtype (the caller has rounded them to {@code --dtype}), fp32
 * output and lse. Every device buffer is freed before returning.
 */
final class GpuAttention {
    private GpuAttention() {}

    static AttendOutput run(AttendInputs in, MaskSpec mask, double scale, AttnWalk walk) {
        AttnSpec spec = spec(mask).withWalk(walk).withScale((float) scale);
        int nnz = in.nnzQ(), h = in.heads();
        try (CudaContext ctx = CudaContext.primary(0);
             KernelModule module = KernelModule.load(ctx);
             CudaStream stream = CudaStream.create(ctx);
             DeviceTensor q = DeviceTensor.upload(stream, in.q());
             DeviceTensor k = DeviceTensor.upload(stream, in.k());
             DeviceTensor v = DeviceTensor.upload(stream, in.v());
             DeviceTensor cuQ = DeviceTensor.upload(stream, HostTensor.ofInts(in.cuQ(), in.cuQ().length));
             DeviceTensor cuK = DeviceTensor.upload(stream, HostTensor.ofInts(in.cuK(), in.cuK().length));
             DeviceTensor o = DeviceTensor.allocate(stream, DType.FP32, nnz, h, in.dv());
             DeviceTensor lse = DeviceTensor.allocate(stream, DType.FP32, nnz, h)) {
            Attention.run(module, stream, q, k, v, cuQ, cuK, null, spec, o, lse);
            return new AttendOutput(o.toHost(stream), lse.toHost(stream));
        }
    }

    /** The kernel's mask for a {@link MaskSpec}. */
    static AttnSpec spec(MaskSpec mask) {
        return switch (mask) {
            case MaskSpec.None n -> AttnSpec.none();
            case MaskSpec.Causal c -> AttnSpec.causal();
            case MaskSpec.Window w -> AttnSpec.window(w.window());
            case MaskSpec.BlockCausal b -> AttnSpec.blockCausal(b.cmpLen(), b.cmpStride());
        };
    }
}
