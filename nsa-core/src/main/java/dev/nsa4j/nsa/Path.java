package dev.nsa4j.nsa;

/**
 * The implementations a branch can run on (ROUTING.md "Paths"). This build has only {@link #CPU}; the
 * GPU paths arrive with the kernels and fa2-bridge modules, and are listed so routes, counters and flags
 * already speak their names.
 */
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
    /** The group-centric selection kernel (sel). */
    SEL_KERNEL("sel-kernel");

    private final String id;

    Path(String id) {
        this.id = id;
    }

    /** The name used in logs, counters and the command line, e.g. {@code sdpa-masked}. */
    public String id() {
        return id;
    }

    @Override
    public String toString() {
        return id;
    }
}
