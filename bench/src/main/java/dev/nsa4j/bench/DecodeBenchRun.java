package dev.nsa4j.bench;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import dev.nsa4j.bench.report.DecodeBenchRow;
import dev.nsa4j.bench.report.NsaBenchConfig;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.fa2.Fa2Attention;
import dev.nsa4j.fa2.Fa2Module;
import dev.nsa4j.fa2.contract.Fa2Options;
import dev.nsa4j.fa2.contract.KeyExtent;
import dev.nsa4j.kernels.CudaContext;
import dev.nsa4j.kernels.CudaEvent;
import dev.nsa4j.kernels.CudaException;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceBuffer;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.Mask;
import dev.nsa4j.nsa.FlagSnapshot;
import dev.nsa4j.nsa.NsaAttention;
import dev.nsa4j.nsa.NsaDeviceInputs;
import dev.nsa4j.nsa.NsaGpuDecoder;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;

/**
 * One batch size of {@code nsa bench decode} ({@link BenchDecodeCommand}): for each context, ascending, the NSA decode
 * step eager and as a CUDA graph on one {@link NsaGpuDecoder}, then nsa4j's dense FA-2 split-KV decode over the same
 * context, as rows of the decode bench CSV.
 *
 * <p>Reaching a context: the decoder's device prefill without a forward
 * ({@link NsaGpuDecoder#prefill(CudaStream, NsaDeviceInputs, dev.nsa4j.nsa.NsaDeviceOutputs)} with no outputs) fills
 * every sequence's caches with ctx random tokens (shared k/v for the three branches, made on the device from a random
 * chunk), so any context costs a copy, not a forward. Each timed step grows the cache by one token too, so a row's
 * {@code position} is its middle timed step's.
 *
 * <p>Timing: per step (or dense call), an optional L2 flush (a 256 MiB memset), then CUDA events around the call
 * alone; {@code warmup} untimed calls first; median of {@code runs}. A failure (out of memory, a refused shape, a
 * CUDA error) becomes a row with its status and the next context is tried on a fresh decoder.
 */
final class DecodeBenchRun {
    /** What one run measures and within which limits. */
    record Settings(int warmup, int runs, boolean flushL2, Set<String> paths) {
    }

    /** Step input sets the eager steps rotate through (the graph replays the first). */
    static final int INPUT_SETS = 4;

    private final CudaContext ctx;
    private final Fa2Module fa2;
    private final NsaConfig cfg;
    private final NsaBenchConfig bc;
    private final DType dt;
    private final int b;
    private final String gpu;
    private final double gbps;
    private final Settings set;
    private final FlagSnapshot flags;
    private final PrintWriter log;

    DecodeBenchRun(CudaContext ctx, Fa2Module fa2, NsaConfig cfg, NsaBenchConfig bc, DType dt, int b, String gpu,
                   double gbps, Settings set, FlagSnapshot flags, PrintWriter log) {
        this.ctx = ctx;
        this.fa2 = fa2;
        this.cfg = cfg;
        this.bc = bc;
        this.dt = dt;
        this.b = b;
        this.gpu = gpu;
        this.gbps = gbps;
        this.set = set;
        this.flags = flags;
        this.log = log;
    }

    /** The rows of every context (ascending), each path that {@link Settings#paths} names. */
    List<DecodeBenchRow> measure(List<Integer> contexts) {
        List<DecodeBenchRow> rows = new ArrayList<>();
        boolean nsa = set.paths().contains("nsa-eager") || set.paths().contains("nsa-graph");
        int capacity = contexts.getLast() + contexts.size() * 2 * (set.warmup() + set.runs()) + 64;
        DecodeSession s = null;
        String[] openFailed = null;   // {status, reason} when the decoder does not open: none of B's rows will
        try (CudaStream dense = CudaStream.create(ctx)) {
            for (int c : contexts) {
                log.printf(Locale.ROOT, "[bench decode] B=%d ctx=%d%n", b, c);
                if (nsa && openFailed == null) {
                    try {
                        if (s == null) {
                            s = new DecodeSession(ctx, cfg, flags, b, capacity, dt, set.flushL2());
                            log.printf(Locale.ROOT, "[bench decode]   decoder: capacity %d tokens, caches %.2f GB%n",
                                    capacity, s.dec.plan().cacheBytes() / 1e9);
                        }
                        rows.addAll(nsaRows(s, c));
                    } catch (RuntimeException | OutOfMemoryError e) {
                        String[] st = status(e);
                        log.println("[bench decode]   NSA " + st[0] + ": " + st[1]);
                        if (s == null) {
                            openFailed = new String[] {st[0], "opening the decoder: " + st[1]};
                        }
                        for (String v : List.of("nsa-eager", "nsa-graph")) {
                            rows.add(notMeasured(v, c, st[0], s == null ? openFailed[1] : st[1]));
                        }
                        s = closeQuietly(s);
                    }
                } else if (nsa) {
                    for (String v : List.of("nsa-eager", "nsa-graph")) {
                        rows.add(notMeasured(v, c, openFailed[0], openFailed[1]));
                    }
                }
                if (set.paths().contains("fa2-dense")) {
                    rows.add(dense(dense, c));
                }
            }
        } finally {
            closeQuietly(s);
        }
        return rows.stream().filter(r -> set.paths().contains(r.variant())).toList();
    }

    /** The eager and graph rows at context {@code c} (the caches filled to it first). */
    private List<DecodeBenchRow> nsaRows(DecodeSession s, int c) {
        fill(s, c);
        int t0 = s.dec.length(0) + set.warmup();
        double[] eager = s.time(set.warmup(), set.runs(), i -> s.dec.step(s.stream, s.sets[i % INPUT_SETS], s.o));
        s.requireFinite("eager");
        int t1 = s.dec.length(0) + set.warmup();
        double[] graph = s.time(set.warmup(), set.runs(), i -> s.graph.replay(s.stream));
        s.requireFinite("graph");
        String how = (set.flushL2() ? "L2 flushed before each step; " : "") + "CUDA events around one step; ";
        DecodeBenchRow e = row("nsa-eager", c, t0 + set.runs() / 2, eager, how + "NsaGpuDecoder.step on device tensors");
        DecodeBenchRow g = row("nsa-graph", c, t1 + set.runs() / 2, graph, how + "StepGraph.replay (captured once)");
        log.printf(Locale.ROOT, "[bench decode]   nsa-eager %.4f ms, nsa-graph %.4f ms (%.0f tokens/s), %.2f MB/step, "
                + "%.2fx HBM time%n", e.medianMs(), g.medianMs(), g.tokensPerS(), (g.kvBytes() + g.qoBytes()) / 1e6,
                g.xHbm());
        return List.of(e, g);
    }

    /** Every sequence's caches refilled with {@code c} random tokens by the device prefill (no forward). */
    private void fill(DecodeSession s, int c) {
        long t = System.nanoTime();
        List<AutoCloseable> owned = new ArrayList<>();
        try {
            DeviceTensor k = alloc(s.stream, owned, b, c, cfg.kvGroups(), cfg.headDimQk());
            DeviceTensor v = alloc(s.stream, owned, b, c, cfg.kvGroups(), cfg.headDimV());
            DeviceBytes.fillRandom(s.stream, k, c * 7L + 1, -1, 1);
            DeviceBytes.fillRandom(s.stream, v, c * 7L + 2, -1, 1);
            // q and the gates are read only by a forward, which this prefill does not run
            s.dec.prefill(s.stream, NsaDeviceInputs.builder().q(s.sets[0].q()).sharedKv(k, v)
                    .gates(s.sets[0].gates()).build(), null);
            s.stream.synchronize();
        } finally {
            Closeables.closeAllQuietly(owned);
        }
        log.printf(Locale.ROOT, "[bench decode]   caches filled with %d tokens per sequence from device k/v (%.1f s); "
                + "%s%n", c, (System.nanoTime() - t) / 1e9, s.dec.route());
    }

    /** Dense FA-2 (fast mode): one query per sequence over ctx + 1 keys, unmasked on keys that end at the query. */
    private DecodeBenchRow dense(CudaStream stream, int c) {
        long kv = (long) b * DecodeStepReads.denseKvBytes(cfg, c, dt.byteSize());
        long qo = (long) b * DecodeStepReads.qoBytes(cfg, dt.byteSize(), dt.byteSize());
        List<AutoCloseable> owned = new ArrayList<>();
        try {
            DeviceTensor q = alloc(stream, owned, b, 1, cfg.heads(), cfg.headDimQk());
            DeviceTensor k = alloc(stream, owned, b, c + 1, cfg.kvGroups(), cfg.headDimQk());
            DeviceTensor v = alloc(stream, owned, b, c + 1, cfg.kvGroups(), cfg.headDimV());
            DeviceTensor o = alloc(stream, owned, b, 1, cfg.heads(), cfg.headDimV());
            DeviceBytes.fillRandom(stream, q, c * 3L + 1, -1, 1);
            DeviceBytes.fillRandom(stream, k, c * 3L + 2, -1, 1);
            DeviceBytes.fillRandom(stream, v, c * 3L + 3, -1, 1);
            Fa2Attention.Plan p = densePlan(ctx.device(), q, k, v, o);
            if (!p.launchable()) {
                log.println("[bench decode]   fa2-dense refused: " + p.verdict().reason());
                return DecodeBenchRow.notMeasured("nsa4j", "fa2-dense", gpu, bc, b, c, c, kv, qo, gbps, "refused",
                        "FA-2 contract: " + p.verdict().reason());
            }
            DeviceBuffer ws = DeviceBuffer.allocate(stream, p.workspaceBytes());
            owned.add(ws);
            DeviceBuffer flush = set.flushL2() ? DeviceBuffer.allocate(stream, DeviceBytes.FLUSH_BYTES) : null;
            if (flush != null) {
                owned.add(flush);
            }
            double[] t = DecodeSession.time(stream, flush, set.warmup(), set.runs(),
                    i -> Fa2Attention.enqueue(fa2, stream.handle(), p, ws));
            if (!DecodeSession.finite(o.toHost(stream))) {
                return DecodeBenchRow.notMeasured("nsa4j", "fa2-dense", gpu, bc, b, c, c, kv, qo, gbps, "failed",
                        "non-finite output from finite inputs: not timing a wrong result");
            }
            DecodeBenchRow r = DecodeBenchRow.measured("nsa4j", "fa2-dense", gpu, bc, b, c, c, t, kv, qo, gbps,
                    (set.flushL2() ? "L2 flushed before each call; " : "") + "CUDA events; FA-2 fast mode, split-KV "
                            + p.splits() + ", " + p.layout().layout().name().toLowerCase(Locale.ROOT) + " layout, one "
                            + "query per sequence over ctx + 1 keys");
            log.printf(Locale.ROOT, "[bench decode]   fa2-dense %.4f ms (split-KV %d), %.1f MB/step, %.2fx HBM time%n",
                    r.medianMs(), p.splits(), (kv + qo) / 1e6, r.xHbm());
            return r;
        } catch (RuntimeException | OutOfMemoryError e) {
            String[] st = status(e);
            log.println("[bench decode]   fa2-dense " + st[0] + ": " + st[1]);
            return DecodeBenchRow.notMeasured("nsa4j", "fa2-dense", gpu, bc, b, c, c, kv, qo, gbps, st[0], st[1]);
        } finally {
            Closeables.closeAllQuietly(owned);
        }
    }

    /**
     * The dense decode call: q {@code [B,1,Hq,Dk]} at position ctx over k/v {@code [B,ctx+1,Hkv,D]}, unmasked (each
     * key slice ends at its query, {@link KeyExtent#sliced}), fast mode, split-KV chosen by the planner, no lse.
     * Host-only: plans without touching the device.
     */
    static Fa2Attention.Plan densePlan(dev.nsa4j.kernels.DeviceInfo device, DeviceTensor q, DeviceTensor k,
                                       DeviceTensor v, DeviceTensor o) {
        int[] at = new int[q.dim(0)];
        java.util.Arrays.fill(at, k.dim(1) - 1);
        return Fa2Attention.plan(device, Fa2Attention.Inputs.dense(q, k, v, o, null),
                Fa2Attention.Spec.of(Mask.NONE, KeyExtent.sliced(at, at)), Fa2Options.defaults());
    }

    private DeviceTensor alloc(CudaStream stream, List<AutoCloseable> owned, int... dims) {
        DeviceTensor t = DeviceTensor.allocate(stream, dt, dims);
        owned.add(t);
        return t;
    }

    private DecodeBenchRow row(String variant, int c, int position, double[] ms, String note) {
        return DecodeBenchRow.measured("nsa4j", variant, gpu, bc, b, c, position, ms,
                (long) b * DecodeStepReads.kvBytes(cfg, position, dt.byteSize()),
                (long) b * DecodeStepReads.qoBytes(cfg, dt.byteSize(), dt.byteSize()), gbps, note);
    }

    private DecodeBenchRow notMeasured(String variant, int c, String status, String why) {
        return DecodeBenchRow.notMeasured("nsa4j", variant, gpu, bc, b, c, c,
                (long) b * DecodeStepReads.kvBytes(cfg, c, dt.byteSize()),
                (long) b * DecodeStepReads.qoBytes(cfg, dt.byteSize(), dt.byteSize()), gbps, status, why);
    }

    /** {status, reason} of a failure: oom for device or heap exhaustion, refused for a rule, else failed. */
    static String[] status(Throwable e) {
        String msg = String.valueOf(e.getMessage()).replace('\n', ' ').replace('\r', ' ');
        if (e instanceof OutOfMemoryError) {
            return new String[] {"oom", "Java heap: " + msg + " (raise it with NSA_JAVA_OPTS=-Xmx...)"};
        }
        if (e instanceof CudaException ce && ce.errorName().contains("OUT_OF_MEMORY")) {
            return new String[] {"oom", msg};
        }
        if (e instanceof dev.nsa4j.NsaArgumentException) {
            return new String[] {"refused", msg};
        }
        return new String[] {"failed", e.getClass().getSimpleName() + ": " + msg};
    }

    private static DecodeSession closeQuietly(DecodeSession s) {
        if (s != null) {
            try {
                s.close();
            } catch (RuntimeException ignored) {
                // a context broken by the failure being reported fails its frees too
            }
        }
        return null;
    }
}
