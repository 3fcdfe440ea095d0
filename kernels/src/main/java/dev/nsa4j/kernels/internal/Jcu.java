package dev.nsa4j.kernels.internal;

import dev.nsa4j.kernels.CudaException;
import java.lang.reflect.Field;

import jcuda.NativePointerObject;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * Glue to JCuda's driver binding: result checking and raw addresses.
 *
 * <p>JCuda has no public accessor for the address inside its handle objects, nor a public way to build
 * one from a raw {@code long}; both go through {@code NativePointerObject.nativePointer} by reflection
 * (checked on the GPU hosts, see GPU-HOSTS.md). Raw {@code long} handles are what interop callers
 * (TornadoVM, other libraries) hold.
 */
public final class Jcu {
    private static final Field NATIVE_POINTER;

    static {
        try {
            NATIVE_POINTER = NativePointerObject.class.getDeclaredField("nativePointer");
            NATIVE_POINTER.setAccessible(true);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private Jcu() {
    }

    /** Throws a {@link CudaException} naming {@code call} unless {@code result} is CUDA_SUCCESS. */
    public static void check(int result, String call) {
        if (result != CUresult.CUDA_SUCCESS) {
            throw error(result, call);
        }
    }

    public static CudaException error(int result, String call) {
        String name;
        String text;
        try {
            String[] n = new String[1];
            String[] s = new String[1];
            name = JCudaDriver.cuGetErrorName(result, n) == CUresult.CUDA_SUCCESS && n[0] != null
                    ? n[0] : CUresult.stringFor(result);
            text = JCudaDriver.cuGetErrorString(result, s) == CUresult.CUDA_SUCCESS && s[0] != null
                    ? s[0] : "no description";
        } catch (Throwable t) {
            name = CUresult.stringFor(result);
            text = "no description";
        }
        return new CudaException(call, result, name, text);
    }

    /** The raw address or handle inside a JCuda object (0 for null). */
    public static long address(NativePointerObject p) {
        if (p == null) {
            return 0L;
        }
        try {
            return NATIVE_POINTER.getLong(p);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    public static <T extends NativePointerObject> T withAddress(T p, long address) {
        try {
            NATIVE_POINTER.setLong(p, address);
            return p;
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    public static CUdeviceptr devicePtr(long address) {
        return withAddress(new CUdeviceptr(), address);
    }

    public static CUstream stream(long handle) {
        return withAddress(new CUstream(), handle);
    }

    public static CUcontext context(long handle) {
        return withAddress(new CUcontext(), handle);
    }
}
