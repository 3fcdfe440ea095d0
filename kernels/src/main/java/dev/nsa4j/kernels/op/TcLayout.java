package dev.nsa4j.kernels.op;

import java.util.List;

import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.internal.TcModule;
import dev.nsa4j.tensor.DType;

/**
 * The layout rules of the tensor-core kernels' vector accesses, checked on a call's tensors (host-only): what breaks
 * one is a {@link Refusal} (the call falls back), never a fault.
 */
final class TcLayout {
    private TcLayout() {
    }

    /**
     * The plan-time rules every tensor-core kernel shares: the image runs on {@code device}, and the operands
     * ({@code operands}, e.g. "q, k and v") are fp16 or bf16 for {@code kernel} (e.g. "sel-kernel").
     */
    static void deviceAndDtype(List<Refusal> out, DeviceInfo device, DType dtype, String operands, String kernel) {
        String dev = TcModule.unsupportedReason(device);
        if (dev != null) {
            out.add(new Refusal(Refusal.DEVICE, dev));
        }
        if (!TcModule.DTYPES.contains(dtype)) {
            out.add(new Refusal(Refusal.DTYPE, operands + " are " + TcModule.dtypeName(dtype) + "; " + kernel
                    + " takes fp16 or bf16"));
        }
    }

    /**
     * 16-byte loads of 8 elements along the last axis of {@code [rows, heads, D]}: the base address 16-byte aligned
     * and the token and head strides multiples of 8 elements (a stride over an axis of at most one row is never
     * followed and not checked).
     */
    static void rows16(List<Refusal> out, String name, DeviceTensor t) {
        if (t.address() % 16 != 0) {
            out.add(new Refusal(Refusal.ALIGNMENT, name + " at 0x" + Long.toHexString(t.address())
                    + " is not 16-byte aligned (16-byte loads)"));
        }
        strides(out, name, t, 8, "multiples of 8 elements (16-byte loads)");
    }

    /**
     * Stores of two adjacent elements of the last axis: the base address aligned to two elements and the token and
     * head strides even.
     */
    static void pairs(List<Refusal> out, String name, DeviceTensor t) {
        int align = 2 * t.dtype().byteSize();
        if (t.address() % align != 0) {
            out.add(new Refusal(Refusal.ALIGNMENT, name + " at 0x" + Long.toHexString(t.address()) + " is not "
                    + align + "-byte aligned (stores of 2 elements)"));
        }
        strides(out, name, t, 2, "even (stores of 2 elements)");
    }

    private static void strides(List<Refusal> out, String name, DeviceTensor t, int multiple, String rule) {
        for (int axis = 0; axis < 2; axis++) {
            if (t.dim(axis) > 1 && t.stride(axis) % multiple != 0) {
                out.add(new Refusal(Refusal.STRIDES, name + " " + (axis == 0 ? "token" : "head") + " stride "
                        + t.stride(axis) + " is not " + rule));
            }
        }
    }
}
