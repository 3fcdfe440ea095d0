package dev.nsa4j.bench.report;

import dev.nsa4j.kernels.Mask;
import dev.nsa4j.NsaArgumentException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The attention bench CSV: a header line, then one {@link AttentionBenchRow} per line, UTF-8, {@code \n}
 * line ends ({@code \r\n} accepted on read). Columns, in this order ({@link #COLUMNS}):
 * <pre>
 * system,path,gpu,dtype,batch,heads,kv_heads,seqlen_q,seqlen_k,dk,dv,mask,window,cmp_len,cmp_stride,
 * visible_pairs,flops,median_ms,p10_ms,p90_ms,tflops,runs,note
 * </pre>
 * Integers in decimal; times and TFLOP/s with {@value AttentionBenchRow#DIGITS} significant digits, plain
 * decimal on write (any Java/Python float syntax on read). A field holding a comma or a double quote is
 * quoted as RFC 4180 says (Python's {@code csv} module writes the same). {@code bench/peers/torch_sdpa.py}
 * writes this schema, so nsa4j and PyTorch rows can share a file or be joined on the shape columns.
 *
 * <p>Read errors are {@link NsaArgumentException}s whose subject is {@code file:line} and whose rule names
 * the column or the schema rule broken.
 */
public final class BenchCsv {
    public static final List<String> COLUMNS = List.of("system", "path", "gpu", "dtype", "batch", "heads",
            "kv_heads", "seqlen_q", "seqlen_k", "dk", "dv", "mask", "window", "cmp_len", "cmp_stride",
            "visible_pairs", "flops", "median_ms", "p10_ms", "p90_ms", "tflops", "runs", "note");
    public static final String HEADER = String.join(",", COLUMNS);

    private BenchCsv() {}

    /** Writes a new file (replacing any): the header, then the rows. Written to a temporary file, then moved. */
    public static void write(Path file, List<AttentionBenchRow> rows) throws IOException {
        CsvFiles.writeAtomically(file, HEADER + "\n" + lines(rows));
    }

    /**
     * Appends rows; writes the header first when the file is absent or empty.
     *
     * @throws NsaArgumentException when the file's first line is not this schema's header (nothing is written)
     */
    public static void append(Path file, List<AttentionBenchRow> rows) throws IOException {
        CsvFiles.append(file, HEADER, lines(rows));
    }

    /** Every row of a file written by {@link #write}, {@link #append} or the Python peer. Blank lines are skipped. */
    public static List<AttentionBenchRow> read(Path file) throws IOException {
        List<String> lines = CsvFiles.readChecked(file, HEADER);
        List<AttentionBenchRow> rows = new ArrayList<>();
        for (int i = 1; i < lines.size(); i++) {
            if (!lines.get(i).isBlank()) {
                rows.add(parse(lines.get(i), file + ":" + (i + 1)));
            }
        }
        return rows;
    }

    private static String lines(List<AttentionBenchRow> rows) {
        StringBuilder sb = new StringBuilder();
        for (AttentionBenchRow r : rows) {
            sb.append(format(r)).append('\n');
        }
        return sb.toString();
    }

    /** One row as a CSV line (no line end). */
    public static String format(AttentionBenchRow r) {
        AttentionShape s = r.shape();
        Mask m = s.mask();
        List<String> f = List.of(r.system(), r.path(), r.gpu(), s.dtype(), i(s.batch()), i(s.heads()), i(s.kvHeads()),
                i(s.seqlenQ()), i(s.seqlenK()), i(s.dk()), i(s.dv()), MaskText.id(m), i(MaskText.window(m)), i(MaskText.cmpLen(m)),
                i(MaskText.cmpStride(m)), Long.toString(r.visiblePairs()), Long.toString(r.flops()), num(r.medianMs()),
                num(r.p10Ms()), num(r.p90Ms()), num(r.tflops()), i(r.runs()), r.note());
        return CsvFiles.join(f);
    }

    /**
     * Parses one data line.
     *
     * @param where {@code file:line}, the subject of errors
     * @throws NsaArgumentException naming the column and the rule broken
     */
    public static AttentionBenchRow parse(String line, String where) {
        CsvFiles.Fields c = CsvFiles.fields(line, where, COLUMNS);
        Mask mask;
        AttentionShape shape;
        try {
            mask = MaskText.of(c.text("mask"), c.integer("window"), c.integer("cmp_len"), c.integer("cmp_stride"));
        } catch (IllegalArgumentException e) {
            throw rethrow(e, where, "columns mask, window, cmp_len, cmp_stride");
        }
        try {
            shape = new AttentionShape(c.text("dtype"), c.integer("batch"), c.integer("heads"), c.integer("kv_heads"),
                    c.integer("seqlen_q"), c.integer("seqlen_k"), c.integer("dk"), c.integer("dv"), mask);
        } catch (IllegalArgumentException e) {
            throw rethrow(e, where, "shape columns dtype, batch, heads, kv_heads, seqlen_q, seqlen_k, dk, dv");
        }
        try {
            return new AttentionBenchRow(c.text("system"), c.text("path"), c.text("gpu"), shape,
                    c.longValue("visible_pairs"), c.longValue("flops"), c.real("median_ms"), c.real("p10_ms"),
                    c.real("p90_ms"), c.real("tflops"), c.integer("runs"), c.text("note"));
        } catch (IllegalArgumentException e) {
            throw rethrow(e, where, "schema of an attention bench row");
        }
    }

    private static NsaArgumentException rethrow(IllegalArgumentException e, String where, String rule) {
        return e instanceof NsaArgumentException n ? n : new NsaArgumentException(where, rule, e.getMessage());
    }

    private static String i(int v) {
        return Integer.toString(v);
    }

    /** Plain decimal of a value already rounded to {@link AttentionBenchRow#DIGITS} digits. */
    private static String num(double v) {
        return CsvFiles.num(v, AttentionBenchRow.DIGITS);
    }
}
