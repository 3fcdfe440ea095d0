package dev.nsa4j.kernels;

import dev.nsa4j.kernels.internal.Jcu;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import dev.nsa4j.tensor.Shape;
import jcuda.Pointer;
import jcuda.driver.JCudaDriver;

/**
 * A tensor in device memory: a device pointer plus {@link Shape} (element strides), {@link DType} and
 * whether it owns its memory. Wrapping a caller's pointer ({@link #wrap}) touches no CUDA state, so
 * shapes can be validated before anything runs.
 *
 * <p>Copies take a stream. {@link #upload} returns once the host memory may be reused (pageable host
 * memory is staged by the driver); {@link #toHost} and {@link #copyTo} wait for that stream only.
 */
public final class DeviceTensor implements AutoCloseable {
    private static final long COPY_CHUNK = 1L << 30;

    private final long address;
    private final Shape shape;
    private final DType dtype;
    private final DeviceBuffer buffer;

    private DeviceTensor(long address, Shape shape, DType dtype, DeviceBuffer buffer) {
        this.address = address;
        this.shape = shape;
        this.dtype = dtype;
        this.buffer = buffer;
    }

    /** A view of a caller's device memory (not owned; never freed by nsa4j). */
    public static DeviceTensor wrap(long address, DType dtype, Shape shape) {
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(shape, "shape");
        return new DeviceTensor(address, shape, dtype, null);
    }

    /** A new contiguous tensor, allocated stream-ordered on {@code stream} (contents undefined). */
    public static DeviceTensor allocate(CudaStream stream, DType dtype, int... dims) {
        Shape shape = Shape.of(dims);
        DeviceBuffer b = DeviceBuffer.allocate(stream, shape.numel() * dtype.byteSize());
        return new DeviceTensor(b.address(), shape, dtype, b);
    }

    /** A new contiguous tensor from {@code pool} (given back on {@link #close()}). */
    public static DeviceTensor allocate(DevicePool pool, DType dtype, int... dims) {
        Shape shape = Shape.of(dims);
        DeviceBuffer b = pool.acquire(shape.numel() * dtype.byteSize());
        return new DeviceTensor(b.address(), shape, dtype, b);
    }

    /** A contiguous device copy of {@code host} (strided host tensors are made contiguous first). */
    public static DeviceTensor upload(CudaStream stream, HostTensor host) {
        DeviceTensor t = allocate(stream, host.dtype(), host.shape().dims());
        try {
            t.copyFrom(stream, host);
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
        return t;
    }

    /** Copies {@code host} into this contiguous tensor of the same dims and dtype, ordered on {@code stream}. */
    public void copyFrom(CudaStream stream, HostTensor host) {
        checkSameLayout(host, "copyFrom");
        long n = byteSize();
        if (n == 0) {
            return;
        }
        MemorySegment src = nativeContiguous(host);
        stream.context().bind();
        for (long off = 0; off < n; off += COPY_CHUNK) {
            long len = Math.min(COPY_CHUNK, n - off);
            Pointer p = Pointer.to(src.asSlice(off, len).asByteBuffer());
            Jcu.check(JCudaDriver.cuMemcpyHtoDAsync(Jcu.devicePtr(address + off), p, len, stream.jcuda()),
                    "cuMemcpyHtoDAsync(" + len + " bytes)");
        }
    }

    /** Copies {@code src} (contiguous, same dims and dtype) into this contiguous tensor, ordered on {@code stream}. */
    public void copyFrom(CudaStream stream, DeviceTensor src) {
        if (!shape.isContiguous() || !src.shape.isContiguous() || src.dtype != dtype || !src.shape.sameDims(shape)) {
            throw new IllegalArgumentException("copyFrom: device " + src + " does not match device " + this);
        }
        long n = byteSize();
        if (n == 0) {
            return;
        }
        stream.context().bind();
        Jcu.check(JCudaDriver.cuMemcpyDtoDAsync(Jcu.devicePtr(address), Jcu.devicePtr(src.address), n, stream.jcuda()),
                "cuMemcpyDtoDAsync(" + n + " bytes)");
    }

    /** Copies this tensor into {@code host} (contiguous, same dims and dtype) and waits for {@code stream}. */
    public void copyTo(CudaStream stream, HostTensor host) {
        checkSameLayout(host, "copyTo");
        if (!host.isContiguous()) {
            throw new IllegalArgumentException("copyTo needs a contiguous host tensor, got " + host.shape());
        }
        long n = byteSize();
        if (n == 0) {
            return;
        }
        MemorySegment dst = host.segment();
        boolean direct = dst.isNative();
        MemorySegment staging = direct ? dst : Arena.ofAuto().allocate(n, 16);
        stream.context().bind();
        for (long off = 0; off < n; off += COPY_CHUNK) {
            long len = Math.min(COPY_CHUNK, n - off);
            Pointer p = Pointer.to(staging.asSlice(off, len).asByteBuffer());
            Jcu.check(JCudaDriver.cuMemcpyDtoHAsync(p, Jcu.devicePtr(address + off), len, stream.jcuda()),
                    "cuMemcpyDtoHAsync(" + len + " bytes)");
        }
        stream.synchronize();
        if (!direct) {
            MemorySegment.copy(staging, 0, dst, 0, n);
        }
    }

    /** A new contiguous host copy (waits for {@code stream}). */
    public HostTensor toHost(CudaStream stream) {
        HostTensor h = HostTensor.zeros(dtype, shape.dims());
        copyTo(stream, h);
        return h;
    }

    private void checkSameLayout(HostTensor host, String op) {
        if (!shape.isContiguous()) {
            throw new IllegalArgumentException(op + " needs a contiguous device tensor, got " + shape);
        }
        if (host.dtype() != dtype || !host.shape().sameDims(shape)) {
            throw new IllegalArgumentException(op + ": host " + host + " does not match device " + this);
        }
    }

    /** The host bytes in row-major order in native memory (a copy when strided or on the heap). */
    private static MemorySegment nativeContiguous(HostTensor host) {
        HostTensor c = host.isContiguous() ? host : host.to(host.dtype());
        long n = c.numel() * c.dtype().byteSize();
        MemorySegment seg = c.segment();
        if (seg.isNative()) {
            return seg.asSlice(0, n);
        }
        MemorySegment copy = Arena.ofAuto().allocate(n, 16);
        MemorySegment.copy(seg, 0, copy, 0, n);
        return copy;
    }

    public long address() {
        return address;
    }

    public Shape shape() {
        return shape;
    }

    public DType dtype() {
        return dtype;
    }

    public int rank() {
        return shape.rank();
    }

    public int dim(int axis) {
        return shape.dim(axis);
    }

    public long stride(int axis) {
        return shape.stride(axis);
    }

    /** Bytes spanned by the addressed elements. */
    public long byteSize() {
        return shape.span() * dtype.byteSize();
    }

    /** True when nsa4j allocated this memory (and frees or pools it on close). */
    public boolean owns() {
        return buffer != null && buffer.owns();
    }

    /** A view with other dims/strides over the same memory (not owning). */
    public DeviceTensor view(Shape newShape) {
        return new DeviceTensor(address, newShape, dtype, null);
    }

    /** Frees owned memory (stream-ordered); a wrapped view does nothing. */
    @Override
    public void close() {
        if (buffer != null) {
            buffer.close();
        }
    }

    @Override
    public String toString() {
        return "DeviceTensor[" + dtype + " " + shape + " @0x" + Long.toHexString(address) + (owns() ? ", owned" : "") + "]";
    }
}
