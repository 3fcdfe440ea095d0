package dev.nsa4j.bench.report;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * NSA bench rows as a Markdown report: a legend, then one section per (GPU, shape) in the order each first
 * appears in the rows, each with
 * <ol>
 *   <li>a systems table: every variant's {@code forward} row, in {@link NsaBenchRow#VARIANTS}' order, with its
 *       median and p10 / p90 (ms) and the column {@value #RATIO_COLUMN}: the nsa4j device forward's median
 *       divided by this row's median, so {@code 8.00x} means this variant takes an eighth of nsa4j's time
 *       (8 times faster) and {@code 0.50x} twice nsa4j's time; {@code n/a} where the section has no nsa4j
 *       device forward;</li>
 *   <li>where the section has nsa4j device step rows: the per-step table (step, median, share of the device
 *       forward's median, {@code n/a} without a forward), the step with the largest median in bold and marked
 *       {@code (dominant)}; then the line {@code Steps sum to X ms (Y% of the device forward); outside
 *       kernels: Z%.} with Z = (forward - sum of steps) / forward (negative where the separately timed steps
 *       add up to more than the forward), naming the steps not measured;</li>
 *   <li>the host enqueue time of one device forward and its share, and the host variant's transfers and their
 *       share of the host forward, where those rows exist.</li>
 * </ol>
 * Where a section holds several rows of one (system, variant, step), as after an appended re-run, the last one
 * counts and the section says how many were superseded. Times with 4 significant digits, shares with one
 * decimal. The GPU name leads each section's heading when the rows span several GPUs; otherwise a line under
 * the legend names it.
 */
public final class NsaBenchMarkdown {
    /** Header of the ratio column of the systems table. */
    public static final String RATIO_COLUMN = "nsa4j device / this";

    private NsaBenchMarkdown() {}

    /** The whole report (several shapes, several systems); an empty list gives the legend alone. */
    public static String report(List<NsaBenchRow> rows) {
        List<String> gpus = rows.stream().map(NsaBenchRow::gpu).distinct().toList();
        Map<List<Object>, List<NsaBenchRow>> sections = new LinkedHashMap<>();
        for (NsaBenchRow r : rows) {
            sections.computeIfAbsent(List.of(r.gpu(), r.shape()), k -> new ArrayList<>()).add(r);
        }
        StringBuilder sb = new StringBuilder();
        sb.append("Medians of timed runs, ms (CUDA events; host enqueue: wall time). Column \"").append(RATIO_COLUMN)
                .append("\": the nsa4j device forward's median over this row's, so above 1.00x this variant is ")
                .append("faster than nsa4j's device forward, below 1.00x slower.\n");
        if (gpus.size() == 1) {
            sb.append("\nGPU: ").append(gpus.getFirst()).append('\n');
        }
        for (List<NsaBenchRow> s : sections.values()) {
            sb.append('\n');
            section(sb, s, gpus.size() > 1);
        }
        return sb.toString();
    }

    private static void section(StringBuilder sb, List<NsaBenchRow> rows, boolean manyGpus) {
        NsaBenchRow first = rows.getFirst();
        Map<Integer, NsaBenchRow> byKind = new LinkedHashMap<>();
        int superseded = 0;
        for (NsaBenchRow r : rows) {
            if (byKind.put(r.order(), r) != null) {
                superseded++;
            }
        }
        List<NsaBenchRow> kinds = byKind.values().stream().sorted(Comparator.comparingInt(NsaBenchRow::order)).toList();
        NsaBenchRow device = find(kinds, "nsa4j", "device", NsaBenchRow.FORWARD);
        sb.append("## ").append(manyGpus ? first.gpu() + ": " : "").append(first.shape().label()).append("\n\n");

        List<NsaBenchRow> forwards = kinds.stream().filter(NsaBenchRow::isForward).toList();
        if (!forwards.isEmpty()) {
            sb.append("| system | variant | forward median ms | p10 / p90 ms | ").append(RATIO_COLUMN).append(" |\n");
            sb.append("|---|---|--:|--:|--:|\n");
            for (NsaBenchRow r : forwards) {
                String ratio = device == null ? "n/a"
                        : String.format(Locale.ROOT, "%.2fx", device.medianMs() / r.medianMs());
                sb.append("| ").append(r.system()).append(" | ").append(r.variant()).append(" | ")
                        .append(sig(r.medianMs())).append(" | ").append(sig(r.p10Ms())).append(" / ")
                        .append(sig(r.p90Ms())).append(" | ").append(ratio).append(" |\n");
            }
        } else {
            sb.append("No forward rows.\n");
        }

        List<NsaBenchRow> steps = new ArrayList<>();
        for (String st : NsaBenchRow.DEVICE_STEPS) {
            NsaBenchRow r = find(kinds, "nsa4j", "device", st);
            if (r != null) {
                steps.add(r);
            }
        }
        if (!steps.isEmpty()) {
            NsaBenchRow dominant = steps.getFirst();
            for (NsaBenchRow r : steps) {
                if (r.medianMs() > dominant.medianMs()) {
                    dominant = r;
                }
            }
            sb.append("\n| nsa4j device step | median ms | share of device forward |\n");
            sb.append("|---|--:|--:|\n");
            double sum = 0;
            for (NsaBenchRow r : steps) {
                sum += r.medianMs();
                String share = device == null ? "n/a" : pct(r.medianMs() / device.medianMs());
                if (r == dominant) {
                    sb.append("| **").append(r.step()).append("** (dominant) | **").append(sig(r.medianMs()))
                            .append("** | **").append(share).append("** |\n");
                } else {
                    sb.append("| ").append(r.step()).append(" | ").append(sig(r.medianMs())).append(" | ")
                            .append(share).append(" |\n");
                }
            }
            List<String> missing = NsaBenchRow.DEVICE_STEPS.stream()
                    .filter(st -> find(kinds, "nsa4j", "device", st) == null).toList();
            sb.append("\nSteps sum to ").append(sig(sum)).append(" ms");
            if (device != null) {
                sb.append(" (").append(pct(sum / device.medianMs())).append(" of the device forward)");
                if (sum > device.medianMs()) {
                    // the steps are timed one after another; the untimed forward runs the window branch beside them
                    sb.append("; the forward is ").append(sig(sum - device.medianMs()))
                            .append(" ms shorter: its window branch overlaps the other steps (side stream)");
                } else {
                    sb.append("; outside kernels: ").append(pct((device.medianMs() - sum) / device.medianMs()));
                }
            } else {
                sb.append("; no device forward row, so no shares");
            }
            if (!missing.isEmpty()) {
                sb.append(" (steps not measured: ").append(String.join(", ", missing)).append(')');
            }
            sb.append(".\n");
        }

        NsaBenchRow enqueue = find(kinds, "nsa4j", "device", NsaBenchRow.ENQUEUE);
        NsaBenchRow host = find(kinds, "nsa4j", "host", NsaBenchRow.FORWARD);
        NsaBenchRow transfers = find(kinds, "nsa4j", "host", NsaBenchRow.TRANSFERS);
        if (enqueue != null || transfers != null) {
            sb.append('\n');
        }
        if (enqueue != null) {
            sb.append("Host enqueue of one device forward: ").append(sig(enqueue.medianMs())).append(" ms");
            if (device != null) {
                sb.append(" (").append(pct(enqueue.medianMs() / device.medianMs())).append(" of the device forward)");
            }
            sb.append(".\n");
        }
        if (transfers != null) {
            sb.append("Host variant: transfers (upload + download) ").append(sig(transfers.medianMs())).append(" ms");
            if (host != null) {
                sb.append(" of ").append(sig(host.medianMs())).append(" ms (")
                        .append(pct(transfers.medianMs() / host.medianMs())).append(" of the host forward)");
            }
            sb.append(".\n");
        }
        if (superseded > 0) {
            sb.append("\n(").append(superseded).append(superseded == 1 ? " earlier row" : " earlier rows")
                    .append(" of the same system, variant and step superseded by later ones.)\n");
        }
    }

    private static NsaBenchRow find(List<NsaBenchRow> rows, String system, String variant, String step) {
        for (NsaBenchRow r : rows) {
            if (r.system().equals(system) && r.variant().equals(variant) && r.step().equals(step)) {
                return r;
            }
        }
        return null;
    }

    private static String pct(double fraction) {
        return String.format(Locale.ROOT, "%.1f%%", 100 * fraction);
    }

    /** Four significant digits, plain decimal. */
    private static String sig(double v) {
        return v == 0 ? "0" : new BigDecimal(v).round(new MathContext(4)).stripTrailingZeros().toPlainString();
    }
}
