package dev.nsa4j.bench.report;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * Attention bench rows as a markdown table: shape, path, median ms, TFLOP/s and the speedup over a named
 * baseline path measured on the same shape (and GPU):
 * <pre>
 * | shape | path | median ms | TFLOP/s | speedup vs sdpa-masked |
 * |---|---|--:|--:|--:|
 * | B=1 H=16/4 S=4096 D=64 bf16 causal | nsa4j sdpa-masked | 2.5 | 13.7 | 1.00x |
 * |  | torch flash | 0.5 | 68.7 | 5.00x |
 * </pre>
 * Rows are grouped by (GPU, shape) in the order each group first appears, rows within a group in input
 * order. Speedup = baseline median / row median; {@code n/a} where the group has no baseline row (the first
 * one counts when there are several). The GPU name leads the shape cell when the rows span several GPUs.
 */
public final class BenchMarkdown {
    private BenchMarkdown() {}

    public static String table(List<AttentionBenchRow> rows, String baselinePath) {
        Objects.requireNonNull(baselinePath, "baselinePath");
        boolean manyGpus = rows.stream().map(AttentionBenchRow::gpu).distinct().count() > 1;
        Map<List<Object>, List<AttentionBenchRow>> groups = new LinkedHashMap<>();
        for (AttentionBenchRow r : rows) {
            groups.computeIfAbsent(List.of(r.gpu(), r.shape()), k -> new ArrayList<>()).add(r);
        }
        StringBuilder sb = new StringBuilder();
        sb.append("| shape | path | median ms | TFLOP/s | speedup vs ").append(baselinePath).append(" |\n");
        sb.append("|---|---|--:|--:|--:|\n");
        for (List<AttentionBenchRow> g : groups.values()) {
            AttentionBenchRow base = g.stream().filter(r -> r.path().equals(baselinePath)).findFirst().orElse(null);
            AttentionBenchRow first = g.getFirst();
            String shape = (manyGpus ? first.gpu() + ": " : "") + first.shape().label();
            for (AttentionBenchRow r : g) {
                String speedup = base == null ? "n/a"
                        : String.format(Locale.ROOT, "%.2fx", base.medianMs() / r.medianMs());
                sb.append("| ").append(r == first ? shape : "").append(" | ").append(r.system()).append(' ')
                        .append(r.path()).append(" | ").append(sig(r.medianMs())).append(" | ")
                        .append(sig(r.tflops())).append(" | ").append(speedup).append(" |\n");
            }
        }
        return sb.toString();
    }

    /** Four significant digits, plain decimal. */
    private static String sig(double v) {
        return v == 0 ? "0" : new BigDecimal(v).round(new MathContext(4)).stripTrailingZeros().toPlainString();
    }
}
