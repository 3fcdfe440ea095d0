package dev.nsa4j.kernels.op;

import java.util.Arrays;
import java.util.Objects;

import dev.nsa4j.kernels.DeviceTensor;

/**
 * The sequences of a planned call: cumulative lengths {@code cu} (int32 {@code [B + 1]}, {@code cu[0] = 0},
 * non-decreasing) on the host and the same values on the device. The plan that owns them uploads the device
 * copy once, so launches never copy from the host and both copies always agree.
 */
public record Sequences(int[] cu, DeviceTensor device) {
    public Sequences {
        cu = cu.clone();
        Objects.requireNonNull(device, "device");
    }

    @Override
    public int[] cu() {
        return cu.clone();
    }

    /** B. */
    public int batch() {
        return cu.length - 1;
    }

    /** Rows, {@code cu[B]}. */
    public int total() {
        return cu[cu.length - 1];
    }

    /** The longest sequence. */
    public int maxLen() {
        int m = 0;
        for (int b = 0; b + 1 < cu.length; b++) {
            m = Math.max(m, cu[b + 1] - cu[b]);
        }
        return m;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Sequences s && Arrays.equals(cu, s.cu) && device.equals(s.device);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(cu) * 31 + device.hashCode();
    }

    @Override
    public String toString() {
        return "Sequences[B=" + batch() + ", total=" + total() + "]";
    }
}
