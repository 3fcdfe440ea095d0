package dev.nsa4j.kernels.internal;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

import dev.nsa4j.kernels.CudaException;
import dev.nsa4j.tensor.DType;

/**
 * Tensor maps of the tensor memory accelerator (SM 9.0), encoded on the host by the driver's
 * {@code cuTensorMapEncodeTiled}: a 128-byte {@code CUtensorMap} a kernel takes as a {@code __grid_constant__}
 * parameter and loads boxes of with {@code cp.async.bulk.tensor}. JCuda 12.6 does not bind the call, so it is a
 * {@code java.lang.foreign} downcall into the driver library JCuda has loaded already (docs/decisions.md D30).
 *
 * <p>One map shape serves the TMA layout of sel-kernel ({@code cuda-tc/sel_tma.cu}): rows of a packed
 * {@code [rows, heads, d]} fp16/bf16 tensor with the last axis contiguous, rank 3 innermost first
 * {@code (d, heads, rows)}, byte strides of a head and a row, boxes of {@code 64 x 1 x boxRows} elements, 128-byte
 * swizzle, L2 promotion of 256 bytes, out-of-bounds elements read as zero. {@link Rows#problems} is the host-side
 * check of the driver's rules (no CUDA call); {@link #encode} calls the driver.
 */
public final class TensorMaps {
    /** Bytes of one {@code CUtensorMap}. */
    public static final int BYTES = 128;
    /** Columns of one box: 64 two-byte elements, the 128-byte swizzle's span. */
    public static final int BOX_COLS = 64;
    /** The most rows of one box (the driver's limit per dimension). */
    public static final int MAX_BOX = 256;

    private static final int ALIGN = 16;
    private static final long MAX_STRIDE = 1L << 40;
    private static final long MAX_DIM = 1L << 32;
    // CUtensorMapDataType, CUtensorMapSwizzle, CUtensorMapL2promotion (cuda.h, CUDA 12.0+)
    private static final int DATA_TYPE_FLOAT16 = 6;
    private static final int DATA_TYPE_BFLOAT16 = 9;
    private static final int INTERLEAVE_NONE = 0;
    private static final int SWIZZLE_128B = 3;
    private static final int L2_PROMOTION_256B = 3;
    private static final int OOB_FILL_ZERO = 0;

    private TensorMaps() {
    }

    /**
     * The rows of a packed {@code [rows, heads, d]} tensor at device {@code address}, strides in elements.
     *
     * @param name the tensor's name, for messages ({@code k})
     */
    public record Rows(String name, DType dtype, long address, long rows, int heads, int d, long rowStride,
                       long headStride) {
        public Rows {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(dtype, "dtype");
        }

        /**
         * Every rule of the driver's (and this map shape's) the tensor breaks, with the values; empty when
         * {@link #encode} can map it. Host-only: reads the numbers, makes no CUDA call.
         */
        public List<String> problems() {
            List<String> p = new ArrayList<>();
            if (dtype != DType.BF16 && dtype != DType.FP16) {
                p.add(name + " is " + dtype + ", tensor maps here are fp16 or bf16");
            }
            if (rows < 1 || rows > MAX_DIM || heads < 1 || d < 1) {
                p.add(name + " [" + rows + ", " + heads + ", " + d + "]: every dimension in [1, 2^32]");
            }
            if (d % BOX_COLS != 0) {
                p.add(name + " head dim " + d + " is not a multiple of " + BOX_COLS + " (the box width)");
            }
            if (address % ALIGN != 0) {
                p.add(name + " at 0x" + Long.toHexString(address) + " is not " + ALIGN + "-byte aligned");
            }
            stride(p, "row", rowStride);
            stride(p, "head", headStride);
            return List.copyOf(p);
        }

        private void stride(List<String> p, String what, long elems) {
            long bytes = elems * dtype.byteSize();
            if (elems < 1 || bytes % ALIGN != 0 || bytes >= MAX_STRIDE) {
                p.add(name + " " + what + " stride " + elems + " elements (" + bytes + " bytes): a positive multiple of "
                        + ALIGN + " bytes below 2^40");
            }
        }

        /** The dims, innermost first: {@code d, heads, rows}. */
        long[] dims() {
            return new long[] {d, heads, rows};
        }

        /** The byte strides of dims 1 and 2: a head, a row. */
        long[] byteStrides() {
            return new long[] {headStride * dtype.byteSize(), rowStride * dtype.byteSize()};
        }
    }

    /**
     * The map of {@code t} with boxes of {@code 64 x 1 x boxRows}: 128 bytes, to pass by value as a kernel parameter.
     *
     * @throws IllegalArgumentException when {@link Rows#problems} names a rule the tensor breaks, or {@code boxRows}
     *                                  is outside [1, 256]
     * @throws CudaException            when the driver refuses the map, or has no {@code cuTensorMapEncodeTiled}
     */
    public static byte[] encode(Rows t, int boxRows) {
        List<String> p = t.problems();
        if (!p.isEmpty()) {
            throw new IllegalArgumentException("tensor map of " + t.name() + ": " + String.join("; ", p));
        }
        if (boxRows < 1 || boxRows > MAX_BOX) {
            throw new IllegalArgumentException("tensor map box rows " + boxRows + " outside [1, " + MAX_BOX + "]");
        }
        MethodHandle encode = Driver.encode();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment map = arena.allocate(BYTES, 64);
            MemorySegment dims = arena.allocateFrom(JAVA_LONG, t.dims());
            MemorySegment strides = arena.allocateFrom(JAVA_LONG, t.byteStrides());
            MemorySegment box = arena.allocateFrom(JAVA_INT, BOX_COLS, 1, boxRows);
            MemorySegment steps = arena.allocateFrom(JAVA_INT, 1, 1, 1);
            int r;
            try {
                r = (int) encode.invokeExact(map, t.dtype() == DType.BF16 ? DATA_TYPE_BFLOAT16 : DATA_TYPE_FLOAT16, 3,
                        MemorySegment.ofAddress(t.address()), dims, strides, box, steps, INTERLEAVE_NONE, SWIZZLE_128B,
                        L2_PROMOTION_256B, OOB_FILL_ZERO);
            } catch (Throwable e) {
                throw new IllegalStateException("cuTensorMapEncodeTiled downcall failed", e);
            }
            Jcu.check(r, "cuTensorMapEncodeTiled(" + t.name() + " [" + t.rows() + ", " + t.heads() + ", " + t.d()
                    + "], box 64x1x" + boxRows + ")");
            return map.toArray(JAVA_BYTE);
        }
    }

    /** The driver's entry point, looked up once on first use (never on a machine without a GPU path). */
    private static final class Driver {
        private static final MethodHandle ENCODE;
        private static final String MISSING;

        static {
            MethodHandle h = null;
            String missing = null;
            String lib = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("windows")
                    ? "nvcuda.dll" : "libcuda.so.1";
            try {
                SymbolLookup cuda = SymbolLookup.libraryLookup(lib, Arena.global());
                MemorySegment fn = cuda.find("cuTensorMapEncodeTiled").orElse(null);
                if (fn == null) {
                    missing = lib + " has no cuTensorMapEncodeTiled (a CUDA 12.0+ driver has)";
                } else {
                    h = Linker.nativeLinker().downcallHandle(fn, FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT,
                            JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
                }
            } catch (IllegalArgumentException | IllegalCallerException e) {
                missing = "cannot load " + lib + ": " + e.getMessage();
            }
            ENCODE = h;
            MISSING = missing;
        }

        static MethodHandle encode() {
            if (ENCODE == null) {
                throw new CudaException("cuTensorMapEncodeTiled", -1, "CUDA_ERROR_NOT_FOUND", MISSING);
            }
            return ENCODE;
        }
    }
}
