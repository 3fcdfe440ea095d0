package dev.nsa4j.nsa;

import java.util.Objects;

/**
 * Which path computed one branch of one call, and why: the answer to "which path ran, and why?".
 *
 * @param branch the branch
 * @param path   the implementation that ran it
 * @param reason a short human-readable reason, e.g. {@code "no GPU NSA path in this build yet"}
 */
public record Route(Branch branch, Path path, String reason) {
    public Route {
        Objects.requireNonNull(branch, "branch");
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(reason, "reason");
    }

    /** {@code branch=cmp path=cpu reason="requested"}, the key=value form of the log line. */
    public String toKeyValues() {
        return "branch=" + branch.id() + " path=" + path.id() + " reason=\"" + reason.replace("\"", "'") + "\"";
    }
}
