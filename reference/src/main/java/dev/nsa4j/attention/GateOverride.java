package dev.nsa4j.attention;

import java.util.Locale;

/**
 * Replaces the gates for ablations and benches (docs/routing.md {@code NSA_FORCE_BRANCH},
 * {@code NSA_FORCE_UNIFORM_GATE}). Branch outputs are computed either way; only the combination changes.
 */
public enum GateOverride {
    /** Use the gates as given. */
    NONE,
    /** One-hot: only the compressed branch. */
    FORCE_CMP,
    /** One-hot: only the selected branch. */
    FORCE_SEL,
    /** One-hot: only the sliding-window branch. */
    FORCE_WIN,
    /** Every gate 1/3. */
    UNIFORM;

    /** The gate of branch {@code c} (0 = cmp, 1 = sel, 2 = win) given the caller's gate value. */
    public double apply(int branch, double given) {
        return switch (this) {
            case NONE -> given;
            case FORCE_CMP -> branch == 0 ? 1.0 : 0.0;
            case FORCE_SEL -> branch == 1 ? 1.0 : 0.0;
            case FORCE_WIN -> branch == 2 ? 1.0 : 0.0;
            case UNIFORM -> 1.0 / 3.0;
        };
    }

    /** Parses a branch name for {@code NSA_FORCE_BRANCH}: {@code cmp}, {@code sel} or {@code win}. */
    public static GateOverride forceBranch(String branch) {
        return switch (branch.toLowerCase(Locale.ROOT)) {
            case "cmp" -> FORCE_CMP;
            case "sel" -> FORCE_SEL;
            case "win" -> FORCE_WIN;
            default -> throw new IllegalArgumentException(
                    "unknown branch '" + branch + "': expected cmp, sel or win");
        };
    }
}
