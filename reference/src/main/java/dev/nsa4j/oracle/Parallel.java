package dev.nsa4j.oracle;

import java.util.concurrent.ForkJoinPool;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;

/** Runs independent tasks on a fork-join pool; each task writes disjoint outputs, so order does not matter. */
final class Parallel {
    private Parallel() {}

    /**
     * The oracle's default pool: one worker per core. Not the common pool, whose parallelism is cores − 1
     * (a single thread on a 2-core machine). Workers are daemon threads, created on first use.
     */
    static ForkJoinPool shared() {
        return Shared.POOL;
    }

    private static final class Shared {
        static final ForkJoinPool POOL = new ForkJoinPool(Runtime.getRuntime().availableProcessors());
    }

    static void forEach(ForkJoinPool pool, int tasks, IntConsumer body) {
        if (tasks <= 1 || pool.getParallelism() <= 1) {
            for (int i = 0; i < tasks; i++) {
                body.accept(i);
            }
            return;
        }
        pool.submit(() -> IntStream.range(0, tasks).parallel().forEach(body)).join();
    }
}
