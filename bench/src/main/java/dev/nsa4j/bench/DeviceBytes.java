package dev.nsa4j.bench;

import dev.nsa4j.kernels.CudaEvent;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceBuffer;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.Shape;

/**
 * Device memory helpers of the decode benches: filling a large tensor with random values fast (one random chunk
 * uploaded, then tiled by device-to-device copies, so gigabytes of dense K/V cost no host generation), and the copy
 * bandwidth a bench divides its bytes by.
 */
final class DeviceBytes {
    /** Elements of the random chunk a fill tiles (a prime count, so rows of the tiled tensor do not repeat evenly). */
    static final int CHUNK = 16_777_213;
    /** L2 flush size: a memset of this many bytes before a timed call (as triton's do_bench; H200 L2 is 60 MB). */
    static final long FLUSH_BYTES = 256L << 20;

    private DeviceBytes() {}

    /** Fills contiguous {@code t} (fp32, fp16 or bf16) with uniform values in [lo, hi), ordered on {@code stream}. */
    static void fillRandom(CudaStream stream, DeviceTensor t, long seed, double lo, double hi) {
        if (!t.shape().isContiguous()) {
            throw new IllegalArgumentException("fillRandom needs a contiguous tensor, got " + t.shape());
        }
        long n = t.shape().numel();
        if (n == 0) {
            return;
        }
        int chunk = (int) Math.min(n, CHUNK);
        DType dt = t.dtype();
        try (DeviceTensor c = DeviceTensor.upload(stream, NsaBenchRun.random(dt, seed, lo, hi, chunk))) {
            for (long off = 0; off < n; off += chunk) {
                int len = (int) Math.min(chunk, n - off);
                DeviceTensor.wrap(t.address() + off * dt.byteSize(), dt, Shape.of(len))
                        .copyFrom(stream, DeviceTensor.wrap(c.address(), dt, Shape.of(len)));
            }
            stream.synchronize();   // the chunk is freed stream-ordered after the copies; the caller sees a filled t
        }
    }

    /**
     * The device-to-device copy bandwidth, GB/s (10^9 bytes), counting read and write: 2 x {@code bytes} over the
     * median of {@code runs} copies timed by CUDA events after two untimed ones.
     */
    static double copyBandwidthGbps(CudaStream stream, long bytes, int runs) {
        long n = bytes / 4;
        try (DeviceTensor src = DeviceTensor.allocate(stream, DType.FP32, Math.toIntExact(n));
             DeviceTensor dst = DeviceTensor.allocate(stream, DType.FP32, Math.toIntExact(n));
             CudaEvent a = CudaEvent.create(stream.context()); CudaEvent z = CudaEvent.create(stream.context())) {
            DeviceBuffer.wrap(src.address(), src.byteSize()).fill(stream, (byte) 0);
            for (int i = 0; i < 2; i++) {
                dst.copyFrom(stream, src);
            }
            double[] ms = new double[runs];
            for (int i = 0; i < runs; i++) {
                a.record(stream);
                dst.copyFrom(stream, src);
                z.record(stream);
                ms[i] = CudaEvent.elapsedMillis(a, z);
            }
            stream.synchronize();
            return 2.0 * src.byteSize() / (NsaBenchRun.median(ms) * 1e6);
        }
    }
}
