package dev.nsa4j.nsa;

import java.util.List;
import java.util.Objects;
import java.util.function.LongSupplier;

/**
 * What a device forward enqueued: the plan it used and the path each branch took. The outputs are in the
 * caller's tensors once the caller's stream has run the work; nothing here waits for it except
 * {@link #nonFiniteFastPathOutputs()}.
 */
public final class NsaDeviceResult {
    private final NsaPlan plan;
    private final List<Route> routes;
    private final LongSupplier nonFinite;

    NsaDeviceResult(NsaPlan plan, List<Route> routes, LongSupplier nonFinite) {
        this.plan = Objects.requireNonNull(plan, "plan");
        this.routes = List.copyOf(routes);
        this.nonFinite = nonFinite;
    }

    /** The plan of this call's shape class. */
    public NsaPlan plan() {
        return plan;
    }

    /** One route per branch, in the order cmp, sel, win: the path that ran it and why. */
    public List<Route> routes() {
        return routes;
    }

    /** The route of one branch. */
    public Route route(Branch b) {
        return routes.get(b.ordinal());
    }

    /**
     * The NaN/Inf guard of docs/routing.md for the device API: how many elements of the FA-2 branch outputs of this
     * call were not finite (0 when no branch ran on FA-2). It synchronises the call's stream (the one explicit
     * host round trip) and is valid until the next forward of the same shape class. A non-zero count from
     * finite inputs is a bug of the fast path: rerun with {@code NSA_USE_FA2=0} and report it.
     */
    public long nonFiniteFastPathOutputs() {
        return nonFinite.getAsLong();
    }

    @Override
    public String toString() {
        return "NsaDeviceResult" + routes;
    }
}
