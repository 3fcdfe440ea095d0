package dev.nsa4j.tensor;

/**
 * Element types nsa4j tensors can hold. fp16 and bf16 are stored as raw 16-bit patterns (the layout of
 * TornadoVM's {@code HalfFloatArray} and {@code BFloat16Array} segments); conversions round to nearest even.
 */
public enum DType {
    FP32(4, "<f4"),
    FP16(2, "<f2"),
    BF16(2, null),
    INT32(4, "<i4");

    private final int byteSize;
    private final String npyDescr;

    DType(int byteSize, String npyDescr) {
        this.byteSize = byteSize;
        this.npyDescr = npyDescr;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** The NumPy {@code descr} string, or {@code null} where NumPy has no such type (bf16). */
    public String npyDescr() {
        return npyDescr;
    }

    public boolean isFloating() {
        return this != INT32;
    }

    /** Parses {@code fp32|fp16|bf16|int32} (case-insensitive; {@code float32}, {@code half}, ... also accepted). */
    public static DType parse(String name) {
        return switch (name.toLowerCase(java.util.Locale.ROOT)) {
            case "fp32", "f32", "float32", "float" -> FP32;
            case "fp16", "f16", "float16", "half" -> FP16;
            case "bf16", "bfloat16" -> BF16;
            case "int32", "i32", "int" -> INT32;
            default -> throw new IllegalArgumentException(
                    "unknown dtype '" + name + "': expected one of fp32, fp16, bf16, int32");
        };
    }

    /** Rounds a float to bf16 bits, round-to-nearest-even; NaN stays a quiet NaN. */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fffffff) > 0x7f800000) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    public static float bf16ToFloat(short h) {
        return Float.intBitsToFloat((h & 0xffff) << 16);
    }

    /** Rounds a value to this dtype and back: what storing it in a tensor of this dtype keeps. */
    public double roundTrip(double x) {
        return switch (this) {
            case FP32 -> (float) x;
            case FP16 -> Float.float16ToFloat(Float.floatToFloat16((float) x));
            case BF16 -> bf16ToFloat(floatToBf16((float) x));
            case INT32 -> (int) x;
        };
    }
}
