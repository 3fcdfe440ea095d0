package dev.nsa4j.kernels;

/**
 * One CUDA device as discovery saw it.
 *
 * @param ordinal     CUDA ordinal (as {@code NSA_DEVICE} and {@code cuDeviceGet} count)
 * @param name        marketing name, e.g. {@code NVIDIA H100 80GB HBM3}
 * @param ccMajor     compute capability, major
 * @param ccMinor     compute capability, minor
 * @param smCount     streaming multiprocessors
 * @param totalMemory bytes of device memory
 */
public record DeviceInfo(int ordinal, String name, int ccMajor, int ccMinor, int smCount, long totalMemory) {

    /** {@code 90} for compute capability 9.0. */
    public int sm() {
        return ccMajor * 10 + ccMinor;
    }

    @Override
    public String toString() {
        return "cuda:" + ordinal + " " + name + " (sm_" + sm() + ", " + smCount + " SMs, "
                + (totalMemory >> 20) + " MiB)";
    }
}
