package dev.nsa4j.bench.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.kernels.Mask;
import dev.nsa4j.NsaArgumentException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BenchCsvTest {
    static final String GPU = "NVIDIA H100 80GB HBM3";
    static final AttentionShape CAUSAL = new AttentionShape("bf16", 1, 16, 4, 4096, 4096, 64, 64, Mask.CAUSAL);
    static final AttentionShape WINDOW = new AttentionShape("fp16", 2, 8, 8, 1000, 1000, 128, 96, MaskText.checkedWindow(256));
    static final AttentionShape CMP = new AttentionShape("fp32", 1, 8, 2, 4096, 255, 64, 64, MaskText.checkedBlockCausal(32, 16));

    @TempDir
    Path tmp;

    static List<AttentionBenchRow> rows() {
        return List.of(
                AttentionBenchRow.measured("nsa4j", "sdpa-masked", GPU, CAUSAL, new double[] {2.0, 2.5, 3.0, 2.25}, ""),
                AttentionBenchRow.measured("torch", "flash", GPU, CAUSAL, new double[] {0.4213, 0.4188, 0.4301}, "torch 2.11"),
                AttentionBenchRow.measured("nsa4j", "fa2", GPU, WINDOW, new double[] {1.0 / 3}, "note, with \"quotes\""),
                AttentionBenchRow.measured("torch", "efficient", GPU, CMP, new double[] {0.0123456789, 0.011}, "bool mask"));
    }

    @Test
    void measuredRowComputesPairsFlopsPercentilesAndTflops() {
        AttentionBenchRow r = AttentionBenchRow.measured("nsa4j", "sdpa", GPU, CAUSAL, new double[] {4, 1, 3, 2}, "x");
        assertEquals(8_390_656, r.visiblePairs());
        assertEquals(2L * 16 * 8_390_656 * 128, r.flops());
        assertEquals(2.5, r.medianMs());
        assertEquals(1.3, r.p10Ms());
        assertEquals(3.7, r.p90Ms());
        assertEquals(4, r.runs());
        assertEquals(AttentionBenchRow.round(r.flops() / 2.5e-3 / 1e12), r.tflops());
        assertEquals(0.0123457, AttentionBenchRow.round(0.0123456789));
        assertEquals(1234570.0, AttentionBenchRow.round(1234567.0));
        assertEquals(5.0, AttentionBenchRow.percentile(new double[] {5}, 90));
    }

    @Test
    void rowsRefuseWhatBreaksTheSchema() {
        AttentionBenchRow ok = rows().getFirst();
        assertThrows(IllegalArgumentException.class, () -> new AttentionBenchRow("jax", "flash", GPU, CAUSAL,
                ok.visiblePairs(), ok.flops(), 1, 1, 1, 1, 1, ""));
        assertThrows(IllegalArgumentException.class, () -> new AttentionBenchRow("nsa4j", "flash", GPU, CAUSAL,
                ok.visiblePairs(), ok.flops(), 1, 1, 1, 1, 1, ""));
        assertThrows(IllegalArgumentException.class, () -> new AttentionBenchRow("nsa4j", "fa2", GPU, CAUSAL,
                ok.visiblePairs() + 1, ok.flops(), 1, 1, 1, 1, 1, ""));
        assertThrows(IllegalArgumentException.class, () -> new AttentionBenchRow("nsa4j", "fa2", GPU, CAUSAL,
                ok.visiblePairs(), ok.flops(), 1, 2, 3, 1, 1, ""));
        assertThrows(IllegalArgumentException.class, () -> new AttentionBenchRow("nsa4j", "fa2", GPU, CAUSAL,
                ok.visiblePairs(), ok.flops(), 1, 1, 1, 1, 1, "two\nlines"));
        assertThrows(IllegalArgumentException.class, () -> new AttentionShape("int8", 1, 1, 1, 1, 1, 1, 1, Mask.NONE));
        assertThrows(IllegalArgumentException.class, () -> new AttentionShape("bf16", 1, 6, 4, 1, 1, 1, 1, Mask.NONE));
        assertThrows(IllegalArgumentException.class,
                () -> AttentionBenchRow.measured("nsa4j", "fa2", GPU, CAUSAL, new double[0], ""));
    }

    @Test
    void writeThenReadGivesTheSameRows() throws IOException {
        Path f = tmp.resolve("deep/dir/bench.csv");
        BenchCsv.write(f, rows());
        List<String> lines = Files.readAllLines(f);
        assertEquals(BenchCsv.HEADER, lines.getFirst());
        assertEquals(5, lines.size());
        assertTrue(lines.get(3).endsWith(",\"note, with \"\"quotes\"\"\""), lines.get(3));
        assertTrue(lines.get(1).startsWith("nsa4j,sdpa-masked,NVIDIA H100 80GB HBM3,bf16,1,16,4,4096,4096,64,64,causal,"
                + "0,0,0,8390656,34368126976,2.375,"), lines.get(1));
        assertEquals(rows(), BenchCsv.read(f));
        assertEquals(String.join(",", BenchCsv.COLUMNS), BenchCsv.HEADER);
        assertEquals("system,path,gpu,dtype,batch,heads,kv_heads,seqlen_q,seqlen_k,dk,dv,mask,window,cmp_len,"
                + "cmp_stride,visible_pairs,flops,median_ms,p10_ms,p90_ms,tflops,runs,note", BenchCsv.HEADER);
        BenchCsv.write(f, rows().subList(0, 1));
        assertEquals(1, BenchCsv.read(f).size(), "write replaces the file");
    }

    @Test
    void appendWritesTheHeaderOnceAndRefusesAForeignFile() throws IOException {
        Path f = tmp.resolve("a.csv");
        BenchCsv.append(f, rows().subList(0, 2));
        BenchCsv.append(f, rows().subList(2, 4));
        assertEquals(rows(), BenchCsv.read(f));
        assertEquals(1, Files.readAllLines(f).stream().filter(BenchCsv.HEADER::equals).count());
        Path foreign = Files.writeString(tmp.resolve("f.csv"), "a,b,c\n1,2,3\n");
        NsaArgumentException e = assertThrows(NsaArgumentException.class, () -> BenchCsv.append(foreign, rows()));
        assertTrue(e.subject().endsWith("f.csv:1"), e.getMessage());
        assertEquals("a,b,c\n1,2,3\n", Files.readString(foreign));
        Path empty = Files.writeString(tmp.resolve("e.csv"), "");
        BenchCsv.append(empty, rows().subList(0, 1));
        assertEquals(1, BenchCsv.read(empty).size());
    }

    @Test
    void readErrorsNameTheLineAndTheRule() throws IOException {
        String good = BenchCsv.format(rows().getFirst());
        assertError(good.replace(",34368126976,", ",34368126977,"), "schema", "flops=34368126977");
        assertError(good.replace(",8390656,", ",x,"), "column visible_pairs is an integer", "'x'");
        assertError(good.replace(",2.375,", ",fast,"), "column median_ms is a number", "'fast'");
        assertError(good.replace(",causal,0,0,0,", ",causal,5,0,0,"), "columns mask", "window=5");
        assertError(good + ",extra", "23 columns", "has 24");
        assertError(good.replace("nsa4j,", "\"nsa4j,"), "RFC 4180", "unterminated");
        assertError(good.replace("sdpa-masked", "flash"), "schema", "not a path of nsa4j");
        assertError(good.replace(",16,4,", ",16,5,"), "shape columns", "not a multiple");
        assertThrows(NsaArgumentException.class, () -> BenchCsv.read(Files.writeString(tmp.resolve("z.csv"), "")));
    }

    private void assertError(String line, String ruleStart, String detail) throws IOException {
        Path f = Files.writeString(tmp.resolve("bad.csv"), BenchCsv.HEADER + "\n\n" + line + "\n");
        NsaArgumentException e = assertThrows(NsaArgumentException.class, () -> BenchCsv.read(f));
        assertTrue(e.subject().endsWith("bad.csv:3"), e.getMessage());
        assertTrue(e.rule().startsWith(ruleStart), e.getMessage());
        assertTrue(e.getMessage().contains(detail), e.getMessage());
    }

    /** Rows written by bench/peers/torch_sdpa.py (its make_row/append_rows) read back and format the same. */
    @Test
    void readsThePythonPeersOutput() throws IOException {
        Path f = tmp.resolve("torch.csv");
        try (InputStream in = BenchCsvTest.class.getResourceAsStream("torch_sdpa_sample.csv")) {
            Files.write(f, in.readAllBytes());
        }
        List<AttentionBenchRow> rows = BenchCsv.read(f);
        assertEquals(5, rows.size());
        assertEquals(MaskText.checkedBlockCausal(32, 16), rows.get(3).shape().mask());
        assertEquals(518_415, rows.get(3).visiblePairs());
        assertEquals("note with \"quotes\", and a comma", rows.get(4).note());
        List<String> lines = Files.readAllLines(f, StandardCharsets.UTF_8);
        for (int i = 0; i < rows.size(); i++) {
            assertEquals(lines.get(i + 1), BenchCsv.format(rows.get(i)), "Java formats the peer's line identically");
        }
    }
}
