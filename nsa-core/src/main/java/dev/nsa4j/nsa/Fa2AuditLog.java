package dev.nsa4j.nsa;

import dev.nsa4j.fa2.Fa2Audit;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.slf4j.event.Level;

/**
 * {@code NSA_FA2_AUDIT=1}: the first {@link NsaAttention} that opens a GPU in this JVM runs {@link Fa2Audit}
 * on it and logs {@code NSA-LOG fa2.audit ...}: one line for the device (versions, kernel image, probes passed,
 * the verdict), then one per probe. Lines are INFO; the device line is WARN when FA-2 is not ready, a probe
 * line WARN when the probe failed. The 13 lines are never cut short by {@code NSA_LOG_LIMIT}
 * ({@link RateLimitedLog#logUnlimited}).
 */
final class Fa2AuditLog {
    static final String TAG = "fa2.audit";
    /** Set once the audit ran in this JVM (package-private for tests). */
    static final AtomicBoolean DONE = new AtomicBoolean();

    private Fa2AuditLog() {
    }

    /** Runs and logs the audit of device {@code ordinal} when {@code NSA_FA2_AUDIT} is on and no audit ran in this JVM. */
    static void onGpuOpened(FlagSnapshot flags, int ordinal, RateLimitedLog log) {
        maybeRun(flags, log, DONE, () -> Fa2Audit.run(ordinal, flags.fa2Options(), Fa2Audit.nsa4jVersion()));
    }

    /**
     * The gate, with the once-flag and the audit given (tests).
     *
     * @return whether the audit ran
     */
    static boolean maybeRun(FlagSnapshot flags, RateLimitedLog log, AtomicBoolean done, Supplier<Fa2Audit.Report> audit) {
        Objects.requireNonNull(log, "log");
        if (!flags.bool(Flag.NSA_FA2_AUDIT) || !done.compareAndSet(false, true)) {
            return false;
        }
        emit(audit.get(), log);
        return true;
    }

    /** The device line, then one line per probe. */
    static void emit(Fa2Audit.Report report, RateLimitedLog log) {
        log.logUnlimited(report.ready() ? Level.INFO : Level.WARN, TAG, report.deviceKeyValues());
        for (Fa2Audit.Probe p : report.probes()) {
            log.logUnlimited(p.status() == Fa2Audit.Status.FAILED ? Level.WARN : Level.INFO, TAG, p.keyValues());
        }
    }
}
