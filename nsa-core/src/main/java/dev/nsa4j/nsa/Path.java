package dev.nsa4j.nsa;

/** The implementations a branch can run on (docs/routing.md "Paths"). */
public enum Path {
    /** The CPU oracle (plain Java, fp64 accumulation). */
    CPU("cpu"),
    /** GPU reference attention. */
    SDPA("sdpa"),
    /** GPU attention over a mask built from the branch rule. */
    SDPA_MASKED("sdpa-masked"),
    /** Selection: gather the chosen blocks, then dense attention. */
    SDPA_PACKED("sdpa-packed"),
    /** The FlashAttention-2 kernels (cmp, win). */
    FA2("fa2"),
    /** The group-centric selection kernel on tensor cores (sel). */
    SEL_KERNEL("sel-kernel");

    private final String id;

    Path(String id) {
        this.id = id;
    }

    /** The name used in logs, counters and the command line, e.g. {@code sdpa-masked}. */
    public String id() {
        return id;
    }

    /** The path named {@code id} ({@link #id()}). */
    public static Path of(String id) {
        for (Path p : values()) {
            if (p.id.equals(id)) {
                return p;
            }
        }
        throw new IllegalArgumentException("no path '" + id + "'");
    }

    @Override
    public String toString() {
        return id;
    }
}
