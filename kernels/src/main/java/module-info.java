/**
 * The CUDA runtime through JCuda and nsa4j's GPU kernels other than FlashAttention.
 *
 * <p>{@code dev.nsa4j.kernels} is API: the runtime types a caller creates or passes in
 * ({@link dev.nsa4j.kernels.CudaDevices}, {@link dev.nsa4j.kernels.DeviceInfo},
 * {@link dev.nsa4j.kernels.GpuAvailability}, {@link dev.nsa4j.kernels.CudaContext},
 * {@link dev.nsa4j.kernels.CudaStream}, {@link dev.nsa4j.kernels.DeviceTensor},
 * {@link dev.nsa4j.kernels.CudaGraph}, {@link dev.nsa4j.kernels.CudaException}, ...) and the one mask type
 * {@link dev.nsa4j.kernels.Mask}. {@code dev.nsa4j.kernels.internal} (the reference kernels' launch wrappers,
 * the kernel image and its params layouts) and {@code dev.nsa4j.kernels.op} (the ops behind one interface that
 * nsa-core composes and fa2-bridge implements too) are exported only to the sibling modules that need them
 * (docs/decisions.md D20).
 *
 * <p>JCuda is an automatic module ({@code jcuda}, named after its jar). On the module path it cannot find
 * its native libraries in {@code jcuda-natives-*.jar}; see docs/decisions.md D20 for the options.
 */
@SuppressWarnings("module") // qualified exports name modules built after this one
module dev.nsa4j.kernels {
    requires transitive dev.nsa4j.reference;
    requires jcuda;

    exports dev.nsa4j.kernels;
    exports dev.nsa4j.kernels.internal to dev.nsa4j.fa2, dev.nsa4j.nsa, dev.nsa4j.parity, dev.nsa4j.bench;
    exports dev.nsa4j.kernels.op to dev.nsa4j.fa2, dev.nsa4j.nsa, dev.nsa4j.bench;
}
