package dev.nsa4j.bench.report;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.GraphicsEnvironment;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import javax.imageio.ImageIO;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.plot.XYPlot;
import org.jfree.data.xy.XYDataset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NsaBenchPlotTest {
    static final byte[] PNG_MAGIC = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    @TempDir
    Path tmp;

    /** The anchor sweep: B=4 at 4k, B=1 at 16k and 64k; nsa4j with steps, fla, torch. */
    static List<NsaBenchRow> sweep(NsaBenchConfig c, double scale) {
        List<NsaBenchRow> rows = new ArrayList<>();
        int[][] shapes = {{4, 4096}, {1, 16384}, {1, 65536}};
        for (int[] bs : shapes) {
            NsaBenchShape s = new NsaBenchShape(bs[0], bs[1], c);
            double f = scale * bs[0] * bs[1] / 4096.0;
            rows.add(NsaBenchMarkdownTest.row("nsa4j", "device", "forward", s, 10 * f));
            rows.add(NsaBenchMarkdownTest.row("nsa4j", "graph", "forward", s, 9 * f));
            rows.add(NsaBenchMarkdownTest.row("nsa4j", "host", "forward", s, 450 * f));
            rows.add(NsaBenchMarkdownTest.row("nsa4j", "host", "transfers", s, 400 * f));
            rows.add(NsaBenchMarkdownTest.row("nsa4j", "device", "enqueue", s, 0.2));
            for (String step : NsaBenchRow.DEVICE_STEPS) {
                rows.add(NsaBenchMarkdownTest.row("nsa4j", "device", step, s, (1 + step.length() / 3.0) * f));
            }
            rows.add(NsaBenchMarkdownTest.row("fla", "parallel_nsa", "forward", s, 8 * f));
            rows.add(NsaBenchMarkdownTest.row("torch", "flash-causal", "forward", s, 3.3 * f * bs[1] / 4096));
            rows.add(NsaBenchMarkdownTest.row("torch", "cudnn-causal", "forward", s, 2.1 * f * bs[1] / 4096));
        }
        return rows;
    }

    @Test
    void rendersHeadless() throws IOException {
        NsaBenchPlot.write(List.of(), tmp.resolve("none.png")).forEach(p -> { throw new AssertionError(p); });
        assertTrue(GraphicsEnvironment.isHeadless(), "java.awt.headless is set by NsaBenchPlot");
    }

    @Test
    void oneConfigIsOnePngOfTheGivenSizeAtTheGivenPath() throws IOException {
        Path png = tmp.resolve("out/nsa.png");
        List<Path> written = NsaBenchPlot.write(sweep(NsaBenchCsvTest.FLA, 1), png, 800, 500);
        assertEquals(List.of(png), written);
        byte[] bytes = Files.readAllBytes(png);
        assertArrayEquals(PNG_MAGIC, Arrays.copyOf(bytes, 8), "PNG signature");
        BufferedImage img = ImageIO.read(png.toFile());
        assertNotNull(img, "ImageIO reads it");
        assertEquals(800, img.getWidth());
        assertEquals(500, img.getHeight());
        try (var files = Files.list(png.getParent())) {
            assertEquals(1, files.count(), "no temporary file left beside it");
        }
        BufferedImage def = ImageIO.read(NsaBenchPlot.write(sweep(NsaBenchCsvTest.FLA, 1), png).getFirst().toFile());
        assertEquals(NsaBenchPlot.DEFAULT_WIDTH, def.getWidth());
        assertEquals(NsaBenchPlot.DEFAULT_HEIGHT, def.getHeight());
    }

    @Test
    void severalConfigsAreOneFileEachNamedByTheConfig() throws IOException {
        List<NsaBenchRow> rows = new ArrayList<>(sweep(NsaBenchCsvTest.FLA, 1));
        rows.addAll(sweep(NsaBenchCsvTest.PAPER, 1.5));
        Path png = tmp.resolve("nsa.png");
        List<Path> written = NsaBenchPlot.write(rows, png, 640, 400);
        assertEquals(List.of(tmp.resolve("nsa-bf16_h64-4_d128-128_l64_d64_s64_n16_w512.png"),
                tmp.resolve("nsa-bf16_h64-4_d192-128_l32_d16_s64_n16_w512.png")), written);
        for (Path p : written) {
            BufferedImage img = ImageIO.read(p.toFile());
            assertEquals(640, img.getWidth());
            assertEquals(400, img.getHeight());
        }
        assertTrue(Files.notExists(png));
        assertEquals(tmp.resolve("plot-bf16_h64-4_d128-128_l64_d64_s64_n16_w512.png"),
                NsaBenchPlot.fileFor(tmp.resolve("plot"), NsaBenchCsvTest.FLA));
    }

    @Test
    void chartHasOneLinePerVariantAndDashedStepLinesOnLogAxes() {
        JFreeChart chart = NsaBenchPlot.chart(NsaBenchCsvTest.FLA, sweep(NsaBenchCsvTest.FLA, 1));
        XYPlot plot = chart.getXYPlot();
        XYDataset data = plot.getDataset();
        List<String> names = new ArrayList<>();
        for (int i = 0; i < data.getSeriesCount(); i++) {
            names.add(data.getSeriesKey(i).toString());
            assertEquals(3, data.getItemCount(i), names.getLast());
        }
        assertEquals(List.of("nsa4j device", "nsa4j device compress", "nsa4j device cmp", "nsa4j device select",
                "nsa4j device sel", "nsa4j device win", "nsa4j device combine", "nsa4j graph", "nsa4j host",
                "fla parallel_nsa", "torch flash-causal", "torch cudnn-causal"), names);
        assertEquals(4096.0, data.getXValue(0, 0));
        assertEquals(65536.0, data.getXValue(0, 2));
        assertEquals(2.0, ((LogAxis) plot.getDomainAxis()).getBase());
        assertEquals(10.0, ((LogAxis) plot.getRangeAxis()).getBase());
        var r = plot.getRenderer();
        assertTrue(((java.awt.BasicStroke) r.getSeriesStroke(1)).getDashArray() != null, "steps dashed");
        assertEquals(null, ((java.awt.BasicStroke) r.getSeriesStroke(0)).getDashArray(), "forwards solid");
        assertTrue(chart.getTitle().getText().contains("bf16 Hq/Hkv=64/4"), chart.getTitle().getText());
        String sub = ((org.jfree.chart.title.TextTitle) chart.getSubtitle(1)).getText();
        assertTrue(sub.startsWith("B=4 at S=4096, B=1 at S=16384, 65536;"), sub);
    }

    @Test
    void severalBatchesAtOneLengthSplitTheLines() {
        NsaBenchConfig c = NsaBenchCsvTest.FLA;
        JFreeChart chart = NsaBenchPlot.chart(c, List.of(
                NsaBenchMarkdownTest.row("fla", "parallel_nsa", "forward", new NsaBenchShape(1, 4096, c), 2),
                NsaBenchMarkdownTest.row("fla", "parallel_nsa", "forward", new NsaBenchShape(4, 4096, c), 8),
                NsaBenchMarkdownTest.row("fla", "parallel_nsa", "forward", new NsaBenchShape(1, 8192, c), 4)));
        XYDataset data = chart.getXYPlot().getDataset();
        assertEquals(2, data.getSeriesCount());
        assertEquals("fla parallel_nsa B=1", data.getSeriesKey(0));
        assertEquals(2, data.getItemCount(0));
        assertEquals("fla parallel_nsa B=4", data.getSeriesKey(1));
    }
}
