package dev.nsa4j.fa2;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import dev.nsa4j.kernels.DeviceBuffer;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.GpuFixture;
import dev.nsa4j.kernels.GpuSuite;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;

/**
 * The NaN/Inf guard's count (D17), {@link Fa2Module#countNonFinite}: the 16-byte-word kernel where the tensor is
 * 16-byte aligned and its length a multiple of a word, the per-element kernel elsewhere, the same count either way:
 * fp32, fp16 and bf16; NaN, +Inf and -Inf at the first and last element, inside one word, across the unrolled loop's
 * tail; finite extremes (the largest finite value, subnormals, -0) never counted.
 */
@Tag("gpu")
class Fa2NonFiniteGpuTest extends GpuSuite {
    @Test
    void bothKernelsCountEveryNonFiniteElementAndNothingElse() {
        Fa2AuditGpuTest.gpuWithFa2Image();
        try (Fa2Module fa2 = Fa2Module.load(gpu.context);
             GpuFixture.DeviceCopy counter = gpu.alloc(DType.INT32, 0, 1)) {
            Random rnd = new Random(5);
            for (DType dt : new DType[] {DType.FP32, DType.FP16, DType.BF16}) {
                double max = dt == DType.FP32 ? Float.MAX_VALUE : dt == DType.FP16 ? 65504 : 3.3895313892515355e38;
                double tiny = dt == DType.FP32 ? Float.MIN_VALUE : dt == DType.FP16 ? 5.960464477539063e-8 : 9.2e-41;
                for (int n : new int[] {1, 7, 8, 9, 1000, 4096, 1 << 20, (1 << 20) + 24}) {
                    double[] v = new double[n];
                    for (int i = 0; i < n; i++) {
                        v[i] = rnd.nextDouble() * 2 - 1;
                    }
                    int[] at = {0, n - 1, n / 2, Math.min(n - 1, n / 2 + 1), n / 3, Math.max(0, n - 9)};
                    double[] bad = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY};
                    java.util.Set<Integer> hit = new java.util.HashSet<>();
                    for (int j = 0; j < at.length; j++) {
                        v[at[j]] = bad[j % 3];
                        hit.add(at[j]);
                    }
                    int fin = (n / 4) % n;
                    if (!hit.contains(fin) && n > 8) {
                        v[fin] = max;
                        v[(fin + 1) % n] = hit.contains((fin + 1) % n) ? v[(fin + 1) % n] : -tiny;
                        v[(fin + 2) % n] = hit.contains((fin + 2) % n) ? v[(fin + 2) % n] : -0.0;
                    }
                    HostTensor h = HostTensor.of(dt, v, n);
                    assertEquals(hit.size(), java.util.Arrays.stream(h.toDoubleArray()).filter(x -> !Double.isFinite(x))
                            .count(), "the test's own input: " + dt + " n=" + n);
                    for (int offset : new int[] {0, dt.byteSize()}) {   // 16-byte aligned, then element-aligned only
                        try (GpuFixture.DeviceCopy x = gpu.upload(h, offset)) {
                            DeviceBuffer.wrap(counter.tensor().address(), 4).fill(gpu.stream, (byte) 0);
                            fa2.countNonFinite(gpu.stream.handle(), x.tensor(), counter.tensor().address(),
                                    gpu.context.device().smCount());
                            DeviceTensor c = counter.tensor();
                            assertEquals(hit.size(), c.toHost(gpu.stream).toIntArray()[0],
                                    dt + " n=" + n + " offset " + offset);
                        }
                    }
                }
            }
        }
    }
}
