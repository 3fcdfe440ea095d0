package dev.nsa4j.bench.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Stroke;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.DecimalFormat;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.title.TextTitle;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * NSA bench rows as PNG plots (JFreeChart, rendered headless): one plot per {@link NsaBenchConfig} (dtype,
 * heads, dims, l, d, l', n, w), x = seqlen on a log2 axis, y = median ms on a log10 axis; one solid line per
 * (system, variant) {@code forward}, one dashed line per nsa4j device step ({@link NsaBenchRow#DEVICE_STEPS}).
 * The {@code enqueue} and {@code transfers} rows are left out (the Markdown report has them). Lines are listed
 * and coloured in {@link NsaBenchRow#VARIANTS}' order, with a fixed colour per line so plots compare.
 *
 * <p>A line has one point per seqlen. Where one config holds rows of several batch sizes at one seqlen, every
 * line is split by batch (labels end in {@code B=n}); the subtitle lists the batch of each length otherwise.
 * Where its rows span several GPUs, the GPU name leads every line's label. Several rows of one line at one
 * point (an appended re-run): the last one counts.
 *
 * <p>Files: one config is written to the given path as it is; several configs each to the path with
 * {@code -}{@link NsaBenchConfig#fileSuffix()} before its {@code .png} ({@code nsa.png} →
 * {@code nsa-bf16_h64-4_d128-128_l64_d64_s64_n16_w512.png}), in the order the configs first appear. Each file
 * is written to a temporary file beside it and moved into place. Loading this class sets
 * {@code java.awt.headless=true} unless the property is already set.
 */
public final class NsaBenchPlot {
    public static final int DEFAULT_WIDTH = 1000;
    public static final int DEFAULT_HEIGHT = 650;

    static {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }

    /** Forward lines, by {@code system variant}. */
    private static final Map<String, Color> FORWARD_COLORS = Map.of(
            "nsa4j device", new Color(0x1f77b4),
            "nsa4j graph", new Color(0x17becf),
            "nsa4j host", new Color(0x7f7f7f),
            "nsa4j fa2-dense", new Color(0x9467bd),
            "fla parallel_nsa", new Color(0xff7f0e),
            "torch flash-causal", new Color(0x2ca02c),
            "torch cudnn-causal", new Color(0x0b5d1e));
    /** Dashed nsa4j device step lines, by step. */
    private static final Map<String, Color> STEP_COLORS = Map.of(
            "compress", new Color(0x8c564b),
            "cmp", new Color(0xd62728),
            "select", new Color(0xe377c2),
            "sel", new Color(0xbcbd22),
            "win", new Color(0x6baed6),
            "combine", new Color(0x404040));
    private static final Stroke SOLID = new BasicStroke(2.2f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND);
    private static final Stroke DASHED = new BasicStroke(1.6f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 10f,
            new float[] {7f, 5f}, 0f);
    private static final Stroke GRID = new BasicStroke(1f);

    private NsaBenchPlot() {}

    /** {@link #write(List, Path, int, int)} at {@value #DEFAULT_WIDTH} x {@value #DEFAULT_HEIGHT} pixels. */
    public static List<Path> write(List<NsaBenchRow> rows, Path png) throws IOException {
        return write(rows, png, DEFAULT_WIDTH, DEFAULT_HEIGHT);
    }

    /**
     * Writes one PNG per config of the rows (see the class comment for the names).
     *
     * @return the files written, in the order their configs first appear; empty when no row can be plotted
     *         (no forward and no device step rows)
     */
    public static List<Path> write(List<NsaBenchRow> rows, Path png, int width, int height) throws IOException {
        Objects.requireNonNull(png, "png");
        if (width < 1 || height < 1) {
            throw new IllegalArgumentException("plot size must be >= 1 x 1 pixels, got " + width + " x " + height);
        }
        Map<NsaBenchConfig, List<NsaBenchRow>> byConfig = byConfig(rows);
        List<Path> written = new ArrayList<>();
        for (Map.Entry<NsaBenchConfig, List<NsaBenchRow>> e : byConfig.entrySet()) {
            Path file = byConfig.size() == 1 ? png : fileFor(png, e.getKey());
            writePng(chart(e.getKey(), e.getValue()), file, width, height);
            written.add(file);
        }
        return written;
    }

    /**
     * The file {@link #write} gives a config when the rows hold several: {@code png} with
     * {@code -}{@link NsaBenchConfig#fileSuffix()} before a trailing {@code .png} (added where missing).
     */
    public static Path fileFor(Path png, NsaBenchConfig config) {
        String name = png.getFileName().toString();
        String stem = name.toLowerCase(Locale.ROOT).endsWith(".png") ? name.substring(0, name.length() - 4) : name;
        return png.resolveSibling(stem + "-" + config.fileSuffix() + ".png");
    }

    /** The plottable rows (forwards and device steps) by config, configs in first-appearance order. */
    private static Map<NsaBenchConfig, List<NsaBenchRow>> byConfig(List<NsaBenchRow> rows) {
        Map<NsaBenchConfig, List<NsaBenchRow>> out = new LinkedHashMap<>();
        for (NsaBenchRow r : rows) {
            if (plotted(r)) {
                out.computeIfAbsent(r.shape().config(), k -> new ArrayList<>()).add(r);
            }
        }
        return out;
    }

    private static boolean plotted(NsaBenchRow r) {
        return r.isForward() || (r.system().equals("nsa4j") && r.variant().equals("device")
                && NsaBenchRow.DEVICE_STEPS.contains(r.step()));
    }

    /**
     * The chart of one config's rows (rows of other configs and rows that are not plotted are ignored), for
     * callers that render it themselves.
     */
    public static JFreeChart chart(NsaBenchConfig config, List<NsaBenchRow> rows) {
        List<NsaBenchRow> mine = rows.stream().filter(r -> r.shape().config().equals(config) && plotted(r)).toList();
        boolean manyGpus = mine.stream().map(NsaBenchRow::gpu).distinct().count() > 1;
        TreeMap<Integer, TreeSet<Integer>> batches = new TreeMap<>();
        for (NsaBenchRow r : mine) {
            batches.computeIfAbsent(r.shape().seqlen(), k -> new TreeSet<>()).add(r.shape().batch());
        }
        boolean splitByBatch = batches.values().stream().anyMatch(b -> b.size() > 1);

        // one line per (gpu, system, variant, step[, batch]); points keyed by seqlen, the last row wins
        record Line(String gpu, int order, int batch) {}
        Map<Line, NsaBenchRow> firstOf = new LinkedHashMap<>();
        Map<Line, TreeMap<Integer, Double>> points = new LinkedHashMap<>();
        List<String> gpus = mine.stream().map(NsaBenchRow::gpu).distinct().toList();
        for (NsaBenchRow r : mine) {
            Line l = new Line(r.gpu(), r.order(), splitByBatch ? r.shape().batch() : 0);
            firstOf.putIfAbsent(l, r);
            points.computeIfAbsent(l, k -> new TreeMap<>()).put(r.shape().seqlen(), r.medianMs());
        }
        List<Line> lines = new ArrayList<>(points.keySet());
        lines.sort((a, b) -> a.order != b.order ? Integer.compare(a.order, b.order)
                : a.gpu.equals(b.gpu) ? Integer.compare(a.batch, b.batch)
                : Integer.compare(gpus.indexOf(a.gpu), gpus.indexOf(b.gpu)));

        XYSeriesCollection data = new XYSeriesCollection();
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
        double minMs = Double.POSITIVE_INFINITY;
        double maxMs = 0;
        for (Line l : lines) {
            NsaBenchRow r = firstOf.get(l);
            String label = (manyGpus ? l.gpu + ": " : "") + r.systemVariant()
                    + (r.isForward() ? "" : " " + r.step()) + (splitByBatch ? " B=" + l.batch : "");
            XYSeries s = new XYSeries(label, true, false);
            for (Map.Entry<Integer, Double> p : points.get(l).entrySet()) {
                s.add(p.getKey().doubleValue(), p.getValue().doubleValue());
                minMs = Math.min(minMs, p.getValue());
                maxMs = Math.max(maxMs, p.getValue());
            }
            int i = data.getSeriesCount();
            data.addSeries(s);
            Color c = r.isForward() ? FORWARD_COLORS.getOrDefault(r.systemVariant(), Color.BLACK)
                    : STEP_COLORS.getOrDefault(r.step(), Color.DARK_GRAY);
            renderer.setSeriesPaint(i, c);
            renderer.setSeriesStroke(i, r.isForward() ? SOLID : DASHED);
            renderer.setSeriesShapesVisible(i, r.isForward());
        }

        // ticks: every power of two on x; every decade on y, minor ticks and grid lines at 2..9 times each
        LogAxis x = new LogAxis("seqlen (tokens per sequence)");
        x.setBase(2);
        x.setAutoTickUnitSelection(false);
        x.setTickUnit(new NumberTickUnit(1), false, false);
        x.setNumberFormatOverride(new DecimalFormat("0"));
        LogAxis y = new LogAxis("median ms");
        y.setBase(10);
        y.setAutoTickUnitSelection(false);
        y.setTickUnit(new NumberTickUnit(1, new DecimalFormat("0"), 9), false, false);
        y.setMinorTickMarksVisible(true);
        y.setNumberFormatOverride(new DecimalFormat("0.####"));
        if (!batches.isEmpty()) {
            x.setRange(batches.firstKey() / 1.4, batches.lastKey() * 1.4);
            y.setRange(minMs / 1.6, maxMs * 1.6);
        }
        XYPlot plot = new XYPlot(data, x, y, renderer);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(new Color(0xc0c0c0));
        plot.setDomainGridlineStroke(GRID);
        plot.setRangeGridlinePaint(new Color(0xc0c0c0));
        plot.setRangeGridlineStroke(GRID);
        plot.setRangeMinorGridlinesVisible(true);
        plot.setRangeMinorGridlinePaint(new Color(0xe0e0e0));
        plot.setRangeMinorGridlineStroke(GRID);
        JFreeChart chart = new JFreeChart("NSA forward: " + config.label()
                + (gpus.size() == 1 ? " on " + gpus.getFirst() : ""), new Font(Font.SANS_SERIF, Font.BOLD, 16),
                plot, true);
        chart.setBackgroundPaint(Color.WHITE);
        chart.addSubtitle(new TextTitle(subtitle(batches, splitByBatch), new Font(Font.SANS_SERIF, Font.PLAIN, 12)));
        return chart;
    }

    /** {@code B=4 at S=4096, B=1 at S=16384, 65536; solid: forward, dashed: nsa4j device steps}. */
    private static String subtitle(TreeMap<Integer, TreeSet<Integer>> batches, boolean splitByBatch) {
        StringBuilder sb = new StringBuilder();
        if (!splitByBatch && !batches.isEmpty()) {
            Integer run = null;
            for (Map.Entry<Integer, TreeSet<Integer>> e : batches.entrySet()) {
                int b = e.getValue().first();
                if (run == null || run != b) {
                    sb.append(run == null ? "" : ", ").append("B=").append(b).append(" at S=").append(e.getKey());
                    run = b;
                } else {
                    sb.append(", ").append(e.getKey());
                }
            }
            sb.append("; ");
        }
        return sb.append("solid: whole forward, dashed: nsa4j device steps").toString();
    }

    private static void writePng(JFreeChart chart, Path file, int width, int height) throws IOException {
        Path abs = file.toAbsolutePath();
        Files.createDirectories(abs.getParent());
        Path tmp = Files.createTempFile(abs.getParent(), "." + abs.getFileName(), ".tmp");
        try {
            try (OutputStream out = Files.newOutputStream(tmp)) {
                ChartUtils.writeChartAsPNG(out, chart, width, height);
            }
            CsvFiles.moveIntoPlace(tmp, abs);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
