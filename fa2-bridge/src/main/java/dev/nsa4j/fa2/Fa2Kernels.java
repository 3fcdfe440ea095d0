package dev.nsa4j.fa2;

import java.util.Locale;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.fa2.contract.Fa2Contract;
import dev.nsa4j.fa2.contract.HeadDims;
import dev.nsa4j.tensor.DType;

/**
 * The FA-2 kernel image's names and tile geometry (fa2_fwd.cu): symbols
 * {@code nsa_fa2_fwd_<mask>_<dtype>_dk<Dk>_dv<Dv>[_exact]} for every mask, fp16/bf16 and the compiled
 * (Dk, Dv) pairs ({@link Fa2Contract#COMPILED_DIMS}), and {@code nsa_fa2_combine_<dtype>}; the Hopper layout's
 * {@code nsa_fa2_hopper_<mask>_<dtype>_d128[_exact]} (fa2_hopper.cu, {@link Fa2Layout}).
 */
public final class Fa2Kernels {
    /** Threads per CTA (4 warps). */
    public static final int THREADS = 128;
    /** Keys per block of the inner loop. */
    public static final int BLOCK_N = 64;
    /** Ceiling on split-KV splits. */
    public static final int MAX_SPLITS = 64;

    private Fa2Kernels() {
    }

    /** The forward kernel's symbol; throws naming what is compiled when the pair is not. */
    public static String forward(Fa2Mask mask, DType dtype, int dk, int dv, boolean exactP) {
        requireCompiled(dtype, dk, dv);
        return "nsa_fa2_fwd_" + mask.symbolPart() + "_" + dtypeName(dtype) + "_dk" + dk + "_dv" + dv
                + (exactP ? "_exact" : "");
    }

    /** The Hopper layout's symbol ({@code nsa_fa2_hopper_<mask>_<dtype>_d128[_exact]}, fa2_hopper.cu). */
    public static String hopper(Fa2Mask mask, DType dtype, boolean exactP) {
        requireCompiled(dtype, Fa2Layout.HOPPER_DIM, Fa2Layout.HOPPER_DIM);
        return "nsa_fa2_hopper_" + mask.symbolPart() + "_" + dtypeName(dtype) + "_d" + Fa2Layout.HOPPER_DIM
                + (exactP ? "_exact" : "");
    }

    /** The split-KV combine kernel's symbol for output dtype family {@code dtype}. */
    public static String combine(DType dtype) {
        requireCompiled(dtype, -1, -1);
        return "nsa_fa2_combine_" + dtypeName(dtype);
    }

    /** Query rows per CTA: 128 for head dims up to 128, 64 above (fp32 accumulators must fit the registers). */
    public static int blockM(int dk, int dv) {
        return dk <= 128 && dv <= 128 ? 128 : 64;
    }

    /** Dynamic shared memory of one CTA: the Q tile, one K tile and one V tile, 2-byte elements. */
    public static int smemBytes(int dk, int dv) {
        return (blockM(dk, dv) * dk + BLOCK_N * dk + BLOCK_N * dv) * 2;
    }

    static String dtypeName(DType d) {
        return d.name().toLowerCase(Locale.ROOT);
    }

    private static void requireCompiled(DType dtype, int dk, int dv) {
        if (dtype != DType.FP16 && dtype != DType.BF16) {
            throw new NsaArgumentException("q", "FA-2 kernels take fp16 or bf16", "dtype " + dtype);
        }
        if (dk >= 0 && !Fa2Contract.COMPILED_DIMS.contains(new HeadDims(dk, dv))) {
            throw new NsaArgumentException("q", "(Dk, Dv) is one of the compiled pairs " + Fa2Contract.COMPILED_DIMS,
                    "Dk = " + dk + ", Dv = " + dv);
        }
    }
}
