package dev.nsa4j.nsa;

import dev.nsa4j.attention.NsaResult;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The result of one {@link NsaAttention#forward} call.
 *
 * @param result  the outputs (o, per-branch outputs and log-sum-exps, chosen blocks)
 * @param routes  one route per branch, in the order cmp, sel, win
 * @param elapsed wall-clock time of the computation (checks, copies and conversions included)
 * @param plan    the GPU plan of the call's shape class; null on the CPU oracle
 * @param timing  on the GPU: uploads, the device forward and downloads; null on the CPU oracle
 */
public record NsaOutput(NsaResult result, List<Route> routes, Duration elapsed, NsaPlan plan, HostTiming timing) {
    public NsaOutput {
        Objects.requireNonNull(result, "result");
        routes = List.copyOf(routes);
        Objects.requireNonNull(elapsed, "elapsed");
    }

    /** A CPU result. */
    public NsaOutput(NsaResult result, List<Route> routes, Duration elapsed) {
        this(result, routes, elapsed, null, null);
    }

    /** The GPU plan, when a GPU ran the call. */
    public Optional<NsaPlan> gpuPlan() {
        return Optional.ofNullable(plan);
    }

    /** The GPU time split, when a GPU ran the call. */
    public Optional<HostTiming> gpuTiming() {
        return Optional.ofNullable(timing);
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
