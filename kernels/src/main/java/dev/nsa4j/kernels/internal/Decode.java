package dev.nsa4j.kernels.internal;

import java.util.List;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.tensor.DType;

/**
 * The GPU decode kernels (decode.cu): a step's launches on one stream, and the prefill fill. The caller (nsa-core's
 * {@code NsaGpuDecoder}) owns the cache tensors and plans their sizes; {@link #check} validates the sizes once, and
 * every launch here enqueues without a host synchronisation, so a step can be captured into a CUDA graph.
 *
 * <p>A step: {@link #append} (the new token into the caches, the compressed token it completes), {@link #attend}
 * of the compressed branch (o_cmp, lse_cmp), {@link #select} (the chosen blocks, unless the caller gave them),
 * {@link #attend} of the selected and window branches, the gate combine ({@link GateCombine}), then
 * {@link #advance} (every length + 1).
 *
 * <p>The tensor-core step (fp16 / bf16, the head dims of {@link TcModule#DECODE_HEAD_DIMS}) replaces each
 * {@link #attend} by {@link #split} (cuda-tc/decode_tc.cu: a branch split over its keys, all heads of a group in one
 * tile), {@link #select} by {@link #selectScores} (block importances from the scores the cmp split wrote), and the
 * gate combine and advance by {@link #finish} (the splits merged, then the combine and the lengths' advance).
 */
public final class Decode {
    /** Threads per block of the attention rows (one warp per (sequence, head)); the other kernels use 256. */
    public static final int ATTEND_BLOCK = 128;

    /** Blocks of an mlp launch at most (grid-stride beyond): a few waves of 40 KB-shared-memory blocks. */
    private static final int MLP_MAX_GRID = 4096;

    /** The branch an {@link #attend} launch computes. */
    public enum Branch {
        /** The compressed tokens (code 0 in the kernel's branch field). */
        CMP,
        /** The chosen blocks (1). */
        SEL,
        /** The window (2). */
        WIN
    }

    private static final List<DType> FLOATS = List.of(DType.FP32, DType.FP16, DType.BF16);

    private Decode() {
    }

    /**
     * Validates the sizes of a decode (no CUDA call).
     *
     * @throws NsaArgumentException naming the rule broken
     */
    public static void check(DType dtype, DecodeParams.Dims d) {
        Checks.dtype("k/v", dtype, FLOATS, "fp32, fp16 or bf16");
        Checks.nonNegative("decode", d.batch(), "B");
        for (int v : new int[]{d.heads(), d.kvHeads(), d.dk(), d.dv(), d.blockLen(), d.blockStride(), d.selBlock(),
                d.window(), d.tableStride()}) {
            if (v <= 0) {
                throw new NsaArgumentException("decode", "positive sizes", "got " + d);
            }
        }
        if (d.heads() % d.kvHeads() != 0) {
            throw new NsaArgumentException("decode", "H a multiple of G", "H = " + d.heads() + ", G = " + d.kvHeads());
        }
        if (d.nSel() < 3 || d.nSel() > 64) {
            throw new NsaArgumentException("n_sel", "3 <= n <= 64 (the decode scorer's top-n)", "n = " + d.nSel());
        }
        Attention.dimClass(d.dk(), d.dv());
        Checks.nonNegative("decode", d.pages(), "pages");
        Checks.nonNegative("decode", d.cmpCap(), "cmp_cap");
    }

    /** The step's token into the caches (and the compressed token it completes): one thread per (b, g, feature). */
    public static void append(KernelModule m, long stream, DType dtype, DecodeParams p) {
        DecodeParams.Dims d = p.dims();
        grid(m, stream, KernelCatalog.decode(dtype, "append"), (long) d.batch() * d.kvHeads() * maxDim(d), p);
    }

    /** The prefill's k/v rows ({@code [nnz, G, D]}, cu {@code [B + 1]}) into the pages and rings. */
    public static void fill(KernelModule m, long stream, DType dtype, DecodeParams p) {
        DecodeParams.Dims d = p.dims();
        grid(m, stream, KernelCatalog.decode(dtype, "fill"), (long) d.nnz() * d.kvHeads() * maxDim(d), p);
    }

    /** The prefill's compressed tokens from its k_cmp / v_cmp rows. */
    public static void fillCmp(KernelModule m, long stream, DType dtype, DecodeParams p) {
        DecodeParams.Dims d = p.dims();
        grid(m, stream, KernelCatalog.decode(dtype, "fill_cmp"),
                (long) d.batch() * d.cmpCap() * d.kvHeads() * maxDim(d), p);
    }

    /**
     * phi = mlp, after {@link #append}: the compressed tokens the step's tokens complete, K̃ by {@code k}'s weights
     * and Ṽ by {@code v}'s (one 256-thread block per (b, g); a sequence that completes none returns at once).
     */
    public static void mlpEmit(KernelModule m, long stream, DType dtype, DecodeParams p, CompressMlp.Weights k,
                               CompressMlp.Weights v) {
        mlp(m, stream, KernelCatalog.decode(dtype, "mlp_emit"), (long) p.dims().batch() * p.dims().kvHeads(), p, k, v);
    }

    /** phi = mlp, the prefill: every compressed token of the fill's k_cmp / v_cmp rows (one block per token, group). */
    public static void mlpFill(KernelModule m, long stream, DType dtype, DecodeParams p, CompressMlp.Weights k,
                               CompressMlp.Weights v) {
        DecodeParams.Dims d = p.dims();
        mlp(m, stream, KernelCatalog.decode(dtype, "mlp_fill"), (long) d.batch() * d.cmpCap() * d.kvHeads(), p, k, v);
    }

    private static void mlp(KernelModule m, long stream, KernelKey key, long items, DecodeParams p,
                            CompressMlp.Weights k, CompressMlp.Weights v) {
        if (!p.dims().phiMlp()) {
            throw new IllegalArgumentException("decode params without phi = mlp for " + key.symbol());
        }
        if (items == 0) {
            return;
        }
        KernelCatalog.require(key);
        int grid = (int) Math.min(items, MLP_MAX_GRID);
        byte[] params = p.toBytes();
        CompressMlp.Weights[] sides = {k, v};
        for (int which = 0; which < 2; which++) {
            m.launchSymbol(key.symbol(), grid, 1, 1, 256, 0, stream, params, int32(which), mlpWeights(sides[which]));
        }
    }

    /** nsa_mlp.cuh's MlpWeights: five fp32 pointers and hidden (48 bytes with the tail padding). */
    private static byte[] mlpWeights(CompressMlp.Weights w) {
        return java.nio.ByteBuffer.allocate(48).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(w.pos().address())
                .putLong(w.w1().address()).putLong(w.b1().address()).putLong(w.w2().address())
                .putLong(w.b2().address()).putInt(w.hidden()).array();
    }

    private static byte[] int32(int v) {
        return java.nio.ByteBuffer.allocate(4).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(v).array();
    }

    /** The chosen blocks of every sequence's query: one warp per (b, g). */
    public static void select(KernelModule m, long stream, DType dtype, DecodeParams p) {
        DecodeParams.Dims d = p.dims();
        grid(m, stream, KernelCatalog.decode(dtype, "select"), 32L * d.batch() * d.kvHeads(), p);
    }

    /** One branch of the step: one warp per (b, head). */
    public static void attend(KernelModule m, long stream, DType dtype, Branch branch, DecodeParams p) {
        DecodeParams.Dims d = p.dims();
        long rows = (long) d.batch() * d.heads();
        if (rows == 0) {
            return;
        }
        int warps = ATTEND_BLOCK / 32;
        KernelKey key = KernelCatalog.require(KernelCatalog.decodeAttend(dtype, Attention.dimClass(d.dk(), d.dv())));
        m.launch(key, (int) ((rows + warps - 1) / warps), ATTEND_BLOCK, stream, p.toBytes(branch.ordinal()));
    }

    /** Why the tensor-core step cannot serve {@code dtype} and these sizes, or {@code null} when it can. */
    public static String tcRefusal(DType dtype, DecodeParams.Dims d) {
        if (!TcModule.DTYPES.contains(dtype)) {
            return "dtype " + dtype + " (the tensor-core decode takes fp16 or bf16)";
        }
        if (d.heads() / d.kvHeads() > 256) {
            return "h = " + d.heads() / d.kvHeads() + " query heads per group (the tensor-core scorer takes <= 256)";
        }
        if (!TcModule.DECODE_HEAD_DIMS.contains(new TcModule.HeadDims(d.dk(), d.dv()))) {
            return "head dims (" + d.dk() + ", " + d.dv() + ") not compiled for the tensor-core decode "
                    + TcModule.DECODE_HEAD_DIMS;
        }
        return null;
    }

    /**
     * Branches {@code first .. first + count - 1} split over their keys ({@code p.split()}'s counts) on tensor cores:
     * one CTA per (split, sequence, group, 16-head chunk) writing its partial o / lse (and, for cmp, the scores).
     */
    public static void split(TcModule tc, long stream, DType dtype, Branch first, int count, DecodeParams p,
                             boolean exactP) {
        DecodeParams.Dims d = p.dims();
        int chunks = (d.heads() / d.kvHeads() + 15) / 16;
        int gy = d.batch() * d.kvHeads() * chunks;
        int gx = 0;
        for (int b = first.ordinal(); b < first.ordinal() + count; b++) {
            gx = Math.max(gx, p.split().of(Branch.values()[b]));
        }
        if (gy == 0 || gx == 0) {
            return;
        }
        tc.kernels().launchSymbol(TcModule.decodeSplitSymbol(dtype, d.dk(), d.dv(), exactP), gx, gy, count,
                TcGeometry.THREADS, TcGeometry.decodeSplitSmemBytes(d.dk(), d.dv()), stream,
                p.toBytes(first.ordinal()));
    }

    /**
     * The tensor-core step's last kernel: every branch's split partials merged (o_c / lse_c), the gate combine of
     * {@code gates} ({@code [B, H, 3]} in {@code gatesDtype}) into {@code out} ({@code [B, H, Dv]} in {@code outDtype}),
     * both contiguous device addresses, and every length + 1: one warp per (b, head) and branch, {@link #FINISH_ROWS}
     * rows per block.
     */
    public static void finish(KernelModule m, long stream, DType gatesDtype, long gates, DType outDtype, long out,
                              DecodeParams p) {
        DecodeParams.Dims d = p.dims();
        long rows = (long) d.batch() * d.heads();
        KernelKey key = KernelCatalog.require(KernelCatalog.decodeFinish(gatesDtype, outDtype));
        m.launchSymbol(key.symbol(), (int) Math.max(1, (rows + FINISH_ROWS - 1) / FINISH_ROWS), 1, 1,
                32 * 3 * FINISH_ROWS, 0, stream, p.toBytes(), pointer(gates), pointer(out));
    }

    /** (b, head) rows per block of {@link #finish} (kFinishRows of decode.cu): three warps each. */
    static final int FINISH_ROWS = 2;

    private static byte[] pointer(long address) {
        return java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(address).array();
    }

    /**
     * The chosen blocks from the cmp split's scores and partials (the group's lse_cmp merged first): one 256-thread
     * block per (b, g).
     */
    public static void selectScores(KernelModule m, long stream, DecodeParams p) {
        DecodeParams.Dims d = p.dims();
        int rows = d.batch() * d.kvHeads();
        if (rows > 0) {
            m.launch(KernelCatalog.require(KernelCatalog.decode(DType.FP32, KernelCatalog.DECODE_SELECT_SCORES)), rows,
                    256, stream, p.toBytes());
        }
    }

    /** Every cache length + 1 (the step's last launch). */
    public static void advance(KernelModule m, long stream, DecodeParams p) {
        grid(m, stream, KernelCatalog.decodeAdvance(), p.dims().batch(), p);
    }

    private static int maxDim(DecodeParams.Dims d) {
        return Math.max(d.dk(), d.dv());
    }

    private static void grid(KernelModule m, long stream, KernelKey key, long work, DecodeParams p) {
        if (work > 0) {
            m.launch(KernelCatalog.require(key), m.gridFor(work), stream, p.toBytes());
        }
    }
}
