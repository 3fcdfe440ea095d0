package dev.nsa4j.kernels;

import dev.nsa4j.kernels.internal.KernelImage;

/**
 * Whether nsa4j's GPU kernels can run here, and if not, why: {@link KernelImage#NOT_BUILT},
 * {@link CudaDevices#DRIVER_MISSING}, {@link CudaDevices#NO_DEVICE}, or an unsupported compute capability.
 * Never throws; routing reports {@link #reason()} as the reason a GPU path is unavailable.
 *
 * @param available true when kernels are built and device {@code ordinal} can run them
 * @param reason    why not, or {@code null}
 * @param discovery what device discovery found
 */
public record GpuAvailability(boolean available, String reason, CudaDevices.Discovery discovery) {

    /** Availability for the first device. */
    public static GpuAvailability check() {
        return check(0);
    }

    public static GpuAvailability check(int ordinal) {
        return decide(KernelImage.isBuilt(), CudaDevices.discover(), ordinal);
    }

    /** The decision, separated from the environment for tests. */
    static GpuAvailability decide(boolean imageBuilt, CudaDevices.Discovery d, int ordinal) {
        if (!imageBuilt) {
            return new GpuAvailability(false, KernelImage.NOT_BUILT
                    + " (the jar has no " + KernelImage.RESOURCE + "; build with nvcc on PATH)", d);
        }
        if (!d.available()) {
            return new GpuAvailability(false, d.reason(), d);
        }
        if (ordinal < 0 || ordinal >= d.devices().size()) {
            return new GpuAvailability(false, "CUDA ordinal " + ordinal + " does not exist (" + d.devices().size()
                    + " devices)", d);
        }
        String why = KernelImage.unsupportedReason(d.devices().get(ordinal));
        return new GpuAvailability(why == null, why, d);
    }
}
