package dev.nsa4j.bench.report;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Decode bench rows as a Markdown report and as a compact text table (stdout of {@code nsa bench decode}).
 *
 * <p>One section per (GPU, config) of the nsa4j rows, in first-appearance order; within it one line per (B, ctx),
 * sorted by B then ctx, with each path's median step time, the ratios {@code fa2-dense / nsa-graph} and, per torch
 * variant present, {@code torch <variant> / nsa-graph} (above 1.00x the NSA graph step is that many times faster),
 * the graph step's tokens/s, the bytes per step (NSA: reads formula + q/o; dense: its K/V) and each path's
 * {@code x HBM} (its median over the time its bytes take at the copy bandwidth measured in the same run). Torch rows
 * join a line by their dense shape ({@link DecodeBenchRow#denseKey()}: dtype, B, ctx, Hq, Hkv, Dk, Dv), whatever NSA
 * fields they carry, so one peer run serves several NSA configs. A path that was not measured shows its status, and
 * the section lists the reasons. Where a line holds several rows of one path, the last one counts.
 */
public final class DecodeBenchReport {
    private DecodeBenchReport() {}

    /** The Markdown report; {@code preamble} (may be empty) goes under the legend, e.g. what the bytes count. */
    public static String markdown(List<DecodeBenchRow> rows, String preamble) {
        StringBuilder sb = new StringBuilder();
        sb.append("Median step latency of B sequences at context ctx, ms (CUDA events). `x / graph`: x's median over ")
                .append("the NSA graph step's (above 1.00x the NSA graph step is faster). `x HBM`: the median over ")
                .append("the time the step's bytes take at the device copy bandwidth measured in the same run.\n");
        if (!preamble.isBlank()) {
            sb.append('\n').append(preamble.strip()).append('\n');
        }
        for (Section s : sections(rows)) {
            List<String> torch = s.torchVariants();
            sb.append("\n## ").append(s.gpu).append(": ").append(s.config.label()).append("\n\n");
            if (!Double.isNaN(s.bandwidth())) {
                sb.append(String.format(Locale.ROOT, "Copy bandwidth (read + write, device to device): %.0f GB/s.%n%n",
                        s.bandwidth()));
            }
            List<String> head = new ArrayList<>(List.of("B", "ctx", "NSA eager ms", "NSA graph ms", "FA-2 dense ms"));
            torch.forEach(v -> head.add("torch " + v + " ms"));
            head.add("FA-2 / graph");
            torch.forEach(v -> head.add("torch " + v + " / graph"));
            head.addAll(List.of("graph tok/s", "NSA MB/step", "dense KV MB/step", "graph x HBM", "FA-2 x HBM"));
            torch.forEach(v -> head.add("torch " + v + " x HBM"));
            sb.append("| ").append(String.join(" | ", head)).append(" |\n|");
            head.forEach(h -> sb.append("--:|"));
            sb.append('\n');
            List<DecodeBenchRow> notMeasured = new ArrayList<>();
            for (Map.Entry<List<Integer>, Map<String, DecodeBenchRow>> line : s.lines.entrySet()) {
                Map<String, DecodeBenchRow> p = line.getValue();
                DecodeBenchRow graph = p.get("nsa4j nsa-graph");
                List<String> cells = new ArrayList<>(List.of(line.getKey().get(0).toString(),
                        line.getKey().get(1).toString()));
                for (String k : List.of("nsa4j nsa-eager", "nsa4j nsa-graph", "nsa4j fa2-dense")) {
                    cells.add(ms(p.get(k)));
                }
                torch.forEach(v -> cells.add(ms(p.get("torch " + v))));
                cells.add(ratio(p.get("nsa4j fa2-dense"), graph));
                torch.forEach(v -> cells.add(ratio(p.get("torch " + v), graph)));
                cells.add(graph != null && graph.ok() ? String.format(Locale.ROOT, "%.0f", graph.tokensPerS()) : "");
                DecodeBenchRow nsaBytes = graph != null ? graph : p.get("nsa4j nsa-eager");
                DecodeBenchRow dense = p.get("nsa4j fa2-dense") != null ? p.get("nsa4j fa2-dense")
                        : torch.stream().map(v -> p.get("torch " + v)).filter(r -> r != null).findFirst().orElse(null);
                cells.add(nsaBytes == null ? "" : mb(nsaBytes.kvBytes() + nsaBytes.qoBytes()));
                cells.add(dense == null ? "" : mb(dense.kvBytes()));
                cells.add(xHbm(graph));
                cells.add(xHbm(p.get("nsa4j fa2-dense")));
                torch.forEach(v -> cells.add(xHbm(p.get("torch " + v))));
                sb.append("| ").append(String.join(" | ", cells)).append(" |\n");
                p.values().stream().filter(r -> !r.ok()).forEach(notMeasured::add);
            }
            if (!notMeasured.isEmpty()) {
                sb.append("\nNot measured:\n\n");
                for (DecodeBenchRow r : notMeasured) {
                    sb.append("- B=").append(r.batch()).append(" ctx=").append(r.context()).append(' ')
                            .append(r.systemVariant()).append(": ").append(r.status()).append(", ").append(r.note())
                            .append('\n');
                }
            }
        }
        return sb.toString();
    }

    /** A fixed-width table of every line (stdout), one block per section. */
    public static String table(List<DecodeBenchRow> rows) {
        StringBuilder sb = new StringBuilder();
        for (Section s : sections(rows)) {
            List<String> torch = s.torchVariants();
            sb.append(s.gpu).append(": ").append(s.config.label());
            if (!Double.isNaN(s.bandwidth())) {
                sb.append(String.format(Locale.ROOT, "; copy bandwidth %.0f GB/s", s.bandwidth()));
            }
            sb.append('\n');
            StringBuilder h = new StringBuilder(String.format(Locale.ROOT, "%4s %7s %10s %10s %10s", "B", "ctx",
                    "eager ms", "graph ms", "fa2 ms"));
            torch.forEach(v -> h.append(String.format(Locale.ROOT, " %10s", v + " ms")));
            h.append(String.format(Locale.ROOT, " %10s", "fa2/graph"));
            torch.forEach(v -> h.append(String.format(Locale.ROOT, " %12s", v + "/graph")));
            h.append(String.format(Locale.ROOT, " %11s %11s", "graph tok/s", "graph xHBM"));
            sb.append(h).append('\n');
            for (Map.Entry<List<Integer>, Map<String, DecodeBenchRow>> line : s.lines.entrySet()) {
                Map<String, DecodeBenchRow> p = line.getValue();
                DecodeBenchRow graph = p.get("nsa4j nsa-graph");
                StringBuilder l = new StringBuilder(String.format(Locale.ROOT, "%4d %7d %10s %10s %10s",
                        line.getKey().get(0), line.getKey().get(1), ms(p.get("nsa4j nsa-eager")), ms(graph),
                        ms(p.get("nsa4j fa2-dense"))));
                torch.forEach(v -> l.append(String.format(Locale.ROOT, " %10s", ms(p.get("torch " + v)))));
                l.append(String.format(Locale.ROOT, " %10s", ratio(p.get("nsa4j fa2-dense"), graph)));
                torch.forEach(v -> l.append(String.format(Locale.ROOT, " %12s", ratio(p.get("torch " + v), graph))));
                l.append(String.format(Locale.ROOT, " %11s %11s", graph != null && graph.ok()
                        ? String.format(Locale.ROOT, "%.0f", graph.tokensPerS()) : "", xHbm(graph)));
                sb.append(l.toString().stripTrailing()).append('\n');
            }
        }
        return sb.toString();
    }

    /** The rows of one (GPU, NSA config): lines keyed (B, ctx), each path's last row; torch rows joined in. */
    private record Section(String gpu, NsaBenchConfig config, Map<List<Integer>, Map<String, DecodeBenchRow>> lines) {
        List<String> torchVariants() {
            return DecodeBenchRow.VARIANTS.get("torch").stream().filter(v -> lines.values().stream()
                    .anyMatch(m -> m.containsKey("torch " + v))).toList();
        }

        double bandwidth() {
            return lines.values().stream().flatMap(m -> m.values().stream())
                    .filter(r -> r.system().equals("nsa4j") && !Double.isNaN(r.hbmGbps()))
                    .mapToDouble(DecodeBenchRow::hbmGbps).findFirst().orElse(Double.NaN);
        }
    }

    private static List<Section> sections(List<DecodeBenchRow> rows) {
        Map<List<Object>, TreeMap<List<Integer>, Map<String, DecodeBenchRow>>> byConfig = new LinkedHashMap<>();
        Comparator<List<Integer>> order = Comparator.<List<Integer>>comparingInt(k -> k.get(0))
                .thenComparingInt(k -> k.get(1));
        for (DecodeBenchRow r : rows) {
            if (r.system().equals("nsa4j")) {
                byConfig.computeIfAbsent(List.of(r.gpu(), r.config()), k -> new TreeMap<>(order))
                        .computeIfAbsent(List.of(r.batch(), r.context()), k -> new LinkedHashMap<>())
                        .put(r.systemVariant(), r);
            }
        }
        List<Section> out = new ArrayList<>();
        for (Map.Entry<List<Object>, TreeMap<List<Integer>, Map<String, DecodeBenchRow>>> e : byConfig.entrySet()) {
            NsaBenchConfig cfg = (NsaBenchConfig) e.getKey().get(1);
            for (DecodeBenchRow r : rows) {
                if (r.system().equals("torch")) {
                    Map<String, DecodeBenchRow> line = e.getValue().get(List.of(r.batch(), r.context()));
                    if (line != null && r.denseKey().equals(List.of(cfg.dtype(), r.batch(), r.context(), cfg.heads(),
                            cfg.kvHeads(), cfg.dk(), cfg.dv()))) {
                        line.put(r.systemVariant(), r);
                    }
                }
            }
            out.add(new Section((String) e.getKey().get(0), cfg, e.getValue()));
        }
        return out;
    }

    private static String ms(DecodeBenchRow r) {
        return r == null ? "" : r.ok() ? sig(r.medianMs()) : r.status();
    }

    private static String ratio(DecodeBenchRow x, DecodeBenchRow graph) {
        return x == null || graph == null || !x.ok() || !graph.ok() ? ""
                : String.format(Locale.ROOT, "%.2fx", x.medianMs() / graph.medianMs());
    }

    private static String xHbm(DecodeBenchRow r) {
        return r == null || !r.ok() || Double.isNaN(r.hbmGbps()) ? "" : String.format(Locale.ROOT, "%.2f", r.xHbm());
    }

    private static String mb(long bytes) {
        return sig(bytes / 1e6);
    }

    /** Four significant digits, plain decimal. */
    static String sig(double v) {
        return v == 0 ? "0" : new BigDecimal(v).round(new MathContext(4)).stripTrailingZeros().toPlainString();
    }
}
