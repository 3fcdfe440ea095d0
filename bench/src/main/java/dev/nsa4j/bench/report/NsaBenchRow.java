package dev.nsa4j.bench.report;

import dev.nsa4j.NsaArgumentException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One row of the NSA bench CSV ({@link NsaBenchCsv}): one (system, variant, step, shape) measurement of
 * {@code nsa bench nsa} or of its peers {@code bench/peers/fla_nsa.py} and {@code bench/peers/mdy_nsa.py}.
 *
 * <p>Systems, their variants and each variant's steps ({@link #VARIANTS}, in the order the reports list them):
 * <ul>
 *   <li>{@code nsa4j}: {@code device} (the NSA forward from device-resident inputs to a device-resident
 *       output), steps {@code forward} (the whole call) or one of its parts {@code compress} (the compression
 *       of k and v), {@code cmp} (the compressed branch), {@code select} (block scores and top-n),
 *       {@code sel} (the selection branch), {@code win} (the window branch), {@code combine} (the gated sum),
 *       and {@code enqueue} (host time to enqueue one forward); {@code graph} (the same forward replayed as a
 *       CUDA graph): {@code forward}; {@code host} (host to host: upload, forward, download): {@code forward}
 *       and {@code transfers} (upload + download); {@code fa2-dense} (dense causal FlashAttention-2 on the same
 *       q, k, v): {@code forward}.</li>
 *   <li>{@code fla}: {@code parallel_nsa} (fla-org's Triton NSA): {@code forward}.</li>
 *   <li>{@code mdy666}: {@code hf-nsa-core} (mdy666's Scalable-Flash-NSA, Triton with TMA): {@code forward}.</li>
 *   <li>{@code torch}: {@code flash-causal}, {@code cudnn-causal} (PyTorch SDPA, causal, on the same q, k, v):
 *       {@code forward}.</li>
 * </ul>
 *
 * <p>Checked on construction, each with an {@link NsaArgumentException} whose subject is the CSV column and
 * whose rule is one of the {@code RULE_*} constants: the (system, variant, step) combination is one above;
 * {@code gpu} is not blank; no line break in {@code gpu} or {@code note}; {@code 0 < p10 <= median <= p90}
 * (all finite; equal values allowed); {@code runs >= 1}. Times are kept to {@value #DIGITS} significant
 * digits: the constructor rounds them (before the checks), so a row equals itself read back from its CSV.
 *
 * @param system   {@code nsa4j}, {@code fla}, {@code mdy666} or {@code torch}
 * @param variant  the implementation measured (see above)
 * @param step     {@code forward} or a part of the variant's forward (see above)
 * @param gpu      the device name, e.g. {@code NVIDIA H200}
 * @param shape    batch, length, dtype, heads, dims, NSA config
 * @param medianMs median time of one call, ms (CUDA events; {@code enqueue}: host wall time)
 * @param p10Ms    10th percentile, ms
 * @param p90Ms    90th percentile, ms
 * @param runs     timed runs
 * @param note     free text (versions, how it was timed); may be empty
 */
public record NsaBenchRow(String system, String variant, String step, String gpu, NsaBenchShape shape,
                          double medianMs, double p10Ms, double p90Ms, int runs, String note) {
    /** Significant digits kept of times (the constructor and the writers round to this). */
    public static final int DIGITS = 6;
    /** The step of a row timing a variant's whole call. */
    public static final String FORWARD = "forward";
    /** The GPU steps of the nsa4j device forward, in pipeline order (the per-step breakdown sums these). */
    public static final List<String> DEVICE_STEPS = List.of("compress", "cmp", "select", "sel", "win", "combine");
    /** nsa4j device: host time to enqueue one forward (not a GPU step; not summed with the steps). */
    public static final String ENQUEUE = "enqueue";
    /** nsa4j host: upload + download time. */
    public static final String TRANSFERS = "transfers";

    /** system → variant → its steps, in report order. */
    public static final Map<String, Map<String, List<String>>> VARIANTS = variants();

    public static final String RULE_SYSTEM = "system is nsa4j, fla, mdy666 or torch";
    public static final String RULE_VARIANT = "variant of the system";
    public static final String RULE_STEP = "step of the variant";
    public static final String RULE_GPU = "gpu is not blank";
    public static final String RULE_LINE_BREAK = "no line break in a text column";
    public static final String RULE_TIMES = "0 < p10 <= median <= p90";
    public static final String RULE_RUNS = "runs >= 1";

    private static Map<String, Map<String, List<String>>> variants() {
        List<String> device = new ArrayList<>(List.of(FORWARD));
        device.addAll(DEVICE_STEPS);
        device.add(ENQUEUE);
        Map<String, List<String>> nsa4j = new LinkedHashMap<>();
        nsa4j.put("device", List.copyOf(device));
        nsa4j.put("graph", List.of(FORWARD));
        nsa4j.put("host", List.of(FORWARD, TRANSFERS));
        nsa4j.put("fa2-dense", List.of(FORWARD));
        Map<String, List<String>> fla = new LinkedHashMap<>();
        fla.put("parallel_nsa", List.of(FORWARD));
        Map<String, List<String>> mdy = new LinkedHashMap<>();
        mdy.put("hf-nsa-core", List.of(FORWARD));
        Map<String, List<String>> torch = new LinkedHashMap<>();
        torch.put("flash-causal", List.of(FORWARD));
        torch.put("cudnn-causal", List.of(FORWARD));
        Map<String, Map<String, List<String>>> all = new LinkedHashMap<>();
        all.put("nsa4j", Collections.unmodifiableMap(nsa4j));
        all.put("fla", Collections.unmodifiableMap(fla));
        all.put("mdy666", Collections.unmodifiableMap(mdy));
        all.put("torch", Collections.unmodifiableMap(torch));
        return Collections.unmodifiableMap(all);
    }

    public NsaBenchRow {
        Objects.requireNonNull(shape, "shape");
        Objects.requireNonNull(note, "note");
        Map<String, List<String>> variants = VARIANTS.get(system);
        if (variants == null) {
            throw new NsaArgumentException("system", RULE_SYSTEM, "system='" + system + "'");
        }
        List<String> steps = variants.get(variant);
        if (steps == null) {
            throw new NsaArgumentException("variant", RULE_VARIANT,
                    "variant='" + variant + "' is not one of " + system + "'s: " + String.join(", ", variants.keySet()));
        }
        if (!steps.contains(step)) {
            throw new NsaArgumentException("step", RULE_STEP,
                    "step='" + step + "' is not one of " + system + " " + variant + "'s: " + String.join(", ", steps));
        }
        if (gpu == null || gpu.isBlank()) {
            throw new NsaArgumentException("gpu", RULE_GPU, "gpu='" + (gpu == null ? "" : gpu) + "'");
        }
        noLineBreak("gpu", gpu);
        noLineBreak("note", note);
        medianMs = CsvFiles.round(medianMs, DIGITS);
        p10Ms = CsvFiles.round(p10Ms, DIGITS);
        p90Ms = CsvFiles.round(p90Ms, DIGITS);
        if (!(p10Ms > 0 && p10Ms <= medianMs && medianMs <= p90Ms && Double.isFinite(p90Ms))) {
            throw new NsaArgumentException("p10_ms,median_ms,p90_ms", RULE_TIMES,
                    "times must be finite with 0 < p10 <= median <= p90, got p10=" + p10Ms + " median=" + medianMs
                            + " p90=" + p90Ms);
        }
        if (runs < 1) {
            throw new NsaArgumentException("runs", RULE_RUNS, "runs=" + runs);
        }
    }

    private static void noLineBreak(String column, String text) {
        if (text.indexOf('\n') >= 0 || text.indexOf('\r') >= 0) {
            throw new NsaArgumentException(column, RULE_LINE_BREAK,
                    column + "='" + text.replace("\r", "\\r").replace("\n", "\\n") + "'");
        }
    }

    /**
     * A row from the times of the timed runs: median and percentiles by linear interpolation between order
     * statistics (NumPy's default, as {@code fla_nsa.py}), rounded to {@link #DIGITS} significant digits.
     *
     * @throws NsaArgumentException as the constructor, and for no times
     */
    public static NsaBenchRow measured(String system, String variant, String step, String gpu, NsaBenchShape shape,
                                       double[] timesMs, String note) {
        if (timesMs.length == 0) {
            throw new NsaArgumentException("runs", RULE_RUNS, "no timed runs");
        }
        double[] sorted = timesMs.clone();
        Arrays.sort(sorted);
        return new NsaBenchRow(system, variant, step, gpu, shape, AttentionBenchRow.percentile(sorted, 50),
                AttentionBenchRow.percentile(sorted, 10), AttentionBenchRow.percentile(sorted, 90), timesMs.length,
                note);
    }

    /** Whether this row times a variant's whole call ({@code step == forward}). */
    public boolean isForward() {
        return FORWARD.equals(step);
    }

    /** {@code system variant}, e.g. {@code nsa4j device}. */
    public String systemVariant() {
        return system + " " + variant;
    }

    /**
     * The position of (system, variant, step) in {@link #VARIANTS}' order (systems, then variants, then steps):
     * the order reports list rows in.
     */
    public int order() {
        int i = 0;
        for (var s : VARIANTS.entrySet()) {
            for (var v : s.getValue().entrySet()) {
                for (String st : v.getValue()) {
                    if (s.getKey().equals(system) && v.getKey().equals(variant) && st.equals(step)) {
                        return i;
                    }
                    i++;
                }
            }
        }
        throw new IllegalStateException("unreachable: " + system + " " + variant + " " + step);
    }
}
