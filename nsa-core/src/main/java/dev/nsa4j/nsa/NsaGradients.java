package dev.nsa4j.nsa;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.attention.GateOverride;
import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.oracle.NsaBackward;
import dev.nsa4j.oracle.PhiWeights;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;

/**
 * The result of one {@link NsaAttention#backward}: the gradients of the loss with respect to q, each branch's k and
 * v, the gates and (phi = mlp) both compression MLPs' parameters, for the chosen blocks of the forward (constants).
 * The tensors are fp32 in their inputs' shapes (dense or varlen as given); {@link #fp64()} has the fp64 values they
 * were rounded from.
 */
public final class NsaGradients {
    private final NsaBackward.Gradients g;
    private final NsaInputs in;
    private final String path;
    private final Duration elapsed;

    NsaGradients(NsaBackward.Gradients g, NsaInputs in, String path, Duration elapsed) {
        this.g = Objects.requireNonNull(g, "gradients");
        this.in = Objects.requireNonNull(in, "inputs");
        this.path = Objects.requireNonNull(path, "path");
        this.elapsed = Objects.requireNonNull(elapsed, "elapsed");
    }

    /** What computes the gradients of the mixed inputs (the oracle, or the reference GPU backward). */
    @FunctionalInterface
    interface Engine {
        NsaBackward.Gradients run(NsaInputs mixed, HostTensor indices, HostTensor gradO);
    }

    /** {@link NsaAttention#backward}'s computation on the CPU oracle, recorded as having run on {@code path}. */
    static NsaGradients compute(NsaConfig config, PhiWeights phi, GateOverride override, NsaInputs inputs,
                                NsaOutput forward, HostTensor gradO, String path) {
        return compute(override, inputs, forward, gradO, path,
                (mixed, indices, go) -> new NsaBackward(config, phi).backward(mixed, indices, go));
    }

    /** {@link NsaAttention#backward}'s computation on {@code engine}: the checks and the gate override around it. */
    static NsaGradients compute(GateOverride override, NsaInputs inputs, NsaOutput forward, HostTensor gradO,
                                String path, Engine engine) {
        Objects.requireNonNull(inputs, "inputs");
        Objects.requireNonNull(forward, "forward");
        Objects.requireNonNull(gradO, "grad_o");
        HostTensor o = forward.result().o();
        if (!gradO.shape().sameDims(o.shape())) {
            throw new NsaArgumentException("grad_o", "the forward's o shape " + o.shape(), "got " + gradO.shape());
        }
        long t0 = System.nanoTime();
        NsaInputs mixed = inputs;
        if (override != GateOverride.NONE) {   // differentiate through the gates the forward mixed with
            double[] gv = inputs.gates().toDoubleArray();
            for (int i = 0; i < gv.length; i++) {
                gv[i] = override.apply(i % 3, gv[i]);
            }
            mixed = new NsaInputs(inputs.q(), inputs.kCmp(), inputs.vCmp(), inputs.kSel(), inputs.vSel(),
                    inputs.kWin(), inputs.vWin(), HostTensor.of(DType.FP32, gv, inputs.gates().shape().dims()),
                    inputs.cuSeqlens(), inputs.indices());
        }
        NsaBackward.Gradients g = engine.run(mixed, forward.result().indices(), gradO);
        if (override != GateOverride.NONE) {
            Arrays.fill(g.dGates(), 0.0);   // the override's gates are constants
        }
        return new NsaGradients(g, inputs, path, Duration.ofNanos(System.nanoTime() - t0));
    }

    /** dL/dq, in q's shape. */
    public HostTensor dq() {
        return like(g.dq(), in.q());
    }

    /** dL/dk of branch {@code b}, in that k's shape. */
    public HostTensor dk(Branch b) {
        return switch (b) {
            case CMP -> like(g.dkCmp(), in.kCmp());
            case SEL -> like(g.dkSel(), in.kSel());
            case WIN -> like(g.dkWin(), in.kWin());
        };
    }

    /** dL/dv of branch {@code b}, in that v's shape. */
    public HostTensor dv(Branch b) {
        return switch (b) {
            case CMP -> like(g.dvCmp(), in.vCmp());
            case SEL -> like(g.dvSel(), in.vSel());
            case WIN -> like(g.dvWin(), in.vWin());
        };
    }

    /** dL/dgates in the gates' shape ({@code [.., 3]}, cmp, sel, win); 0 where a gate override replaced them. */
    public HostTensor dGates() {
        return like(g.dGates(), in.gates());
    }

    /** phi = mlp: the gradients of phi_k's parameters (pos, w1, b1, w2, b2); empty for avg. */
    public Optional<NsaBackward.MlpGrads> phiK() {
        return Optional.ofNullable(g.phiK());
    }

    /** phi = mlp: the gradients of phi_v's parameters; empty for avg. */
    public Optional<NsaBackward.MlpGrads> phiV() {
        return Optional.ofNullable(g.phiV());
    }

    /** Every gradient in fp64, token-major as the oracle computes them. */
    public NsaBackward.Gradients fp64() {
        return g;
    }

    /** Where the backward ran, and why there. */
    public String path() {
        return path;
    }

    /** Wall time of the backward (checks included). */
    public Duration elapsed() {
        return elapsed;
    }

    private static HostTensor like(double[] v, HostTensor t) {
        return HostTensor.of(DType.FP32, v, t.shape().dims());
    }
}
