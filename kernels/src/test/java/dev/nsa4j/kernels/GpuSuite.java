package dev.nsa4j.kernels;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;

/**
 * Base of every GPU-tagged suite: opens one {@link GpuFixture} (context, kernel module, stream) before the
 * class's tests, skipping them where no usable GPU exists, and closes it after. JUnit runs a superclass's
 * static {@code @BeforeAll}/{@code @AfterAll} around each subclass, one suite at a time.
 */
@Tag("gpu")
abstract class GpuSuite {
    static GpuFixture gpu;

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
