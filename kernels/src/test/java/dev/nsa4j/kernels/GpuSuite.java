package dev.nsa4j.kernels;

import java.util.List;
import java.util.function.Predicate;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Base of every GPU-tagged suite: opens one {@link GpuFixture} (context, kernel module, stream) before the
 * class's tests, skipping them where no usable GPU exists, and closes it after. JUnit runs a superclass's
 * static {@code @BeforeAll}/{@code @AfterAll} around each subclass, one suite at a time.
 */
@Tag("gpu")
@ExtendWith(TestShard.class)
public abstract class GpuSuite {
    protected static GpuFixture gpu;

    /** This process's share of a parameter matrix under {@code NSA_TEST_SHARD=i/n}: see {@link TestShard}. */
    public static <T> Stream<T> shard(List<T> cases) {
        return TestShard.cases(cases);
    }

    /** {@link #shard}, keeping only the cases {@code cover} accepts under {@code NSA_TEST_COVER=1} ({@link TestShard}). */
    public static <T> Stream<T> shard(List<T> cases, Predicate<T> cover) {
        return TestShard.cases(cases, cover);
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
