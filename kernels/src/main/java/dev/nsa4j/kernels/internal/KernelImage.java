package dev.nsa4j.kernels.internal;

import dev.nsa4j.kernels.DeviceInfo;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Optional;

/**
 * The kernel image: one fatbin (SASS sm_80/86/89/90a, PTX compute_80) built by nvcc in the Maven build
 * ({@code scripts/build-cuda.sh}) and shipped as the classpath resource {@link #RESOURCE}. Built with
 * CUDA 13, it needs an R580+ driver. Without nvcc at build time the resource is absent and every GPU
 * path reports {@link #NOT_BUILT}.
 */
public final class KernelImage {
    public static final String RESOURCE = "/dev/nsa4j/kernels/nsa4j-kernels.fatbin";
    /** Availability reason when the jar carries no kernel image. */
    public static final String NOT_BUILT = "kernels not built";
    /** Lowest compute capability the image serves (SASS 8.0 and PTX compute_80). */
    public static final int MIN_SM = 80;

    private static volatile Optional<byte[]> cached;

    private KernelImage() {
    }

    /** True when the resource is on the classpath. */
    public static boolean isBuilt() {
        return bytes().isPresent();
    }

    /** The fatbin's bytes (shared; do not modify), or empty when kernels were not built. */
    public static Optional<byte[]> bytes() {
        Optional<byte[]> c = cached;
        if (c == null) {
            c = resource(KernelImage.class, RESOURCE);
            cached = c;
        }
        return c;
    }

    /**
     * A classpath resource's bytes (a kernel image of this or another module), or empty when it is absent.
     *
     * @throws UncheckedIOException when it exists but cannot be read
     */
    public static Optional<byte[]> resource(Class<?> owner, String name) {
        try (InputStream in = owner.getResourceAsStream(name)) {
            return in == null ? Optional.empty() : Optional.of(in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + name, e);
        }
    }

    /** Why the image cannot run on {@code device}, or {@code null} when it can. */
    public static String unsupportedReason(DeviceInfo device) {
        if (device.sm() < MIN_SM) {
            return "compute capability " + device.ccMajor() + "." + device.ccMinor() + " of " + device.name()
                    + " is below 8.0, the kernel image's minimum";
        }
        return null;
    }
}
