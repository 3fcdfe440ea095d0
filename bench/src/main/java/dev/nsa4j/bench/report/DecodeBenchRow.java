package dev.nsa4j.bench.report;

import dev.nsa4j.NsaArgumentException;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One row of the decode bench CSV ({@link DecodeBenchCsv}): one decode step of B sequences at one context, on one
 * path, from {@code nsa bench decode} or its peer {@code bench/peers/torch_decode.py}.
 *
 * <p>Systems and variants ({@link #VARIANTS}, in report order): {@code nsa4j} {@code nsa-eager} (one
 * {@code NsaGpuDecoder.step} on device tensors), {@code nsa-graph} (the same step replayed as a CUDA graph),
 * {@code fa2-dense} (nsa4j's FA-2, one query per sequence over all ctx + 1 keys, split-KV chosen automatically);
 * {@code torch} {@code flash}, {@code cudnn}, {@code efficient} (SDPA with that backend, {@code enable_gqa}).
 *
 * <p>Status ({@link #STATUSES}): {@code ok} rows carry times ({@code 0 < p10 <= median <= p90}, finite, runs >= 1);
 * the others ({@code skipped}: not run, by request or a budget; {@code oom}: out of device or host memory;
 * {@code refused}: the path does not take the call; {@code failed}: any other error) carry NaN times, 0 runs and
 * the reason in {@code note}. Checked on construction with an {@link NsaArgumentException} whose subject is the CSV
 * column. Times are rounded to {@value NsaBenchRow#DIGITS} significant digits, so a row equals itself read back.
 *
 * @param system   {@code nsa4j} or {@code torch}
 * @param variant  the path (see above)
 * @param gpu      the device name
 * @param config   dtype, heads, dims, l, d, l', n, w (dense rows carry the NSA fields of the run they belong to)
 * @param batch    B, sequences stepped together
 * @param context  ctx, tokens in each sequence's cache before the bench's first step
 * @param position t of the step the row's bytes are counted at (NSA: the middle timed step; dense: ctx, one query
 *                 over ctx + 1 keys)
 * @param medianMs median time of one step, ms (CUDA events); NaN unless ok
 * @param p10Ms    10th percentile, ms
 * @param p90Ms    90th percentile, ms
 * @param runs     timed steps (0 unless ok)
 * @param kvBytes  key/value bytes the step reads over the batch (NSA: the reads formula; dense: (t + 1)·G·(Dk+Dv))
 * @param qoBytes  bytes of q read and o written over the batch
 * @param hbmGbps  device copy bandwidth measured in the same run, GB/s (read + write); NaN when not measured
 * @param status   see above
 * @param note     free text (how it was timed, versions, the reason of a non-ok row)
 */
public record DecodeBenchRow(String system, String variant, String gpu, NsaBenchConfig config, int batch, int context,
                             long position, double medianMs, double p10Ms, double p90Ms, int runs, long kvBytes,
                             long qoBytes, double hbmGbps, String status, String note) {
    public static final Map<String, List<String>> VARIANTS = Map.of(
            "nsa4j", List.of("nsa-eager", "nsa-graph", "fa2-dense"),
            "torch", List.of("flash", "cudnn", "efficient"));
    /** Systems in report order. */
    public static final List<String> SYSTEMS = List.of("nsa4j", "torch");
    public static final String OK = "ok";
    public static final List<String> STATUSES = List.of(OK, "skipped", "oom", "refused", "failed");

    public DecodeBenchRow {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(note, "note");
        List<String> variants = VARIANTS.get(system);
        if (variants == null) {
            throw new NsaArgumentException("system", "system is nsa4j or torch", "system='" + system + "'");
        }
        if (!variants.contains(variant)) {
            throw new NsaArgumentException("variant", NsaBenchRow.RULE_VARIANT,
                    "variant='" + variant + "' is not one of " + system + "'s: " + String.join(", ", variants));
        }
        if (gpu == null || gpu.isBlank()) {
            throw new NsaArgumentException("gpu", NsaBenchRow.RULE_GPU, "gpu='" + (gpu == null ? "" : gpu) + "'");
        }
        for (String[] t : new String[][] {{"gpu", gpu}, {"note", note}}) {
            if (t[1].indexOf('\n') >= 0 || t[1].indexOf('\r') >= 0) {
                throw new NsaArgumentException(t[0], NsaBenchRow.RULE_LINE_BREAK, t[0] + " has a line break");
            }
        }
        NsaBenchConfig.positive("batch", batch);
        NsaBenchConfig.positive("context", context);
        if (position < 0 || kvBytes < 0 || qoBytes < 0) {
            throw new NsaArgumentException("position,kv_bytes,qo_bytes", "position and bytes >= 0",
                    "position=" + position + " kv_bytes=" + kvBytes + " qo_bytes=" + qoBytes);
        }
        if (!(Double.isNaN(hbmGbps) || hbmGbps > 0 && Double.isFinite(hbmGbps))) {
            throw new NsaArgumentException("hbm_gbps", "hbm_gbps > 0 or empty", "hbm_gbps=" + hbmGbps);
        }
        if (!STATUSES.contains(status)) {
            throw new NsaArgumentException("status", "status is one of " + STATUSES, "status='" + status + "'");
        }
        medianMs = CsvFiles.round(medianMs, NsaBenchRow.DIGITS);
        p10Ms = CsvFiles.round(p10Ms, NsaBenchRow.DIGITS);
        p90Ms = CsvFiles.round(p90Ms, NsaBenchRow.DIGITS);
        hbmGbps = CsvFiles.round(hbmGbps, NsaBenchRow.DIGITS);
        if (status.equals(OK)) {
            if (!(p10Ms > 0 && p10Ms <= medianMs && medianMs <= p90Ms && Double.isFinite(p90Ms))) {
                throw new NsaArgumentException("p10_ms,median_ms,p90_ms", NsaBenchRow.RULE_TIMES, "got p10=" + p10Ms
                        + " median=" + medianMs + " p90=" + p90Ms);
            }
            if (runs < 1) {
                throw new NsaArgumentException("runs", NsaBenchRow.RULE_RUNS, "runs=" + runs);
            }
        } else if (!Double.isNaN(medianMs) || runs != 0) {
            throw new NsaArgumentException("median_ms,runs", "a row that is not ok has no times and 0 runs",
                    "status=" + status + " median=" + medianMs + " runs=" + runs);
        }
    }

    /**
     * An ok row from the per-step times (ms): median and percentiles by linear interpolation between order
     * statistics (NumPy's default, as the peers).
     */
    public static DecodeBenchRow measured(String system, String variant, String gpu, NsaBenchConfig config, int batch,
                                          int context, long position, double[] timesMs, long kvBytes, long qoBytes,
                                          double hbmGbps, String note) {
        if (timesMs.length == 0) {
            throw new NsaArgumentException("runs", NsaBenchRow.RULE_RUNS, "no timed runs");
        }
        double[] s = timesMs.clone();
        Arrays.sort(s);
        return new DecodeBenchRow(system, variant, gpu, config, batch, context, position,
                AttentionBenchRow.percentile(s, 50), AttentionBenchRow.percentile(s, 10),
                AttentionBenchRow.percentile(s, 90), s.length, kvBytes, qoBytes, hbmGbps, OK, note);
    }

    /** A row that was not measured: {@code status} and why. */
    public static DecodeBenchRow notMeasured(String system, String variant, String gpu, NsaBenchConfig config,
                                             int batch, int context, long position, long kvBytes, long qoBytes,
                                             double hbmGbps, String status, String why) {
        return new DecodeBenchRow(system, variant, gpu, config, batch, context, position, Double.NaN, Double.NaN,
                Double.NaN, 0, kvBytes, qoBytes, hbmGbps, status, why);
    }

    public boolean ok() {
        return status.equals(OK);
    }

    /** Sequences' tokens per second: B / median step time; NaN unless ok. */
    public double tokensPerS() {
        return ok() ? batch / (medianMs / 1e3) : Double.NaN;
    }

    /** The time the step's bytes (kv + q/o) take at the measured bandwidth, ms; NaN without a bandwidth. */
    public double hbmMs() {
        return (kvBytes + qoBytes) / (hbmGbps * 1e6);
    }

    /** The step's median over its HBM time: 1.0 would be a step that only streams its bytes. */
    public double xHbm() {
        return medianMs / hbmMs();
    }

    /** {@code system variant}, e.g. {@code nsa4j nsa-graph}. */
    public String systemVariant() {
        return system + " " + variant;
    }

    /** The position of (system, variant) in report order. */
    public int order() {
        return SYSTEMS.indexOf(system) * 10 + VARIANTS.get(system).indexOf(variant);
    }

    /** The dense attention shape a peer's row is matched on: dtype, B, ctx, Hq, Hkv, Dk, Dv (not the NSA fields). */
    public List<Object> denseKey() {
        return List.of(config.dtype(), batch, context, config.heads(), config.kvHeads(), config.dk(), config.dv());
    }
}
