package dev.nsa4j.bench.report;

import dev.nsa4j.NsaArgumentException;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.MathContext;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
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
        Path abs = file.toAbsolutePath();
        Files.createDirectories(abs.getParent());
        Path tmp = Files.createTempFile(abs.getParent(), "." + abs.getFileName(), ".tmp");
        try {
            Files.writeString(tmp, HEADER + "\n" + lines(rows), StandardCharsets.UTF_8);
            try {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Appends rows; writes the header first when the file is absent or empty.
     *
     * @throws NsaArgumentException when the file's first line is not this schema's header (nothing is written)
     */
    public static void append(Path file, List<AttentionBenchRow> rows) throws IOException {
        boolean fresh = !Files.exists(file) || Files.size(file) == 0;
        if (!fresh) {
            String first;
            try (var r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                first = r.readLine();
            }
            checkHeader(file, first);
        } else if (file.toAbsolutePath().getParent() != null) {
            Files.createDirectories(file.toAbsolutePath().getParent());
        }
        Files.writeString(file, (fresh ? HEADER + "\n" : "") + lines(rows), StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    /** Every row of a file written by {@link #write}, {@link #append} or the Python peer. Blank lines are skipped. */
    public static List<AttentionBenchRow> read(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        if (lines.isEmpty()) {
            throw new NsaArgumentException(file + ":1", "header " + HEADER, "the file is empty");
        }
        checkHeader(file, lines.getFirst());
        List<AttentionBenchRow> rows = new ArrayList<>();
        for (int i = 1; i < lines.size(); i++) {
            if (!lines.get(i).isBlank()) {
                rows.add(parse(lines.get(i), file + ":" + (i + 1)));
            }
        }
        return rows;
    }

    private static void checkHeader(Path file, String first) {
        String h = first == null ? "" : first.strip();
        if (h.startsWith("\uFEFF")) {
            h = h.substring(1);
        }
        if (!h.equals(HEADER)) {
            throw new NsaArgumentException(file + ":1", "header " + HEADER,
                    "the first line is '" + (h.length() > 200 ? h.substring(0, 200) + "..." : h) + "'");
        }
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
        MaskSpec m = s.mask();
        List<String> f = List.of(r.system(), r.path(), r.gpu(), s.dtype(), i(s.batch()), i(s.heads()), i(s.kvHeads()),
                i(s.seqlenQ()), i(s.seqlenK()), i(s.dk()), i(s.dv()), m.id(), i(m.window()), i(m.cmpLen()),
                i(m.cmpStride()), Long.toString(r.visiblePairs()), Long.toString(r.flops()), num(r.medianMs()),
                num(r.p10Ms()), num(r.p90Ms()), num(r.tflops()), i(r.runs()), r.note());
        StringBuilder sb = new StringBuilder();
        for (int k = 0; k < f.size(); k++) {
            if (k > 0) {
                sb.append(',');
            }
            sb.append(quote(f.get(k)));
        }
        return sb.toString();
    }

    /**
     * Parses one data line.
     *
     * @param where {@code file:line}, the subject of errors
     * @throws NsaArgumentException naming the column and the rule broken
     */
    public static AttentionBenchRow parse(String line, String where) {
        List<String> f = split(line, where);
        if (f.size() != COLUMNS.size()) {
            throw new NsaArgumentException(where, COLUMNS.size() + " columns (" + HEADER + ")",
                    "the line has " + f.size());
        }
        Fields c = new Fields(f, where);
        MaskSpec mask;
        AttentionShape shape;
        try {
            mask = MaskSpec.of(c.text("mask"), c.integer("window"), c.integer("cmp_len"), c.integer("cmp_stride"));
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

    /** The named columns of one line, parsed with errors that name the column. */
    private record Fields(List<String> values, String where) {
        String text(String column) {
            return values.get(COLUMNS.indexOf(column));
        }

        int integer(String column) {
            try {
                return Integer.parseInt(text(column).strip());
            } catch (NumberFormatException e) {
                throw new NsaArgumentException(where, "column " + column + " is an integer",
                        "'" + text(column) + "'");
            }
        }

        long longValue(String column) {
            try {
                return Long.parseLong(text(column).strip());
            } catch (NumberFormatException e) {
                throw new NsaArgumentException(where, "column " + column + " is an integer",
                        "'" + text(column) + "'");
            }
        }

        double real(String column) {
            try {
                return Double.parseDouble(text(column).strip());
            } catch (NumberFormatException e) {
                throw new NsaArgumentException(where, "column " + column + " is a number", "'" + text(column) + "'");
            }
        }
    }

    private static String i(int v) {
        return Integer.toString(v);
    }

    /** Plain decimal of a value already rounded to {@link AttentionBenchRow#DIGITS} digits. */
    private static String num(double v) {
        if (v == 0) {
            return "0";
        }
        return new BigDecimal(v).round(new MathContext(AttentionBenchRow.DIGITS)).stripTrailingZeros()
                .toPlainString();
    }

    private static String quote(String s) {
        if (s.indexOf(',') < 0 && s.indexOf('"') < 0) {
            return s;
        }
        return '"' + s.replace("\"", "\"\"") + '"';
    }

    /** Splits one line into fields, RFC 4180 quoting (no line breaks inside fields). */
    static List<String> split(String line, String where) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean quoted = false;
        boolean wasQuoted = false;
        for (int k = 0; k < line.length(); k++) {
            char ch = line.charAt(k);
            if (quoted) {
                if (ch == '"') {
                    if (k + 1 < line.length() && line.charAt(k + 1) == '"') {
                        cur.append('"');
                        k++;
                    } else {
                        quoted = false;
                    }
                } else {
                    cur.append(ch);
                }
            } else if (ch == ',') {
                out.add(cur.toString());
                cur.setLength(0);
                wasQuoted = false;
            } else if (ch == '"' && cur.isEmpty() && !wasQuoted) {
                quoted = true;
                wasQuoted = true;
            } else if (ch == '\r' && k == line.length() - 1) {
                break;
            } else {
                if (wasQuoted) {
                    throw new NsaArgumentException(where, "RFC 4180 quoting", "text after a closing quote at column "
                            + (k + 1));
                }
                cur.append(ch);
            }
        }
        if (quoted) {
            throw new NsaArgumentException(where, "RFC 4180 quoting", "unterminated quoted field");
        }
        out.add(cur.toString());
        return out;
    }
}
