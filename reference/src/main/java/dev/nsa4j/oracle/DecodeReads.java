package dev.nsa4j.oracle;

/**
 * Key/value tokens one decode step read for one sequence, summed over the KV groups, measured from what the
 * step really touched: {@code compressed} = ncmp(t) per group, {@code selected} = tokens ≤ t of the
 * distinct chosen blocks, {@code window} = min(w, t + 1) per group.
 */
public record DecodeReads(long compressed, long selected, long window) {
    public long total() {
        return compressed + selected + window;
    }

    public DecodeReads plus(DecodeReads o) {
        return new DecodeReads(compressed + o.compressed, selected + o.selected, window + o.window);
    }

    public static final DecodeReads ZERO = new DecodeReads(0, 0, 0);
}
