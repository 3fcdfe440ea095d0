package dev.nsa4j.kernels;

/**
 * One CUDA device as discovery saw it.
 *
 * @param ordinal                   CUDA ordinal (as {@code NSA_DEVICE} and {@code cuDeviceGet} count)
 * @param name                      marketing name, e.g. {@code NVIDIA H100 80GB HBM3}
 * @param ccMajor                   compute capability, major
 * @param ccMinor                   compute capability, minor
 * @param smCount                   streaming multiprocessors
 * @param totalMemory               bytes of device memory
 * @param sharedMemoryPerBlockOptin the most shared memory (static plus dynamic) one block may opt into
 *                                  ({@code CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN}), in bytes; 0 when
 *                                  unknown (then no launch that needs more than the 48 KiB default is planned)
 */
public record DeviceInfo(int ordinal, String name, int ccMajor, int ccMinor, int smCount, long totalMemory,
                         int sharedMemoryPerBlockOptin) {

    /** A device whose opt-in shared memory per block is unknown (0). */
    public DeviceInfo(int ordinal, String name, int ccMajor, int ccMinor, int smCount, long totalMemory) {
        this(ordinal, name, ccMajor, ccMinor, smCount, totalMemory, 0);
    }

    /** {@code 90} for compute capability 9.0. */
    public int sm() {
        return ccMajor * 10 + ccMinor;
    }

    /**
     * The dynamic shared memory a block with {@code staticBytes} of static shared memory may use: the opt-in limit
     * less the static part, or the 48 KiB default when the opt-in limit is unknown.
     */
    public long maxDynamicSharedMemory(int staticBytes) {
        long limit = sharedMemoryPerBlockOptin > 0 ? sharedMemoryPerBlockOptin : 48 * 1024;
        return Math.max(0, limit - staticBytes);
    }

    @Override
    public String toString() {
        return "cuda:" + ordinal + " " + name + " (sm_" + sm() + ", " + smCount + " SMs, "
                + (totalMemory >> 20) + " MiB)";
    }
}
