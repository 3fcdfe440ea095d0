package dev.nsa4j.kernels.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.nsa4j.kernels.CudaStream;
import org.junit.jupiter.api.Test;

/** Raw handles in and out of JCuda objects (reflection on NativePointerObject; no driver needed). */
class JcuTest {

    @Test
    void rawAddressesRoundTripThroughJcudaHandles() {
        assertEquals(0x7f00_1234_5600L, Jcu.address(Jcu.devicePtr(0x7f00_1234_5600L)));
        assertEquals(0xdead_beefL, Jcu.address(Jcu.stream(0xdead_beefL)));
        assertEquals(42L, Jcu.address(Jcu.context(42L)));
        assertEquals(0L, Jcu.address(null));
        assertEquals(0L, Jcu.address(new jcuda.driver.CUstream()));
    }

    @Test
    void wrappedStreamReportsItsRawHandle() {
        assertEquals(0x1000L, CudaStream.wrap(null, 0x1000L).handle());
    }
}
