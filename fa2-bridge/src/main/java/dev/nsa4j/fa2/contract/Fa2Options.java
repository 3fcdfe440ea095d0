package dev.nsa4j.fa2.contract;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.tensor.DType;

/**
 * The flags that relax the FA-2 contract or pick its kernel layout (docs/routing.md, "Flags"); nsa-core reads them
 * from its flag snapshot.
 *
 * @param allowFp32       {@code NSA_FA2_ALLOW_FP32}: fp32 inputs pass the dtype rule and are cast first
 * @param prefFp16        {@code NSA_FA2_PREF_FP16}: that cast goes to fp16 (else bf16)
 * @param allowDGt128     {@code NSA_FA2_ALLOW_D_GT_128}: head dims up to 256 on SM 8.x
 * @param allowLargeBatch {@code NSA_FA2_ALLOW_LARGE_BATCH}: more than 1024 sequences
 * @param forceSm89       {@code NSA_FA2_FORCE}: FA-2 on SM 8.9, where the profile keeps it off
 * @param hopper          {@code NSA_USE_WGMMA}: the Hopper layout (fa2_hopper.cu) on SM 9.0 where it serves the call
 * @param hopperMinKeys   {@code NSA_FA2_HOPPER_MIN_KEYS}: the fewest keys a query row may see (the window, else the
 *                        longest key sequence) for the Hopper layout; below it the mma.sync kernels run
 */
public record Fa2Options(boolean allowFp32, boolean prefFp16, boolean allowDGt128, boolean allowLargeBatch,
                         boolean forceSm89, boolean hopper, int hopperMinKeys) {
    /** The Hopper layout's default key threshold (H200: it loses to mma.sync at 255 compressed keys, wins from 512). */
    public static final int HOPPER_MIN_KEYS = 512;
    private static final Fa2Options DEFAULTS = new Fa2Options(false, true, false, false, false);

    public Fa2Options {
        if (hopperMinKeys < 0) {
            throw new NsaArgumentException("NSA_FA2_HOPPER_MIN_KEYS", "an integer >= 0", "got " + hopperMinKeys);
        }
    }

    /** The contract flags with the Hopper layout on at its default threshold. */
    public Fa2Options(boolean allowFp32, boolean prefFp16, boolean allowDGt128, boolean allowLargeBatch,
                      boolean forceSm89) {
        this(allowFp32, prefFp16, allowDGt128, allowLargeBatch, forceSm89, true, HOPPER_MIN_KEYS);
    }

    /** The built-in defaults: every relaxation off except {@code prefFp16}; the Hopper layout on. */
    public static Fa2Options defaults() {
        return DEFAULTS;
    }

    /** These options with the Hopper layout switched ({@code on}) and its key threshold. */
    public Fa2Options withHopper(boolean on, int minKeys) {
        return new Fa2Options(allowFp32, prefFp16, allowDGt128, allowLargeBatch, forceSm89, on, minKeys);
    }

    /** The dtype fp32 inputs are cast to when {@link #allowFp32()}: FP16 or BF16. */
    public DType castDType() {
        return prefFp16 ? DType.FP16 : DType.BF16;
    }
}
