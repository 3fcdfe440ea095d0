package dev.nsa4j.kernels.internal;

import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.Mask;
import java.util.List;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.tensor.DType;

/**
 * GPU reference attention for every NSA branch (docs/routing.md paths {@code sdpa} = {@link AttnWalk#ALL} and
 * {@code sdpa-masked} = {@link AttnWalk#RANGES}): masked softmax attention, one warp per (query, head), fp32
 * online softmax over the visible keys in ascending position; obviously right and slow by design.
 *
 * <p>Shapes (varlen, FlashAttention's layout): {@code q [nnz_q, H, Dk]}, {@code k [nnz_k, G, Dk]},
 * {@code v [nnz_k, G, Dv]}, {@code out [nnz_q, H, Dv]}, {@code lse} fp32 {@code [nnz_q, H]} or {@code null};
 * {@code cu_q}, {@code cu_k} int32 {@code [B + 1]}; optional {@code q_start}, {@code k_start} int32 {@code [B]}
 * (position of each sequence's first query / key; {@code null} = 0, e.g. a decode step passes its position);
 * {@code blocks} int32 {@code [nnz_q, G, n]} for {@link Mask.Chosen}. q, k and v share one of
 * fp32/fp16/bf16; {@code out} is that dtype or fp32. Query head {@code i} reads KV head {@code i / (H/G)}.
 * Dk and Dv are at most 256. Token and head axes may be strided; the last axis must be contiguous. For
 * {@link Mask.BlockCausal} the keys are the compressed tokens and {@code cu_k} holds compressed
 * offsets. Rows with no visible key give {@code 0} and {@code lse = −inf}, never NaN. Deterministic.
 *
 * <p><b>Device arrays are trusted.</b> {@link #plan} checks shapes, dtypes, strides, alignment and the
 * scalars without touching CUDA, but it cannot read device memory: the values of {@code cu_q}, {@code cu_k},
 * {@code q_start}, {@code k_start} (monotone, {@code cu[0] = 0}, {@code cu_q[B] = nnz_q}, {@code cu_k[B] <= nnz_k})
 * are the caller's responsibility at this level. The NSA layer validates them host-side before it calls
 * here; a raw caller passing inconsistent arrays gets undefined results (out-of-bounds reads). Block indices
 * are safe: any index reads only keys of its own sequence.
 */
public final class Attention {
    /** Threads per block of the attention kernels ({@code __launch_bounds__}); one warp per (query, head). */
    public static final int BLOCK = 128;
    /** (query, head) rows per block. */
    public static final int ROWS_PER_BLOCK = BLOCK / 32;
    /** Largest Dk and Dv served. */
    public static final int MAX_HEAD_DIM = 256;

    private static final List<DType> FLOATS = List.of(DType.FP32, DType.FP16, DType.BF16);
    private static final List<DType> INT32 = List.of(DType.INT32);

    private Attention() {
    }

    /** A validated launch: the kernel, its params, the (query, head) rows and the output dtype. */
    public record Launch(KernelKey key, AttnParams params, long rows) {
        /** Blocks of {@link #BLOCK} threads. */
        public int grid() {
            return (int) ((rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK);
        }
    }

    /** Validates and enqueues on {@code stream} (sequences start at position 0). */
    public static void run(KernelModule module, CudaStream stream, DeviceTensor q, DeviceTensor k, DeviceTensor v,
                           DeviceTensor cuQ, DeviceTensor cuK, DeviceTensor blocks, AttnSpec spec, DeviceTensor out,
                           DeviceTensor lse) {
        enqueue(module, stream.handle(), plan(q, k, v, cuQ, cuK, null, null, blocks, spec, out, lse));
    }

    /** Validates and enqueues on {@code stream}, with per-sequence start positions ({@code null} = 0). */
    public static void run(KernelModule module, CudaStream stream, DeviceTensor q, DeviceTensor k, DeviceTensor v,
                           DeviceTensor cuQ, DeviceTensor cuK, DeviceTensor qStart, DeviceTensor kStart,
                           DeviceTensor blocks, AttnSpec spec, DeviceTensor out, DeviceTensor lse) {
        enqueue(module, stream.handle(), plan(q, k, v, cuQ, cuK, qStart, kStart, blocks, spec, out, lse));
    }

    /**
     * Raw-pointer entry (interop): validates {@code p} for input dtype {@code dtype} (the output dtype is
     * fp32 when {@code p.outFp32() == 1}, else {@code dtype}), then enqueues on a raw stream.
     */
    public static void launch(KernelModule module, long stream, AttnParams p, DType dtype) {
        enqueue(module, stream, plan(p, dtype));
    }

    private static void enqueue(KernelModule module, long stream, Launch l) {
        if (l.rows() > 0) {
            module.launch(l.key(), l.grid(), BLOCK, stream, l.params().toBytes());
        }
    }

    /** Smallest dim class {@code n} (1, 2, 4, 8) with {@code 32·n >= max(dk, dv)}. */
    public static int dimClass(int dk, int dv) {
        int need = Math.max(dk, dv);
        for (int n : KernelCatalog.ATTENTION_DIM_CLASSES) {
            if (32 * n >= need) {
                return n;
            }
        }
        throw new NsaArgumentException("q", "Dk and Dv <= " + MAX_HEAD_DIM, "max(Dk, Dv) is " + need);
    }

    /** Validates device tensors (no CUDA call) and picks the kernel; sequences start at position 0. */
    public static Launch plan(DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor cuQ, DeviceTensor cuK,
                              DeviceTensor blocks, AttnSpec spec, DeviceTensor out, DeviceTensor lse) {
        return plan(q, k, v, cuQ, cuK, null, null, blocks, spec, out, lse);
    }

    /** Validates device tensors (no CUDA call) and picks the kernel. */
    public static Launch plan(DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor cuQ, DeviceTensor cuK,
                              DeviceTensor qStart, DeviceTensor kStart, DeviceTensor blocks, AttnSpec spec,
                              DeviceTensor out, DeviceTensor lse) {
        if (spec == null) {
            throw new NsaArgumentException("spec", "spec present", "attention spec (mask, walk) is null");
        }
        Checks.rank("q", q, 3, "[nnz_q, H, Dk]");
        Checks.rank("k", k, 3, "[nnz_k, G, Dk]");
        Checks.rank("v", v, 3, "[nnz_k, G, Dv]");
        Checks.rank("out", out, 3, "[nnz_q, H, Dv]");
        Checks.rank("cu_q", cuQ, 1, "[B + 1]");
        Checks.rank("cu_k", cuK, 1, "[B + 1]");
        DType in = q.dtype();
        Checks.dtype("q", in, FLOATS, "fp32, fp16 or bf16");
        Checks.dtype("k", k.dtype(), List.of(in), "same dtype as q");
        Checks.dtype("v", v.dtype(), List.of(in), "same dtype as q");
        Checks.dtype("out", out.dtype(), KernelCatalog.outputs(in), "out in the input dtype or fp32");
        int nnzQ = q.dim(0), heads = q.dim(1), dk = q.dim(2);
        int nnzK = k.dim(0), kvHeads = k.dim(1), dv = v.dim(2);
        Checks.dim("k", k, 2, dk, "k [nnz_k, G, Dk] with Dk of q");
        Checks.dim("v", v, 0, nnzK, "v [nnz_k, G, Dv] with nnz_k of k");
        Checks.dim("v", v, 1, kvHeads, "v [nnz_k, G, Dv] with G of k");
        Checks.dim("out", out, 0, nnzQ, "out [nnz_q, H, Dv] with nnz_q of q");
        Checks.dim("out", out, 1, heads, "out [nnz_q, H, Dv] with H of q");
        Checks.dim("out", out, 2, dv, "out [nnz_q, H, Dv] with Dv of v");
        Checks.lastAxisContiguous("q", q.shape());
        Checks.lastAxisContiguous("k", k.shape());
        Checks.lastAxisContiguous("v", v.shape());
        Checks.lastAxisContiguous("out", out.shape());
        Checks.dtype("cu_q", cuQ.dtype(), INT32, "int32");
        Checks.dtype("cu_k", cuK.dtype(), INT32, "int32");
        Checks.contiguous("cu_q", cuQ.shape());
        Checks.contiguous("cu_k", cuK.shape());
        Checks.positive("cu_q", cuQ.dim(0), "B + 1");
        Checks.dim("cu_k", cuK, 0, cuQ.dim(0), "cu_k [B + 1] with the B of cu_q");
        int batch = cuQ.dim(0) - 1;
        long lseAddr = 0, lseTok = 0;
        if (lse != null) {
            Checks.rank("lse", lse, 2, "[nnz_q, H]");
            Checks.dtype("lse", lse.dtype(), List.of(DType.FP32), "fp32");
            Checks.dim("lse", lse, 0, nnzQ, "lse [nnz_q, H] with nnz_q of q");
            Checks.dim("lse", lse, 1, heads, "lse [nnz_q, H] with H of q");
            Checks.lastAxisContiguous("lse", lse.shape());
            lseAddr = lse.address();
            lseTok = lse.stride(0);
        }
        long qs = starts("q_start", qStart, batch);
        long ks = starts("k_start", kStart, batch);
        long blkAddr = 0, blkTok = 0, blkHead = 0;
        int nSel = 0;
        if (spec.chosenBlocks()) {
            if (blocks == null) {
                throw new NsaArgumentException("blocks", "blocks present for the chosen-block mask",
                        "mask CHOSEN needs blocks int32 [nnz_q, G, n]");
            }
            Checks.rank("blocks", blocks, 3, "[nnz_q, G, n]");
            Checks.dtype("blocks", blocks.dtype(), INT32, "int32");
            Checks.dim("blocks", blocks, 0, nnzQ, "blocks [nnz_q, G, n] with nnz_q of q");
            Checks.dim("blocks", blocks, 1, kvHeads, "blocks [nnz_q, G, n] with G of k");
            Checks.lastAxisContiguous("blocks", blocks.shape());
            blkAddr = blocks.address();
            blkTok = blocks.stride(0);
            blkHead = blocks.stride(1);
            nSel = blocks.dim(2);
        }
        AttnParams p = new AttnParams(q.address(), k.address(), v.address(), out.address(), lseAddr,
                cuQ.address(), cuK.address(), qs, ks, blkAddr,
                q.stride(0), q.stride(1), k.stride(0), k.stride(1), v.stride(0), v.stride(1),
                out.stride(0), out.stride(1), lseTok, blkTok, blkHead,
                nnzQ, batch, heads, kvHeads, dk, dv, spec.mask().code(), spec.walk().code(),
                spec.window(), spec.cmpLen(), spec.cmpStride(), spec.selBlock(), nSel,
                out.dtype() == DType.FP32 && in != DType.FP32 ? 1 : 0, spec.scaleFor(dk));
        return plan(p, in, nnzK);
    }

    private static long starts(String name, DeviceTensor t, int batch) {
        if (t == null) {
            return 0;
        }
        Checks.rank(name, t, 1, "[B]");
        Checks.dtype(name, t.dtype(), INT32, "int32");
        Checks.contiguous(name, t.shape());
        Checks.dim(name, t, 0, batch, name + " [B] with the B of cu_q");
        if (batch > 0) {
            Checks.pointer(name, t.address(), DType.INT32);
        }
        return t.address();
    }

    /**
     * Validates raw params (no CUDA call) and picks the kernel. {@code dtype} is the dtype of q, k and v; the
     * output is fp32 when {@code p.outFp32() == 1}.
     */
    public static Launch plan(AttnParams p, DType dtype) {
        return plan(p, dtype, -1);
    }

    /** {@code nnzK}: rows of k and v when known (-1 from raw params: then k and v must be non-null). */
    private static Launch plan(AttnParams p, DType in, int nnzK) {
        Checks.dtype("q", in, FLOATS, "fp32, fp16 or bf16");
        if (p.outFp32() != 0 && p.outFp32() != 1) {
            throw new NsaArgumentException("out", "out_fp32 is 0 or 1", "out_fp32 is " + p.outFp32());
        }
        DType outDtype = p.outFp32() == 1 ? DType.FP32 : in;
        AttnMask mask = AttnMask.ofCode(p.mask());
        if (mask == null) {
            throw new NsaArgumentException("mask", "mask is one of NONE, CAUSAL, WINDOW, BLOCK_CAUSAL, CHOSEN (0..4)",
                    "mask code " + p.mask());
        }
        AttnWalk walk = AttnWalk.ofCode(p.walk());
        if (walk == null) {
            throw new NsaArgumentException("walk", "walk is ALL or RANGES (0, 1)", "walk code " + p.walk());
        }
        Checks.nonNegative("q", p.nnzQ(), "nnz_q");
        Checks.nonNegative("cu_q", p.batch(), "B");
        Checks.positive("q", p.heads(), "H");
        Checks.positive("k", p.kvHeads(), "G");
        if (p.heads() % p.kvHeads() != 0) {
            throw new NsaArgumentException("k", "H % G == 0 (query heads a multiple of KV heads)",
                    "H = " + p.heads() + ", G = " + p.kvHeads());
        }
        Checks.positive("q", p.dk(), "Dk");
        Checks.positive("v", p.dv(), "Dv");
        if (p.dk() > MAX_HEAD_DIM || p.dv() > MAX_HEAD_DIM) {
            throw new NsaArgumentException(p.dk() > MAX_HEAD_DIM ? "q" : "v", "Dk and Dv <= " + MAX_HEAD_DIM,
                    "Dk = " + p.dk() + ", Dv = " + p.dv());
        }
        switch (mask) {
            case WINDOW -> Checks.positive("window", p.window(), "window w");
            case BLOCK_CAUSAL -> {
                Checks.positive("cmp_len", p.cmpLen(), "compression block length l");
                Checks.positive("cmp_stride", p.cmpStride(), "compression stride d");
            }
            case CHOSEN -> {
                Checks.positive("sel_block", p.selBlock(), "selection block length l'");
                Checks.positive("blocks", p.nSel(), "blocks per row n");
                if (p.blocks() == 0L && p.nnzQ() > 0) {
                    throw new NsaArgumentException("blocks", "blocks present for the chosen-block mask",
                            "mask CHOSEN needs blocks int32 [nnz_q, G, n]; the pointer is null");
                }
            }
            default -> {
            }
        }
        if (!Float.isFinite(p.scale())) {
            throw new NsaArgumentException("scale", "scale finite", "scale is " + p.scale());
        }
        for (long s : new long[]{p.qTokStride(), p.qHeadStride(), p.kTokStride(), p.kHeadStride(), p.vTokStride(),
                p.vHeadStride(), p.oTokStride(), p.oHeadStride(), p.lseTokStride(), p.blocksTokStride(),
                p.blocksHeadStride()}) {
            Checks.nonNegative("strides", s, "stride");
        }
        KernelKey key = KernelCatalog.attention(in, dimClass(p.dk(), p.dv()));
        long rows = (long) p.nnzQ() * p.heads();
        if (rows == 0) {
            return new Launch(key, p, 0);
        }
        if ((rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK > Integer.MAX_VALUE) {
            throw new NsaArgumentException("q", "nnz_q·H / 4 fits a grid (< 2^31 blocks)", "nnz_q·H = " + rows);
        }
        Checks.pointer("q", p.q(), in);
        if (nnzK != 0) {
            Checks.pointer("k", p.k(), in);
            Checks.pointer("v", p.v(), in);
        }
        Checks.pointer("out", p.o(), outDtype);
        if (p.lse() != 0L) {
            Checks.pointer("lse", p.lse(), DType.FP32);
        }
        Checks.pointer("cu_q", p.cuQ(), DType.INT32);
        Checks.pointer("cu_k", p.cuK(), DType.INT32);
        if (p.qStart() != 0L) {
            Checks.pointer("q_start", p.qStart(), DType.INT32);
        }
        if (p.kStart() != 0L) {
            Checks.pointer("k_start", p.kStart(), DType.INT32);
        }
        if (mask == AttnMask.CHOSEN) {
            Checks.pointer("blocks", p.blocks(), DType.INT32);
        }
        return new Launch(key, p, rows);
    }
}
