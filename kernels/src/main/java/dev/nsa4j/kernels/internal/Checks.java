package dev.nsa4j.kernels.internal;

import dev.nsa4j.kernels.DeviceTensor;
import java.util.Arrays;
import java.util.List;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.Shape;

/** Input checks shared by the kernel entry points; every failure names the tensor and the rule. */
final class Checks {
    private Checks() {
    }

    static void rank(String name, DeviceTensor t, int rank, String dims) {
        if (t == null) {
            throw new NsaArgumentException(name, "tensor present", name + " is null");
        }
        if (t.rank() != rank) {
            throw new NsaArgumentException(name, "shape " + dims, "rank " + t.rank() + " " + t.shape()
                    + ", expected rank " + rank + " " + dims);
        }
    }

    static void sameDims(String name, DeviceTensor t, String refName, DeviceTensor ref) {
        if (!t.shape().sameDims(ref.shape())) {
            throw new NsaArgumentException(name, "same shape as " + refName, name + " is " + t.shape() + ", "
                    + refName + " is " + ref.shape());
        }
    }

    static void dim(String name, DeviceTensor t, int axis, int expected, String rule) {
        if (t.dim(axis) != expected) {
            throw new NsaArgumentException(name, rule, "dimension " + axis + " of " + t.shape() + " is "
                    + t.dim(axis) + ", expected " + expected);
        }
    }

    static void dtype(String name, DType actual, List<DType> allowed, String rule) {
        if (!allowed.contains(actual)) {
            throw new NsaArgumentException(name, rule, "dtype " + actual + ", allowed " + allowed);
        }
    }

    static void lastAxisContiguous(String name, Shape s) {
        int last = s.rank() - 1;
        if (s.dim(last) > 1 && s.stride(last) != 1) {
            throw new NsaArgumentException(name, "last dimension contiguous (stride 1)", "strides "
                    + Arrays.toString(s.strides()));
        }
    }

    static void contiguous(String name, Shape s) {
        if (!s.isContiguous()) {
            throw new NsaArgumentException(name, "contiguous", "shape " + s);
        }
    }

    static void nonNegative(String name, long value, String what) {
        if (value < 0) {
            throw new NsaArgumentException(name, what + " >= 0", what + " is " + value);
        }
    }

    static void positive(String name, long value, String what) {
        if (value < 1) {
            throw new NsaArgumentException(name, what + " >= 1", what + " is " + value);
        }
    }

    /** A device pointer that will be dereferenced must be non-null and aligned to its element size. */
    static void pointer(String name, long address, DType dtype) {
        if (address == 0L) {
            throw new NsaArgumentException(name, "device pointer not null", name + " is a null device pointer");
        }
        int a = dtype.byteSize();
        if (address % a != 0) {
            throw new NsaArgumentException(name, "pointer aligned to its element size (" + a + " bytes)",
                    "address 0x" + Long.toHexString(address) + " is not a multiple of " + a + " (" + dtype
                            + "); pointers only 8-byte aligned are fine (they run the narrow-load variant)");
        }
    }

    /** True when a 16-byte access at every row start of this tensor is aligned. */
    static boolean rowsAligned16(long address, int elemBytes, long... strides) {
        if (address % 16 != 0) {
            return false;
        }
        for (long s : strides) {
            if ((s * elemBytes) % 16 != 0) {
                return false;
            }
        }
        return true;
    }
}
