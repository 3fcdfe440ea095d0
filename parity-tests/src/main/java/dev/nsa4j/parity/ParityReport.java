package dev.nsa4j.parity;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.Locale;
import java.util.Objects;

/**
 * One comparison of two outputs computed by two paths on the same inputs ({@link ParityHarness}).
 * {@code pathB} is the reference side: relative errors divide by its magnitude.
 *
 * <p>The error statistics cover the <em>compared</em> elements: both values finite, or (under the lse rule)
 * both {@code -inf}, which counts as a difference of 0. An element with a NaN or an infinity on either side
 * that is not such a matched pair is left out of the statistics and counted in {@code nanA/infA/nanB/infB}
 * instead; any such count fails the comparison.
 *
 * @param what      what was compared, e.g. {@code o_win} or {@code lse}
 * @param pathA     the path under test, e.g. {@code sdpa-masked}
 * @param pathB     the reference path, e.g. {@code cpu}
 * @param n         elements in each output
 * @param mae       mean absolute difference over the compared elements (0 when none)
 * @param maxAbs    largest absolute difference
 * @param maxRel    largest {@code |a − b| / max(|b|, relFloor)} ({@link ParityHarness#relFloor()})
 * @param argMaxAbs flat row-major index of the first largest absolute difference; −1 when nothing finite was compared
 * @param nanA      NaNs in A
 * @param infA      infinities in A, matched {@code -inf} pairs excepted under the lse rule
 * @param nanB      NaNs in B
 * @param infB      infinities in B, likewise
 * @param tolerance the MAE bound: {@code mae < tolerance} (two-path rule) or {@code mae <= tolerance}
 *                  (oracle rule, where it is {@code factor ×} the baseline's MAE)
 * @param baseline  for the oracle rule ({@link ParityHarness#againstOracle}): the baseline path's error;
 *                  {@code null} for the two-path rule
 * @param pass      the verdict of the rule
 */
public record ParityReport(String what, String pathA, String pathB, long n, double mae, double maxAbs, double maxRel,
                           long argMaxAbs, long nanA, long infA, long nanB, long infB, double tolerance,
                           Baseline baseline, boolean pass) {

    /** The header of {@link #markdownRow()} rows (two lines: titles and the separator). */
    public static final String MARKDOWN_HEADER = """
            | what | A | B | n | MAE | max abs | at | max rel | NaN A/B | Inf A/B | rule | pass |
            |---|---|---|--:|--:|--:|--:|--:|--:|--:|---|---|""";

    /**
     * The baseline of the oracle rule: its error against the same oracle.
     *
     * @param path      the baseline path, e.g. {@code cpu-fp16} (the same-precision CPU computation)
     * @param mae       its MAE against the oracle
     * @param maxAbs    its largest absolute difference from the oracle
     * @param nonFinite its NaNs and unmatched infinities (any fails the rule: the bound would mean nothing)
     * @param factor    the allowed ratio ({@link ParityHarness#ORACLE_FACTOR} by default)
     */
    public record Baseline(String path, double mae, double maxAbs, long nonFinite, double factor, double atol) {
        public Baseline {
            Objects.requireNonNull(path, "path");
        }

        public Baseline(String path, double mae, double maxAbs, long nonFinite, double factor) {
            this(path, mae, maxAbs, nonFinite, factor, 0);
        }
    }

    public ParityReport {
        Objects.requireNonNull(what, "what");
        Objects.requireNonNull(pathA, "pathA");
        Objects.requireNonNull(pathB, "pathB");
    }

    /** NaNs and unmatched infinities on both sides. */
    public long nonFinite() {
        return nanA + infA + nanB + infB;
    }

    /** The pass rule in words, with its numbers. */
    public String rule() {
        if (baseline == null) {
            return "mae < " + num(tolerance) + ", no NaN/Inf";
        }
        return "mae <= " + num(baseline.factor()) + " x " + num(baseline.mae()) + " (" + baseline.path() + " vs "
                + pathB + ")" + (baseline.atol() > 0 ? " + " + num(baseline.atol()) + " (fp32 rounding floor)" : "")
                + " = " + num(tolerance) + ", no NaN/Inf"
                + (baseline.nonFinite() > 0 ? " (baseline has " + baseline.nonFinite() + " NaN/Inf)" : "");
    }

    /**
     * One readable line, e.g.
     * {@code PASS o_win: sdpa-masked vs cpu  n=4096 mae=1.2e-08 maxAbs=3.4e-07 @1234 maxRel=2.1e-06 nan=0/0 inf=0/0  [mae < 1e-05, no NaN/Inf]}.
     */
    public String line() {
        return String.format(Locale.ROOT, "%s %s: %s vs %s  n=%d mae=%s maxAbs=%s @%d maxRel=%s nan=%d/%d inf=%d/%d  [%s]",
                pass ? "PASS" : "FAIL", what, pathA, pathB, n, num(mae), num(maxAbs), argMaxAbs, num(maxRel),
                nanA, nanB, infA, infB, rule());
    }

    /** One row of a markdown table under {@link #MARKDOWN_HEADER}. */
    public String markdownRow() {
        return String.format(Locale.ROOT, "| %s | %s | %s | %d | %s | %s | %d | %s | %d/%d | %d/%d | %s | %s |",
                what, pathA, pathB, n, num(mae), num(maxAbs), argMaxAbs, num(maxRel), nanA, nanB, infA, infB,
                rule(), pass ? "yes" : "**no**");
    }

    @Override
    public String toString() {
        return line();
    }

    /** Three significant digits: plain for 1e-3 ≤ |v| &lt; 1e5, else {@code 1.23e-8}; trailing zeros dropped. */
    static String num(double v) {
        if (v == 0 || !Double.isFinite(v)) {
            return v == 0 ? "0" : Double.toString(v);
        }
        double a = Math.abs(v);
        if (a >= 1e-3 && a < 1e5) {
            return new BigDecimal(v).round(new MathContext(3)).stripTrailingZeros().toPlainString();
        }
        String[] s = String.format(Locale.ROOT, "%.2e", v).split("e");
        String mantissa = s[0].contains(".") ? s[0].replaceAll("0+$", "").replaceAll("\\.$", "") : s[0];
        return mantissa + "e" + Integer.parseInt(s[1]);
    }
}
