package dev.nsa4j.bench.report;

import dev.nsa4j.NsaArgumentException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The decode bench CSV ({@code nsa bench decode}, {@code bench/peers/torch_decode.py}): a header line, then one
 * {@link DecodeBenchRow} per line, UTF-8, {@code \n} line ends ({@code \r\n} accepted on read), fields with a comma
 * or a quote quoted as RFC 4180 says (Python's {@code csv} module writes the same). Columns ({@link #COLUMNS}):
 * <pre>
 * system,variant,gpu,dtype,batch,context,heads,kv_heads,dk,dv,block_len,stride,sel_block,n_sel,window,position,
 * median_ms,p10_ms,p90_ms,runs,tokens_per_s,kv_bytes,qo_bytes,hbm_gbps,hbm_ms,x_hbm,status,note
 * </pre>
 * Times with {@value NsaBenchRow#DIGITS} significant digits, plain decimal; a value that does not exist (the times
 * of a row that is not ok, the bandwidth where none was measured) is an empty field. {@code tokens_per_s},
 * {@code hbm_ms} and {@code x_hbm} are derived ({@link DecodeBenchRow#tokensPerS()}, {@link DecodeBenchRow#hbmMs()},
 * {@link DecodeBenchRow#xHbm()}): written for readers of the file, not read back. Read errors are
 * {@link NsaArgumentException}s whose subject is {@code file:line}.
 */
public final class DecodeBenchCsv {
    public static final List<String> COLUMNS = List.of("system", "variant", "gpu", "dtype", "batch", "context", "heads",
            "kv_heads", "dk", "dv", "block_len", "stride", "sel_block", "n_sel", "window", "position", "median_ms",
            "p10_ms", "p90_ms", "runs", "tokens_per_s", "kv_bytes", "qo_bytes", "hbm_gbps", "hbm_ms", "x_hbm",
            "status", "note");
    public static final String HEADER = String.join(",", COLUMNS);

    private DecodeBenchCsv() {}

    /** Writes a new file (replacing any): the header, then the rows; through a temporary file, then moved. */
    public static void write(Path file, List<DecodeBenchRow> rows) throws IOException {
        StringBuilder sb = new StringBuilder(HEADER).append('\n');
        for (DecodeBenchRow r : rows) {
            sb.append(format(r)).append('\n');
        }
        CsvFiles.writeAtomically(file, sb.toString());
    }

    /** Every row of a file in this schema, in file order; blank lines skipped. */
    public static List<DecodeBenchRow> read(Path file) throws IOException {
        List<String> lines = CsvFiles.readChecked(file, HEADER);
        List<DecodeBenchRow> rows = new ArrayList<>();
        for (int i = 1; i < lines.size(); i++) {
            if (!lines.get(i).isBlank()) {
                rows.add(parse(lines.get(i), file + ":" + (i + 1)));
            }
        }
        return rows;
    }

    /** One row as a CSV line (no line end). */
    public static String format(DecodeBenchRow r) {
        NsaBenchConfig c = r.config();
        return CsvFiles.join(List.of(r.system(), r.variant(), r.gpu(), c.dtype(), i(r.batch()), i(r.context()),
                i(c.heads()), i(c.kvHeads()), i(c.dk()), i(c.dv()), i(c.blockLen()), i(c.stride()), i(c.selBlock()),
                i(c.nSel()), i(c.window()), Long.toString(r.position()), num(r.medianMs()), num(r.p10Ms()),
                num(r.p90Ms()), i(r.runs()), num(r.tokensPerS()), Long.toString(r.kvBytes()),
                Long.toString(r.qoBytes()), num(r.hbmGbps()), num(r.hbmMs()), num(r.xHbm()), r.status(), r.note()));
    }

    /**
     * Parses one data line.
     *
     * @param where {@code file:line}, the subject of errors
     */
    public static DecodeBenchRow parse(String line, String where) {
        CsvFiles.Fields c = CsvFiles.fields(line, where, COLUMNS);
        try {
            NsaBenchConfig config = c.config();
            return new DecodeBenchRow(c.text("system"), c.text("variant"), c.text("gpu"), config, c.integer("batch"),
                    c.integer("context"), c.longValue("position"), optional(c, "median_ms"), optional(c, "p10_ms"),
                    optional(c, "p90_ms"), c.integer("runs"), c.longValue("kv_bytes"), c.longValue("qo_bytes"),
                    optional(c, "hbm_gbps"), c.text("status"), c.text("note"));
        } catch (NsaArgumentException e) {
            if (e.subject().equals(where)) {
                throw e;
            }
            throw new NsaArgumentException(where, e.rule(), "column " + e.subject() + ": " + e.getMessage());
        }
    }

    private static double optional(CsvFiles.Fields c, String column) {
        return c.text(column).isBlank() ? Double.NaN : c.real(column);
    }

    private static String i(int v) {
        return Integer.toString(v);
    }

    private static String num(double v) {
        return Double.isFinite(v) ? CsvFiles.num(v, NsaBenchRow.DIGITS) : "";
    }
}
