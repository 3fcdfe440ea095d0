package dev.nsa4j.bench;

import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.IntStream;

import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.bench.report.NsaBenchRow;
import dev.nsa4j.bench.report.NsaBenchShape;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.fa2.Fa2Attention;
import dev.nsa4j.fa2.Fa2Module;
import dev.nsa4j.fa2.contract.Fa2Options;
import dev.nsa4j.fa2.contract.KeyExtent;
import dev.nsa4j.kernels.CudaContext;
import dev.nsa4j.kernels.CudaEvent;
import dev.nsa4j.kernels.CudaGraph;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceBuffer;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.Mask;
import dev.nsa4j.nsa.Flag;
import dev.nsa4j.nsa.HostTiming;
import dev.nsa4j.nsa.NsaAttention;
import dev.nsa4j.nsa.NsaDeviceInputs;
import dev.nsa4j.nsa.NsaDeviceOutputs;
import dev.nsa4j.nsa.NsaDeviceResult;
import dev.nsa4j.nsa.NsaOutput;
import dev.nsa4j.nsa.StepTimer;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;

/**
 * One shape of {@code nsa bench nsa} ({@link BenchNsaCommand}): random device-resident inputs, the check against
 * FA-2-free routes, then every variant timed in one run (device forward and its steps, graph replay, dense FA-2,
 * the host API), as rows of the NSA bench CSV.
 */
final class NsaBenchRun {
    /** The check's bound on the FA-2 branches' MAE in exact-P mode (docs/routing.md's parity bar). */
    static final double CHECK_MAE = 1e-5;
    /** The check's bound under {@code NSA_FAST_P=1}. */
    static final double CHECK_MAE_FAST_P = 1e-3;
    final NsaAttention nsa, reference;
    final Fa2Module fa2;
    final NsaConfig cfg;
    final DType dt;
    final int b, s;
    final String gpu;
    final NsaBenchShape shape;
    final PrintStream log;
    final CudaStream stream;
    final int warmup, repeat;
    final boolean host;

    NsaBenchRun(NsaAttention nsa, NsaAttention reference, Fa2Module fa2, NsaConfig cfg, DType dt, int b, int s,
                String gpu, NsaBenchShape shape, PrintStream log, int warmup, int repeat, boolean host) {
        this.warmup = warmup;
        this.repeat = repeat;
        this.host = host;
        this.nsa = nsa;
        this.reference = reference;
        this.fa2 = fa2;
        this.cfg = cfg;
        this.dt = dt;
        this.b = b;
        this.s = s;
        this.gpu = gpu;
        this.shape = shape;
        this.log = log;
        this.stream = CudaStream.create(nsa.context());
    }

    List<NsaBenchRow> measure() {
        List<NsaBenchRow> rows = new ArrayList<>();
        int h = cfg.heads(), g = cfg.kvGroups();
        long t0 = System.nanoTime();
        HostTensor q = random(dt, 1, -1, 1, b, s, h, cfg.headDimQk());
        HostTensor k = random(dt, 2, -1, 1, b, s, g, cfg.headDimQk());
        HostTensor v = random(dt, 3, -1, 1, b, s, g, cfg.headDimV());
        HostTensor gates = random(DType.FP32, 4, 0, 1, b, s, h, 3);
        log.printf(Locale.ROOT, "[bench nsa]   inputs drawn (%.1f s)%n", (System.nanoTime() - t0) / 1e9);
        List<AutoCloseable> owned = new ArrayList<>();
        try {
            DeviceTensor dq = up(q, owned), dk = up(k, owned), dvv = up(v, owned), dg = up(gates, owned);
            NsaDeviceInputs in = NsaDeviceInputs.builder().q(dq).sharedKv(dk, dvv).gates(dg).build();
            DeviceTensor o = alloc(dt, owned, b, s, h, cfg.headDimV());
            // the branch outputs the check reads, in the plan's dtype (o's under NSA_FAST_P=1, else fp32)
            dev.nsa4j.nsa.NsaPlan plan = nsa.plan(in, NsaDeviceOutputs.of(o));
            DType branchDt = plan.branchDtype();
            DeviceTensor oCmp = alloc(branchDt, owned, b, s, h, cfg.headDimV());
            DeviceTensor oWin = alloc(branchDt, owned, b, s, h, cfg.headDimV());
            DeviceTensor lCmp = alloc(DType.FP32, owned, b, s, h);
            DeviceTensor lWin = alloc(DType.FP32, owned, b, s, h);
            NsaDeviceOutputs outs = NsaDeviceOutputs.of(o).withBranches(oCmp, null, oWin).withLse(lCmp, null, lWin);
            log.println(indent(plan.toString()));   // the shape class's plan: the same for outs
            validate(in, outs, o, oCmp, oWin, lCmp, lWin, owned);

            // per-step events, one forward per run
            StepEvents ev = new StepEvents(nsa.context());
            owned.add(ev);
            double[][] steps = new double[StepTimer.STEPS.size()][repeat];
            double[] enqueue = new double[repeat];
            for (int r = 0; r < warmup; r++) {
                nsa.forward(stream, in, outs);
            }
            stream.synchronize();
            NsaDeviceResult last = null;
            for (int r = 0; r < repeat; r++) {
                long e0 = System.nanoTime();
                last = nsa.forward(stream, in, outs, ev);
                enqueue[r] = (System.nanoTime() - e0) / 1e6;
                stream.synchronize();
                float[] ms = ev.elapsed();
                for (int j = 0; j < ms.length; j++) {
                    steps[j][r] = ms[j];
                }
            }
            String routes = last.routes().stream().map(x -> x.branch().id() + "=" + x.path().id())
                    .reduce((x, y) -> x + " " + y).orElse("");
            // back to back
            double[] fwd = backToBack(() -> nsa.forward(stream, in, outs));
            rows.add(NsaBenchRow.measured("nsa4j", "device", NsaBenchRow.FORWARD, gpu, shape, fwd,
                    "back-to-back wall clock per forward; " + routes));
            for (int j = 0; j < StepTimer.STEPS.size(); j++) {
                rows.add(NsaBenchRow.measured("nsa4j", "device", StepTimer.STEPS.get(j), gpu, shape, steps[j],
                        "CUDA events; " + stepOp(last, j)));
            }
            rows.add(NsaBenchRow.measured("nsa4j", "device", "enqueue", gpu, shape, enqueue,
                    "host time to enqueue one forward"));
            log.printf(Locale.ROOT, "[bench nsa]   device forward %.3f ms (median of %d)%n", median(fwd), repeat);
            try (CudaGraph graph = CudaGraph.capture(stream, () -> nsa.forward(stream, in, outs))) {
                double[] gr = backToBack(() -> graph.launch(stream));
                rows.add(NsaBenchRow.measured("nsa4j", "graph", NsaBenchRow.FORWARD, gpu, shape, gr,
                        "CUDA graph replays back to back, wall clock per replay"));
                log.printf(Locale.ROOT, "[bench nsa]   graph replay %.3f ms%n", median(gr));
            }
            rows.add(dense(dq, dk, dvv, owned));
            if (host) {
                rows.addAll(host(q, k, v, gates));
            }
        } catch (Exception e) {
            throw e instanceof RuntimeException re ? re : new IllegalStateException(e);
        } finally {
            // device memory first (freed stream-ordered on this stream), then the stream
            Closeables.closeAllQuietly(owned);
            stream.close();
        }
        return rows;
    }

    private String stepOp(NsaDeviceResult r, int j) {
        String step = StepTimer.STEPS.get(j);
        return r.plan().steps().stream().filter(x -> x.step().equals(step)).map(x -> x.op()).findFirst().orElse("");
    }

    /**
     * The planned forward against FA-2-free routes on the same inputs: FA-2 branches' o and lse, MAE below
     * {@link #CHECK_MAE} (exact P) or {@link #CHECK_MAE_FAST_P} under {@code NSA_FAST_P=1} (P rounded once: within
     * the rounding of a half-precision P, as PipelineParityGpuTest judges it).
     */
    private void validate(NsaDeviceInputs in, NsaDeviceOutputs outs, DeviceTensor o, DeviceTensor oCmp,
                          DeviceTensor oWin, DeviceTensor lCmp, DeviceTensor lWin, List<AutoCloseable> owned) {
        long t0 = System.nanoTime();
        nsa.forward(stream, in, outs);
        double[][] got = {oCmp.toHost(stream).toDoubleArray(), oWin.toHost(stream).toDoubleArray(),
                lCmp.toHost(stream).toDoubleArray(), lWin.toHost(stream).toDoubleArray(),
                o.toHost(stream).toDoubleArray()};
        reference.forward(stream, in, outs);
        double[][] want = {oCmp.toHost(stream).toDoubleArray(), oWin.toHost(stream).toDoubleArray(),
                lCmp.toHost(stream).toDoubleArray(), lWin.toHost(stream).toDoubleArray(),
                o.toHost(stream).toDoubleArray()};
        String[] names = {"o_cmp", "o_win", "lse_cmp", "lse_win", "o"};
        boolean fastP = nsa.flags().bool(Flag.NSA_FAST_P);
        double bound = fastP ? CHECK_MAE_FAST_P : CHECK_MAE;
        StringBuilder sb = new StringBuilder("[bench nsa]   check vs FA-2-free routes (MAE"
                + (fastP ? ", NSA_FAST_P=1: bound " + bound : "") + "):");
        for (int i = 0; i < names.length; i++) {
            double mae = 0;
            long bad = 0;
            for (int j = 0; j < got[i].length; j++) {
                double a = got[i][j], w = want[i][j];
                if (!Double.isFinite(a)) {
                    if (a != w) {
                        bad++;
                    }
                    continue;
                }
                mae += Math.abs(a - w);
            }
            mae /= Math.max(1, got[i].length);
            sb.append(String.format(Locale.ROOT, " %s %.2e", names[i], mae));
            if (bad > 0 || (i < 4 && !(mae < bound))) {
                throw new IllegalStateException("nsa bench: the planned forward disagrees with the FA-2-free routes on "
                        + names[i] + " (MAE " + mae + ", " + bad + " non-finite): not timing a wrong result");
            }
        }
        log.printf(Locale.ROOT, "%s (%.1f s)%n", sb, (System.nanoTime() - t0) / 1e9);
    }

    private double[] backToBack(Runnable forward) {
        long w0 = System.nanoTime();
        for (int r = 0; r < Math.max(1, warmup); r++) {
            forward.run();
        }
        stream.synchronize();
        double warmMs = (System.nanoTime() - w0) / 1e6 / Math.max(1, warmup);
        double[] t = new double[repeat];
        int per = warmMs > 100 ? 1 : warmMs > 10 ? 3 : 10;   // enough forwards per sample to dwarf one sync
        for (int r = 0; r < repeat; r++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < per; i++) {
                forward.run();
            }
            stream.synchronize();
            t[r] = (System.nanoTime() - t0) / 1e6 / per;
        }
        return t;
    }

    private NsaBenchRow dense(DeviceTensor q, DeviceTensor k, DeviceTensor v, List<AutoCloseable> owned) {
        DeviceTensor o = alloc(dt, owned, b, s, cfg.heads(), cfg.headDimV());
        Fa2Attention.Plan p = Fa2Attention.plan(nsa.context().device(), Fa2Attention.Inputs.dense(q, k, v, o, null),
                Fa2Attention.Spec.of(Mask.CAUSAL, KeyExtent.FULL), Fa2Options.defaults());
        if (!p.launchable()) {
            throw new IllegalStateException("dense FA-2 refused: " + p.verdict().reason());
        }
        DeviceBuffer ws = p.workspaceBytes() > 0 ? DeviceBuffer.allocate(stream, p.workspaceBytes()) : null;
        if (ws != null) {
            owned.add(ws);
        }
        try (CudaEvent a = CudaEvent.create(nsa.context()); CudaEvent z = CudaEvent.create(nsa.context())) {
            for (int r = 0; r < warmup + 1; r++) {
                Fa2Attention.enqueue(fa2, stream.handle(), p, ws);
            }
            double[] t = new double[repeat];
            for (int r = 0; r < repeat; r++) {
                a.record(stream);
                Fa2Attention.enqueue(fa2, stream.handle(), p, ws);
                z.record(stream);
                t[r] = CudaEvent.elapsedMillis(a, z);
            }
            log.printf(Locale.ROOT, "[bench nsa]   dense FA-2 causal %.3f ms%n", median(t));
            return NsaBenchRow.measured("nsa4j", "fa2-dense", NsaBenchRow.FORWARD, gpu, shape, t,
                    "FA-2 causal, fast mode, CUDA events");
        }
    }

    private List<NsaBenchRow> host(HostTensor q, HostTensor k, HostTensor v, HostTensor gates) {
        long rows = (long) b * s * cfg.heads();
        long need = rows * cfg.headDimV() * 8L * 6;   // o and the branch outputs as fp64, plus conversions
        Runtime rt = Runtime.getRuntime();
        if (need > rt.maxMemory() * 0.7) {
            log.printf(Locale.ROOT, "[bench nsa]   host variant skipped: its fp64 result needs ~%.1f GB, the heap "
                    + "has %.1f GB (-Xmx)%n", need / 1e9, rt.maxMemory() / 1e9);
            return List.of();
        }
        NsaInputs in = NsaInputs.builder().q(q).sharedKv(k, v).gates(gates).build();
        for (int r = 0; r < warmup; r++) {
            nsa.forward(in, DType.FP32);
        }
        double[] total = new double[repeat], transfers = new double[repeat], device = new double[repeat];
        for (int r = 0; r < repeat; r++) {
            NsaOutput out = nsa.forward(in, DType.FP32);
            HostTiming t = out.timing();
            total[r] = out.elapsed().toNanos() / 1e6;
            transfers[r] = t.transfersMs();
            device[r] = t.deviceMs();
        }
        log.printf(Locale.ROOT, "[bench nsa]   host API %.1f ms (transfers %.1f + device %.1f)%n", median(total),
                median(transfers), median(device));
        return List.of(NsaBenchRow.measured("nsa4j", "host", NsaBenchRow.FORWARD, gpu, shape, total,
                        "upload, forward, download of o, branch outputs, lse and indices (fp32 -> fp64 result)"),
                NsaBenchRow.measured("nsa4j", "host", "transfers", gpu, shape, transfers,
                        "uploads + downloads with conversion"));
    }

    private DeviceTensor up(HostTensor h, List<AutoCloseable> owned) {
        DeviceTensor t = DeviceTensor.upload(stream, h);
        owned.add(t);
        return t;
    }

    private DeviceTensor alloc(DType d, List<AutoCloseable> owned, int... dims) {
        DeviceTensor t = DeviceTensor.allocate(stream, d, dims);
        owned.add(t);
        return t;
    }

    /** Events at the step boundaries of one forward. */
    private static final class StepEvents implements StepTimer, AutoCloseable {
        private final CudaEvent[] events;
        private int next;

        StepEvents(CudaContext ctx) {
            events = new CudaEvent[StepTimer.STEPS.size() + 1];
            for (int i = 0; i < events.length; i++) {
                events[i] = CudaEvent.create(ctx);
            }
        }

        @Override
        public void begin(CudaStream stream) {
            next = 0;
            events[next++].record(stream);
        }

        @Override
        public void mark(String step, CudaStream stream) {
            if (!StepTimer.STEPS.get(next - 1).equals(step)) {
                throw new IllegalStateException("step " + step + " out of order");
            }
            events[next++].record(stream);
        }

        float[] elapsed() {
            float[] ms = new float[events.length - 1];
            for (int i = 0; i < ms.length; i++) {
                ms[i] = CudaEvent.elapsedMillis(events[i], events[i + 1]);
            }
            return ms;
        }

        @Override
        public void close() {
            for (CudaEvent e : events) {
                e.close();
            }
        }
    }

    static double median(double[] t) {
        double[] c = t.clone();
        Arrays.sort(c);
        return c[c.length / 2];
    }

    private static String indent(String s) {
        return "[bench nsa]   " + s.replace("\n", "\n[bench nsa]   ");
    }

    /**
     * Uniform values in [lo, hi) rounded to {@code dtype}, from a counter-based generator (splitmix64), filled in
     * parallel: the same tensor for the same seed, fast enough for gigabytes of inputs.
     */
    static HostTensor random(DType dtype, long seed, double lo, double hi, int... dims) {
        HostTensor t = HostTensor.zeros(dtype, dims);
        MemorySegment seg = t.segment();
        long n = t.numel();
        int chunks = (int) Math.min(4096, Math.max(1, n / (1 << 16)));
        IntStream.range(0, chunks).parallel().forEach(c -> {
            long from = n * c / chunks, to = n * (c + 1) / chunks;
            for (long i = from; i < to; i++) {
                long z = (i + seed * 0x9E3779B97F4A7C15L) * 0xBF58476D1CE4E5B9L;
                z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
                z ^= z >>> 31;
                float x = (float) (lo + (hi - lo) * ((z >>> 11) * 0x1.0p-53));
                switch (dtype) {
                    case FP32 -> seg.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, x);
                    case FP16 -> seg.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, Float.floatToFloat16(x));
                    case BF16 -> seg.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, DType.floatToBf16(x));
                    default -> throw new IllegalArgumentException("random " + dtype);
                }
            }
        });
        return t;
    }
}
