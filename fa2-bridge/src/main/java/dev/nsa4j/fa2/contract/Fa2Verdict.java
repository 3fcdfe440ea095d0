package dev.nsa4j.fa2.contract;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.tensor.DType;

/**
 * The outcome of {@link Fa2Contract#check}: every broken rule, not just the first.
 * <ul>
 * <li>{@link #ok()}: FA-2 may run; when {@link #castTo()} is present, after casting the fp32 inputs to it.</li>
 * <li>not ok and not {@link #fatal()}: only FA-2 is excluded; the bridge takes the reference path and logs
 *     {@link #reason()} ({@code NSA_FA2_HARD_FAIL=1}: it throws {@link #toException()} instead).</li>
 * <li>{@link #fatal()}: no path can serve the input; the bridge throws {@link #toException()} before any kernel runs.</li>
 * </ul>
 *
 * @param violations every broken rule, in check order
 * @param castTo     the dtype fp32 inputs are cast to when the dtype rule accepted them through
 *                   {@code NSA_FA2_ALLOW_FP32}; empty for fp16/bf16 inputs
 */
public record Fa2Verdict(List<Fa2Violation> violations, Optional<DType> castTo) {
    private static final Fa2Verdict OK = new Fa2Verdict(List.of(), Optional.empty());

    public Fa2Verdict {
        violations = List.copyOf(violations);
        Objects.requireNonNull(castTo, "castTo");
    }

    /** The verdict of a request that breaks no rule and needs no cast. */
    public static Fa2Verdict pass() {
        return OK;
    }

    /** True when no rule is broken. */
    public boolean ok() {
        return violations.isEmpty();
    }

    /** True when some broken rule is {@link Fa2Rule#fatal() fatal}. */
    public boolean fatal() {
        for (Fa2Violation v : violations) {
            if (v.rule().fatal()) {
                return true;
            }
        }
        return false;
    }

    /** True when {@code rule} is among the broken ones. */
    public boolean broke(Fa2Rule rule) {
        for (Fa2Violation v : violations) {
            if (v.rule() == rule) {
                return true;
            }
        }
        return false;
    }

    /** One line for logs, {@code rule: detail; rule: detail}; empty when ok. */
    public String reason() {
        StringBuilder b = new StringBuilder();
        for (Fa2Violation v : violations) {
            if (!b.isEmpty()) {
                b.append("; ");
            }
            b.append(v.rule().id()).append(": ").append(v.detail());
        }
        return b.toString();
    }

    /**
     * The exception for this verdict: subject and rule of the first fatal violation (else the first one),
     * its detail, then every violation.
     *
     * @throws IllegalStateException when the verdict is ok
     */
    public NsaArgumentException toException() {
        if (ok()) {
            throw new IllegalStateException("the FA-2 verdict is ok: nothing to throw");
        }
        Fa2Violation first = violations.getFirst();
        for (Fa2Violation v : violations) {
            if (v.rule().fatal()) {
                first = v;
                break;
            }
        }
        String detail = violations.size() == 1 ? first.detail()
                : first.detail() + " (all " + violations.size() + " violations: " + reason() + ")";
        return new NsaArgumentException(first.tensor(), first.rule().id(), detail);
    }

    @Override
    public String toString() {
        return ok() ? "ok" + castTo.map(d -> " (cast to " + d + ")").orElse("") : (fatal() ? "fatal: " : "excluded: ") + reason();
    }
}
