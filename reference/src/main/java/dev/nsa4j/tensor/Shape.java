package dev.nsa4j.tensor;

import java.util.Arrays;

/**
 * Dimensions and element strides of a tensor. Strides are in elements, not bytes; a freshly made shape is
 * contiguous in C (row-major) order. Immutable.
 */
public final class Shape {
    private final int[] dims;
    private final long[] strides;

    private Shape(int[] dims, long[] strides) {
        this.dims = dims;
        this.strides = strides;
    }

    /** A contiguous row-major shape. */
    public static Shape of(int... dims) {
        return new Shape(checkDims(dims.clone()), contiguousStrides(dims));
    }

    /** A shape with explicit element strides (views, slices, transposes). */
    public static Shape strided(int[] dims, long[] strides) {
        if (dims.length != strides.length) {
            throw new IllegalArgumentException("dims " + Arrays.toString(dims) + " and strides "
                    + Arrays.toString(strides) + " differ in rank");
        }
        for (long s : strides) {
            if (s < 0) {
                throw new IllegalArgumentException("negative stride in " + Arrays.toString(strides));
            }
        }
        return new Shape(checkDims(dims.clone()), strides.clone());
    }

    private static int[] checkDims(int[] dims) {
        for (int d : dims) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in " + Arrays.toString(dims));
            }
        }
        return dims;
    }

    private static long[] contiguousStrides(int[] dims) {
        long[] s = new long[dims.length];
        long acc = 1;
        for (int i = dims.length - 1; i >= 0; i--) {
            s[i] = acc;
            acc *= Math.max(dims[i], 1);
        }
        return s;
    }

    public int rank() {
        return dims.length;
    }

    public int dim(int axis) {
        return dims[axis];
    }

    public long stride(int axis) {
        return strides[axis];
    }

    public int[] dims() {
        return dims.clone();
    }

    public long[] strides() {
        return strides.clone();
    }

    /** Number of elements. */
    public long numel() {
        long n = 1;
        for (int d : dims) {
            n *= d;
        }
        return n;
    }

    /** Elements a backing buffer needs to hold every addressed element (0 for an empty tensor). */
    public long span() {
        if (numel() == 0) {
            return 0;
        }
        long last = 0;
        for (int i = 0; i < dims.length; i++) {
            last += (long) (dims[i] - 1) * strides[i];
        }
        return last + 1;
    }

    /** True when the strides are exactly row-major for these dims (size-1 axes may have any stride). */
    public boolean isContiguous() {
        return isContiguousFrom(0);
    }

    /** True when the axes {@code firstAxis..rank-1} are row-major contiguous among themselves. */
    public boolean isContiguousFrom(int firstAxis) {
        long expected = 1;
        for (int i = dims.length - 1; i >= firstAxis; i--) {
            if (dims[i] != 1 && strides[i] != expected) {
                return false;
            }
            expected *= Math.max(dims[i], 1);
        }
        return true;
    }

    /** Element offset of a multi-index. */
    public long offset(int... index) {
        if (index.length != dims.length) {
            throw new IllegalArgumentException("index rank " + index.length + " != shape rank " + dims.length);
        }
        long off = 0;
        for (int i = 0; i < index.length; i++) {
            if (index[i] < 0 || index[i] >= dims[i]) {
                throw new IndexOutOfBoundsException("index " + Arrays.toString(index) + " outside " + this);
            }
            off += index[i] * strides[i];
        }
        return off;
    }

    /** True when both have the same dims (strides ignored). */
    public boolean sameDims(Shape other) {
        return Arrays.equals(dims, other.dims);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Shape s && Arrays.equals(dims, s.dims) && Arrays.equals(strides, s.strides);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(dims) + Arrays.hashCode(strides);
    }

    /** {@code [2, 3, 4]}, with strides appended only when not contiguous. */
    @Override
    public String toString() {
        String d = Arrays.toString(dims);
        return isContiguous() ? d : d + " strides " + Arrays.toString(strides);
    }
}
