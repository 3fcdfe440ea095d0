package dev.nsa4j.fa2.contract;

import java.util.Objects;

/**
 * One broken rule.
 *
 * @param rule   the rule
 * @param tensor what is at fault: a tensor ({@code q}, {@code kv}, ...), {@code cu_seqlens_q},
 *               {@code cu_seqlens_k}, {@code mask}, {@code keys} or {@code device}
 * @param detail the actual values, e.g. {@code k head_dim 100 is not a multiple of 8}
 */
public record Fa2Violation(Fa2Rule rule, String tensor, String detail) {
    public Fa2Violation {
        Objects.requireNonNull(rule, "rule");
        Objects.requireNonNull(tensor, "tensor");
        Objects.requireNonNull(detail, "detail");
    }

    /** {@code rule: detail}. */
    @Override
    public String toString() {
        return rule.id() + ": " + detail;
    }
}
