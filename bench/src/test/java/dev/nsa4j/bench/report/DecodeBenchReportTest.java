package dev.nsa4j.bench.report;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.NsaArgumentException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.jfree.chart.plot.XYPlot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The decode bench CSV (round trip, the Python peer's file), its Markdown and text reports, and its plot. */
class DecodeBenchReportTest {
    static final String GPU = "NVIDIA H200";
    static final NsaBenchConfig DEFAULT = new NsaBenchConfig("bf16", 64, 4, 128, 128, 64, 64, 64, 16, 512);
    static final NsaBenchConfig PAPER = new NsaBenchConfig("bf16", 64, 4, 128, 128, 32, 16, 64, 16, 512);

    @TempDir
    Path tmp;

    static DecodeBenchRow ok(String system, String variant, NsaBenchConfig c, int b, int ctx, double ms, long kv) {
        return DecodeBenchRow.measured(system, variant, GPU, c, b, ctx, ctx, new double[] {ms * 0.9, ms, ms * 1.2},
                kv, 32768L * b, 4000, "CUDA events, a note");
    }

    static List<DecodeBenchRow> run(NsaBenchConfig c) {
        List<DecodeBenchRow> rows = new ArrayList<>();
        for (int b : new int[] {1, 8}) {
            for (int ctx : new int[] {2048, 131072}) {
                rows.add(ok("nsa4j", "nsa-eager", c, b, ctx, 0.2 * b, 7_000_000L * b));
                rows.add(ok("nsa4j", "nsa-graph", c, b, ctx, 0.1 * b, 7_000_000L * b));
                rows.add(ok("nsa4j", "fa2-dense", c, b, ctx, 0.05 * b * ctx / 2048, 2048L * ctx * b));
            }
        }
        rows.set(rows.size() - 2, DecodeBenchRow.notMeasured("nsa4j", "nsa-graph", GPU, c, 8, 131072, 131072,
                56_000_000L, 262144, 4000, "skipped", "--skip 8,128k"));
        return rows;
    }

    @Test
    void csvRoundTripsOkAndUnmeasuredRows() throws IOException {
        List<DecodeBenchRow> rows = run(DEFAULT);
        Path f = tmp.resolve("sub/decode.csv");
        DecodeBenchCsv.write(f, rows);
        assertEquals(rows, DecodeBenchCsv.read(f));
        List<String> lines = Files.readAllLines(f);
        assertEquals(DecodeBenchCsv.HEADER, lines.getFirst());
        // a skipped row: empty times, 0 runs, the derived hbm_ms still there (bytes and bandwidth are)
        String skipped = lines.stream().filter(l -> l.contains(",skipped,")).findFirst().orElseThrow();
        assertTrue(skipped.contains(",131072,,,,0,,56000000,262144,4000,"), skipped);
        // derived columns of an ok row: tokens/s = B / median, hbm_ms = (kv + qo) / GB/s, x_hbm = median / hbm_ms
        DecodeBenchRow r = rows.getFirst();
        assertEquals(1 / 0.2e-3, r.tokensPerS(), 1e-6);
        assertEquals((7_000_000 + 32768) / 4e12 * 1e3, r.hbmMs(), 1e-15);   // 4000 GB/s
        assertEquals(0.2 / r.hbmMs(), r.xHbm(), 1e-9);
    }

    @Test
    void rowsAreChecked() {
        assertThrows(NsaArgumentException.class, () -> ok("nsa4j", "flash", DEFAULT, 1, 2048, 1, 0));
        assertThrows(NsaArgumentException.class, () -> ok("fla", "nsa-graph", DEFAULT, 1, 2048, 1, 0));
        assertThrows(NsaArgumentException.class, () -> DecodeBenchRow.notMeasured("nsa4j", "nsa-graph", GPU, DEFAULT,
                1, 2048, 2048, 0, 0, 4000, "weird", "x"));
        NsaArgumentException e = assertThrows(NsaArgumentException.class, () -> new DecodeBenchRow("nsa4j",
                "nsa-graph", GPU, DEFAULT, 1, 2048, 2048, 1.0, 1.0, 1.0, 3, 0, 0, 4000, "oom", "x"));
        assertEquals("a row that is not ok has no times and 0 runs", e.rule());
        assertThrows(NsaArgumentException.class, () -> new DecodeBenchRow("nsa4j", "nsa-graph", GPU, DEFAULT, 1, 2048,
                2048, Double.NaN, Double.NaN, Double.NaN, 0, 0, 0, 4000, "ok", "x"));
        assertThrows(NsaArgumentException.class, () -> ok("nsa4j", "nsa-graph", DEFAULT, 0, 2048, 1, 0));
    }

    /** Rows written by bench/peers/torch_decode.py --self-test --out (its make_row/write_rows) read back the same. */
    @Test
    void readsThePythonPeersFile() throws IOException {
        Path f = tmp.resolve("torch.csv");
        try (InputStream in = DecodeBenchReportTest.class.getResourceAsStream("torch_decode_sample.csv")) {
            Files.write(f, in.readAllBytes());
        }
        List<DecodeBenchRow> rows = DecodeBenchCsv.read(f);
        assertEquals(3, rows.size());
        DecodeBenchRow flash = rows.getFirst();
        assertEquals("torch flash", flash.systemVariant());
        assertEquals(List.of("bf16", 1, 2048, 64, 4, 128, 128), flash.denseKey());
        assertEquals(0.05, flash.medianMs());
        assertEquals(2049L * 4 * 256 * 2, flash.kvBytes());
        assertEquals("refused", rows.get(2).status());
        // the Java writer gives back the peer's lines, derived columns included
        List<String> lines = Files.readAllLines(f);
        for (int i = 0; i < rows.size(); i++) {
            assertEquals(lines.get(i + 1), DecodeBenchCsv.format(rows.get(i)));
        }
    }

    @Test
    void markdownJoinsPeerRowsByDenseShapeAcrossConfigs() {
        List<DecodeBenchRow> rows = new ArrayList<>(run(DEFAULT));
        rows.addAll(run(PAPER));
        // one peer run (labelled with the default config) serves both configs
        rows.add(ok("torch", "flash", DEFAULT, 1, 2048, 0.04, 2049L * 2048));
        rows.add(DecodeBenchRow.notMeasured("torch", "cudnn", GPU, DEFAULT, 1, 2048, 2048, 1, 1, 4000, "refused",
                "No available kernel"));
        String md = DecodeBenchReport.markdown(rows, "Bytes: the formula.");
        assertTrue(md.contains("Bytes: the formula."), md);
        assertEquals(2, md.split("\n## ").length - 1, md);
        assertTrue(md.contains("## NVIDIA H200: bf16 Hq/Hkv=64/4 Dk/Dv=128/128 l/d/l'/n/w=32/16/64/16/512"), md);
        assertTrue(md.contains("| B | ctx | NSA eager ms | NSA graph ms | FA-2 dense ms | torch flash ms | torch cudnn ms "
                + "| FA-2 / graph | torch flash / graph | torch cudnn / graph |"), md);
        // B=1 ctx=2048: eager 0.2, graph 0.1, dense 0.05, torch 0.04 -> ratios 0.50x and 0.40x
        assertTrue(md.contains("| 1 | 2048 | 0.2 | 0.1 | 0.05 | 0.04 | refused | 0.50x | 0.40x |  | 10000 |"), md);
        assertTrue(md.contains("- B=8 ctx=131072 nsa4j nsa-graph: skipped, --skip 8,128k"), md);
        assertTrue(md.contains("- B=1 ctx=2048 torch cudnn: refused, No available kernel"), md);
        assertTrue(md.contains("Copy bandwidth (read + write, device to device): 4000 GB/s."), md);
        String table = DecodeBenchReport.table(rows);
        assertTrue(table.contains("NVIDIA H200: bf16 Hq/Hkv=64/4 Dk/Dv=128/128 l/d/l'/n/w=64/64/64/16/512; copy "
                + "bandwidth 4000 GB/s"), table);
        assertTrue(table.lines().anyMatch(l -> l.matches("\\s+8\\s+131072\\s+1\\.6\\s+skipped\\s+25\\.6.*")), table);
    }

    @Test
    void plotHasALinePerBatchAndPathOfOkRows() throws IOException {
        List<DecodeBenchRow> rows = new ArrayList<>(run(DEFAULT));
        rows.add(ok("torch", "flash", DEFAULT, 1, 2048, 0.04, 1));
        rows.add(ok("torch", "flash", DEFAULT, 1, 131072, 0.5, 1));
        XYPlot plot = DecodeBenchPlot.chart(rows).getXYPlot();
        List<String> keys = new ArrayList<>();
        for (int i = 0; i < plot.getDataset().getSeriesCount(); i++) {
            keys.add(plot.getDataset().getSeriesKey(i).toString());
        }
        assertEquals(List.of("B=1 nsa4j nsa-eager", "B=1 nsa4j nsa-graph", "B=1 nsa4j fa2-dense", "B=1 torch flash",
                "B=8 nsa4j nsa-eager", "B=8 nsa4j nsa-graph", "B=8 nsa4j fa2-dense"), keys);
        // B=8 nsa-graph: only ctx 2048 was measured
        assertEquals(1, plot.getDataset().getItemCount(keys.indexOf("B=8 nsa4j nsa-graph")));
        Path png = tmp.resolve("p/decode.png");
        assertTrue(DecodeBenchPlot.write(rows, png));
        byte[] head = Arrays.copyOf(Files.readAllBytes(png), 8);
        assertArrayEquals(NsaBenchPlotTest.PNG_MAGIC, head);
        assertFalse(DecodeBenchPlot.write(rows.stream().filter(r -> !r.ok()).toList(), tmp.resolve("none.png")));
        assertFalse(Files.exists(tmp.resolve("none.png")));
    }
}
