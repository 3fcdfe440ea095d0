package dev.nsa4j.kernels.op;

import dev.nsa4j.kernels.CudaStream;

/**
 * One planned computation of an NSA forward (compression, attention on one path, block scoring + top-n,
 * a cast, the gate combine). An op is planned once for a shape (its factory checks what it can without
 * device memory and sizes its scratch) and then launched any number of times on a stream into given
 * device tensors. A launch only enqueues: no allocation, no host copy, no synchronisation, so a forward's
 * launches can be captured into a CUDA graph.
 *
 * <p>Ops are implemented where their kernels live (kernels/, fa2-bridge/) and composed by nsa-core; an op
 * never calls back up.
 *
 * @param <A> the tensors of one launch
 */
public interface DeviceOp<A> {
    /** What runs, for plans and logs, e.g. {@code "fa2 block-causal exact-P bf16 d128"}. */
    String describe();

    /** Scratch bytes one launch needs (the caller plans and passes them); 0 when none. */
    default long workspaceBytes() {
        return 0;
    }

    /**
     * Checks {@code args} host-side (shapes, dtypes, strides, alignment: an {@link dev.nsa4j.NsaArgumentException}
     * naming the tensor and the rule, before any launch) and enqueues on {@code stream}.
     *
     * @param workspace at least {@link #workspaceBytes()} bytes, used only by work enqueued here
     * @return the path that computed the launch and why
     */
    OpRun launch(CudaStream stream, A args, Workspace workspace);
}
