package dev.nsa4j.kernels.op;

import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.Shape;

/**
 * A range of device memory planned for scratch: {@code bytes} at {@code address}, carved into slices by
 * offset. Not owning: whoever allocated the range frees it.
 *
 * @param address device address (256-byte aligned when it comes from a planned allocation)
 * @param bytes   usable bytes
 */
public record Workspace(long address, long bytes) {
    /** Alignment of every planned slice: 256 bytes, what cudaMalloc gives. */
    public static final long ALIGN = 256;
    /** No scratch. */
    public static final Workspace NONE = new Workspace(0, 0);

    public Workspace {
        if (bytes < 0) {
            throw new IllegalArgumentException("negative workspace size " + bytes);
        }
    }

    /** {@code n} rounded up to {@link #ALIGN}. */
    public static long aligned(long n) {
        return (n + ALIGN - 1) / ALIGN * ALIGN;
    }

    /** The sub-range {@code [offset, offset + len)}. */
    public Workspace slice(long offset, long len) {
        if (offset < 0 || len < 0 || offset + len > bytes) {
            throw new IllegalArgumentException("slice [" + offset + ", " + (offset + len) + ") outside a workspace of "
                    + bytes + " bytes");
        }
        return new Workspace(len == 0 ? 0 : address + offset, len);
    }

    /** A contiguous tensor of {@code dims} at the start of this range (which must hold it). */
    public DeviceTensor tensor(DType dtype, int... dims) {
        Shape s = Shape.of(dims);
        long need = s.numel() * dtype.byteSize();
        if (need > bytes) {
            throw new IllegalArgumentException(s + " " + dtype + " needs " + need + " bytes, the slice has " + bytes);
        }
        return DeviceTensor.wrap(need == 0 ? 0 : address, dtype, s);
    }
}
