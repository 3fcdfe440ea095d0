package dev.nsa4j.kernels;

import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.stream.Stream;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.params.ParameterizedTest;

/**
 * One process's share of the GPU suites, set by {@code NSA_TEST_SHARD=i/n} (or {@code -Dnsa.test.shard=i/n},
 * 0 <= i < n): several processes with i = 0 .. n-1 cover the suites once between them, e.g. under
 * compute-sanitizer, where one process would run for many minutes ({@code nsa-test --shards n}).
 *
 * <p>A parameter matrix passed through {@link #cases} gives this process every n-th case starting at i. As a
 * JUnit condition ({@code @ExtendWith(TestShard.class)}; {@link GpuSuite} carries it), every test that is not
 * a {@code @ParameterizedTest} runs in shard 0 only, so a long single test is not repeated n times.
 *
 * <p>{@code NSA_TEST_COVER=1} (or {@code -Dnsa.test.cover=1}) keeps, of a matrix that names them, only its cover
 * cases: the fewest that still launch every kernel symbol of the matrix on its edge shapes (the varlen batch with
 * empty and length-1 sequences), for compute-sanitizer over whole suites in minutes, not hours; shards then split
 * those.
 */
public final class TestShard implements ExecutionCondition {
    /** This process's shard: {@code index} of {@code count}. */
    record Setting(int index, int count) {
        @Override
        public String toString() {
            return index + "/" + count;
        }
    }

    /** The setting, read each time (tests change the property); {@code null} when unset. */
    static Setting current() {
        String v = System.getProperty("nsa.test.shard", System.getenv("NSA_TEST_SHARD"));
        if (v == null || v.isBlank()) {
            return null;
        }
        String[] parts = v.trim().split("/");
        int i, n;
        try {
            i = Integer.parseInt(parts[0]);
            n = Integer.parseInt(parts[1]);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("NSA_TEST_SHARD = '" + v + "' is not i/n with 0 <= i < n", e);
        }
        if (parts.length != 2 || n < 1 || i < 0 || i >= n) {
            throw new IllegalArgumentException("NSA_TEST_SHARD = '" + v + "' is not i/n with 0 <= i < n");
        }
        return new Setting(i, n);
    }

    /** True under {@code NSA_TEST_COVER=1} / {@code -Dnsa.test.cover=1} (also {@code true}). */
    static boolean coverOnly() {
        String v = System.getProperty("nsa.test.cover", System.getenv("NSA_TEST_COVER"));
        return v != null && (v.trim().equals("1") || v.trim().equalsIgnoreCase("true"));
    }

    /**
     * {@link #cases} of {@code all}, or under {@code NSA_TEST_COVER=1} of the cases {@code cover} accepts (the
     * matrix's cover set; a matrix whose cover set is empty is aborted).
     */
    public static <T> Stream<T> cases(List<T> all, Predicate<T> cover) {
        if (!coverOnly()) {
            return cases(all);
        }
        List<T> kept = all.stream().filter(cover).toList();
        if (kept.isEmpty()) {
            Assumptions.abort("NSA_TEST_COVER=1: none of this matrix's " + all.size() + " cases is a cover case");
        }
        return cases(kept);
    }

    /**
     * This process's cases of a parameter matrix (all of them without the setting). A matrix with no case in
     * this shard (n larger than the matrix) is aborted, reported as skipped: JUnit would count a parameterized
     * test without arguments as an error.
     */
    public static <T> Stream<T> cases(List<T> all) {
        Setting s = current();
        if (s == null) {
            return all.stream();
        }
        List<T> mine = new ArrayList<>();
        for (int c = s.index(); c < all.size(); c += s.count()) {
            mine.add(all.get(c));
        }
        if (mine.isEmpty()) {
            Assumptions.abort("shard " + s + " holds none of this matrix's " + all.size() + " cases");
        }
        return mine.stream();
    }

    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
        return decide(context.getTestMethod(), current());
    }

    static ConditionEvaluationResult decide(Optional<Method> method, Setting s) {
        if (s == null || s.index() == 0 || method.isEmpty()
                || method.get().isAnnotationPresent(ParameterizedTest.class)) {
            return ConditionEvaluationResult.enabled("shards split parameter matrices; single tests run in shard 0");
        }
        return ConditionEvaluationResult.disabled(
                "single test: runs in shard 0 of " + s.count() + " only (NSA_TEST_SHARD=" + s + ")");
    }
}
