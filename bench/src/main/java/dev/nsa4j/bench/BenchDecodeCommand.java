package dev.nsa4j.bench;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Callable;

import dev.nsa4j.bench.report.DecodeBenchCsv;
import dev.nsa4j.bench.report.DecodeBenchPlot;
import dev.nsa4j.bench.report.DecodeBenchReport;
import dev.nsa4j.bench.report.DecodeBenchRow;
import dev.nsa4j.bench.report.NsaBenchConfig;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.fa2.Fa2Module;
import dev.nsa4j.kernels.CudaContext;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.GpuAvailability;
import dev.nsa4j.nsa.DecodeCachePlan;
import dev.nsa4j.nsa.FlagSnapshot;
import dev.nsa4j.nsa.Flags;
import dev.nsa4j.tensor.DType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code nsa bench decode}: the NSA decode step on the GPU against dense decode, per batch size B and context ctx
 * ({@link DecodeBenchRun}): {@code nsa-eager} ({@code NsaGpuDecoder.step} on device tensors), {@code nsa-graph} (the
 * step as a CUDA graph), {@code fa2-dense} (nsa4j's FA-2 split-KV over the same ctx + 1 keys); each with its step
 * latency, tokens/s, the bytes it reads ({@link DecodeStepReads}) and its multiple of the HBM time of those bytes at
 * the copy bandwidth measured first in the same run. With {@code --peer-csv}, the rows of
 * {@code bench/peers/torch_decode.py} join by dense shape, with their ratios. CSV, Markdown and PNG go to
 * {@code --out}, named by the config; a compact table to stdout; progress to stderr.
 */
@Command(name = "decode", mixinStandardHelpOptions = true, sortOptions = false, versionProvider = NsaCli.Version.class,
        description = {"Time the NSA decode step (eager and as a CUDA graph) and nsa4j's dense FA-2 split-KV decode",
                "per batch size and context, with bytes read and the HBM time of those bytes at the measured copy",
                "bandwidth (CSV, Markdown, PNG; optionally beside bench/peers/torch_decode.py's rows)."})
final class BenchDecodeCommand implements Callable<Integer> {
    static final List<String> PATHS = List.of("nsa-eager", "nsa-graph", "fa2-dense");

    @Option(names = "--batch", split = ",", defaultValue = "1,8,64", description = "Batch sizes B (default: ${DEFAULT-VALUE}).")
    List<Integer> batches;

    @Option(names = "--context", split = ",", defaultValue = "2k,8k,16k,64k,128k",
            description = "Contexts: tokens per sequence, k = 1024 (default: ${DEFAULT-VALUE}).")
    List<String> contexts;

    @Option(names = "--heads", defaultValue = "64") int heads;
    @Option(names = "--kv-heads", defaultValue = "4") int kvHeads;
    @Option(names = "--dk", defaultValue = "128") int dk;
    @Option(names = "--dv", defaultValue = "128") int dv;

    @Option(names = "--block-len", paramLabel = "l", description = "Compression block length (default: 64; 32 with --paper).")
    Integer blockLen;

    @Option(names = "--stride", paramLabel = "d", description = "Compression stride (default: 64; 16 with --paper).")
    Integer stride;

    @Option(names = "--sel-block", paramLabel = "l'", defaultValue = "64") int selBlock;
    @Option(names = "--n-sel", paramLabel = "n", defaultValue = "16") int nSel;
    @Option(names = "--window", paramLabel = "w", defaultValue = "512") int window;

    @Option(names = "--paper", description = "The paper's compression: l = 32, d = 16 (l' = 64).")
    boolean paper;

    @Option(names = "--dtype", defaultValue = "bf16", description = "bf16 or fp16 (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--paths", split = ",", defaultValue = "nsa-eager,nsa-graph,fa2-dense",
            description = "Paths to time (default: ${DEFAULT-VALUE}).")
    List<String> paths;

    @Option(names = "--skip", split = " ", paramLabel = "B,CTX",
            description = "(B, ctx) pairs to leave out (rows marked skipped), e.g. \"64,128k\".")
    List<String> skip = new ArrayList<>();

    @Option(names = "--warmup", defaultValue = "10") int warmup;
    @Option(names = "--runs", defaultValue = "50", description = "Timed steps per path and row (default: ${DEFAULT-VALUE}).")
    int runs;


    @Option(names = "--no-l2-flush", description = "Do not flush L2 (a 256 MiB memset) before each timed step.")
    boolean noFlush;

    @Option(names = "--peer-csv", paramLabel = "FILE", description = "Rows of bench/peers/torch_decode.py to join.")
    Path peerCsv;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "bench-results",
            description = "Folder for decode-<config>.csv/.md/.png (default: ${DEFAULT-VALUE}).")
    Path out;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        DType dt = BenchAttentionCommand.halfPrecision(spec, dtype);
        if (warmup < 0 || runs < 1) {
            throw new ParameterException(spec.commandLine(), "--warmup must be >= 0 and --runs >= 1");
        }
        if (paper && (blockLen != null || stride != null)) {
            throw new ParameterException(spec.commandLine(), "--paper sets l = 32, d = 16: give it or --block-len/--stride");
        }
        for (String p : paths) {
            if (!PATHS.contains(p)) {
                throw new ParameterException(spec.commandLine(), "--paths: '" + p + "' is not one of " + PATHS);
            }
        }
        List<Integer> ctxs = parseContexts(spec, "--context", contexts).stream().distinct().sorted().toList();
        Set<List<Integer>> skipped = new LinkedHashSet<>();
        for (String s : skip) {
            List<Integer> pair = parseContexts(spec, "--skip", List.of(s.split(",", -1)));
            if (pair.size() != 2) {
                throw new ParameterException(spec.commandLine(), "--skip '" + s + "' is not B,CTX");
            }
            skipped.add(pair);
        }
        for (int b : batches) {
            if (b < 1) {
                throw new ParameterException(spec.commandLine(), "--batch: B = " + b + " must be >= 1");
            }
        }
        NsaConfig cfg;
        try {
            cfg = NsaConfig.builder().heads(heads).kvGroups(kvHeads).headDims(dk, dv)
                    .blockLen(blockLen != null ? blockLen : paper ? 32 : 64).stride(stride != null ? stride : paper ? 16 : 64)
                    .selBlock(selBlock).nSel(nSel).window(window).build();
        } catch (dev.nsa4j.NsaArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        GpuAvailability gpuCheck = GpuAvailability.check(0);
        if (!gpuCheck.available()) {
            throw new ParameterException(spec.commandLine(), "nsa bench decode needs a GPU (the GPU decoder and FA-2 "
                    + "run on CUDA only; the CPU decoder is nsa decode --device cpu): " + gpuCheck.reason());
        }
        NsaBenchConfig bc = NsaBenchConfig.of(dt.name().toLowerCase(Locale.ROOT), cfg);
        Path csv = out.resolve("decode-" + bc.fileSuffix() + ".csv");
        List<DecodeBenchRow> peers = peerCsv == null ? List.of()
                : DecodeBenchCsv.read(peerCsv).stream().filter(r -> r.system().equals("torch")).toList();
        PrintWriter log = spec.commandLine().getErr();   // progress; the table goes to getOut()
        FlagSnapshot flags = Flags.snapshot();
        List<DecodeBenchRow> rows = new ArrayList<>();
        DecodeBenchRun.Settings set = new DecodeBenchRun.Settings(warmup, runs, !noFlush,
                Set.copyOf(paths));
        try (CudaContext ctx = CudaContext.primary(0); Fa2Module fa2 = Fa2Module.load(ctx);
             CudaStream stream = CudaStream.create(ctx)) {
            String gpu = ctx.device().name();
            double gbps = bandwidth(stream, log);
            log.printf(Locale.ROOT, "[bench decode] %s on %s; copy bandwidth %.0f GB/s (read + write, 1 GiB device to "
                    + "device)%n", bc.label(), gpu, gbps);
            for (int b : batches) {
                List<Integer> todo = new ArrayList<>();
                for (int c : ctxs) {
                    if (skipped.contains(List.of(b, c))) {
                        for (String p : paths) {
                            rows.add(DecodeBenchRow.notMeasured("nsa4j", p, gpu, bc, b, c, c, 0, 0, gbps, "skipped",
                                    "--skip " + b + "," + c));
                        }
                    } else {
                        todo.add(c);
                    }
                }
                if (!todo.isEmpty()) {
                    int cap = todo.getLast() + todo.size() * 2 * (warmup + runs) + 64;
                    log.printf(Locale.ROOT, "[bench decode] B=%d: decode caches %.2f GB at capacity %d, dense K/V up to "
                            + "%.2f GB%n", b, new DecodeCachePlan(cfg, b, cap, dt).cacheBytes() / 1e9, cap,
                            b * (double) DecodeStepReads.denseKvBytes(cfg, todo.getLast(), dt.byteSize()) / 1e9);
                    rows.addAll(new DecodeBenchRun(ctx, fa2, cfg, bc, dt, b, gpu, gbps, set, flags, log).measure(todo));
                }
                write(csv, rows, peers);   // each batch size's rows as soon as they exist
            }
        }
        List<DecodeBenchRow> all = new ArrayList<>(sorted(rows));
        all.addAll(peers);
        spec.commandLine().getOut().print(DecodeBenchReport.table(all));
        spec.commandLine().getOut().flush();
        Path md = out.resolve("decode-" + bc.fileSuffix() + ".md");
        Files.writeString(md, DecodeBenchReport.markdown(all, preamble(cfg, dt)));
        Path png = out.resolve("decode-" + bc.fileSuffix() + ".png");
        boolean plotted = DecodeBenchPlot.write(all, png);
        log.println("[bench decode] wrote " + csv + ", " + md + (plotted ? ", " + png : " (no plot: no row measured)"));
        return 0;
    }

    private static double bandwidth(CudaStream stream, PrintWriter log) {
        try {
            return DeviceBytes.copyBandwidthGbps(stream, 1L << 30, 10);
        } catch (RuntimeException e) {
            log.println("[bench decode] copy bandwidth not measured (" + e.getMessage() + "): no x HBM column");
            return Double.NaN;
        }
    }

    private static void write(Path csv, List<DecodeBenchRow> rows, List<DecodeBenchRow> peers) throws java.io.IOException {
        List<DecodeBenchRow> all = new ArrayList<>(sorted(rows));
        all.addAll(peers);
        DecodeBenchCsv.write(csv, all);
    }

    /** Rows by (B, ctx, path order), stable. */
    private static List<DecodeBenchRow> sorted(List<DecodeBenchRow> rows) {
        TreeMap<List<Integer>, List<DecodeBenchRow>> by = new TreeMap<>((a, b) -> {
            for (int i = 0; i < a.size(); i++) {
                int c = Integer.compare(a.get(i), b.get(i));
                if (c != 0) {
                    return c;
                }
            }
            return 0;
        });
        for (DecodeBenchRow r : rows) {
            by.computeIfAbsent(List.of(r.batch(), r.context(), r.order()), k -> new ArrayList<>()).add(r);
        }
        return by.values().stream().flatMap(List::stream).toList();
    }

    static String preamble(NsaConfig cfg, DType dt) {
        return "Bytes per step (over the batch): NSA reads, per sequence and KV group, ncmp(t) + selected(t) + "
                + "min(w, t+1) key/value tokens (docs/nsa-spec.md §8; selected = t+1 while ⌊t/l'⌋+1 <= n, else "
                + "(n-1)·l' + (t mod l' + 1)), each (Dk+Dv)·" + dt.byteSize() + " bytes, plus q (Hq·Dk) read and o "
                + "(Hq·Dv) written in " + dt.name().toLowerCase(Locale.ROOT) + "; the step's fp32 branch outputs, "
                + "the scorer's second pass over K̃ and the appended token are not counted. Dense: (ctx+1)·G·(Dk+Dv)·"
                + dt.byteSize() + " bytes per sequence (NSA MB/step includes q/o; dense KV MB/step does not). "
                + "Positions: a dense row's query is at ctx; an NSA row's bytes are counted at its middle timed step "
                + "(each step appends one token).";
    }

    /** Positive integers with an optional k (x 1024) suffix; a usage error names the bad one. */
    static List<Integer> parseContexts(CommandSpec spec, String option, List<String> values) {
        List<Integer> out = new ArrayList<>();
        for (String raw : values) {
            String v = raw.trim().toLowerCase(Locale.ROOT);
            try {
                long n = v.endsWith("k") ? Long.parseLong(v.substring(0, v.length() - 1)) * 1024 : Long.parseLong(v);
                if (n < 1 || n > Integer.MAX_VALUE / 2) {
                    throw new NumberFormatException("out of range");
                }
                out.add((int) n);
            } catch (NumberFormatException e) {
                throw new ParameterException(spec.commandLine(), option + ": '" + raw + "' is not a positive integer "
                        + "(k = 1024 allowed, e.g. 128k)");
            }
        }
        return out;
    }
}
