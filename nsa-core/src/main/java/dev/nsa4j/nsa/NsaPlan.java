package dev.nsa4j.nsa;

import java.util.List;
import java.util.Locale;
import java.util.Objects;

import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.tensor.DType;

/**
 * What a forward of one shape class runs, built once per (config, {@link NsaShape}, device, flags) and reused
 * by every call of that shape: per branch the planned route (path and why), the steps in launch order with
 * the op each runs and its scratch, the dtype the compressed tokens are stored in, and the device memory the
 * plan holds. Immutable; {@link #toString()} prints it as a table ({@code nsa run} shows it).
 *
 * <p>A call may still leave a planned {@code fa2} route for the reference path (a caller's pointer that is
 * not 16-byte aligned, a kernel that fails to launch): the routes a call returns say what ran.
 *
 * @param config          the NSA config
 * @param shape           the shape class
 * @param device          the GPU, e.g. {@code cuda:0 NVIDIA H200 (sm_90)}
 * @param compressedDtype the dtype K̃/Ṽ are stored in (the input dtype; fp32 in the parity mode)
 * @param branchDtype     the dtype of the branch outputs o_cmp, o_sel, o_win (fp32; o's dtype when
 *                        {@code NSA_FAST_P=1} and o is fp16 or bf16)
 * @param routes          the planned route of each branch, in the order cmp, sel, win
 * @param steps           the launches of one forward, in order
 * @param workspaceBytes  scratch and intermediates the plan holds on the device
 */
public record NsaPlan(NsaConfig config, NsaShape shape, String device, DType compressedDtype, DType branchDtype,
                      List<Route> routes, List<Step> steps, long workspaceBytes) {
    /**
     * One launch group of a forward.
     *
     * @param step           {@code compress}, {@code cmp}, {@code select}, {@code sel}, {@code win} or {@code combine}
     * @param op             what runs
     * @param workspaceBytes the op's scratch
     */
    public record Step(String step, String op, long workspaceBytes) {
        public Step {
            Objects.requireNonNull(step, "step");
            Objects.requireNonNull(op, "op");
        }
    }

    public NsaPlan {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(shape, "shape");
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(compressedDtype, "compressedDtype");
        Objects.requireNonNull(branchDtype, "branchDtype");
        routes = List.copyOf(routes);
        steps = List.copyOf(steps);
    }

    /** The planned route of one branch. */
    public Route route(Branch b) {
        for (Route r : routes) {
            if (r.branch() == b) {
                return r;
            }
        }
        throw new IllegalStateException("no route for " + b);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        sb.append("plan: ").append(shape).append(" on ").append(device).append('\n');
        sb.append(String.format(Locale.ROOT,
                "  compressed tokens K~/V~ stored in %s; branch outputs in %s; device memory held %.1f MiB%n",
                NsaShape.name(compressedDtype), NsaShape.name(branchDtype), workspaceBytes / (1024.0 * 1024.0)));
        for (Route r : routes) {
            sb.append("  route ").append(r.branch().id()).append(": ").append(r.path().id()).append(" (")
                    .append(r.reason()).append(")\n");
        }
        for (Step s : steps) {
            sb.append(String.format(Locale.ROOT, "  step %-8s %s%s%n", s.step(), s.op(),
                    s.workspaceBytes() > 0 ? String.format(Locale.ROOT, " [scratch %.1f MiB]",
                            s.workspaceBytes() / (1024.0 * 1024.0)) : ""));
        }
        return sb.toString().stripTrailing();
    }
}
