package dev.nsa4j.nsa;

import dev.nsa4j.fa2.Fa2Attention;
import dev.nsa4j.fa2.Fa2Bridge;
import dev.nsa4j.fa2.contract.Fa2Options;
import dev.nsa4j.fa2.contract.Fa2Violation;
import dev.nsa4j.fa2.contract.KeyExtent;
import dev.nsa4j.fa2.contract.Mask;
import dev.nsa4j.kernels.Attention;
import dev.nsa4j.kernels.AttnSpec;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.KernelModule;
import dev.nsa4j.kernels.nsa.GpuNsa;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * Runs the compressed or window branch of a GPU forward where FA-2 is wished ({@link GpuRoutes.Fa2Wish}),
 * and records which path ran and why. Per call:
 * <ol>
 * <li>the length threshold ({@link Fa2Threshold}): below it, the reference kernel the plan names
 *     ({@code sdpa-masked}, or {@code sdpa} with the mask flag at 0) runs; a normal route, no fallback;</li>
 * <li>else {@link Fa2Bridge#attend}: FA-2 where the contract allows, else {@code sdpa-masked} with the
 *     verdict's reason (every failed rule); a missing FA-2 image or a failed kernel also falls back, and
 *     {@code NSA_FA2_HARD_FAIL=1} throws instead.</li>
 * </ol>
 * FA-2 runs in its exact-P mode (P·V with P split into a high and a low half-precision term), so the NSA
 * forward keeps its MAE < 1e-5 parity with the CPU oracle (ROUTING.md "Acceptance"); the fast mode (P
 * rounded once) is not used here.
 *
 * <p>Not thread-safe: {@link NsaAttention} calls it under the lock of its one stream and reads
 * {@link #take()} after each forward.
 */
final class Fa2BranchRunner implements GpuNsa.BranchAttention {
    /**
     * What one call did.
     *
     * @param route    the path that ran and why
     * @param decision the threshold decision
     * @param outcome  the bridge's outcome, null when FA-2 was not tried (below the threshold)
     */
    record Call(Route route, Fa2Threshold.Decision decision, Fa2Bridge.Outcome outcome) {
        /** True when FA-2 was tried and the contract, the image or the kernel blocked it. */
        boolean fellBack() {
            return outcome != null && outcome.fellBack();
        }

        /** {@code contract}, {@code unavailable}, {@code nonfinite} or {@code kernel}; for a fallback. */
        String cause(boolean fa2Loaded) {
            if (!outcome.verdict().ok()) {
                return "contract";
            }
            if (outcome.recomputed()) {
                return "nonfinite";
            }
            return fa2Loaded ? "kernel" : "unavailable";
        }

        /** The failed rules' ids, comma-separated, or {@code none}. */
        String rules() {
            String r = outcome.verdict().violations().stream().map(Fa2Violation::rule).distinct()
                    .map(x -> x.id()).collect(Collectors.joining(","));
            return r.isEmpty() ? "none" : r;
        }
    }

    private final Branch branch;
    private final GpuRoutes.Fa2Wish wish;
    private final KernelModule module;
    private final Fa2Bridge bridge;
    private final Fa2Options options;
    private final boolean hardFail;
    private Call last;

    /**
     * @param module   the reference kernels (GpuNsa's module), for calls below the threshold
     * @param bridge   FA-2 with its fallback, opened over the same context
     * @param hardFail {@code NSA_FA2_HARD_FAIL}
     */
    Fa2BranchRunner(Branch branch, GpuRoutes.Fa2Wish wish, KernelModule module, Fa2Bridge bridge, Fa2Options options,
                    boolean hardFail) {
        if (branch == Branch.SEL) {
            throw new IllegalArgumentException("FA-2 serves the cmp and win branches, not sel");
        }
        this.branch = branch;
        this.wish = Objects.requireNonNull(wish, "wish");
        this.module = Objects.requireNonNull(module, "module");
        this.bridge = Objects.requireNonNull(bridge, "bridge");
        this.options = Objects.requireNonNull(options, "options");
        this.hardFail = hardFail;
    }

    @Override
    public void attend(CudaStream stream, DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor cuQ,
                       int[] cuQHost, DeviceTensor cuK, int[] cuKHost, AttnSpec spec, DeviceTensor out,
                       DeviceTensor lse) {
        Fa2Threshold.Decision d = Fa2Threshold.decide(branch,
                Fa2Threshold.callLength(branch, spec.window(), cuKHost), wish.minLen());
        if (!d.fa2()) {
            Attention.run(module, stream, q, k, v, cuQ, cuK, null, spec, out, lse);
            Route ref = wish.reference();
            last = new Call(new Route(branch, ref.path(), d.reason() + "; " + ref.reason()), d, null);
            return;
        }
        Mask mask = switch (branch) {
            case WIN -> Mask.window(spec.window());
            case CMP -> Mask.blockCausal(spec.cmpLen(), spec.cmpStride());
            case SEL -> throw new IllegalStateException("sel");
        };
        Fa2Attention.Spec fs = Fa2Attention.Spec.of(mask, KeyExtent.FULL).withExactP(true).withScale(spec.scale());
        Fa2Bridge.Outcome o = bridge.attend(stream,
                Fa2Attention.Inputs.varlen(q, k, v, out, lse, cuQ, cuQHost, cuK, cuKHost), fs, options, hardFail);
        Route r = o.fellBack()
                ? new Route(branch, Path.SDPA_MASKED, "fa2 blocked: " + o.reason())
                : new Route(branch, Path.FA2, wish.wishedBy() + "; " + d.reason()
                        + (o.reason().isEmpty() ? "" : "; " + o.reason()) + "; exact P");
        last = new Call(r, d, o);
    }

    /** The last call's record, cleared; null when no call ran since the last take. */
    Call take() {
        Call c = last;
        last = null;
        return c;
    }

    /** Forgets a call record left by a forward that failed. */
    void reset() {
        last = null;
    }

    Branch branch() {
        return branch;
    }
}
