package dev.nsa4j.parity;

import java.util.List;
import java.util.Objects;

/**
 * Assertions for test suites (JUnit or any other): a failed report throws {@link AssertionError} with its
 * {@link ParityReport#line()}, which every test framework reports as a test failure. No test-framework
 * dependency, so benches can use the same checks to validate an output before timing it.
 */
public final class ParityAssert {
    private ParityAssert() {}

    /**
     * @return the report, for logging
     * @throws AssertionError when {@code report.pass()} is false
     */
    public static ParityReport assertParity(ParityReport report) {
        Objects.requireNonNull(report, "report");
        if (!report.pass()) {
            throw new AssertionError(report.line());
        }
        return report;
    }

    /** Checks every report and fails with the lines of all failed ones, not only the first. */
    public static void assertParity(List<ParityReport> reports) {
        List<String> failed = reports.stream().filter(r -> !r.pass()).map(ParityReport::line).toList();
        if (!failed.isEmpty()) {
            throw new AssertionError(failed.size() + " of " + reports.size() + " comparisons failed:\n  "
                    + String.join("\n  ", failed));
        }
    }
}
