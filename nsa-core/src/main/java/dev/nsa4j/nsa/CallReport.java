package dev.nsa4j.nsa;

import java.util.List;
import java.util.Map;

import dev.nsa4j.kernels.op.OpRun;
import org.slf4j.event.Level;

/**
 * The observability of {@link NsaAttention}'s calls: per call and branch, the route line ({@code NSA-LOG route}),
 * {@code fa2.path} where FA-2 ran, and every fallback counted and logged at WARN: per call (an op that fell back:
 * {@code fa2.fallback} for cmp and win, {@code sel.kernel.fallback} for sel; a non-finite FA-2 output recomputed), per
 * plan (a user's wish the shape cannot meet) or, on the CPU, where flags asked for a GPU path. A tc scorer call that
 * fell back to the reference scorer is logged ({@code select.fallback}, WARN) but not counted: it is no branch's
 * route.
 */
final class CallReport {
    private final Counters counters;
    private final RateLimitedLog log;
    private final Map<Branch, String> cpuFallbackTags;

    /** @param cpuFallbackTags the tag of each branch whose CPU route is a counted fallback (flags asked for more) */
    CallReport(Counters counters, RateLimitedLog log, Map<Branch, String> cpuFallbackTags) {
        this.counters = counters;
        this.log = log;
        this.cpuFallbackTags = cpuFallbackTags;
    }

    /**
     * Counts and logs one call's routes: calls per path, plan-level and per-call fallbacks.
     *
     * @param selectFellBack the block scorer's run when it fell back to the reference scorer, else null
     */
    void report(List<Route> done, Map<Branch, OpRun> fellBack, OpRun selectFellBack, List<Branch> nonFinite,
                DevicePipeline p) {
        if (selectFellBack != null) {
            log.log(Level.WARN, "select.fallback", "reason=\"" + selectFellBack.reason().replace("\"", "'")
                    + "\" cause=" + selectFellBack.fallbackCause());
        }
        for (Route route : done) {
            Branch br = route.branch();
            counters.recordCall(br, route.path());
            log.log(Level.INFO, "route", route.toKeyValues());
            if (route.path() == Path.FA2) {
                log.log(Level.INFO, "fa2.path", route.toKeyValues());
            }
            OpRun r = fellBack.get(br);
            if (r != null) {
                counters.recordFallback(br, route.path(), route.reason());
                log.log(Level.WARN, br == Branch.SEL ? SelPlanner.FALLBACK_TAG : "fa2.fallback",
                        route.toKeyValues() + " cause=" + r.fallbackCause());
            }
            if (nonFinite.contains(br)) {
                counters.recordFallback(br, route.path(), route.reason());
                log.log(Level.WARN, "fa2.fallback", route.toKeyValues() + " cause=nonfinite");
            }
            BranchPlanner.BranchPlan bp = p == null ? null : p.branch(br);
            if (bp != null && bp.fallbackTag() != null && r == null) {
                counters.recordFallback(br, route.path(), route.reason());
                log.log(Level.WARN, bp.fallbackTag(), route.toKeyValues()
                        + (bp.fallbackCause() != null ? " cause=" + bp.fallbackCause() + " rules=" + bp.rules() : ""));
            } else if (p == null) {
                String tag = cpuFallbackTags.get(br);
                if (tag != null) {
                    counters.recordFallback(br, route.path(), route.reason());
                    log.log(Level.WARN, tag, route.toKeyValues());
                }
            }
        }
    }
}
