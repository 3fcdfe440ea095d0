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
 * The file mechanics shared by the bench CSVs ({@link BenchCsv}, {@link NsaBenchCsv}): UTF-8, {@code \n}
 * line ends ({@code \r\n} accepted on read), a header line checked on append and read, RFC 4180 quoting of
 * fields holding a comma or a double quote (Python's {@code csv} module writes the same), times as plain
 * decimals of a fixed number of significant digits. Errors about a file's content are
 * {@link NsaArgumentException}s whose subject is {@code file:line}.
 */
final class CsvFiles {
    private CsvFiles() {}

    /** Writes {@code content} as {@code file} (replacing any): written to a temporary file beside it, then moved. */
    static void writeAtomically(Path file, String content) throws IOException {
        Path abs = file.toAbsolutePath();
        Files.createDirectories(abs.getParent());
        Path tmp = Files.createTempFile(abs.getParent(), "." + abs.getFileName(), ".tmp");
        try {
            Files.writeString(tmp, content, StandardCharsets.UTF_8);
            moveIntoPlace(tmp, abs);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Moves {@code tmp} onto {@code target}, atomically where the file system can. */
    static void moveIntoPlace(Path tmp, Path target) throws IOException {
        try {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /**
     * Appends {@code lines} (each ending in {@code \n}); writes {@code header} first when the file is absent or
     * empty.
     *
     * @throws NsaArgumentException when the file's first line is not {@code header} (nothing is written)
     */
    static void append(Path file, String header, String lines) throws IOException {
        boolean fresh = !Files.exists(file) || Files.size(file) == 0;
        if (!fresh) {
            String first;
            try (var r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                first = r.readLine();
            }
            checkHeader(file, header, first);
        } else if (file.toAbsolutePath().getParent() != null) {
            Files.createDirectories(file.toAbsolutePath().getParent());
        }
        Files.writeString(file, (fresh ? header + "\n" : "") + lines, StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    /**
     * The lines of a file whose first line is {@code header}: index 0 is the header, the rest as in the file
     * (blank ones included, so that index + 1 is the line number).
     */
    static List<String> readChecked(Path file, String header) throws IOException {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        if (lines.isEmpty()) {
            throw new NsaArgumentException(file + ":1", "header " + header, "the file is empty");
        }
        checkHeader(file, header, lines.getFirst());
        return lines;
    }

    static void checkHeader(Path file, String header, String first) {
        String h = first == null ? "" : first.strip();
        if (h.startsWith("\uFEFF")) {
            h = h.substring(1);
        }
        if (!h.equals(header)) {
            throw new NsaArgumentException(file + ":1", "header " + header,
                    "the first line is '" + (h.length() > 200 ? h.substring(0, 200) + "..." : h) + "'");
        }
    }

    /** The fields joined by commas, each quoted where RFC 4180 needs it. */
    static String join(List<String> fields) {
        StringBuilder sb = new StringBuilder();
        for (int k = 0; k < fields.size(); k++) {
            if (k > 0) {
                sb.append(',');
            }
            sb.append(quote(fields.get(k)));
        }
        return sb.toString();
    }

    static String quote(String s) {
        if (s.indexOf(',') < 0 && s.indexOf('"') < 0) {
            return s;
        }
        return '"' + s.replace("\"", "\"\"") + '"';
    }

    /** Plain decimal of {@code v} to {@code digits} significant digits, no trailing zeros ({@code 0} for 0). */
    static String num(double v, int digits) {
        if (v == 0) {
            return "0";
        }
        return new BigDecimal(v).round(new MathContext(digits)).stripTrailingZeros().toPlainString();
    }

    /** {@code v} rounded to {@code digits} significant digits (0, NaN and infinities as they are). */
    static double round(double v, int digits) {
        if (v == 0 || !Double.isFinite(v)) {
            return v;
        }
        return new BigDecimal(v).round(new MathContext(digits)).doubleValue();
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

    /**
     * One data line of a CSV whose header is {@code columns}, split and checked for its column count.
     *
     * @param where {@code file:line}, the subject of errors
     */
    static Fields fields(String line, String where, List<String> columns) {
        List<String> f = split(line, where);
        if (f.size() != columns.size()) {
            throw new NsaArgumentException(where, columns.size() + " columns (" + String.join(",", columns) + ")",
                    "the line has " + f.size());
        }
        return new Fields(columns, f, where);
    }

    /** The named columns of one line, parsed with errors that name the column. */
    record Fields(List<String> columns, List<String> values, String where) {
        /** The NSA bench config columns (dtype, heads, kv_heads, dk, dv, block_len, stride, sel_block, n_sel, window). */
        NsaBenchConfig config() {
            return new NsaBenchConfig(text("dtype"), integer("heads"), integer("kv_heads"), integer("dk"),
                    integer("dv"), integer("block_len"), integer("stride"), integer("sel_block"), integer("n_sel"),
                    integer("window"));
        }

        String text(String column) {
            int i = columns.indexOf(column);
            if (i < 0) {
                throw new IllegalStateException("no column " + column);
            }
            return values.get(i);
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
}
