package dev.nsa4j.kernels.op;

import java.util.Objects;

/**
 * What one launch of a {@link DeviceOp} ran.
 *
 * @param path          the path that computed it ({@code fa2}, {@code sel-kernel}, {@code sdpa},
 *                      {@code sdpa-masked}, {@code sdpa-packed}), or the op's kind for ops that are not routed ({@code compress},
 *                      {@code select}, {@code combine}, {@code cast})
 * @param reason        why that path ran, empty when it ran as planned
 * @param fallbackCause null when the planned path ran; else why the launch fell back ({@code contract},
 *                      {@code kernel})
 */
public record OpRun(String path, String reason, String fallbackCause) {
    public OpRun {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(reason, "reason");
    }

    /** The planned path ran. */
    public static OpRun ran(String path) {
        return new OpRun(path, "", null);
    }

    /**
     * The launch fell back: {@code path} computed it instead of the planned one.
     *
     * @param reason why, e.g. {@code "sel-kernel blocked: alignment: q at 0x...08 is not 16-byte aligned"}
     * @param cause  {@code contract} (the call's tensors break a rule), {@code kernel} (the launch failed)
     */
    public static OpRun fellBack(String path, String reason, String cause) {
        return new OpRun(path, reason, Objects.requireNonNull(cause, "cause"));
    }

    /** True when the launch fell back from its planned path. */
    public boolean fellBack() {
        return fallbackCause != null;
    }
}
