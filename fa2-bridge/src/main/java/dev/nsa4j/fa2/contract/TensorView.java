package dev.nsa4j.fa2.contract;

import java.util.Arrays;
import java.util.Objects;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.tensor.DType;

/**
 * What the contract needs to know of one device tensor: its name (used in every violation), dtype, dims,
 * element strides and device address. A per-call description: the arrays are read, never copied or
 * modified, so the caller must not change them while the request is checked.
 *
 * @param name    the tensor's name in messages ({@code q}, {@code k}, {@code v}, {@code kv}, {@code out}, {@code lse})
 * @param dtype   element type
 * @param shape   dims, each {@code >= 0}
 * @param strides element (not byte) strides, one per dim
 * @param address device address of element 0 ({@code 0} only for an empty tensor)
 */
public record TensorView(String name, DType dtype, int[] shape, long[] strides, long address) {
    /** @throws NsaArgumentException naming the tensor when shape and strides differ in rank or a dim is negative */
    public TensorView {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(shape, "shape");
        Objects.requireNonNull(strides, "strides");
        if (shape.length != strides.length) {
            throw new NsaArgumentException(name, "shape", "dims " + Arrays.toString(shape) + " and strides "
                    + Arrays.toString(strides) + " differ in rank");
        }
        for (int d : shape) {
            if (d < 0) {
                throw new NsaArgumentException(name, "shape", "negative dim in " + Arrays.toString(shape));
            }
        }
    }

    /** A row-major contiguous view. */
    public static TensorView contiguous(String name, DType dtype, long address, int... shape) {
        long[] strides = new long[shape.length];
        long acc = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            strides[i] = acc;
            acc *= Math.max(shape[i], 1);
        }
        return new TensorView(name, dtype, shape, strides, address);
    }

    public int rank() {
        return shape.length;
    }

    public int dim(int axis) {
        return shape[axis];
    }

    public long stride(int axis) {
        return strides[axis];
    }

    /** The last dim (head dim for q, k, v, out). */
    public int lastDim() {
        return shape[shape.length - 1];
    }

    public long numel() {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorView t && name.equals(t.name) && dtype == t.dtype && address == t.address
                && Arrays.equals(shape, t.shape) && Arrays.equals(strides, t.strides);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, address, Arrays.hashCode(shape), Arrays.hashCode(strides));
    }

    /** {@code q BF16 [2, 64, 8, 128] strides [65536, 1024, 128, 1] @0x7f0000}. */
    @Override
    public String toString() {
        return name + " " + dtype + " " + Arrays.toString(shape) + " strides " + Arrays.toString(strides) + " @0x"
                + Long.toHexString(address);
    }
}
