package dev.nsa4j.kernels.op;

import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * One rule a fast-path op refuses a shape or a call by ({@link SelKernelOp}, {@link TcBlockScoreOp}): the rule's id,
 * which logs and tests match on, and the actual values. Printed {@code alignment: q at 0x...08 is not 16-byte
 * aligned}.
 *
 * @param rule   {@link #DEVICE}, {@link #DTYPE}, {@link #HEAD_DIM}, {@link #SEL_BLOCK}, {@link #N},
 *               {@link #SHARED_MEMORY}, {@link #GRID}, {@link #ALIGNMENT} or {@link #STRIDES}
 * @param detail what broke it, with the values
 */
public record Refusal(String rule, String detail) {
    /** The device cannot run the kernel image, or the head dims need another SM. */
    public static final String DEVICE = "device";
    /** q, k, v (K̃) not fp16/bf16. */
    public static final String DTYPE = "dtype";
    /** (Dk, Dv) not compiled. */
    public static final String HEAD_DIM = "head_dim";
    /** l' not a multiple of the kernel's key tile. */
    public static final String SEL_BLOCK = "sel_block";
    /** n above the kernel's limit. */
    public static final String N = "n";
    /** The launch needs more shared memory per block than the device allows. */
    public static final String SHARED_MEMORY = "shared_memory";
    /** A grid dimension above CUDA's limit. */
    public static final String GRID = "grid";
    /** A base address not aligned for the kernel's vector accesses. */
    public static final String ALIGNMENT = "alignment";
    /** A token or head stride the kernel's vector accesses cannot follow. */
    public static final String STRIDES = "strides";

    public Refusal {
        Objects.requireNonNull(rule, "rule");
        Objects.requireNonNull(detail, "detail");
    }

    /** Every refusal, {@code "; "}-separated, or null when there is none. */
    public static String reason(List<Refusal> refusals) {
        return refusals.isEmpty() ? null : refusals.stream().map(Refusal::toString).collect(Collectors.joining("; "));
    }

    /** The distinct rule ids, comma-separated ({@code alignment,strides}), or {@code none}. */
    public static String rules(List<Refusal> refusals) {
        return refusals.isEmpty() ? "none"
                : refusals.stream().map(Refusal::rule).distinct().collect(Collectors.joining(","));
    }

    @Override
    public String toString() {
        return rule + ": " + detail;
    }
}
