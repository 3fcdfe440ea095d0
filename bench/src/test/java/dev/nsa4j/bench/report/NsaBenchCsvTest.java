package dev.nsa4j.bench.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.config.NsaConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

class NsaBenchCsvTest {
    static final String GPU = "NVIDIA H200";
    /** fla's benchmark shape config: Hq=64, Hkv=4, D=128, l=d=l'=64, n=16, w=512. */
    static final NsaBenchConfig FLA = new NsaBenchConfig("bf16", 64, 4, 128, 128, 64, 64, 64, 16, 512);
    /** The paper's config: l=32, d=16, l'=64, Dk=192, Dv=128. */
    static final NsaBenchConfig PAPER = new NsaBenchConfig("bf16", 64, 4, 192, 128, 32, 16, 64, 16, 512);
    static final NsaBenchShape S4K = new NsaBenchShape(4, 4096, FLA);

    @TempDir
    Path tmp;

    static List<NsaBenchRow> rows() {
        return List.of(
                NsaBenchRow.measured("nsa4j", "device", "forward", GPU, S4K, new double[] {10.0, 10.5, 11.0, 10.25}, ""),
                NsaBenchRow.measured("nsa4j", "device", "sel", GPU, S4K, new double[] {5.123456789}, "CUDA events"),
                NsaBenchRow.measured("nsa4j", "device", "enqueue", GPU, S4K, new double[] {0.0123456789, 0.011}, "wall"),
                NsaBenchRow.measured("nsa4j", "host", "transfers", GPU, S4K, new double[] {400, 410}, "pageable"),
                NsaBenchRow.measured("fla", "parallel_nsa", "forward", GPU, S4K, new double[] {8.09}, "note, with \"quotes\""),
                NsaBenchRow.measured("torch", "cudnn-causal", "forward", GPU, new NsaBenchShape(1, 65536, PAPER),
                        new double[] {117.5, 118, 117}, "torch 2.11.0"));
    }

    @Test
    void measuredRowComputesPercentilesAndRoundsTimes() {
        NsaBenchRow r = NsaBenchRow.measured("nsa4j", "graph", "forward", GPU, S4K, new double[] {4, 1, 3, 2}, "x");
        assertEquals(2.5, r.medianMs());
        assertEquals(1.3, r.p10Ms());
        assertEquals(3.7, r.p90Ms());
        assertEquals(4, r.runs());
        NsaBenchRow one = new NsaBenchRow("fla", "parallel_nsa", "forward", GPU, S4K, 1.23456789, 1.23456789,
                1.23456789, 1, "");
        assertEquals(1.23457, one.medianMs(), "the constructor keeps 6 significant digits");
        assertEquals(one.medianMs(), one.p10Ms());
        assertEquals("bf16 B=4 S=4096 Hq/Hkv=64/4 Dk/Dv=128/128 l/d/l'/n/w=64/64/64/16/512", S4K.label());
        assertEquals("bf16_h64-4_d192-128_l32_d16_s64_n16_w512", PAPER.fileSuffix());
        assertEquals(PAPER, NsaBenchConfig.of("bf16", NsaConfig.builder().heads(64).kvGroups(4).headDims(192, 128)
                .blockLen(32).stride(16).selBlock(64).nSel(16).window(512).build()));
    }

    @Test
    void everyKnownCombinationIsAcceptedAndNothingElse() {
        int n = 0;
        for (var s : NsaBenchRow.VARIANTS.entrySet()) {
            for (var v : s.getValue().entrySet()) {
                for (String step : v.getValue()) {
                    NsaBenchRow r = new NsaBenchRow(s.getKey(), v.getKey(), step, GPU, S4K, 1, 1, 1, 1, "");
                    assertEquals(n++, r.order());
                }
            }
        }
        assertEquals(8 + 1 + 2 + 1 + 1 + 1 + 2, n);   // nsa4j device graph host fa2-dense, fla, mdy666, torch
        assertEquals(List.of("device", "graph", "host", "fa2-dense"), List.copyOf(NsaBenchRow.VARIANTS.get("nsa4j").keySet()));
        assertRule(NsaBenchRow.RULE_SYSTEM, () -> row("jax", "device", "forward"));
        assertRule(NsaBenchRow.RULE_VARIANT, () -> row("nsa4j", "parallel_nsa", "forward"));
        assertRule(NsaBenchRow.RULE_VARIANT, () -> row("fla", "device", "forward"));
        assertRule(NsaBenchRow.RULE_STEP, () -> row("nsa4j", "graph", "sel"));
        assertRule(NsaBenchRow.RULE_STEP, () -> row("nsa4j", "host", "enqueue"));
        assertRule(NsaBenchRow.RULE_STEP, () -> row("nsa4j", "device", "transfers"));
        assertRule(NsaBenchRow.RULE_STEP, () -> row("fla", "parallel_nsa", "cmp"));
        assertRule(NsaBenchRow.RULE_STEP, () -> row("torch", "flash-causal", "backward"));
    }

    @Test
    void rowsRefuseBadValuesNamingTheRule() {
        assertRule(NsaBenchRow.RULE_TIMES, () -> times(2, 1, 3));
        assertRule(NsaBenchRow.RULE_TIMES, () -> times(1, 3, 2));
        assertRule(NsaBenchRow.RULE_TIMES, () -> times(0, 1, 2));
        assertRule(NsaBenchRow.RULE_TIMES, () -> times(-1, -1, -1));
        assertRule(NsaBenchRow.RULE_TIMES, () -> times(1, 1, Double.POSITIVE_INFINITY));
        assertRule(NsaBenchRow.RULE_TIMES, () -> times(Double.NaN, 1, 1));
        times(2, 2, 2);
        assertRule(NsaBenchRow.RULE_RUNS, () -> new NsaBenchRow("fla", "parallel_nsa", "forward", GPU, S4K, 1, 1, 1, 0, ""));
        assertRule(NsaBenchRow.RULE_RUNS, () -> NsaBenchRow.measured("fla", "parallel_nsa", "forward", GPU, S4K,
                new double[0], ""));
        assertRule(NsaBenchRow.RULE_GPU, () -> new NsaBenchRow("fla", "parallel_nsa", "forward", " ", S4K, 1, 1, 1, 1, ""));
        assertRule(NsaBenchRow.RULE_LINE_BREAK, () -> new NsaBenchRow("fla", "parallel_nsa", "forward", GPU, S4K,
                1, 1, 1, 1, "two\nlines"));
        assertRule(NsaBenchRow.RULE_LINE_BREAK, () -> new NsaBenchRow("fla", "parallel_nsa", "forward", "H\r200", S4K,
                1, 1, 1, 1, ""));
        assertRule(NsaBenchConfig.RULE_POSITIVE, () -> new NsaBenchShape(0, 4096, FLA));
        assertRule(NsaBenchConfig.RULE_POSITIVE, () -> new NsaBenchShape(1, 0, FLA));
        assertRule(NsaBenchConfig.RULE_POSITIVE, () -> new NsaBenchConfig("bf16", 64, 4, 128, 128, 64, 64, 64, 16, 0));
        assertRule(NsaBenchConfig.RULE_POSITIVE, () -> new NsaBenchConfig("bf16", 64, 4, 128, 0, 64, 64, 64, 16, 512));
        assertRule("heads % kv_heads == 0", () -> new NsaBenchConfig("bf16", 64, 5, 128, 128, 64, 64, 64, 16, 512));
        assertRule("dtype is fp16, bf16 or fp32", () -> new NsaBenchConfig("int8", 64, 4, 128, 128, 64, 64, 64, 16, 512));
    }

    private static NsaBenchRow row(String system, String variant, String step) {
        return new NsaBenchRow(system, variant, step, GPU, S4K, 1, 1, 1, 1, "");
    }

    private static NsaBenchRow times(double p10, double median, double p90) {
        return new NsaBenchRow("nsa4j", "device", "forward", GPU, S4K, median, p10, p90, 3, "");
    }

    private static void assertRule(String rule, Executable e) {
        NsaArgumentException x = assertThrows(NsaArgumentException.class, e);
        assertEquals(rule, x.rule(), x.getMessage());
    }

    @Test
    void writeThenReadGivesTheSameRows() throws IOException {
        Path f = tmp.resolve("deep/dir/nsa.csv");
        NsaBenchCsv.write(f, rows());
        List<String> lines = Files.readAllLines(f);
        assertEquals("system,variant,step,gpu,dtype,batch,seqlen,heads,kv_heads,dk,dv,block_len,stride,sel_block,"
                + "n_sel,window,median_ms,p10_ms,p90_ms,runs,note", lines.getFirst());
        assertEquals(String.join(",", NsaBenchCsv.COLUMNS), NsaBenchCsv.HEADER);
        assertEquals(7, lines.size());
        assertEquals("nsa4j,device,forward,NVIDIA H200,bf16,4,4096,64,4,128,128,64,64,64,16,512,10.375,10.075,10.85,4,",
                lines.get(1));
        assertEquals("nsa4j,device,sel,NVIDIA H200,bf16,4,4096,64,4,128,128,64,64,64,16,512,5.12346,5.12346,5.12346,1,"
                + "CUDA events", lines.get(2));
        assertTrue(lines.get(3).contains(",0.0116728,0.0111346,0.0122111,2,wall"), lines.get(3));
        assertTrue(lines.get(5).endsWith(",8.09,8.09,8.09,1,\"note, with \"\"quotes\"\"\""), lines.get(5));
        assertTrue(lines.get(6).startsWith("torch,cudnn-causal,forward,NVIDIA H200,bf16,1,65536,64,4,192,128,32,16,64,"
                + "16,512,117.5,117.1,117.9,3,"), lines.get(6));
        assertEquals(rows(), NsaBenchCsv.read(f));
        NsaBenchCsv.write(f, rows().subList(0, 1));
        assertEquals(1, NsaBenchCsv.read(f).size(), "write replaces the file");
        try (var files = Files.list(f.getParent())) {
            assertEquals(1, files.count(), "no temporary file left beside it");
        }
    }

    @Test
    void appendWritesTheHeaderOnceAndRefusesAForeignFile() throws IOException {
        Path f = tmp.resolve("a.csv");
        NsaBenchCsv.append(f, rows().subList(0, 2));
        NsaBenchCsv.append(f, rows().subList(2, 6));
        assertEquals(rows(), NsaBenchCsv.read(f));
        assertEquals(1, Files.readAllLines(f).stream().filter(NsaBenchCsv.HEADER::equals).count());
        Path attention = tmp.resolve("attention.csv");
        BenchCsv.append(attention, BenchCsvTest.rows());
        String before = Files.readString(attention);
        NsaArgumentException e = assertThrows(NsaArgumentException.class, () -> NsaBenchCsv.append(attention, rows()));
        assertTrue(e.subject().endsWith("attention.csv:1"), e.getMessage());
        assertTrue(e.rule().startsWith("header system,variant,step,"), e.getMessage());
        assertEquals(before, Files.readString(attention), "nothing written");
        assertThrows(NsaArgumentException.class, () -> BenchCsv.append(f, BenchCsvTest.rows()));
        Path empty = Files.writeString(tmp.resolve("e.csv"), "");
        NsaBenchCsv.append(empty, rows().subList(0, 1));
        assertEquals(1, NsaBenchCsv.read(empty).size());
    }

    @Test
    void readErrorsNameTheLineTheRuleAndTheColumn() throws IOException {
        String good = NsaBenchCsv.format(rows().getFirst());
        assertError(good.replace(",10.375,10.075,", ",10.375,10.5,"), NsaBenchRow.RULE_TIMES, "column p10_ms,median_ms");
        assertError(good.replace(",10.85,4,", ",10.85,0,"), NsaBenchRow.RULE_RUNS, "column runs: runs=0");
        assertError(good.replace("device,forward", "device,backward"), NsaBenchRow.RULE_STEP, "column step");
        assertError(good.replace("nsa4j,device", "nsa4j,cpu"), NsaBenchRow.RULE_VARIANT, "'cpu'");
        assertError(good.replace("nsa4j,", "jax,"), NsaBenchRow.RULE_SYSTEM, "column system: system='jax'");
        assertError(good.replace(",64,4,128,", ",64,6,128,"), "heads % kv_heads == 0", "column kv_heads");
        assertError(good.replace(",16,512,", ",16,0,"), NsaBenchConfig.RULE_POSITIVE, "column window: window=0");
        assertError(good.replace(",bf16,4,4096,", ",bf16,4,-1,"), NsaBenchConfig.RULE_POSITIVE, "column seqlen");
        assertError(good.replace(",bf16,", ",tf32,"), "dtype is fp16, bf16 or fp32", "'tf32'");
        assertError(good.replace(",10.375,", ",fast,"), "column median_ms is a number", "'fast'");
        assertError(good.replace(",4096,", ",4k,"), "column seqlen is an integer", "'4k'");
        assertError(good + ",extra", "21 columns", "has 22");
        assertError(good.replace("nsa4j,", "\"nsa4j,"), "RFC 4180", "unterminated");
        assertThrows(NsaArgumentException.class, () -> NsaBenchCsv.read(Files.writeString(tmp.resolve("z.csv"), "")));
    }

    private void assertError(String line, String rule, String detail) throws IOException {
        Path f = Files.writeString(tmp.resolve("bad.csv"), NsaBenchCsv.HEADER + "\n\n" + line + "\n");
        NsaArgumentException e = assertThrows(NsaArgumentException.class, () -> NsaBenchCsv.read(f));
        assertTrue(e.subject().endsWith("bad.csv:3"), e.getMessage());
        assertTrue(e.rule().startsWith(rule), e.getMessage());
        assertTrue(e.getMessage().contains(detail), e.getMessage());
    }

    /** Rows written by bench/peers/fla_nsa.py --self-test --out (its make_row/write_rows) read back and format the same. */
    @Test
    void readsThePythonPeersOutput() throws IOException {
        Path f = tmp.resolve("fla.csv");
        try (InputStream in = NsaBenchCsvTest.class.getResourceAsStream("fla_nsa_sample.csv")) {
            Files.write(f, in.readAllBytes());
        }
        List<NsaBenchRow> rows = NsaBenchCsv.read(f);
        assertEquals(7, rows.size());
        NsaBenchRow fla = rows.getFirst();
        assertEquals("fla parallel_nsa", fla.systemVariant());
        assertEquals(S4K, fla.shape());
        assertEquals(8.09, fla.medianMs());
        assertEquals(7.992, fla.p10Ms());
        assertEquals(5, fla.runs());
        assertEquals(new NsaBenchShape(1, 65536, PAPER), rows.getLast().shape());
        assertEquals(117.523, rows.getLast().medianMs());
        assertEquals("note with \"quotes\", and a comma", rows.getLast().note());
        assertTrue(rows.stream().allMatch(NsaBenchRow::isForward));
        List<String> lines = Files.readAllLines(f, StandardCharsets.UTF_8);
        for (int i = 0; i < rows.size(); i++) {
            assertEquals(lines.get(i + 1), NsaBenchCsv.format(rows.get(i)), "Java formats the peer's line identically");
        }
    }
}
