package dev.nsa4j.fa2.contract;

import dev.nsa4j.tensor.DType;

/**
 * The flags that relax the FA-2 contract (docs/routing.md, "Flags"); nsa-core reads them from its flag snapshot.
 *
 * @param allowFp32       {@code NSA_FA2_ALLOW_FP32}: fp32 inputs pass the dtype rule and are cast first
 * @param prefFp16        {@code NSA_FA2_PREF_FP16}: that cast goes to fp16 (else bf16)
 * @param allowDGt128     {@code NSA_FA2_ALLOW_D_GT_128}: head dims up to 256 on SM 8.x
 * @param allowLargeBatch {@code NSA_FA2_ALLOW_LARGE_BATCH}: more than 1024 sequences
 * @param forceSm89       {@code NSA_FA2_FORCE}: FA-2 on SM 8.9, where the profile keeps it off
 */
public record Fa2Options(boolean allowFp32, boolean prefFp16, boolean allowDGt128, boolean allowLargeBatch,
                         boolean forceSm89) {
    private static final Fa2Options DEFAULTS = new Fa2Options(false, true, false, false, false);

    /** The built-in defaults: everything off except {@code prefFp16}. */
    public static Fa2Options defaults() {
        return DEFAULTS;
    }

    /** The dtype fp32 inputs are cast to when {@link #allowFp32()}: FP16 or BF16. */
    public DType castDType() {
        return prefFp16 ? DType.FP16 : DType.BF16;
    }
}
