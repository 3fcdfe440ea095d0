package dev.nsa4j.kernels.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

import dev.nsa4j.kernels.CudaContext;
import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.tensor.DType;

/**
 * The tensor-core kernel image (the selection kernel {@code sel-kernel} and the block scorer, built by nvcc from
 * {@code kernels/src/main/cuda-tc} into the classpath resource {@link #RESOURCE}, SASS sm_80 and sm_90a only, like
 * FA-2's image) loaded into one context, and the symbols it holds. Without nvcc at build time the resource is absent
 * and both report {@link #NOT_BUILT}. Launch geometry is {@link TcGeometry}'s.
 */
public final class TcModule implements AutoCloseable {
    public static final String RESOURCE = "/dev/nsa4j/kernels/nsa4j-tc.fatbin";
    public static final String NOT_BUILT = "tensor-core kernels not built";

    /** A (Dk, Dv) pair the selection kernel is compiled for. */
    public record HeadDims(int dk, int dv) {
        @Override
        public String toString() {
            return "(" + dk + ", " + dv + ")";
        }
    }

    /** The selection kernel's (Dk, Dv) pairs ({@code NSA_SEL_KERNEL_DTYPES} in sel_attention.cu). */
    public static final List<HeadDims> SEL_HEAD_DIMS = List.of(new HeadDims(64, 64), new HeadDims(128, 128),
            new HeadDims(192, 128), new HeadDims(256, 256));
    /** The TMA layout's (Dk, Dv) pairs ({@code NSA_SEL_TMA_DTYPES} in sel_tma.cu; SM 9.0 only). */
    public static final List<HeadDims> SEL_TMA_HEAD_DIMS = List.of(new HeadDims(64, 64), new HeadDims(128, 128),
            new HeadDims(192, 128));
    /** The block scorers' Dk ({@code NSA_SCORE_KERNELS} in score_common.cuh). */
    public static final List<Integer> SCORE_HEAD_DIMS = List.of(64, 128, 192, 256);
    /**
     * The key-row scorer's head dims ({@code cuda-tc/block_score_kr.cu}; SM 9.0 only), each compiled for
     * {@link TcGeometry#SCORE_KR_HEADS}.
     */
    public static final List<Integer> SCORE_KR_HEAD_DIMS = List.of(128);
    /** The GPU decode split kernel's (Dk, Dv) pairs ({@code NSA_DECODE_SPLIT_DTYPES} in decode_tc.cu). */
    public static final List<HeadDims> DECODE_HEAD_DIMS = List.of(new HeadDims(64, 64), new HeadDims(128, 128),
            new HeadDims(192, 128));
    /** The dtypes of q, k and v (and K̃) both families are compiled for. */
    public static final List<DType> DTYPES = List.of(DType.BF16, DType.FP16);

    private static volatile Optional<byte[]> cached;

    private final KernelModule module;

    private TcModule(KernelModule module) {
        this.module = module;
    }

    /** The image's bytes (shared; do not modify), or empty when the kernels were not built. */
    public static Optional<byte[]> image() {
        Optional<byte[]> c = cached;
        if (c == null) {
            c = KernelImage.resource(TcModule.class, RESOURCE);
            cached = c;
        }
        return c;
    }

    /** True when the resource is on the classpath. */
    public static boolean isBuilt() {
        return image().isPresent();
    }

    /**
     * Why the image cannot run on {@code device}, or {@code null} when it can: its SASS is sm_80 (runs on every
     * 8.x) and sm_90a (runs on 9.0 only), with no PTX to compile for anything else.
     */
    public static String unsupportedReason(DeviceInfo device) {
        boolean runs = device.ccMajor() == 8 || (device.ccMajor() == 9 && device.ccMinor() == 0);
        if (runs) {
            return null;
        }
        String cc = "compute capability " + device.ccMajor() + "." + device.ccMinor() + " of " + device.name();
        return device.sm() < KernelImage.MIN_SM ? cc + " is below 8.0, the tensor-core kernels' minimum"
                : cc + ": the tensor-core kernel image holds SASS for sm_80 (8.x) and sm_90a (9.0) only";
    }

    /**
     * Loads the image into {@code context}.
     *
     * @throws IllegalStateException            when the image was not built or cannot run on the device
     * @throws dev.nsa4j.kernels.CudaException when the driver rejects it
     */
    public static TcModule load(CudaContext context) {
        byte[] img = image().orElseThrow(() -> new IllegalStateException(NOT_BUILT + ": the classpath has no "
                + RESOURCE + " (nvcc was missing when nsa4j was built)"));
        String why = unsupportedReason(context.device());
        if (why != null) {
            throw new IllegalStateException(why);
        }
        return new TcModule(KernelModule.loadImage(context, RESOURCE, img));
    }

    /** The loaded module (launch by symbol, {@link KernelModule#launchSymbol}). */
    public KernelModule kernels() {
        return module;
    }

    /** The device the image is loaded on. */
    public DeviceInfo device() {
        return module.context().device();
    }

    /** {@code nsa_sel_kernel_<dtype>_dk<Dk>_dv<Dv>[_exact]}. */
    public static String selKernelSymbol(DType dtype, int dk, int dv, boolean exactP) {
        return "nsa_sel_kernel_" + dtypeName(dtype) + "_dk" + dk + "_dv" + dv + (exactP ? "_exact" : "");
    }

    /** {@code nsa_sel_union_<dtype>_dk<Dk>_dv<Dv>[_exact]}: sel-kernel's union layout. */
    public static String selUnionSymbol(DType dtype, int dk, int dv, boolean exactP) {
        return "nsa_sel_union_" + dtypeName(dtype) + "_dk" + dk + "_dv" + dv + (exactP ? "_exact" : "");
    }

    /**
     * {@code nsa_sel_tma_<dtype>_dk<Dk>_dv<Dv>[_exact]}: sel-kernel's TMA layout, built for SM 9.0 only (its SM 8.x
     * symbols trap; {@code SelLayout} never picks it there).
     */
    public static String selTmaSymbol(DType dtype, int dk, int dv, boolean exactP) {
        return "nsa_sel_tma_" + dtypeName(dtype) + "_dk" + dk + "_dv" + dv + (exactP ? "_exact" : "");
    }

    /** {@code nsa_block_score_<dtype>_dk<Dk>} (compiled with {@link TcGeometry#SCORE_TOKENS_PER_WARP}). */
    public static String blockScoreSymbol(DType dtype, int dk) {
        return "nsa_block_score_" + dtypeName(dtype) + "_dk" + dk;
    }

    /**
     * {@code nsa_block_score_wg_bf16_dk128}: the Hopper (warpgroup MMA) block scorer, built for SM 9.0 only (its
     * SM 8.x symbol traps; {@code ScoreLayout} never picks it there).
     */
    public static String blockScoreWgSymbol(DType dtype, int dk) {
        return "nsa_block_score_wg_" + dtypeName(dtype) + "_dk" + dk;
    }

    /**
     * {@code nsa_block_score_kr_bf16_dk128_h16}: the key-row Hopper block scorer for h &lt;= {@code heads} query heads
     * per group, built for SM 9.0 only (its SM 8.x symbols trap; {@code ScoreLayout} never picks it there).
     */
    public static String blockScoreKrSymbol(DType dtype, int dk, int heads) {
        return "nsa_block_score_kr_" + dtypeName(dtype) + "_dk" + dk + "_h" + heads;
    }

    /** {@code nsa_decode_split_<dtype>_dk<Dk>_dv<Dv>[_exact]}: one branch of a GPU decode step, split over its keys. */
    public static String decodeSplitSymbol(DType dtype, int dk, int dv, boolean exactP) {
        return "nsa_decode_split_" + dtypeName(dtype) + "_dk" + dk + "_dv" + dv + (exactP ? "_exact" : "");
    }

    /** Every symbol nsa4j launches from this image. */
    public static List<String> symbols() {
        List<String> s = new ArrayList<>();
        for (DType d : DTYPES) {
            for (HeadDims hd : SEL_HEAD_DIMS) {
                s.add(selKernelSymbol(d, hd.dk(), hd.dv(), false));
                s.add(selKernelSymbol(d, hd.dk(), hd.dv(), true));
                s.add(selUnionSymbol(d, hd.dk(), hd.dv(), false));
                s.add(selUnionSymbol(d, hd.dk(), hd.dv(), true));
            }
            for (HeadDims hd : SEL_TMA_HEAD_DIMS) {
                s.add(selTmaSymbol(d, hd.dk(), hd.dv(), false));
                s.add(selTmaSymbol(d, hd.dk(), hd.dv(), true));
            }
            for (int dk : SCORE_HEAD_DIMS) {
                s.add(blockScoreSymbol(d, dk));
                s.add(blockScoreWgSymbol(d, dk));
            }
            for (HeadDims hd : DECODE_HEAD_DIMS) {
                s.add(decodeSplitSymbol(d, hd.dk(), hd.dv(), false));
                s.add(decodeSplitSymbol(d, hd.dk(), hd.dv(), true));
            }
            for (int dk : SCORE_KR_HEAD_DIMS) {
                for (int heads : TcGeometry.SCORE_KR_HEADS) {
                    s.add(blockScoreKrSymbol(d, dk, heads));
                }
            }
        }
        return List.copyOf(s);
    }

    /** {@code bf16}, {@code fp16}. */
    public static String dtypeName(DType d) {
        return d.name().toLowerCase(Locale.ROOT);
    }

    @Override
    public void close() {
        module.close();
    }
}
