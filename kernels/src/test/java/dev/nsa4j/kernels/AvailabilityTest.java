package dev.nsa4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.nsa4j.kernels.internal.KernelImage;
import java.util.List;

import org.junit.jupiter.api.Test;

/** Availability reasons: "kernels not built", "driver missing", "no CUDA device" (CPU only). */
class AvailabilityTest {

    @Test
    void discoveryNeverThrowsAndExplainsItself() {
        CudaDevices.Discovery d = CudaDevices.discover();
        assertNotNull(d);
        if (!d.available()) {
            assertNotNull(d.reason());
            assertTrue(d.devices().isEmpty());
        }
        GpuAvailability a = GpuAvailability.check();
        assertEquals(a.available(), a.reason() == null);
    }

    @Test
    void withoutADeviceTheReasonIsDriverMissingOrNoDevice() {
        assumeFalse(CudaDevices.discover().available(), "a CUDA device is present");
        String r = CudaDevices.discover().reason();
        assertTrue(r.startsWith(CudaDevices.DRIVER_MISSING) || r.equals(CudaDevices.NO_DEVICE)
                || r.startsWith("cuInit failed") || r.startsWith("driver too old"), r);
        GpuAvailability a = GpuAvailability.check();
        assertFalse(a.available());
        assertTrue(a.reason().startsWith(KernelImage.NOT_BUILT) || a.reason().equals(r), a.reason());
    }

    @Test
    void reasonsForInitAndLinkFailures() {
        assertEquals(CudaDevices.NO_DEVICE, CudaDevices.reasonForInit(100));
        assertTrue(CudaDevices.reasonForInit(35).startsWith("driver too old"));
        assertTrue(CudaDevices.reasonForInit(3).startsWith("cuInit failed: CUDA_ERROR_NOT_INITIALIZED"),
                CudaDevices.reasonForInit(3));
        String link = CudaDevices.reasonForLinkFailure(new UnsatisfiedLinkError("libcuda.so.1: cannot open\nmore"));
        assertTrue(link.startsWith(CudaDevices.DRIVER_MISSING), link);
        assertTrue(link.endsWith("libcuda.so.1: cannot open)"), link);
    }

    @Test
    void kernelsNotBuiltComesFirst() {
        CudaDevices.Discovery gpu = new CudaDevices.Discovery(
                List.of(new DeviceInfo(0, "NVIDIA H100", 9, 0, 132, 80L << 30)), 13000, null);
        GpuAvailability notBuilt = GpuAvailability.decide(false, gpu, 0);
        assertFalse(notBuilt.available());
        assertTrue(notBuilt.reason().startsWith("kernels not built"), notBuilt.reason());
        assertTrue(GpuAvailability.decide(true, gpu, 0).available());
        assertTrue(GpuAvailability.decide(true, gpu, 1).reason().contains("ordinal 1 does not exist"));
        CudaDevices.Discovery none = new CudaDevices.Discovery(List.of(), 0, CudaDevices.NO_DEVICE);
        assertEquals(CudaDevices.NO_DEVICE, GpuAvailability.decide(true, none, 0).reason());
        CudaDevices.Discovery old = new CudaDevices.Discovery(
                List.of(new DeviceInfo(0, "Tesla V100", 7, 0, 80, 16L << 30)), 13000, null);
        assertTrue(GpuAvailability.decide(true, old, 0).reason().contains("below 8.0"));
        assertEquals("13.0", gpu.driverCudaVersion());
        assertEquals(90, gpu.devices().get(0).sm());
    }

    @Test
    void cudaExceptionNamesCallAndError() {
        CudaException e = new CudaException("cuMemAlloc(8 bytes)", 2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory");
        assertEquals("cuMemAlloc(8 bytes) failed: CUDA_ERROR_OUT_OF_MEMORY (out of memory)", e.getMessage());
        assertEquals("cuMemAlloc(8 bytes)", e.call());
        assertEquals(2, e.code());
        assertEquals("CUDA_ERROR_OUT_OF_MEMORY", e.errorName());
    }

    @Test
    void poolSizeClasses() {
        assertEquals(256, DevicePool.sizeClass(0));
        assertEquals(256, DevicePool.sizeClass(256));
        assertEquals(512, DevicePool.sizeClass(257));
        assertEquals(1 << 20, DevicePool.sizeClass((1 << 20) - 5));
        assertEquals(1 << 20, DevicePool.sizeClass(1 << 20));
        assertEquals(DevicePool.MAX_POOLED_BYTES, DevicePool.sizeClass(DevicePool.MAX_POOLED_BYTES));
        assertEquals(DevicePool.MAX_POOLED_BYTES + 1, DevicePool.sizeClass(DevicePool.MAX_POOLED_BYTES + 1));
    }
}
