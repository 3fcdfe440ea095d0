package dev.nsa4j.nsa;

import dev.nsa4j.kernels.CudaContext;
import dev.nsa4j.kernels.CudaEvent;
import dev.nsa4j.kernels.CudaStream;

/**
 * A plan's second stream, for the branch that depends on nothing computed before it (the window branch reads only
 * the call's q, k_win and v_win): {@link #fork} makes it wait for the caller's stream's work so far and returns it,
 * {@link #join} makes the caller's stream wait for everything enqueued on it since. Fork and join are event
 * record/wait pairs, so a forward on a capturing stream is captured with both streams' work (CUDA graphs allow
 * fork/join by events) and the caller still synchronises on its own stream only. The window branch's FA-2 kernel
 * is bound by arithmetic and the selection kernel by memory latency, so the two overlap on the GPU. Not
 * thread-safe: one forward at a time (the pipeline's owner serialises runs).
 */
final class SideStream implements AutoCloseable {
    private final CudaStream stream;
    private final CudaEvent forked;
    private final CudaEvent joined;

    private SideStream(CudaStream stream, CudaEvent forked, CudaEvent joined) {
        this.stream = stream;
        this.forked = forked;
        this.joined = joined;
    }

    static SideStream create(CudaContext context) {
        CudaStream s = CudaStream.create(context);
        CudaEvent f = null;
        try {
            f = CudaEvent.create(context);
            return new SideStream(s, f, CudaEvent.create(context));
        } catch (RuntimeException e) {
            if (f != null) {
                f.close();
            }
            s.close();
            throw e;
        }
    }

    /** The side stream, ordered after the work enqueued on {@code main} so far. */
    CudaStream fork(CudaStream main) {
        forked.record(main);
        stream.waitFor(forked);
        return stream;
    }

    /** Orders {@code main}'s next work after everything enqueued on the side stream since {@link #fork}. */
    void join(CudaStream main) {
        joined.record(stream);
        main.waitFor(joined);
    }

    @Override
    public void close() {
        joined.close();
        forked.close();
        stream.close();
    }
}
