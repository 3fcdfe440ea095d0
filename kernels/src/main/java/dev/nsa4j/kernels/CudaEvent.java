package dev.nsa4j.kernels;

import dev.nsa4j.kernels.internal.Jcu;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.JCudaDriver;

/**
 * A CUDA event for timing device work: {@link #record} on a stream, then {@link #elapsedMillis} between two
 * recorded events (which waits for the later one only).
 */
public final class CudaEvent implements AutoCloseable {
    private final CudaContext context;
    private final CUevent event;
    private boolean closed;

    private CudaEvent(CudaContext context, CUevent event) {
        this.context = context;
        this.event = event;
    }

    public static CudaEvent create(CudaContext context) {
        context.bind();
        CUevent e = new CUevent();
        Jcu.check(JCudaDriver.cuEventCreate(e, CUevent_flags.CU_EVENT_DEFAULT), "cuEventCreate");
        return new CudaEvent(context, e);
    }

    /** Enqueues this event on {@code stream}. */
    public CudaEvent record(CudaStream stream) {
        context.bind();
        Jcu.check(JCudaDriver.cuEventRecord(event, stream.jcuda()), "cuEventRecord");
        return this;
    }

    CUevent jcuda() {
        return event;
    }

    /** Waits until the work before this event has finished. */
    public void synchronize() {
        context.bind();
        Jcu.check(JCudaDriver.cuEventSynchronize(event), "cuEventSynchronize");
    }

    /** Milliseconds between {@code start} and {@code end}, waiting for {@code end}. */
    public static float elapsedMillis(CudaEvent start, CudaEvent end) {
        end.synchronize();
        float[] ms = new float[1];
        Jcu.check(JCudaDriver.cuEventElapsedTime(ms, start.event, end.event), "cuEventElapsedTime");
        return ms[0];
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        context.bind();
        Jcu.check(JCudaDriver.cuEventDestroy(event), "cuEventDestroy");
    }
}
