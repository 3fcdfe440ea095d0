package dev.nsa4j.attention;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.tensor.HostTensor;
import java.util.Objects;
import java.util.function.LongToDoubleFunction;

/**
 * Gate statistics of one forward (docs/routing.md "Observability"), over every (token, head) row of the gates
 * {@code [.., 3]} (cmp, sel, win) that the forward mixed with (an override's gates where one is set). A row's mix is
 * its gates normalised to sum 1, p_c = g_c / (g_cmp + g_sel + g_win); its entropy is -sum p_c ln p_c in nats (0 for
 * one branch only, ln 3 = 1.0986 for an even mix). A row whose three gates are all 0 mixes nothing: it is counted in
 * {@code zeroRows} and left out of the entropy, shares and collapse figures.
 *
 * @param rows             (token, head) rows
 * @param zeroRows         rows whose gates are all 0
 * @param entropyMean      mean entropy of the other rows (NaN when there are none)
 * @param entropyMin       smallest entropy of the other rows (NaN when there are none)
 * @param maxGate          the largest gate value of any row and branch (NaN when there are no rows)
 * @param shareCmp         mean p_cmp over the mixing rows (the three shares sum to 1; NaN when there are none)
 * @param shareSel         mean p_sel
 * @param shareWin         mean p_win
 * @param collapseFraction the fraction of mixing rows that have collapsed onto one branch: entropy below
 *                         {@link #COLLAPSE_ENTROPY} and their largest p_c above {@link #COLLAPSE_MAX}
 */
public record GateStats(long rows, long zeroRows, double entropyMean, double entropyMin, double maxGate,
                        double shareCmp, double shareSel, double shareWin, double collapseFraction) {
    /** A collapsed row's entropy is below this (nats). */
    public static final double COLLAPSE_ENTROPY = 0.1;
    /** A collapsed row's largest normalised gate is above this. */
    public static final double COLLAPSE_MAX = 0.95;

    /**
     * The statistics of {@code gates} ({@code [..., 3]}, any float dtype, any strides) as mixed under {@code override}.
     *
     * @throws NsaArgumentException when the last dimension is not 3
     */
    public static GateStats of(HostTensor gates, GateOverride override) {
        Objects.requireNonNull(gates, "gates");
        Objects.requireNonNull(override, "override");
        if (gates.rank() < 1 || gates.dim(gates.rank() - 1) != 3) {
            throw new NsaArgumentException("gates", "a last dimension of 3 (cmp, sel, win)", "got " + gates.shape());
        }
        if (gates.isContiguous()) {   // read in place: a long forward's gates are tens of millions of values
            return of(gates.numel(), gates::getAt, override);
        }
        double[] g = gates.toDoubleArray();
        return of(g.length, i -> g[(int) i], override);
    }

    /** The statistics of gate rows {@code g} (3 values per row, cmp, sel, win) as mixed under {@code override}. */
    public static GateStats of(double[] g, GateOverride override) {
        Objects.requireNonNull(g, "gates");
        return of(g.length, i -> g[(int) i], override);
    }

    private static GateStats of(long n, LongToDoubleFunction g, GateOverride override) {
        if (n % 3 != 0) {
            throw new IllegalArgumentException("gates: a multiple of 3 values, got " + n);
        }
        long rows = n / 3, zero = 0, collapsed = 0;
        double entSum = 0, entMin = Double.POSITIVE_INFINITY, max = Double.NaN;
        double[] shares = new double[3];
        double[] p = new double[3];
        for (long r = 0; r < rows; r++) {
            double sum = 0, top = 0;
            for (int c = 0; c < 3; c++) {
                p[c] = override.apply(c, g.applyAsDouble(3 * r + c));
                max = Double.isNaN(max) ? p[c] : Math.max(max, p[c]);
                sum += p[c];
            }
            if (sum == 0) {
                zero++;
                continue;
            }
            double ent = 0;
            for (int c = 0; c < 3; c++) {
                double pc = p[c] / sum;
                shares[c] += pc;
                top = Math.max(top, pc);
                if (pc > 0) {
                    ent -= pc * Math.log(pc);
                }
            }
            entSum += ent;
            entMin = Math.min(entMin, ent);
            if (ent < COLLAPSE_ENTROPY && top > COLLAPSE_MAX) {
                collapsed++;
            }
        }
        long mixing = rows - zero;
        for (int c = 0; c < 3; c++) {
            shares[c] = mixing == 0 ? Double.NaN : shares[c] / mixing;
        }
        return new GateStats(rows, zero, mixing == 0 ? Double.NaN : entSum / mixing,
                mixing == 0 ? Double.NaN : entMin, max, shares[0], shares[1], shares[2],
                mixing == 0 ? Double.NaN : (double) collapsed / mixing);
    }

    /** One line of key=value pairs, as the {@code gate.stats} log tag prints it. */
    public String toLogFields() {
        return String.format(java.util.Locale.ROOT,
                "rows=%d zero_rows=%d entropy_mean=%.4f entropy_min=%.4f max_gate=%.4f shares=%.4f/%.4f/%.4f "
                        + "collapse_frac=%.4f",
                rows, zeroRows, entropyMean, entropyMin, maxGate, shareCmp, shareSel, shareWin, collapseFraction);
    }
}
