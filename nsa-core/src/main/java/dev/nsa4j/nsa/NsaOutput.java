package dev.nsa4j.nsa;

import dev.nsa4j.oracle.NsaResult;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * The result of one {@link NsaAttention#forward} call.
 *
 * @param result  the outputs (o, per-branch outputs and log-sum-exps, chosen blocks)
 * @param routes  one route per branch, in the order cmp, sel, win
 * @param elapsed wall-clock time of the computation (checks included)
 */
public record NsaOutput(NsaResult result, List<Route> routes, Duration elapsed) {
    public NsaOutput {
        Objects.requireNonNull(result, "result");
        routes = List.copyOf(routes);
        Objects.requireNonNull(elapsed, "elapsed");
    }

    /** The route of one branch. */
    public Route route(Branch b) {
        for (Route r : routes) {
            if (r.branch() == b) {
                return r;
            }
        }
        throw new IllegalStateException("no route for " + b);
    }
}
