package dev.nsa4j.kernels;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;

/**
 * Base of every GPU-tagged suite: opens one {@link GpuFixture} (context, kernel module, stream) before the
 * class's tests, skipping them where no usable GPU exists, and closes it after. JUnit runs a superclass's
 * static {@code @BeforeAll}/{@code @AfterAll} around each subclass, one suite at a time.
 */
@Tag("gpu")
public abstract class GpuSuite {
    protected static GpuFixture gpu;

    /**
     * This process's share of a parameter matrix: with {@code NSA_TEST_SHARD=i/n} (or {@code -Dnsa.test.shard=i/n},
     * 0 <= i < n) every n-th case starting at i, else all of them. Several processes with different i cover a
     * long matrix in parallel, e.g. under compute-sanitizer, where one process would run for many minutes.
     * A matrix with no case in this shard (n larger than the matrix) is aborted, reported as skipped: JUnit
     * would count a parameterized test without arguments as an error.
     */
    public static <T> Stream<T> shard(List<T> cases) {
        String v = System.getProperty("nsa.test.shard", System.getenv("NSA_TEST_SHARD"));
        if (v == null || v.isBlank()) {
            return cases.stream();
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
        List<T> mine = new ArrayList<>();
        for (int c = i; c < cases.size(); c += n) {
            mine.add(cases.get(c));
        }
        if (mine.isEmpty()) {
            Assumptions.abort("shard " + i + "/" + n + " holds none of this matrix's " + cases.size() + " cases");
        }
        return mine.stream();
    }

    @BeforeAll
    static void openGpu() {
        gpu = GpuFixture.open();
    }

    @AfterAll
    static void closeGpu() {
        if (gpu != null) {
            gpu.close();
            gpu = null;
        }
    }
}
