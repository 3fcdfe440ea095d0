package dev.nsa4j.bench.report;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One row of the attention bench CSV ({@link BenchCsv}): one (system, path, shape) measurement.
 *
 * <p>Systems and their paths: {@code nsa4j}: {@code fa2}, {@code sdpa}, {@code sdpa-masked}; {@code torch}
 * (bench/peers/torch_sdpa.py): {@code flash}, {@code cudnn}, {@code efficient}, {@code math}. Path names are
 * distinct across systems, so a path alone names a baseline.
 *
 * <p>The record checks the schema's invariants: {@code visiblePairs} and {@code flops} equal the formulas of
 * {@link VisiblePairs} for the shape (so rows from another writer that counts differently are refused),
 * {@code 0 < p10 <= median <= p90}, {@code runs >= 1}, and no line breaks in the text columns.
 *
 * @param system       {@code nsa4j} or {@code torch}
 * @param path         the implementation measured
 * @param gpu          the device name, e.g. {@code NVIDIA H100 80GB HBM3}
 * @param shape        dtype, sizes and mask
 * @param visiblePairs visible (query, key) pairs over the batch, one head
 * @param flops        {@code 2 · H · visiblePairs · (Dk + Dv)}
 * @param medianMs     median time of one call, ms (CUDA events)
 * @param p10Ms        10th percentile, ms
 * @param p90Ms        90th percentile, ms
 * @param tflops       {@code flops / (medianMs · 1e-3) / 1e12}
 * @param runs         timed runs
 * @param note         free text (versions, how the mask was expressed); may be empty
 */
public record AttentionBenchRow(String system, String path, String gpu, AttentionShape shape, long visiblePairs,
                                long flops, double medianMs, double p10Ms, double p90Ms, double tflops, int runs,
                                String note) {
    /** The known systems and their paths. */
    public static final Map<String, List<String>> PATHS = Map.of(
            "nsa4j", List.of("fa2", "sdpa", "sdpa-masked"),
            "torch", List.of("flash", "cudnn", "efficient", "math"));
    /** Significant digits kept of times and TFLOP/s (the writers round to this). */
    public static final int DIGITS = 6;

    public AttentionBenchRow {
        Objects.requireNonNull(shape, "shape");
        Objects.requireNonNull(note, "note");
        List<String> paths = PATHS.get(system);
        if (paths == null) {
            throw new IllegalArgumentException("system '" + system + "' is not one of " + PATHS.keySet());
        }
        if (!paths.contains(path)) {
            throw new IllegalArgumentException("path '" + path + "' is not a path of " + system + ": " + paths);
        }
        if (gpu == null || gpu.isBlank()) {
            throw new IllegalArgumentException("gpu is empty");
        }
        for (String text : new String[] {gpu, note}) {
            if (text.indexOf('\n') >= 0 || text.indexOf('\r') >= 0) {
                throw new IllegalArgumentException("line break in a text column: '" + text + "'");
            }
        }
        if (visiblePairs != shape.visiblePairs()) {
            throw new IllegalArgumentException("visible_pairs=" + visiblePairs + " but the mask rule gives "
                    + shape.visiblePairs() + " for " + shape.label());
        }
        if (flops != shape.flops()) {
            throw new IllegalArgumentException("flops=" + flops + " but 2*heads*visible_pairs*(dk+dv) = " + shape.flops());
        }
        if (!(p10Ms > 0 && p10Ms <= medianMs && medianMs <= p90Ms && Double.isFinite(p90Ms))) {
            throw new IllegalArgumentException("times must satisfy 0 < p10 <= median <= p90 (finite), got p10="
                    + p10Ms + " median=" + medianMs + " p90=" + p90Ms);
        }
        if (!(tflops >= 0) || Double.isInfinite(tflops)) {
            throw new IllegalArgumentException("tflops must be finite and >= 0, got " + tflops);
        }
        if (runs < 1) {
            throw new IllegalArgumentException("runs must be >= 1, got " + runs);
        }
    }

    /**
     * A row from the times of the timed runs: visible pairs and FLOPs from the shape, median and percentiles
     * by linear interpolation between order statistics (NumPy's default, as the Python peer), times and
     * TFLOP/s rounded to {@link #DIGITS} significant digits.
     */
    public static AttentionBenchRow measured(String system, String path, String gpu, AttentionShape shape,
                                             double[] timesMs, String note) {
        if (timesMs.length == 0) {
            throw new IllegalArgumentException("no timed runs");
        }
        double[] sorted = timesMs.clone();
        Arrays.sort(sorted);
        double median = percentile(sorted, 50);
        long flops = shape.flops();
        return new AttentionBenchRow(system, path, gpu, shape, shape.visiblePairs(), flops, round(median),
                round(percentile(sorted, 10)), round(percentile(sorted, 90)), round(tflops(flops, median)),
                timesMs.length, note);
    }

    /** {@code flops / (ms · 1e-3) / 1e12}. */
    public static double tflops(long flops, double ms) {
        return flops / (ms * 1e-3) / 1e12;
    }

    /** The {@code p}-th percentile (0..100) of ascending values, linear between the closest ranks. */
    public static double percentile(double[] sorted, double p) {
        if (sorted.length == 0 || !(p >= 0 && p <= 100)) {
            throw new IllegalArgumentException("percentile " + p + " of " + sorted.length + " values");
        }
        double pos = p / 100 * (sorted.length - 1);
        int lo = (int) Math.floor(pos);
        int hi = Math.min(lo + 1, sorted.length - 1);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
    }

    /** Rounded to {@link #DIGITS} significant digits (what the CSV keeps). */
    public static double round(double v) {
        if (v == 0 || !Double.isFinite(v)) {
            return v;
        }
        return new BigDecimal(v).round(new MathContext(DIGITS)).doubleValue();
    }
}
