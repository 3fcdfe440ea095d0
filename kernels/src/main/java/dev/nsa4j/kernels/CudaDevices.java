package dev.nsa4j.kernels;

import dev.nsa4j.kernels.internal.Jcu;
import java.util.ArrayList;
import java.util.List;

import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/**
 * Device discovery. Never throws: a machine without the NVIDIA driver or without a device gets a
 * {@link Discovery} with no devices and the reason, which routing reports as the reason a GPU path is
 * unavailable. The result is computed once per JVM (the driver's view does not change).
 */
public final class CudaDevices {
    /** Reason prefix when libcuda (or JCuda's native library) cannot be loaded. */
    public static final String DRIVER_MISSING = "driver missing";
    /** Reason when the driver loads but reports no device. */
    public static final String NO_DEVICE = "no CUDA device";

    /** CUresult 35 (JCuda 12.6's CUresult has no constant for it). */
    static final int CUDA_ERROR_INSUFFICIENT_DRIVER = 35;

    private static volatile Discovery cached;

    private CudaDevices() {
    }

    /**
     * @param devices       every visible device, by ordinal; empty when unavailable
     * @param driverVersion {@code cuDriverGetVersion}, e.g. 13000; 0 when unknown
     * @param reason        why no device can be used, or {@code null} when at least one can
     */
    public record Discovery(List<DeviceInfo> devices, int driverVersion, String reason) {
        public Discovery {
            devices = List.copyOf(devices);
        }

        public boolean available() {
            return reason == null && !devices.isEmpty();
        }

        /** {@code 13.0} from 13000. */
        public String driverCudaVersion() {
            return driverVersion / 1000 + "." + (driverVersion % 1000) / 10;
        }
    }

    /** Discovers devices (once; later calls return the same answer). */
    public static Discovery discover() {
        Discovery d = cached;
        if (d == null) {
            synchronized (CudaDevices.class) {
                d = cached;
                if (d == null) {
                    d = probe();
                    cached = d;
                }
            }
        }
        return d;
    }

    /** The device with this ordinal, or a {@link CudaException}-free explanation of why not. */
    public static DeviceInfo require(int ordinal) {
        Discovery d = discover();
        if (!d.available()) {
            throw new IllegalStateException("no CUDA device can be used: " + d.reason());
        }
        if (ordinal < 0 || ordinal >= d.devices().size()) {
            throw new IllegalArgumentException("CUDA ordinal " + ordinal + " does not exist; devices: "
                    + d.devices());
        }
        return d.devices().get(ordinal);
    }

    private static Discovery probe() {
        try {
            JCudaDriver.setExceptionsEnabled(false);
            int init = JCudaDriver.cuInit(0);
            if (init != CUresult.CUDA_SUCCESS) {
                return new Discovery(List.of(), 0, reasonForInit(init));
            }
            int[] v = new int[1];
            int driver = JCudaDriver.cuDriverGetVersion(v) == CUresult.CUDA_SUCCESS ? v[0] : 0;
            int[] count = new int[1];
            Jcu.check(JCudaDriver.cuDeviceGetCount(count), "cuDeviceGetCount");
            if (count[0] == 0) {
                return new Discovery(List.of(), driver, NO_DEVICE);
            }
            List<DeviceInfo> list = new ArrayList<>();
            for (int i = 0; i < count[0]; i++) {
                list.add(describe(i));
            }
            return new Discovery(list, driver, null);
        } catch (LinkageError | jcuda.CudaException e) {
            return new Discovery(List.of(), 0, reasonForLinkFailure(e));
        } catch (RuntimeException e) {
            return new Discovery(List.of(), 0, "CUDA discovery failed: " + e.getMessage());
        }
    }

    static DeviceInfo describe(int ordinal) {
        CUdevice dev = new CUdevice();
        Jcu.check(JCudaDriver.cuDeviceGet(dev, ordinal), "cuDeviceGet(" + ordinal + ")");
        byte[] name = new byte[256];
        Jcu.check(JCudaDriver.cuDeviceGetName(name, name.length, dev), "cuDeviceGetName");
        int len = 0;
        while (len < name.length && name[len] != 0) {
            len++;
        }
        long[] mem = new long[1];
        Jcu.check(JCudaDriver.cuDeviceTotalMem(mem, dev), "cuDeviceTotalMem");
        return new DeviceInfo(ordinal, new String(name, 0, len, java.nio.charset.StandardCharsets.UTF_8),
                attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
                attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR),
                attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT), mem[0],
                attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN));
    }

    static int attribute(CUdevice dev, int attribute) {
        int[] v = new int[1];
        Jcu.check(JCudaDriver.cuDeviceGetAttribute(v, attribute, dev), "cuDeviceGetAttribute(" + attribute + ")");
        return v[0];
    }

    /** The availability reason for a failed {@code cuInit}. */
    static String reasonForInit(int result) {
        return switch (result) {
            case CUresult.CUDA_ERROR_NO_DEVICE -> NO_DEVICE;
            case CUDA_ERROR_INSUFFICIENT_DRIVER ->
                    "driver too old: the installed NVIDIA driver does not support the CUDA version JCuda needs";
            default -> "cuInit failed: " + CUresult.stringFor(result);
        };
    }

    /** The availability reason when the native libraries cannot be loaded. */
    static String reasonForLinkFailure(Throwable t) {
        String msg = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        int nl = msg.indexOf('\n');
        if (nl > 0) {
            msg = msg.substring(0, nl);
        }
        return DRIVER_MISSING + " (libcuda.so.1 or JCuda's native library could not be loaded: " + msg + ")";
    }
}
