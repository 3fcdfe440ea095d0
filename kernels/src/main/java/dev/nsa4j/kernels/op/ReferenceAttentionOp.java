package dev.nsa4j.kernels.op;

import java.util.Objects;

import dev.nsa4j.kernels.internal.Attention;
import dev.nsa4j.kernels.internal.AttnMask;
import dev.nsa4j.kernels.internal.AttnSpec;
import dev.nsa4j.kernels.internal.AttnWalk;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.internal.KernelModule;

/**
 * A branch attention on the reference kernels ({@link Attention}): path {@code sdpa} (walk ALL) or
 * {@code sdpa-masked} (walk RANGES), over sequences planned once. Needs no scratch.
 */
public final class ReferenceAttentionOp implements DeviceOp<AttentionArgs> {
    private final KernelModule module;
    private final AttnSpec spec;
    private final Sequences queries;
    private final Sequences keys;

    /**
     * @param spec    mask, walk and scale
     * @param queries the queries' sequences
     * @param keys    the keys' sequences (compressed tokens for the block-causal mask)
     */
    public ReferenceAttentionOp(KernelModule module, AttnSpec spec, Sequences queries, Sequences keys) {
        this.module = Objects.requireNonNull(module, "module");
        this.spec = Objects.requireNonNull(spec, "spec");
        this.queries = Objects.requireNonNull(queries, "queries");
        this.keys = Objects.requireNonNull(keys, "keys");
    }

    /** docs/routing.md's name of the path: {@code sdpa} or {@code sdpa-masked}. */
    public String path() {
        return spec.walk() == AttnWalk.ALL ? "sdpa" : "sdpa-masked";
    }

    public AttnSpec spec() {
        return spec;
    }

    @Override
    public String describe() {
        return path() + " " + AttnMask.ofMask(spec.mask()).name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }

    @Override
    public OpRun launch(CudaStream stream, AttentionArgs a, Workspace workspace) {
        Attention.run(module, stream, a.q(), a.k(), a.v(), queries.device(), keys.device(), a.blocks(), spec, a.out(),
                a.lse());
        return OpRun.ran(path());
    }
}
