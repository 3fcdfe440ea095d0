package dev.nsa4j.bench.report;

import dev.nsa4j.NsaArgumentException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The NSA bench CSV ({@code nsa bench nsa}, {@code bench/peers/fla_nsa.py}): a header line, then one
 * {@link NsaBenchRow} per line, UTF-8, {@code \n} line ends ({@code \r\n} accepted on read). Columns, in this
 * order ({@link #COLUMNS}):
 * <pre>
 * system,variant,step,gpu,dtype,batch,seqlen,heads,kv_heads,dk,dv,block_len,stride,sel_block,n_sel,window,
 * median_ms,p10_ms,p90_ms,runs,note
 * </pre>
 * Integers in decimal; times with {@value NsaBenchRow#DIGITS} significant digits, plain decimal on write (any
 * Java/Python float syntax on read). A field holding a comma or a double quote is quoted as RFC 4180 says
 * (Python's {@code csv} module writes the same), so nsa4j's, fla's and PyTorch's rows can share a file.
 *
 * <p>Write replaces the file atomically (temporary file, then move); append writes the header only into an
 * absent or empty file and refuses a file with another first line, writing nothing. Read errors are
 * {@link NsaArgumentException}s whose subject is {@code file:line} and whose rule names the column format,
 * the column count or the schema rule broken (the {@code RULE_*} constants of {@link NsaBenchRow} and
 * {@link NsaBenchConfig}), with the column in the detail.
 */
public final class NsaBenchCsv {
    public static final List<String> COLUMNS = List.of("system", "variant", "step", "gpu", "dtype", "batch",
            "seqlen", "heads", "kv_heads", "dk", "dv", "block_len", "stride", "sel_block", "n_sel", "window",
            "median_ms", "p10_ms", "p90_ms", "runs", "note");
    public static final String HEADER = String.join(",", COLUMNS);

    private NsaBenchCsv() {}

    /** Writes a new file (replacing any): the header, then the rows. Written to a temporary file, then moved. */
    public static void write(Path file, List<NsaBenchRow> rows) throws IOException {
        CsvFiles.writeAtomically(file, HEADER + "\n" + lines(rows));
    }

    /**
     * Appends rows; writes the header first when the file is absent or empty.
     *
     * @throws NsaArgumentException when the file's first line is not this schema's header (nothing is written)
     */
    public static void append(Path file, List<NsaBenchRow> rows) throws IOException {
        CsvFiles.append(file, HEADER, lines(rows));
    }

    /**
     * Every row of a file written by {@link #write}, {@link #append} or {@code fla_nsa.py}, in file order.
     * Blank lines are skipped.
     *
     * @throws NsaArgumentException for a wrong header or a line that breaks the schema (the first one)
     */
    public static List<NsaBenchRow> read(Path file) throws IOException {
        List<String> lines = CsvFiles.readChecked(file, HEADER);
        List<NsaBenchRow> rows = new ArrayList<>();
        for (int i = 1; i < lines.size(); i++) {
            if (!lines.get(i).isBlank()) {
                rows.add(parse(lines.get(i), file + ":" + (i + 1)));
            }
        }
        return rows;
    }

    private static String lines(List<NsaBenchRow> rows) {
        StringBuilder sb = new StringBuilder();
        for (NsaBenchRow r : rows) {
            sb.append(format(r)).append('\n');
        }
        return sb.toString();
    }

    /** One row as a CSV line (no line end). */
    public static String format(NsaBenchRow r) {
        NsaBenchShape s = r.shape();
        NsaBenchConfig c = s.config();
        return CsvFiles.join(List.of(r.system(), r.variant(), r.step(), r.gpu(), c.dtype(), i(s.batch()),
                i(s.seqlen()), i(c.heads()), i(c.kvHeads()), i(c.dk()), i(c.dv()), i(c.blockLen()), i(c.stride()),
                i(c.selBlock()), i(c.nSel()), i(c.window()), num(r.medianMs()), num(r.p10Ms()), num(r.p90Ms()),
                i(r.runs()), r.note()));
    }

    /**
     * Parses one data line.
     *
     * @param where {@code file:line}, the subject of errors
     * @throws NsaArgumentException naming the rule broken, with the column in the detail
     */
    public static NsaBenchRow parse(String line, String where) {
        CsvFiles.Fields c = CsvFiles.fields(line, where, COLUMNS);
        try {
            NsaBenchConfig config = c.config();
            NsaBenchShape shape = new NsaBenchShape(c.integer("batch"), c.integer("seqlen"), config);
            return new NsaBenchRow(c.text("system"), c.text("variant"), c.text("step"), c.text("gpu"), shape,
                    c.real("median_ms"), c.real("p10_ms"), c.real("p90_ms"), c.integer("runs"), c.text("note"));
        } catch (NsaArgumentException e) {
            if (e.subject().equals(where)) {
                throw e;
            }
            // the record's subject is the column: keep its rule, name the line, the column goes into the detail
            String prefix = e.subject() + ": rule '" + e.rule() + "' broken: ";
            String detail = e.getMessage().startsWith(prefix) ? e.getMessage().substring(prefix.length())
                    : e.getMessage();
            throw new NsaArgumentException(where, e.rule(), "column " + e.subject() + ": " + detail);
        }
    }

    private static String i(int v) {
        return Integer.toString(v);
    }

    private static String num(double v) {
        return CsvFiles.num(v, NsaBenchRow.DIGITS);
    }
}
