package dev.nsa4j.bench;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import dev.nsa4j.bench.report.NsaBenchConfig;
import dev.nsa4j.bench.report.NsaBenchCsv;
import dev.nsa4j.bench.report.NsaBenchMarkdown;
import dev.nsa4j.bench.report.NsaBenchPlot;
import dev.nsa4j.bench.report.NsaBenchRow;
import dev.nsa4j.bench.report.NsaBenchShape;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.fa2.Fa2Module;
import dev.nsa4j.nsa.FlagSnapshot;
import dev.nsa4j.nsa.Flags;
import dev.nsa4j.nsa.NsaAttention;
import dev.nsa4j.tensor.DType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code nsa bench nsa}: the whole NSA forward from device-resident inputs, per shape, in one run:
 * <ul>
 * <li>{@code device/forward}: back-to-back forwards, one synchronisation at the end, wall clock per forward (what
 *     a caller's loop sees, host enqueue and launch gaps included);</li>
 * <li>{@code device/<step>}: CUDA events at the step boundaries (compress, cmp, select, sel, win, combine);</li>
 * <li>{@code device/enqueue}: host time to enqueue one forward;</li>
 * <li>{@code graph/forward}: the same forward captured once into a CUDA graph and replayed back to back (no host
 *     work per forward: the difference to device/forward is the work outside kernels);</li>
 * <li>{@code host/forward} and {@code host/transfers}: the host API on the same inputs (upload, forward,
 *     download), when the host result fits the heap;</li>
 * <li>{@code fa2-dense/forward}: dense FA-2 causal (fast mode) on the same q and k/v, CUDA events.</li>
 * </ul>
 * Every branch gets the same k/v (as fla's NSA does). Before timing, the planned forward is checked against a
 * plan with FA-2 off on the same inputs (MAE of the FA-2 branches' outputs and lse). Progress goes to stderr.
 */
@Command(name = "nsa", mixinStandardHelpOptions = true, sortOptions = false, versionProvider = NsaCli.Version.class,
        description = {"Time the NSA forward from device-resident inputs with a per-step breakdown, the graph replay,",
                "the host API and dense FA-2 causal on the same q/k/v, in one run (CSV, Markdown, PNG)."})
final class BenchNsaCommand implements Callable<Integer> {
    @Mixin
    BenchShapeOptions shape = new BenchShapeOptions();

    @Option(names = "--block-len", defaultValue = "64") int blockLen;
    @Option(names = "--stride", defaultValue = "64") int stride;
    @Option(names = "--window", defaultValue = "512") int window;

    @Option(names = "--warmup", defaultValue = "1") int warmup;

    @Option(names = "--repeat", defaultValue = "5", description = "Timed runs per variant (default: ${DEFAULT-VALUE}).")
    int repeat;

    @Option(names = "--no-host", description = "Skip the host-API variant.")
    boolean noHost;

    @Option(names = "--out", paramLabel = "CSV", description = "Append the rows to this CSV (created if absent).")
    Path out;

    @Option(names = "--md", paramLabel = "FILE", description = "Write the Markdown report of every row in --out (or of this run).")
    Path md;

    @Option(names = "--png", paramLabel = "FILE", description = "Write the plot(s) of every row in --out (or of this run).")
    Path png;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        DType dt = BenchAttentionCommand.halfPrecision(spec, shape.dtype);
        if (warmup < 0 || repeat < 1) {
            throw new ParameterException(spec.commandLine(), "--warmup must be >= 0 and --repeat >= 1");
        }
        List<int[]> planned = parseShapes(spec, shape.shapes);
        NsaConfig cfg;
        try {
            cfg = NsaConfig.builder().heads(shape.heads).kvGroups(shape.kvHeads).headDims(shape.dk, shape.dv)
                    .blockLen(blockLen).stride(stride).selBlock(shape.selBlock).nSel(shape.nSel).window(window).build();
        } catch (dev.nsa4j.NsaArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        NsaBenchConfig bc = new NsaBenchConfig(dt.name().toLowerCase(Locale.ROOT), shape.heads, shape.kvHeads, shape.dk,
                shape.dv, blockLen, stride, shape.selBlock, shape.nSel, window);
        List<NsaBenchRow> rows = new ArrayList<>();
        PrintStream log = System.err;
        FlagSnapshot flags = Flags.snapshot();
        try (NsaAttention nsa = NsaAttention.builder(cfg).flags(flags).device("gpu").build();
             NsaAttention reference = NsaAttention.builder(cfg).flags(noFa2(flags)).device("gpu").build();
             Fa2Module fa2 = Fa2Module.load(nsa.context())) {
            String gpu = nsa.context().device().name();
            int i = 0;
            for (int[] bs : planned) {
                i++;
                log.printf(Locale.ROOT, "[bench nsa] shape %d/%d: B=%d S=%d%n", i, planned.size(), bs[0], bs[1]);
                List<NsaBenchRow> shapeRows = new NsaBenchRun(nsa, reference, fa2, cfg, dt, bs[0], bs[1], gpu,
                        new NsaBenchShape(bs[0], bs[1], bc), log, warmup, repeat, !noHost).measure();
                rows.addAll(shapeRows);
                if (out != null) {   // each shape's rows as soon as they exist: a later failure loses nothing
                    NsaBenchCsv.append(out, shapeRows);
                    log.println("[bench nsa]   appended " + shapeRows.size() + " rows to " + out);
                }
            }
        }
        List<NsaBenchRow> report = out != null ? NsaBenchCsv.read(out) : rows;
        String md1 = NsaBenchMarkdown.report(report);
        System.out.println(md1);
        if (md != null) {
            Files.writeString(md, md1);
        }
        if (png != null) {
            for (Path p : NsaBenchPlot.write(report, png)) {
                log.println("[bench nsa] wrote " + p);
            }
        }
        return 0;
    }

    /** {@code B,S} pairs, each B and S at least 1; a usage error names the bad one. */
    static List<int[]> parseShapes(CommandSpec spec, List<String> shapes) {
        List<int[]> planned = new ArrayList<>();
        for (String s : shapes) {
            String[] p = s.split(",");
            try {
                if (p.length != 2) {
                    throw new NumberFormatException("not B,S");
                }
                int b = Integer.parseInt(p[0].trim()), sq = Integer.parseInt(p[1].trim());
                if (b < 1 || sq < 1) {
                    throw new NumberFormatException("B and S must be >= 1");
                }
                planned.add(new int[] {b, sq});
            } catch (NumberFormatException e) {
                throw new ParameterException(spec.commandLine(), "--shapes '" + s + "': " + e.getMessage() + " (B,S)");
            }
        }
        return planned;
    }

    private static FlagSnapshot noFa2(FlagSnapshot f) {
        java.util.Map<String, String> props = new java.util.HashMap<>();
        for (FlagSnapshot.Value v : f.listing()) {
            if (v.source() == dev.nsa4j.nsa.FlagSource.PROPERTY && v.value() != null) {
                props.put(v.flag().propertyName(), v.value());
            }
        }
        props.put("nsa.use.fa2", "0");
        return Flags.of(props, System.getenv(), java.util.Map.of());
    }
}
