package dev.nsa4j.bench;

import dev.nsa4j.kernels.Mask;
import dev.nsa4j.fa2.Fa2Attention;
import dev.nsa4j.fa2.Fa2Bridge;
import dev.nsa4j.fa2.contract.KeyExtent;
import dev.nsa4j.nsa.Flag;
import dev.nsa4j.nsa.FlagSnapshot;
import dev.nsa4j.kernels.internal.Attention;
import dev.nsa4j.kernels.internal.AttnSpec;
import dev.nsa4j.kernels.internal.AttnWalk;
import dev.nsa4j.kernels.CudaContext;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.internal.KernelModule;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;

/**
 * Paths {@code sdpa}, {@code sdpa-masked} and {@code fa2} of {@code nsa attend}: {@link Attention} on device 0's primary
 * context, one stream; q, k, v uploaded in their dtype (the caller has rounded them to {@code --dtype}), fp32
 * output and lse. Every device buffer is freed before returning.
 */
final class GpuAttention {
    private GpuAttention() {}

    static AttendOutput run(AttendInputs in, Mask mask, double scale, AttnWalk walk) {
        AttnSpec spec = spec(mask).withWalk(walk).withScale((float) scale);
        return onDevice(in, d -> {
            Attention.run(d.module(), d.stream(), d.q(), d.k(), d.v(), d.cuQ(), d.cuK(), null, spec, d.o(), d.lse());
            return d.output();
        });
    }

    /** An FA-2 call's outputs and what the bridge did. */
    record Fa2Result(AttendOutput output, Fa2Bridge.Outcome outcome) {}

    /**
     * Path {@code fa2}: the guarded bridge on device 0 (contract, fallback to sdpa-masked with the reason,
     * NSA_FA2_* options and NSA_FA2_HARD_FAIL from {@code flags}); fp32 output and lse. A mask other than
     * {@code none} relates the keys to the queries (positions from 0 in both), so the causality rule applies.
     */
    static Fa2Result runFa2(AttendInputs in, Mask mask, double scale, boolean exactP, FlagSnapshot flags) {
        Fa2Attention.Spec spec = Fa2Attention.Spec.of(mask,
                mask instanceof Mask.None ? KeyExtent.INDEPENDENT : KeyExtent.FULL)
                .withExactP(exactP).withScale((float) scale);
        return onDevice(in, d -> {
            try (Fa2Bridge bridge = Fa2Bridge.open(d.module(), true)) {
                Fa2Bridge.Outcome outcome = bridge.attend(d.stream(), Fa2Attention.Inputs.varlen(d.q(), d.k(), d.v(),
                        d.o(), d.lse(), d.cuQ(), in.cuQ(), d.cuK(), in.cuK()), spec, flags.fa2Options(),
                        flags.bool(Flag.NSA_FA2_HARD_FAIL));
                return new Fa2Result(d.output(), outcome);
            }
        });
    }

    /** One call's device state: the kernel module and stream on device 0, uploaded inputs, fp32 o and lse. */
    private record Device(KernelModule module, CudaStream stream, DeviceTensor q, DeviceTensor k, DeviceTensor v,
                          DeviceTensor cuQ, DeviceTensor cuK, DeviceTensor o, DeviceTensor lse) {
        AttendOutput output() {
            return new AttendOutput(o.toHost(stream), lse.toHost(stream));
        }
    }

    /** Opens device 0, uploads {@code in}, runs {@code work}, frees everything. */
    private static <R> R onDevice(AttendInputs in, java.util.function.Function<Device, R> work) {
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
            return work.apply(new Device(module, stream, q, k, v, cuQ, cuK, o, lse));
        }
    }

    /** The reference kernels' spec of a mask (walk ALL, default scale). */
    static AttnSpec spec(Mask mask) {
        return AttnSpec.of(mask);
    }
}
