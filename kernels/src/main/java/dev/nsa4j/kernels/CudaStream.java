package dev.nsa4j.kernels;

import dev.nsa4j.kernels.internal.Jcu;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;

/**
 * A CUDA stream: created by nsa4j (owned, non-blocking) or wrapped from a caller's raw handle.
 *
 * <p>Every nsa4j operation takes a stream and only enqueues on it; {@link #synchronize()} waits for this
 * stream alone. Raw handle 0 is the legacy default stream (which implicitly synchronises with other
 * blocking streams; prefer a created stream).
 */
public final class CudaStream implements AutoCloseable {
    private final CudaContext context;
    private final CUstream stream;
    private final boolean owned;
    private boolean closed;

    private CudaStream(CudaContext context, CUstream stream, boolean owned) {
        this.context = context;
        this.stream = stream;
        this.owned = owned;
    }

    /** A new non-blocking stream in {@code context}, destroyed by {@link #close()}. */
    public static CudaStream create(CudaContext context) {
        context.bind();
        CUstream s = new CUstream();
        Jcu.check(JCudaDriver.cuStreamCreate(s, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
        return new CudaStream(context, s, true);
    }

    /** Wraps a caller's {@code CUstream} (or {@code cudaStream_t}) handle; {@link #close()} leaves it alone. */
    public static CudaStream wrap(CudaContext context, long rawStream) {
        return new CudaStream(context, Jcu.stream(rawStream), false);
    }

    public CudaContext context() {
        return context;
    }

    /** The raw handle, for interop. */
    public long handle() {
        return Jcu.address(stream);
    }

    CUstream jcuda() {
        if (closed) {
            throw new IllegalStateException("CUDA stream is closed");
        }
        return stream;
    }

    /** True once {@link #close()} ran. */
    public boolean isClosed() {
        return closed;
    }

    /** Waits until all work enqueued on this stream has finished (this stream only). */
    public void synchronize() {
        context.bind();
        Jcu.check(JCudaDriver.cuStreamSynchronize(jcuda()), "cuStreamSynchronize");
    }

    /** Makes later work on this stream wait for {@code event} (recorded on any stream); no host wait. */
    public void waitFor(CudaEvent event) {
        context.bind();
        Jcu.check(JCudaDriver.cuStreamWaitEvent(jcuda(), event.jcuda(), 0), "cuStreamWaitEvent");
    }

    /** True while this stream is being captured into a CUDA graph ({@link CudaGraph#capture}). */
    public boolean isCapturing() {
        context.bind();
        int[] status = new int[1];
        Jcu.check(JCudaDriver.cuStreamIsCapturing(jcuda(), status), "cuStreamIsCapturing");
        return status[0] != jcuda.driver.CUstreamCaptureStatus.CU_STREAM_CAPTURE_STATUS_NONE;
    }

    public boolean isOwned() {
        return owned;
    }

    /** Destroys an owned stream (pending work still completes, as CUDA defines); a wrapped one is left alone. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (owned) {
            context.bind();
            Jcu.check(JCudaDriver.cuStreamDestroy(stream), "cuStreamDestroy");
        }
    }
}
