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
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
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
 * Decode bench rows as one PNG (JFreeChart, headless): x = context on a log2 axis, y = median step ms on a log10
 * axis, one line per (B, path) of the ok rows: the colour says B, the stroke the path (NSA graph solid, NSA eager
 * dashed, FA-2 dense dotted, torch dash-dot), so a B's NSA and dense lines sit in one colour. Rows of every
 * config and GPU go into one plot; where they span several, the config's or GPU's label leads each line's. The
 * file is written to a temporary file beside it and moved into place, as {@link NsaBenchPlot} does.
 */
public final class DecodeBenchPlot {
    static {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }

    private static final Color[] BATCH_COLORS = {new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c),
        new Color(0xd62728), new Color(0x9467bd), new Color(0x8c564b), new Color(0xe377c2), new Color(0x7f7f7f)};
    private static final Map<String, Stroke> STROKES = Map.of(
            "nsa4j nsa-graph", new BasicStroke(2.4f),
            "nsa4j nsa-eager", dashed(1.6f, 8f, 5f),
            "nsa4j fa2-dense", dashed(1.8f, 2f, 4f),
            "torch flash", dashed(1.6f, 10f, 4f, 2f, 4f),
            "torch cudnn", dashed(1.2f, 10f, 4f, 2f, 4f),
            "torch efficient", dashed(1.0f, 10f, 4f, 2f, 4f));

    private DecodeBenchPlot() {}

    private static Stroke dashed(float width, float... dash) {
        return new BasicStroke(width, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 10f, dash, 0f);
    }

    /** Writes the plot of the ok rows to {@code png}; false (nothing written) when no row is ok. */
    public static boolean write(List<DecodeBenchRow> rows, Path png) throws IOException {
        Objects.requireNonNull(png, "png");
        List<DecodeBenchRow> ok = rows.stream().filter(DecodeBenchRow::ok).toList();
        if (ok.isEmpty()) {
            return false;
        }
        JFreeChart chart = chart(ok);
        Path abs = png.toAbsolutePath();
        Files.createDirectories(abs.getParent());
        Path tmp = Files.createTempFile(abs.getParent(), "." + abs.getFileName(), ".tmp");
        try {
            try (OutputStream out = Files.newOutputStream(tmp)) {
                ChartUtils.writeChartAsPNG(out, chart, NsaBenchPlot.DEFAULT_WIDTH, NsaBenchPlot.DEFAULT_HEIGHT);
            }
            CsvFiles.moveIntoPlace(tmp, abs);
        } finally {
            Files.deleteIfExists(tmp);
        }
        return true;
    }

    /** The chart of the ok rows among {@code rows}. */
    public static JFreeChart chart(List<DecodeBenchRow> rows) {
        List<DecodeBenchRow> ok = rows.stream().filter(DecodeBenchRow::ok).toList();
        List<String> gpus = ok.stream().map(DecodeBenchRow::gpu).distinct().toList();
        List<NsaBenchConfig> configs = ok.stream().filter(r -> r.system().equals("nsa4j"))
                .map(DecodeBenchRow::config).distinct().toList();
        List<Integer> batches = ok.stream().map(DecodeBenchRow::batch).distinct().sorted().toList();
        record Line(String gpu, String config, int batch, int order, String path) {}
        Map<Line, TreeMap<Integer, Double>> lines = new LinkedHashMap<>();
        for (DecodeBenchRow r : ok) {
            // torch rows belong to every config (dense attention has none); label them without one
            String cfg = r.system().equals("nsa4j") && configs.size() > 1 ? r.config().label() : "";
            lines.computeIfAbsent(new Line(gpus.size() > 1 ? r.gpu() : "", cfg, r.batch(), r.order(),
                    r.systemVariant()), k -> new TreeMap<>()).put(r.context(), r.medianMs());
        }
        List<Line> order = new ArrayList<>(lines.keySet());
        order.sort((a, b) -> a.batch != b.batch ? Integer.compare(a.batch, b.batch)
                : a.order != b.order ? Integer.compare(a.order, b.order) : a.config.compareTo(b.config));
        XYSeriesCollection data = new XYSeriesCollection();
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
        double lo = Double.POSITIVE_INFINITY, hi = 0;
        int minCtx = Integer.MAX_VALUE, maxCtx = 0;
        for (Line l : order) {
            String label = (l.gpu.isEmpty() ? "" : l.gpu + ": ") + (l.config.isEmpty() ? "" : l.config + " ")
                    + "B=" + l.batch + " " + l.path;
            XYSeries s = new XYSeries(label, true, false);
            for (Map.Entry<Integer, Double> p : lines.get(l).entrySet()) {
                s.add(p.getKey().doubleValue(), p.getValue().doubleValue());
                lo = Math.min(lo, p.getValue());
                hi = Math.max(hi, p.getValue());
                minCtx = Math.min(minCtx, p.getKey());
                maxCtx = Math.max(maxCtx, p.getKey());
            }
            int i = data.getSeriesCount();
            data.addSeries(s);
            renderer.setSeriesPaint(i, BATCH_COLORS[batches.indexOf(l.batch) % BATCH_COLORS.length]);
            renderer.setSeriesStroke(i, STROKES.get(l.path));
            renderer.setSeriesShapesVisible(i, l.path.equals("nsa4j nsa-graph"));
        }
        LogAxis x = new LogAxis("context (tokens per sequence)");
        x.setBase(2);
        x.setAutoTickUnitSelection(false);
        x.setTickUnit(new NumberTickUnit(1), false, false);
        x.setNumberFormatOverride(new DecimalFormat("0"));
        x.setRange(minCtx / 1.4, maxCtx * 1.4);
        LogAxis y = new LogAxis("median step ms");
        y.setBase(10);
        y.setAutoTickUnitSelection(false);
        y.setTickUnit(new NumberTickUnit(1, new DecimalFormat("0"), 9), false, false);
        y.setMinorTickMarksVisible(true);
        y.setNumberFormatOverride(new DecimalFormat("0.####"));
        y.setRange(lo / 1.6, hi * 1.6);
        XYPlot plot = new XYPlot(data, x, y, renderer);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(new Color(0xc0c0c0));
        plot.setRangeGridlinePaint(new Color(0xc0c0c0));
        plot.setRangeMinorGridlinesVisible(true);
        plot.setRangeMinorGridlinePaint(new Color(0xe0e0e0));
        String title = "NSA decode step" + (configs.size() == 1 ? ": " + configs.getFirst().label() : "")
                + (gpus.size() == 1 ? " on " + gpus.getFirst() : "");
        JFreeChart chart = new JFreeChart(title, new Font(Font.SANS_SERIF, Font.BOLD, 15), plot, true);
        chart.setBackgroundPaint(Color.WHITE);
        chart.addSubtitle(new TextTitle("colour: B; solid: NSA graph step, dashed: NSA eager step, dotted: FA-2 dense "
                + "split-KV, dash-dot: torch SDPA", new Font(Font.SANS_SERIF, Font.PLAIN, 12)));
        return chart;
    }
}
