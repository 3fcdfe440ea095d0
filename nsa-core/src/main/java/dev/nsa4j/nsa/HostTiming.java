package dev.nsa4j.nsa;

/**
 * Where a host-API forward on the GPU spent its time: copying the inputs to the device, the device forward
 * (CUDA events around its launches), and copying the outputs back (with their conversion to the host's fp64
 * result arrays).
 *
 * @param uploadMs   host to device copies, wall clock
 * @param deviceMs   the device forward, CUDA events
 * @param downloadMs device to host copies and conversion, wall clock
 */
public record HostTiming(double uploadMs, double deviceMs, double downloadMs) {
    /** Uploads plus downloads. */
    public double transfersMs() {
        return uploadMs + downloadMs;
    }
}
