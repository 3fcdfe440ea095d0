package dev.nsa4j.kernels;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.nsa4j.kernels.internal.KernelModule;
import java.util.Locale;
import java.util.Random;

import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import dev.nsa4j.tensor.Shape;

/**
 * What GPU-tagged tests share: the availability assumption, one context/module/stream, and host-side
 * helpers. Plain JUnit 5; the kernel image comes from the classpath, so the tests run unchanged from a
 * distribution with the JUnit console launcher.
 *
 * <p>Without a usable device the tests skip (JUnit assumption), so CPU-only CI passes. On a GPU host set
 * {@code NSA_REQUIRE_GPU=1} (or {@code -Dnsa.require.gpu=true}) to turn that skip into a failure, so a
 * silently skipped suite cannot pass for a green one.
 */
public final class GpuFixture implements AutoCloseable {
    /**
     * Tag of tests that make a CUDA API call fail on purpose (compute-sanitizer reports such calls as
     * errors); {@code nsa-test --sanitize} excludes it.
     */
    public static final String INJECTS_CUDA_ERRORS = "injects-cuda-errors";

    public final CudaContext context;
    public final KernelModule module;
    public final CudaStream stream;

    private GpuFixture(CudaContext context, KernelModule module, CudaStream stream) {
        this.context = context;
        this.module = module;
        this.stream = stream;
    }

    public static boolean gpuRequired() {
        String v = System.getProperty("nsa.require.gpu", System.getenv("NSA_REQUIRE_GPU"));
        return v != null && switch (v.toLowerCase(Locale.ROOT)) {
            case "1", "true", "yes", "on" -> true;
            default -> false;
        };
    }

    public static void assumeGpu() {
        GpuAvailability a = GpuAvailability.check();
        if (!a.available() && gpuRequired()) {
            fail("NSA_REQUIRE_GPU is set but the GPU path is unavailable: " + a.reason());
        }
        assumeTrue(a.available(), () -> "GPU unavailable: " + a.reason());
    }

    public static GpuFixture open() {
        assumeGpu();
        CudaContext ctx = CudaContext.primary(0);
        KernelModule m = KernelModule.load(ctx);
        return new GpuFixture(ctx, m, CudaStream.create(ctx));
    }

    @Override
    public void close() {
        stream.synchronize();
        stream.close();
        module.close();
        context.close();
    }

    /** Random values in [lo, hi), rounded to {@code dtype}. */
    public static HostTensor random(Random rnd, DType dtype, double lo, double hi, int... dims) {
        HostTensor t = HostTensor.zeros(dtype, dims);
        double[] v = new double[(int) t.numel()];
        for (int i = 0; i < v.length; i++) {
            v[i] = lo + (hi - lo) * rnd.nextDouble();
        }
        t.copyFrom(v);
        return t;
    }

    /**
     * A device copy of {@code host} whose address is {@code offsetBytes} past a 256-byte aligned allocation
     * (offset 8 models a foreign pointer that is only 8-byte aligned).
     */
    public DeviceCopy upload(HostTensor host, int offsetBytes) {
        long bytes = host.numel() * host.dtype().byteSize();
        DeviceBuffer buf = DeviceBuffer.allocate(stream, bytes + 16);
        DeviceTensor view = DeviceTensor.wrap(buf.address() + offsetBytes, host.dtype(), Shape.of(host.shape().dims()));
        view.copyFrom(stream, host);
        return new DeviceCopy(buf, view);
    }

    public DeviceCopy alloc(DType dtype, int offsetBytes, int... dims) {
        Shape s = Shape.of(dims);
        DeviceBuffer buf = DeviceBuffer.allocate(stream, s.numel() * dtype.byteSize() + 16);
        buf.fill(stream, (byte) 0x7f);   // garbage that is not a plausible result
        return new DeviceCopy(buf, DeviceTensor.wrap(buf.address() + offsetBytes, dtype, s));
    }

    public record DeviceCopy(DeviceBuffer buffer, DeviceTensor tensor) implements AutoCloseable {
        @Override
        public void close() {
            buffer.close();
        }
    }

    /** Unit roundoff of a dtype (half an ulp at 1). */
    public static double unitRoundoff(DType d) {
        return switch (d) {
            case FP32 -> 0x1p-24;
            case FP16 -> 0x1p-11;
            case BF16 -> 0x1p-8;
            case INT32 -> 0;
        };
    }

    /** Smallest positive subnormal, the absolute floor of rounding error. */
    public static double tiny(DType d) {
        return switch (d) {
            case FP32 -> 0x1p-149;
            case FP16 -> 0x1p-24;
            case BF16 -> 0x1p-133;
            case INT32 -> 0;
        };
    }

    /**
     * The pass rule of docs/architecture.md "Testing": per element, the GPU's error against the fp64 reference
     * is at most twice that of the same-precision CPU computation, plus one rounding of the output dtype.
     */
    public static void assertWithinRule(String what, double[] gpu, double[] ref, double[] samePrecision, DType out) {
        int bad = 0;
        StringBuilder sb = new StringBuilder();
        double maxErr = 0;
        for (int i = 0; i < gpu.length; i++) {
            double err = Math.abs(gpu[i] - ref[i]);
            double allowed = 2 * Math.abs(samePrecision[i] - ref[i]) + unitRoundoff(out) * Math.abs(ref[i]) + tiny(out);
            maxErr = Math.max(maxErr, Double.isNaN(err) ? Double.POSITIVE_INFINITY : err);
            if (!(err <= allowed)) {
                if (bad++ < 5) {
                    sb.append(String.format(Locale.ROOT, "%n  [%d] gpu %.9g ref %.9g cpu-%s %.9g (allowed error %.3g)",
                            i, gpu[i], ref[i], out, samePrecision[i], allowed));
                }
            }
        }
        if (bad > 0) {
            fail(what + ": " + bad + " of " + gpu.length + " elements outside the rule (max error " + maxErr + ")" + sb);
        }
    }

    /** Whether the build had nvcc (so the kernel images must exist); mirrors scripts/build-cuda.sh: $NVCC when set, else PATH, $CUDA_HOME/bin, /usr/local/cuda/bin. */
    public static boolean nvccPresent() {
        String explicit = System.getenv("NVCC");
        if (explicit != null) {
            return !explicit.isEmpty() && java.nio.file.Files.isExecutable(java.nio.file.Path.of(explicit));
        }
        String cudaHome = System.getenv("CUDA_HOME");
        if (cudaHome != null && java.nio.file.Files.isExecutable(java.nio.file.Path.of(cudaHome, "bin", "nvcc"))) {
            return true;
        }
        for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            if (!dir.isEmpty() && java.nio.file.Files.isExecutable(java.nio.file.Path.of(dir, "nvcc"))) {
                return true;
            }
        }
        return java.nio.file.Files.isExecutable(java.nio.file.Path.of("/usr/local/cuda/bin/nvcc"));
    }
}
