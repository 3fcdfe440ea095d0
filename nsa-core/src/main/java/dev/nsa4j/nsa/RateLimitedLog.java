package dev.nsa4j.nsa;

import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.event.Level;

/**
 * Structured log lines {@code NSA-LOG <tag> key=value ...} (docs/routing.md "Observability"), at most
 * {@code limit} lines per tag ({@code NSA_LOG_LIMIT}; 0 = unlimited). When a tag reaches its limit one
 * last line {@code NSA-LOG log.limit tag=<tag> limit=<n>} says that further lines are suppressed
 * ({@link #logUnlimited} is the exception, for bounded once-only batches). Lines
 * at a level the logger does not print are not counted. Thread-safe; one instance per owner (no global
 * state).
 */
public final class RateLimitedLog {
    /** Where lines go; the SLF4J logger in production, a list in tests. */
    @FunctionalInterface
    public interface Sink {
        /** Whether a line at {@code level} would be printed. */
        default boolean enabled(Level level) {
            return true;
        }

        void emit(Level level, String line);
    }

    private final Sink sink;
    private final int limit;
    private final Map<String, AtomicLong> counts = new ConcurrentHashMap<>();

    /** Lines through an SLF4J logger. */
    public RateLimitedLog(Logger logger, int limit) {
        this(new Sink() {
            @Override
            public boolean enabled(Level level) {
                return logger.isEnabledForLevel(level);
            }

            @Override
            public void emit(Level level, String line) {
                logger.atLevel(level).log(line);
            }
        }, limit);
    }

    /** Lines to any sink. */
    public RateLimitedLog(Sink sink, int limit) {
        if (limit < 0) {
            throw new IllegalArgumentException("limit must be >= 0 (0 = unlimited), got " + limit);
        }
        this.sink = Objects.requireNonNull(sink, "sink");
        this.limit = limit;
    }

    /**
     * Logs {@code NSA-LOG <tag> <keyValues>} unless the tag has used up its limit.
     *
     * @return whether the line was emitted
     */
    public boolean log(Level level, String tag, String keyValues) {
        return log(level, tag, () -> keyValues);
    }

    /**
     * {@link #log(Level, String, String)} with the key=value text computed only when the line is emitted (the
     * level on, the tag under its limit): for lines that cost work to build, such as {@code gate.stats}.
     */
    public boolean log(Level level, String tag, Supplier<String> keyValues) {
        if (!sink.enabled(level)) {
            return false;
        }
        long n = counts.computeIfAbsent(tag, t -> new AtomicLong()).incrementAndGet();
        if (limit > 0 && n > limit) {
            return false;
        }
        sink.emit(level, "NSA-LOG " + tag + " " + keyValues.get());
        if (limit > 0 && n == limit) {
            sink.emit(level, "NSA-LOG log.limit tag=" + tag + " limit=" + limit
                    + " further lines suppressed (NSA_LOG_LIMIT=0 for all)");
        }
        return true;
    }

    /**
     * Logs {@code NSA-LOG <tag> <keyValues>} whatever the tag's count: for a batch bounded by construction that
     * the limit must not cut short (the once-per-JVM start-up audit, tag {@code fa2.audit}: 13 lines). Counted
     * in {@link #requested}; never suppressed, never suppresses.
     *
     * @return whether the line was emitted (false only when the level is off)
     */
    public boolean logUnlimited(Level level, String tag, String keyValues) {
        if (!sink.enabled(level)) {
            return false;
        }
        counts.computeIfAbsent(tag, t -> new AtomicLong()).incrementAndGet();
        sink.emit(level, "NSA-LOG " + tag + " " + keyValues);
        return true;
    }

    /** Lines requested for a tag so far, emitted or not. */
    public long requested(String tag) {
        AtomicLong c = counts.get(tag);
        return c == null ? 0 : c.get();
    }

    public int limit() {
        return limit;
    }
}
