package dev.nsa4j.kernels;

import dev.nsa4j.kernels.internal.Jcu;
import java.util.Objects;

import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUstreamCaptureMode;
import jcuda.driver.JCudaDriver;

/**
 * A CUDA graph captured from the work enqueued on one stream, instantiated and replayable
 * ({@code cuStreamBeginCapture} / {@code cuStreamEndCapture} / {@code cuGraphInstantiate} / {@code cuGraphLaunch}).
 *
 * <p>Capture runs in thread-local mode, so a call that would synchronise or allocate synchronously while the
 * stream is captured fails (CUDA's error, thrown as a {@link CudaException}) instead of silently ending up
 * outside the graph: code that captures cleanly does no host round trip. A replay reads and writes the same
 * device addresses the captured launches did.
 */
public final class CudaGraph implements AutoCloseable {
    private final CudaContext context;
    private final CUgraph graph;
    private final CUgraphExec exec;
    private boolean closed;

    private CudaGraph(CudaContext context, CUgraph graph, CUgraphExec exec) {
        this.context = context;
        this.graph = graph;
        this.exec = exec;
    }

    /**
     * Captures what {@code work} enqueues on {@code stream} (nothing runs while capturing) and instantiates it.
     * On any failure the capture is ended and the partial graph destroyed before the exception propagates.
     */
    public static CudaGraph capture(CudaStream stream, Runnable work) {
        Objects.requireNonNull(work, "work");
        CudaContext ctx = stream.context();
        ctx.bind();
        Jcu.check(JCudaDriver.cuStreamBeginCapture(stream.jcuda(), CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
                "cuStreamBeginCapture");
        CUgraph g = new CUgraph();
        try {
            work.run();
        } catch (RuntimeException e) {
            ctx.bind();
            if (JCudaDriver.cuStreamEndCapture(stream.jcuda(), g) == 0 && Jcu.address(g) != 0L) {
                JCudaDriver.cuGraphDestroy(g);
            }
            throw e;
        }
        ctx.bind();
        Jcu.check(JCudaDriver.cuStreamEndCapture(stream.jcuda(), g), "cuStreamEndCapture");
        CUgraphExec exec = new CUgraphExec();
        int rc = JCudaDriver.cuGraphInstantiate(exec, g, 0);
        if (rc != 0) {
            JCudaDriver.cuGraphDestroy(g);
            Jcu.check(rc, "cuGraphInstantiate");
        }
        return new CudaGraph(ctx, g, exec);
    }

    /** Enqueues one replay on {@code stream}. */
    public void launch(CudaStream stream) {
        if (closed) {
            throw new IllegalStateException("CUDA graph is closed");
        }
        context.bind();
        Jcu.check(JCudaDriver.cuGraphLaunch(exec, stream.jcuda()), "cuGraphLaunch");
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        context.bind();
        Jcu.check(JCudaDriver.cuGraphExecDestroy(exec), "cuGraphExecDestroy");
        Jcu.check(JCudaDriver.cuGraphDestroy(graph), "cuGraphDestroy");
    }
}
