package dev.nsa4j;

import java.util.Objects;

/**
 * Bad input to nsa4j: a config, a tensor or a flag that breaks a rule of docs/nsa-spec.md or docs/routing.md.
 *
 * <p>Thrown before any computation starts, so no output buffer is partially written. {@link #subject()}
 * names what was wrong (a tensor such as {@code q} or {@code cu_seqlens}, or a config field) and
 * {@link #rule()} names the rule it broke, in the words of the spec, so callers and tests can match on it.
 */
public final class NsaArgumentException extends IllegalArgumentException {
    private final String subject;
    private final String rule;

    public NsaArgumentException(String subject, String rule, String detail) {
        super(subject + ": rule '" + rule + "' broken: " + detail);
        this.subject = Objects.requireNonNull(subject);
        this.rule = Objects.requireNonNull(rule);
    }

    /** The tensor, config field or flag at fault. */
    public String subject() {
        return subject;
    }

    /** The rule it broke. */
    public String rule() {
        return rule;
    }
}
