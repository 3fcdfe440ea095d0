package dev.nsa4j.nsa;

import dev.nsa4j.kernels.CudaStream;

/**
 * Marks the step boundaries of a device forward on its stream (benches record CUDA events there): {@link #begin}
 * before the first launch, then {@link #mark} after each step in order: {@code compress}, {@code cmp},
 * {@code select}, {@code sel}, {@code win}, {@code combine}. Implementations must only enqueue (no sync).
 */
public interface StepTimer {
    /** The steps of a forward, in launch order. */
    java.util.List<String> STEPS = java.util.List.of("compress", "cmp", "select", "sel", "win", "combine");

    /** No timing. */
    StepTimer NONE = new StepTimer() {
        @Override
        public void begin(CudaStream stream) {
        }

        @Override
        public void mark(String step, CudaStream stream) {
        }
    };

    void begin(CudaStream stream);

    void mark(String step, CudaStream stream);
}
