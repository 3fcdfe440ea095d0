package dev.nsa4j.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;

import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.kernels.CudaContext;
import dev.nsa4j.kernels.CudaEvent;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceBuffer;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.nsa.FlagSnapshot;
import dev.nsa4j.nsa.NsaAttention;
import dev.nsa4j.nsa.NsaDeviceInputs;
import dev.nsa4j.nsa.NsaGpuDecoder;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;

/**
 * One open GPU decoder of {@code nsa bench decode} and what its timed steps use: the attention it runs on (its own,
 * so the prefill's plans are freed with it), a stream, {@value DecodeBenchRun#INPUT_SETS} sets of random step
 * tokens on the device ({@code [B,1,...]}: q, shared k/v, fp32 gates), the step output {@code o} (the cache dtype),
 * the step captured once as a CUDA graph on the first set, and the L2 flush buffer. Closing frees it all.
 */
final class DecodeSession implements AutoCloseable {
    final NsaAttention att;
    final NsaGpuDecoder dec;
    final CudaStream stream;
    final NsaDeviceInputs[] sets = new NsaDeviceInputs[DecodeBenchRun.INPUT_SETS];
    final DeviceTensor o;
    final DeviceBuffer flush;
    final NsaGpuDecoder.StepGraph graph;
    private final List<AutoCloseable> owned = new ArrayList<>();

    DecodeSession(CudaContext ctx, NsaConfig cfg, FlagSnapshot flags, int b, int capacity, DType dt, boolean flushL2) {
        try {
            att = own(NsaAttention.builder(cfg).flags(flags).device("gpu").context(ctx).build());
            dec = own(NsaGpuDecoder.open(att, b, capacity, dt));
            stream = own(CudaStream.create(ctx));
            int h = cfg.heads(), g = cfg.kvGroups();
            for (int i = 0; i < sets.length; i++) {
                long seed = 1000L + 10L * i;
                sets[i] = NsaDeviceInputs.builder().q(up(NsaBenchRun.random(dt, seed, -1, 1, b, 1, h, cfg.headDimQk())))
                        .sharedKv(up(NsaBenchRun.random(dt, seed + 1, -1, 1, b, 1, g, cfg.headDimQk())),
                                up(NsaBenchRun.random(dt, seed + 2, -1, 1, b, 1, g, cfg.headDimV())))
                        .gates(up(NsaBenchRun.random(DType.FP32, seed + 3, 0, 1, b, 1, h, 3))).build();
            }
            o = own(DeviceTensor.allocate(stream, dt, b, 1, h, cfg.headDimV()));
            flush = flushL2 ? own(DeviceBuffer.allocate(stream, DeviceBytes.FLUSH_BYTES)) : null;
            graph = own(dec.capture(stream, sets[0], o));
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    private <T extends AutoCloseable> T own(T t) {
        owned.add(t);
        return t;
    }

    private DeviceTensor up(HostTensor h) {
        return own(DeviceTensor.upload(stream, h));
    }

    /** Per-call times (ms) of {@code runs} calls after {@code warmup} untimed ones, on this session's stream. */
    double[] time(int warmup, int runs, IntConsumer call) {
        return time(stream, flush, warmup, runs, call);
    }

    /**
     * Per-call times (ms): {@code warmup} untimed calls, then per timed call the L2 flush (when {@code flush} is not
     * null), a start event, the call, an end event; one synchronisation at the end. {@code call} gets the call's
     * index (warm-ups first).
     */
    static double[] time(CudaStream stream, DeviceBuffer flush, int warmup, int runs, IntConsumer call) {
        for (int i = 0; i < warmup; i++) {
            call.accept(i);
        }
        CudaEvent[] a = new CudaEvent[runs];
        CudaEvent[] z = new CudaEvent[runs];
        try {
            for (int r = 0; r < runs; r++) {
                a[r] = CudaEvent.create(stream.context());
                z[r] = CudaEvent.create(stream.context());
            }
            for (int r = 0; r < runs; r++) {
                if (flush != null) {
                    flush.fill(stream, (byte) r);
                }
                a[r].record(stream);
                call.accept(warmup + r);
                z[r].record(stream);
            }
            stream.synchronize();
            double[] ms = new double[runs];
            for (int r = 0; r < runs; r++) {
                ms[r] = CudaEvent.elapsedMillis(a[r], z[r]);
            }
            return ms;
        } finally {
            for (int r = 0; r < runs; r++) {
                for (CudaEvent e : new CudaEvent[] {a[r], z[r]}) {
                    if (e != null) {
                        e.close();
                    }
                }
            }
        }
    }

    /** Throws when the last step's output holds NaN or Inf (the inputs are finite): a wrong result is not timed. */
    void requireFinite(String what) {
        if (!finite(o.toHost(stream))) {
            throw new IllegalStateException("the " + what + " step's output holds NaN/Inf from finite inputs: "
                    + "not timing a wrong result");
        }
    }

    static boolean finite(HostTensor t) {
        for (double v : t.toDoubleArray()) {
            if (!Double.isFinite(v)) {
                return false;
            }
        }
        return true;
    }

    @Override
    public void close() {
        RuntimeException first = null;
        for (int i = owned.size() - 1; i >= 0; i--) {
            try {
                owned.get(i).close();
            } catch (Exception e) {
                if (first == null) {
                    first = e instanceof RuntimeException re ? re : new IllegalStateException(e);
                }
            }
        }
        owned.clear();
        if (first != null) {
            throw first;
        }
    }
}
