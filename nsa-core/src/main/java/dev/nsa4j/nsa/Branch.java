package dev.nsa4j.nsa;

import java.util.Locale;

/** The three NSA branches, in gate order (the NSA spec (docs/nsa-spec.md) "Tensor layout": gates are (cmp, sel, win)). */
public enum Branch {
    /** The compressed branch. */
    CMP("cmp"),
    /** The selected-blocks branch. */
    SEL("sel"),
    /** The sliding-window branch. */
    WIN("win");

    private final String id;

    Branch(String id) {
        this.id = id;
    }

    /** The short name used in flags, logs and the command line: {@code cmp}, {@code sel}, {@code win}. */
    public String id() {
        return id;
    }

    /** Parses {@code cmp|sel|win} (case-insensitive, trimmed); {@code null} for anything else. */
    static Branch fromId(String s) {
        String v = s.trim().toLowerCase(Locale.ROOT);
        for (Branch b : values()) {
            if (b.id.equals(v)) {
                return b;
            }
        }
        return null;
    }

    @Override
    public String toString() {
        return id;
    }
}
