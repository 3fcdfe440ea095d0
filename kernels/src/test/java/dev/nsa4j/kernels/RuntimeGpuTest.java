package dev.nsa4j.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.kernels.internal.GateCombine;
import dev.nsa4j.kernels.internal.GateCombineParams;
import dev.nsa4j.kernels.internal.Jcu;
import dev.nsa4j.kernels.internal.KernelCatalog;
import dev.nsa4j.kernels.internal.KernelModule;
import dev.nsa4j.kernels.internal.LayoutProbe;
import dev.nsa4j.kernels.internal.ParamsLayouts;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import dev.nsa4j.tensor.Shape;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/** The CUDA runtime layer on a real device: discovery, copies, pool, events, attach mode, errors. */
@Tag("gpu")
class RuntimeGpuTest extends GpuSuite {
    @Test
    void discoveryDescribesTheDevice() {
        CudaDevices.Discovery d = CudaDevices.discover();
        assertTrue(d.available());
        assertNull(d.reason());
        DeviceInfo dev = d.devices().get(0);
        assertTrue(dev.sm() >= 80, dev.toString());
        assertTrue(dev.smCount() > 0 && dev.totalMemory() > (1L << 30), dev.toString());
        assertFalse(dev.name().isBlank());
        assertTrue(d.driverVersion() >= 13000, "kernels built by CUDA 13 need an R580+ driver; driver reports CUDA "
                + d.driverCudaVersion());
        assertTrue(gpu.context.isPrimary());
        System.out.println("nsa4j GPU test device: " + dev + ", driver CUDA " + d.driverCudaVersion());
    }

    @Test
    void paramsLayoutProbeMatchesJava() {
        long[] probe = LayoutProbe.run(gpu.module, gpu.stream);
        assertNull(ParamsLayouts.diff(probe), () -> ParamsLayouts.diff(probe));
        assertArrayEquals(ParamsLayouts.expectedProbe(), probe);
    }

    @Test
    void uploadDownloadRoundTrips() {
        Random rnd = new Random(1);
        for (DType d : DType.values()) {
            HostTensor h = d == DType.INT32
                    ? HostTensor.ofInts(rnd.ints(1000).toArray(), 10, 100)
                    : GpuFixture.random(rnd, d, -3, 3, 10, 100);
            try (DeviceTensor t = DeviceTensor.upload(gpu.stream, h)) {
                assertTrue(t.owns());
                HostTensor back = t.toHost(gpu.stream);
                assertEquals(h.segment().asSlice(0, 4000L / (4 / d.byteSize())).mismatch(
                        back.segment().asSlice(0, 4000L / (4 / d.byteSize()))), -1L, d.toString());
            }
        }
        // strided host tensor: a transpose view is made contiguous before the copy
        HostTensor base = GpuFixture.random(rnd, DType.FP32, -1, 1, 4, 6);
        HostTensor transposed = base.view(Shape.strided(new int[]{6, 4}, new long[]{1, 6}));
        try (DeviceTensor t = DeviceTensor.upload(gpu.stream, transposed)) {
            assertArrayEquals(transposed.toDoubleArray(), t.toHost(gpu.stream).toDoubleArray());
        }
        // heap-backed host memory (a Java array) both ways
        float[] arr = {1, 2, 3, 4, 5, 6};
        HostTensor heap = HostTensor.wrap(MemorySegment.ofArray(arr), DType.FP32, Shape.of(2, 3));
        try (DeviceTensor t = DeviceTensor.upload(gpu.stream, heap)) {
            float[] dst = new float[6];
            t.copyTo(gpu.stream, HostTensor.wrap(MemorySegment.ofArray(dst), DType.FP32, Shape.of(2, 3)));
            assertArrayEquals(arr, dst);
        }
        try (DeviceTensor t = DeviceTensor.upload(gpu.stream, HostTensor.zeros(DType.BF16, 0, 8))) {
            assertEquals(0, t.toHost(gpu.stream).numel());
        }
    }

    @Test
    void poolReusesBlocksOnItsStream() {
        try (DevicePool pool = new DevicePool(gpu.stream)) {
            DeviceBuffer a = pool.acquire(1000);
            long addr = a.address();
            assertEquals(1000, a.byteSize());
            a.close();
            DeviceBuffer b = pool.acquire(700);   // same 1 KiB class
            assertEquals(addr, b.address());
            assertEquals(1, pool.allocations());
            assertEquals(1, pool.reuses());
            DeviceBuffer c = pool.acquire(5000);
            assertTrue(c.address() != b.address());
            try (DeviceTensor t = DeviceTensor.allocate(pool, DType.FP32, 16, 16)) {
                t.copyFrom(gpu.stream, GpuFixture.random(new Random(2), DType.FP32, 0, 1, 16, 16));
            }
            b.close();
            c.close();
            assertEquals(3, pool.allocations());
        }
        gpu.stream.synchronize();
    }

    /** A buffer that outlives the stream it was allocated on frees synchronously; the closed stream is refused. */
    @Test
    void aBufferOutlivingItsStreamFreesWithoutTouchingIt() {
        CudaStream s = CudaStream.create(gpu.context);
        DeviceBuffer b = DeviceBuffer.allocate(s, 1 << 20);
        b.fill(s, (byte) 1);
        s.close();
        assertTrue(s.isClosed());
        b.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, s::synchronize);
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
    }

    @Test
    void eventsTimeWorkOnAStream() {
        try (CudaEvent start = CudaEvent.create(gpu.context); CudaEvent end = CudaEvent.create(gpu.context);
             DeviceTensor t = DeviceTensor.allocate(gpu.stream, DType.FP32, 1 << 20)) {
            start.record(gpu.stream);
            DeviceBuffer.wrap(t.address(), t.byteSize()).fill(gpu.stream, (byte) 0);
            end.record(gpu.stream);
            float ms = CudaEvent.elapsedMillis(start, end);
            assertTrue(ms >= 0 && ms < 10_000, "elapsed " + ms);
        }
    }

    @Test
    @Tag(GpuFixture.INJECTS_CUDA_ERRORS) // a failing API call on purpose: sanitizer runs leave it out
    void cudaErrorsBecomeExceptionsNamingCallAndError() {
        CudaException e = assertThrows(CudaException.class, () -> DeviceBuffer.allocate(gpu.stream, 1L << 52));
        assertTrue(e.call().startsWith("cuMemAlloc"), e.getMessage());
        // expected CUDA_ERROR_OUT_OF_MEMORY; a driver may call a 4 PiB request an invalid value instead
        assertTrue(e.errorName().equals("CUDA_ERROR_OUT_OF_MEMORY") || e.errorName().equals("CUDA_ERROR_INVALID_VALUE"),
                e.getMessage());
        assertTrue(e.getMessage().contains("failed: " + e.errorName() + " ("), e.getMessage());
        System.out.println("nsa4j error message sample: " + e.getMessage());
        // the context stays usable after a non-sticky error
        try (DeviceTensor t = DeviceTensor.upload(gpu.stream, HostTensor.ofFloats(new float[]{1, 2}, 2))) {
            assertArrayEquals(new float[]{1, 2}, t.toHost(gpu.stream).toFloatArray());
        }
    }

    @Test
    void unsupportedKernelFailsFastInTheModule() {
        NsaArgumentException e = assertThrows(NsaArgumentException.class, () -> gpu.module.function(
                KernelCatalog.gateCombine(DType.FP32, DType.FP16, DType.FP32, KernelCatalog.VEC16)));
        assertTrue(e.getMessage().contains("supported:"), e.getMessage());
        gpu.module.function(KernelCatalog.compressAvg(DType.BF16, DType.FP32, KernelCatalog.SCALAR));
    }

    @Test
    void attachModeRunsOnTheCallersContextAndRawStream() {
        gpu.context.bind();
        // What a host library (TornadoVM, ...) would hold: its own stream as a raw handle.
        CUstream foreign = new CUstream();
        Jcu.check(JCudaDriver.cuStreamCreate(foreign, 0), "cuStreamCreate");
        long rawStream = Jcu.address(foreign);
        try (CudaContext attached = CudaContext.attachCurrent(); KernelModule m = KernelModule.load(attached)) {
            assertFalse(attached.isPrimary());
            assertEquals(gpu.context.handle(), attached.handle());
            CudaStream s = CudaStream.wrap(attached, rawStream);
            assertEquals(rawStream, s.handle());
            int nnz = 37, h = 2, dv = 24;
            Random rnd = new Random(4);
            HostTensor a = GpuFixture.random(rnd, DType.BF16, -1, 1, nnz, h, dv);
            HostTensor b = GpuFixture.random(rnd, DType.BF16, -1, 1, nnz, h, dv);
            HostTensor w = GpuFixture.random(rnd, DType.BF16, -1, 1, nnz, h, dv);
            HostTensor g = GpuFixture.random(rnd, DType.FP32, 0, 1, nnz, h, 3);
            try (DeviceTensor da = DeviceTensor.upload(s, a); DeviceTensor db = DeviceTensor.upload(s, b);
                 DeviceTensor dw = DeviceTensor.upload(s, w); DeviceTensor dg = DeviceTensor.upload(s, g);
                 DeviceTensor out = DeviceTensor.allocate(s, DType.FP32, nnz, h, dv)) {
                // raw-pointer entry point: longs only
                GateCombineParams p = GateCombineParams.contiguous(da.address(), db.address(), dw.address(), dg.address(),
                        out.address(), nnz, h, dv);
                GateCombine.launch(m, rawStream, p, DType.BF16, DType.FP32, DType.FP32);
                Jcu.check(JCudaDriver.cuStreamSynchronize(foreign), "cuStreamSynchronize");
                float[] got = out.toHost(s).toFloatArray();
                double[] av = a.toDoubleArray(), bv = b.toDoubleArray(), wv = w.toDoubleArray(), gv = g.toDoubleArray();
                for (int i = 0; i < got.length; i++) {
                    int row = i / dv;
                    double ref = gv[3 * row] * av[i] + gv[3 * row + 1] * bv[i] + gv[3 * row + 2] * wv[i];
                    assertEquals(ref, got[i], 1e-5, "element " + i);
                }
            }
            s.close();   // wrapped: leaves the caller's stream alone
            Jcu.check(JCudaDriver.cuStreamSynchronize(foreign), "cuStreamSynchronize after wrap close");
        } finally {
            Jcu.check(JCudaDriver.cuStreamDestroy(foreign), "cuStreamDestroy");
        }
        // the primary context is untouched by closing the attached one
        try (DeviceTensor t = DeviceTensor.upload(gpu.stream, HostTensor.ofFloats(new float[]{3}, 1))) {
            assertArrayEquals(new float[]{3}, t.toHost(gpu.stream).toFloatArray());
        }
        try (CudaContext byHandle = CudaContext.attach(gpu.context.handle())) {
            assertEquals(gpu.context.device(), byHandle.device());
        }
    }

    @Test
    void attachWithoutACurrentContextIsAClearError() throws InterruptedException {
        AtomicReference<Throwable> err = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try {
                CudaContext.attachCurrent();
            } catch (Throwable e) {
                err.set(e);
            }
        });
        t.start();
        t.join();
        assertTrue(err.get() instanceof IllegalStateException, String.valueOf(err.get()));
        assertTrue(err.get().getMessage().contains("needs a CUDA context current"), err.get().getMessage());
    }

    @Test
    void aContextServesOtherThreads() throws InterruptedException {
        AtomicReference<Throwable> err = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try (CudaStream s = CudaStream.create(gpu.context);
                 DeviceTensor d = DeviceTensor.upload(s, HostTensor.ofFloats(new float[]{5, 6}, 2))) {
                assertArrayEquals(new float[]{5, 6}, d.toHost(s).toFloatArray());
            } catch (Throwable e) {
                err.set(e);
            }
        });
        t.start();
        t.join();
        assertNull(err.get());
    }
}
