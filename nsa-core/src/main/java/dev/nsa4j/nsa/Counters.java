package dev.nsa4j.nsa;

import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Calls per (branch, path) and fallbacks per (branch, path, reason), for a caller to read and reset
 * (docs/routing.md "Observability"). A fallback is counted on the path that actually ran, with the reason the
 * preferred path was not used. Thread-safe; an explicit object (each {@link NsaAttention} owns one), never
 * global.
 */
public final class Counters {
    /** Key of a call counter. */
    public record CallKey(Branch branch, Path path) implements Comparable<CallKey> {
        @Override
        public int compareTo(CallKey o) {
            int c = branch.compareTo(o.branch);
            return c != 0 ? c : path.compareTo(o.path);
        }
    }

    /** Key of a fallback counter. */
    public record FallbackKey(Branch branch, Path path, String reason) implements Comparable<FallbackKey> {
        public FallbackKey {
            Objects.requireNonNull(reason, "reason");
        }

        @Override
        public int compareTo(FallbackKey o) {
            int c = new CallKey(branch, path).compareTo(new CallKey(o.branch, o.path));
            return c != 0 ? c : reason.compareTo(o.reason);
        }
    }

    private final Map<CallKey, LongAdder> calls = new ConcurrentHashMap<>();
    private final Map<FallbackKey, LongAdder> fallbacks = new ConcurrentHashMap<>();

    /** Counters at zero. */
    public Counters() {
    }

    /** Counts one call of a branch on a path. */
    public void recordCall(Branch branch, Path path) {
        calls.computeIfAbsent(new CallKey(branch, path), k -> new LongAdder()).increment();
    }

    /** Counts one fallback: the branch ran on {@code path} because of {@code reason}. */
    public void recordFallback(Branch branch, Path path, String reason) {
        fallbacks.computeIfAbsent(new FallbackKey(branch, path, reason), k -> new LongAdder()).increment();
    }

    public long calls(Branch branch, Path path) {
        LongAdder a = calls.get(new CallKey(branch, path));
        return a == null ? 0 : a.sum();
    }

    public long fallbacks(Branch branch, Path path, String reason) {
        LongAdder a = fallbacks.get(new FallbackKey(branch, path, reason));
        return a == null ? 0 : a.sum();
    }

    /** All call counters, sorted by branch then path. */
    public Map<CallKey, Long> calls() {
        Map<CallKey, Long> m = new TreeMap<>();
        calls.forEach((k, v) -> m.put(k, v.sum()));
        return m;
    }

    /** All fallback counters, sorted by branch, path, reason. */
    public Map<FallbackKey, Long> fallbacks() {
        Map<FallbackKey, Long> m = new TreeMap<>();
        fallbacks.forEach((k, v) -> m.put(k, v.sum()));
        return m;
    }

    /** Sets every counter back to zero (removes them). */
    public void reset() {
        calls.clear();
        fallbacks.clear();
    }
}
