package dev.nsa4j.nsa;

import dev.nsa4j.attention.GateOverride;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.fa2.Fa2Module;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.kernels.internal.CompressMlp;
import dev.nsa4j.kernels.internal.KernelModule;
import dev.nsa4j.kernels.internal.TcModule;

/** What a {@link DevicePipeline} is built from: the owner's GPU resources (images, stream, memory) and routing state. */
record PipelineEnv(NsaConfig cfg, GpuImages images, FlagSnapshot flags, String profileLabel, GateOverride override,
                   CompressMlp.Weights phiK, CompressMlp.Weights phiV, CudaStream own, DeviceMemory memory) {
    KernelModule module() {
        return images.module();
    }

    /** FA-2's image, or null ({@link #fa2Unavailable()} says why). */
    Fa2Module fa2() {
        return images.fa2();
    }

    String fa2Unavailable() {
        return images.fa2Unavailable();
    }

    /** The tensor-core image, or null ({@link #tcUnavailable()} says why). */
    TcModule tc() {
        return images.tc();
    }

    String tcUnavailable() {
        return images.tcUnavailable();
    }

    DeviceInfo device() {
        return images.module().context().device();
    }
}
