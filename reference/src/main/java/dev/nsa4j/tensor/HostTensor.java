package dev.nsa4j.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * A tensor in host memory: a {@link MemorySegment} plus a {@link Shape} (with element strides) and a
 * {@link DType}. fp16/bf16 elements are raw 16-bit patterns in native byte order, so a TornadoVM
 * {@code HalfFloatArray.getSegment()} (after its header) wraps with no copy.
 *
 * <p>Reads convert to double exactly (every fp32/fp16/bf16 value is a double); writes round to nearest
 * even. The tensor does not own its segment's lifetime: segments made by the factory methods here live
 * as long as the tensor is reachable ({@link Arena#ofAuto()}).
 */
public final class HostTensor {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED;

    private final MemorySegment segment;
    private final DType dtype;
    private final Shape shape;

    private HostTensor(MemorySegment segment, DType dtype, Shape shape) {
        this.segment = segment;
        this.dtype = dtype;
        this.shape = shape;
    }

    /**
     * Wraps caller memory. The segment must hold {@code shape.span()} elements of {@code dtype}.
     *
     * @throws IllegalArgumentException if the segment is too small
     */
    public static HostTensor wrap(MemorySegment segment, DType dtype, Shape shape) {
        Objects.requireNonNull(segment, "segment");
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(shape, "shape");
        long need = shape.span() * dtype.byteSize();
        if (segment.byteSize() < need) {
            throw new IllegalArgumentException("segment of " + segment.byteSize() + " bytes is too small for "
                    + dtype + " " + shape + " (" + need + " bytes)");
        }
        return new HostTensor(segment, dtype, shape);
    }

    /** A zero-filled contiguous tensor. */
    public static HostTensor zeros(DType dtype, int... dims) {
        Shape shape = Shape.of(dims);
        MemorySegment seg = Arena.ofAuto().allocate(Math.max(1, shape.numel()) * dtype.byteSize(), 16);
        return new HostTensor(seg, dtype, shape);
    }

    /** A contiguous tensor holding {@code values} rounded to {@code dtype}. */
    public static HostTensor of(DType dtype, double[] values, int... dims) {
        HostTensor t = zeros(dtype, dims);
        if (values.length != t.numel()) {
            throw new IllegalArgumentException(values.length + " values for shape " + t.shape);
        }
        t.copyFrom(values);
        return t;
    }

    /** A contiguous fp32 tensor. */
    public static HostTensor ofFloats(float[] values, int... dims) {
        HostTensor t = zeros(DType.FP32, dims);
        if (values.length != t.numel()) {
            throw new IllegalArgumentException(values.length + " values for shape " + t.shape);
        }
        MemorySegment.copy(values, 0, t.segment, F32, 0, values.length);
        return t;
    }

    /** A contiguous int32 tensor. */
    public static HostTensor ofInts(int[] values, int... dims) {
        HostTensor t = zeros(DType.INT32, dims);
        if (values.length != t.numel()) {
            throw new IllegalArgumentException(values.length + " values for shape " + t.shape);
        }
        MemorySegment.copy(values, 0, t.segment, I32, 0, values.length);
        return t;
    }

    public MemorySegment segment() {
        return segment;
    }

    public DType dtype() {
        return dtype;
    }

    public Shape shape() {
        return shape;
    }

    public int rank() {
        return shape.rank();
    }

    public int dim(int axis) {
        return shape.dim(axis);
    }

    public long numel() {
        return shape.numel();
    }

    public boolean isContiguous() {
        return shape.isContiguous();
    }

    /** A view with other dims and strides over the same memory. */
    public HostTensor view(Shape newShape) {
        return wrap(segment, dtype, newShape);
    }

    /** Element at an element offset (as from {@link Shape#offset}), converted to double. */
    public double getAt(long elementOffset) {
        long b = elementOffset * dtype.byteSize();
        return switch (dtype) {
            case FP32 -> segment.get(F32, b);
            case FP16 -> Float.float16ToFloat(segment.get(I16, b));
            case BF16 -> DType.bf16ToFloat(segment.get(I16, b));
            case INT32 -> segment.get(I32, b);
        };
    }

    /** Stores a value at an element offset, rounded to nearest even in this dtype. */
    public void setAt(long elementOffset, double value) {
        long b = elementOffset * dtype.byteSize();
        switch (dtype) {
            case FP32 -> segment.set(F32, b, (float) value);
            case FP16 -> segment.set(I16, b, Float.floatToFloat16((float) value));
            case BF16 -> segment.set(I16, b, DType.floatToBf16((float) value));
            case INT32 -> segment.set(I32, b, (int) value);
        }
    }

    public double get(int... index) {
        return getAt(shape.offset(index));
    }

    public void set(double value, int... index) {
        setAt(shape.offset(index), value);
    }

    public int getInt(int... index) {
        requireInt();
        return segment.get(I32, shape.offset(index) * 4);
    }

    /** All elements in row-major logical order, converted exactly to double. */
    public double[] toDoubleArray() {
        long n = numel();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("tensor of " + n + " elements is too large for a Java array");
        }
        double[] out = new double[(int) n];
        if (shape.isContiguous() && dtype == DType.FP32) {
            for (int i = 0; i < out.length; i++) {
                out[i] = segment.getAtIndex(F32, i);
            }
            return out;
        }
        forEachOffset((i, off) -> out[i] = getAt(off));
        return out;
    }

    /** All elements in row-major logical order as float (exact for fp32/fp16/bf16). */
    public float[] toFloatArray() {
        double[] d = toDoubleArray();
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        return f;
    }

    /** All elements of an int32 tensor in row-major logical order. */
    public int[] toIntArray() {
        requireInt();
        int[] out = new int[Math.toIntExact(numel())];
        forEachOffset((i, off) -> out[i] = segment.get(I32, off * 4));
        return out;
    }

    /** Overwrites every element, in row-major logical order, with {@code values} rounded to this dtype. */
    public void copyFrom(double[] values) {
        if (values.length != numel()) {
            throw new IllegalArgumentException(values.length + " values for shape " + shape);
        }
        forEachOffset((i, off) -> setAt(off, values[i]));
    }

    /** A contiguous copy in another dtype (rounded to nearest even). */
    public HostTensor to(DType target) {
        HostTensor out = zeros(target, shape.dims());
        if (dtype == DType.INT32 && target == DType.INT32) {
            int[] v = toIntArray();
            MemorySegment.copy(v, 0, out.segment, I32, 0, v.length);
        } else {
            out.copyFrom(toDoubleArray());
        }
        return out;
    }

    private void requireInt() {
        if (dtype != DType.INT32) {
            throw new IllegalStateException("tensor is " + dtype + ", not INT32");
        }
    }

    @FunctionalInterface
    private interface OffsetConsumer {
        void accept(int logicalIndex, long elementOffset);
    }

    /** Visits every element in row-major logical order with its element offset. */
    private void forEachOffset(OffsetConsumer c) {
        int rank = shape.rank();
        long n = numel();
        if (n == 0) {
            return;
        }
        if (shape.isContiguous()) {
            for (int i = 0; i < n; i++) {
                c.accept(i, i);
            }
            return;
        }
        int[] idx = new int[rank];
        long off = 0;
        for (int i = 0; i < n; i++) {
            c.accept(i, off);
            for (int a = rank - 1; a >= 0; a--) {
                idx[a]++;
                off += shape.stride(a);
                if (idx[a] < shape.dim(a)) {
                    break;
                }
                off -= (long) idx[a] * shape.stride(a);
                idx[a] = 0;
            }
        }
    }

    @Override
    public String toString() {
        return "HostTensor[" + dtype + " " + shape + "]";
    }
}
