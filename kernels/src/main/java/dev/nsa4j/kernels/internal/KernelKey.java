package dev.nsa4j.kernels.internal;

import java.util.Locale;
import java.util.Objects;

import dev.nsa4j.tensor.DType;

/**
 * Names one compiled kernel: {@code (family, dtype, variant)} maps to the extern "C" symbol
 * {@code nsa_<family>_<dtype>[_<variant>]}, e.g. {@code (gate_combine, BF16, gfp32_obf16_v16)} to
 * {@code nsa_gate_combine_bf16_gfp32_obf16_v16}.
 *
 * @param family  kernel family, e.g. {@code gate_combine}, {@code compress_avg}
 * @param dtype   the input element type
 * @param variant everything else the template is specialised on (other dtypes, access width), or ""
 */
public record KernelKey(String family, DType dtype, String variant) {
    public KernelKey {
        Objects.requireNonNull(family, "family");
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(variant, "variant");
    }

    /** {@code fp32}, {@code fp16}, {@code bf16}, {@code int32}: how dtypes appear in symbols. */
    public static String dtypeName(DType d) {
        return d.name().toLowerCase(Locale.ROOT);
    }

    /** The extern "C" symbol in the kernel image. */
    public String symbol() {
        return "nsa_" + family + "_" + dtypeName(dtype) + (variant.isEmpty() ? "" : "_" + variant);
    }

    @Override
    public String toString() {
        return "(" + family + ", " + dtypeName(dtype) + ", " + (variant.isEmpty() ? "-" : variant) + ")";
    }
}
