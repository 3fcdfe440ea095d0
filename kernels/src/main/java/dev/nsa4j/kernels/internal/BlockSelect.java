package dev.nsa4j.kernels.internal;

import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceTensor;
import java.util.List;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.tensor.DType;

/**
 * Block selection on the device (the NSA spec (docs/nsa-spec.md) "Selection branch"), varlen: for every query token t and KV group
 * g, the overlap-weighted block importance from the compressed branch's probabilities
 * {@code p = exp(scale·q·K̃ − lse)}, summed over the group's heads in fp32 in a fixed order (heads ascending,
 * then compressed tokens ascending), then the chosen set: all candidates {@code 0..t/l'} when there are at
 * most n, else the forced blocks {@code {0, cur − 1, cur}} plus the n − 3 best remaining by fp32 score, ties
 * to the lower index. Written sorted ascending, −1 padded, as int32 {@code [nnz, G, n]}.
 *
 * <p>Shapes: {@code q} {@code [nnz, H, Dk]} (fp32/fp16/bf16); {@code k_cmp} {@code [nnz_cmp, G, Dk]} in q's dtype
 * (the compressed keys, e.g. from {@link CompressAvg}); {@code lse} fp32 {@code [nnz, H]} (natural log, of the
 * compressed branch; any value where no compressed token is visible); {@code cu_seqlens}/{@code cu_seqlens_cmp}
 * int32 {@code [B + 1]} matching the {@link CompressionPlan}; {@code indices} int32 {@code [nnz, G, n]};
 * {@code scores} (optional) fp32 {@code [nnz, G, nb]} with {@code nb >= } {@link #maxBlocks}: the score of every
 * candidate block j ≤ t/l' (also for rows that take all candidates) and −inf for the columns past it.
 * The last axis of q, k_cmp, indices and scores is contiguous; other strides are free. Limits: 3 ≤ n ≤
 * {@link #MAX_N}; any number of blocks (the per-row working set is constant). Deterministic (no atomics).
 */
public final class BlockSelect {
    /** The largest n the kernel supports ({@code NSA_SELECT_MAX_N} in block_select.cu). */
    public static final int MAX_N = 64;
    /** Threads per (token, group) row: one warp. */
    static final int THREADS_PER_ROW = 32;
    private static final List<DType> FLOATS = List.of(DType.FP32, DType.FP16, DType.BF16);

    private BlockSelect() {
    }

    /** A validated launch; {@code work} is the number of threads (0: nothing to launch). */
    public record Launch(KernelKey key, BlockSelectParams params, long work) {
    }

    /** nb_max: the most selection blocks of any sequence, max over b of ⌈len_b / l'⌉. */
    public static int maxBlocks(CompressionPlan plan, int selBlock) {
        Checks.positive("l'", selBlock, "selection block length l'");
        int[] cu = plan.cuSeqlens();
        int nb = 0;
        for (int b = 0; b + 1 < cu.length; b++) {
            int len = cu[b + 1] - cu[b];
            nb = Math.max(nb, (int) ((len + (long) selBlock - 1) / selBlock));
        }
        return nb;
    }

    /** Validates and enqueues on {@code stream}, with the plan's cu arrays already on the device. */
    public static void run(KernelModule module, CudaStream stream, DeviceTensor q, DeviceTensor kCmp, DeviceTensor lse,
                           DeviceTensor cuSeqlens, DeviceTensor cuSeqlensCmp, CompressionPlan plan, int selBlock,
                           int nSel, float scale, DeviceTensor indices, DeviceTensor scores) {
        enqueue(module, stream.handle(),
                plan(q, kCmp, lse, cuSeqlens, cuSeqlensCmp, plan, selBlock, nSel, scale, indices, scores));
    }

    /**
     * Validates, uploads the plan's cu arrays (stream-ordered, freed stream-ordered after the launch) and
     * enqueues on {@code stream}. {@code scores} may be null.
     */
    public static void run(KernelModule module, CudaStream stream, DeviceTensor q, DeviceTensor kCmp, DeviceTensor lse,
                           CompressionPlan plan, int selBlock, int nSel, float scale, DeviceTensor indices,
                           DeviceTensor scores) {
        if (plan == null) {
            throw new NsaArgumentException("plan", "plan present", "compression plan is null");
        }
        DeviceTensor probe = plan.offsetsPlaceholder();
        if (plan(q, kCmp, lse, probe, probe, plan, selBlock, nSel, scale, indices, scores).work() == 0) {
            return;   // validated, nothing to launch
        }
        try (CompressionPlan.DeviceOffsets o = plan.upload(stream)) {
            run(module, stream, q, kCmp, lse, o.cu(), o.cuCmp(), plan, selBlock, nSel, scale, indices, scores);
        }
    }

    /** Raw-pointer entry (interop): validates {@code p}, then enqueues on a raw stream. */
    public static void launch(KernelModule module, long stream, BlockSelectParams p, DType in) {
        enqueue(module, stream, plan(p, in));
    }

    private static void enqueue(KernelModule module, long stream, Launch l) {
        if (l.work() > 0) {
            module.launch(l.key(), module.gridFor(l.work()), stream, l.params().toBytes());
        }
    }

    /** Validates device tensors against the plan (no CUDA call) and picks the kernel. */
    public static Launch plan(DeviceTensor q, DeviceTensor kCmp, DeviceTensor lse, DeviceTensor cuSeqlens,
                              DeviceTensor cuSeqlensCmp, CompressionPlan plan, int selBlock, int nSel, float scale,
                              DeviceTensor indices, DeviceTensor scores) {
        if (plan == null) {
            throw new NsaArgumentException("plan", "plan present", "compression plan is null");
        }
        checkConfig(plan.blockLen(), plan.blockStride(), selBlock, nSel, scale);
        Checks.rank("q", q, 3, "[nnz, H, Dk]");
        Checks.rank("k_cmp", kCmp, 3, "[nnz_cmp, G, Dk]");
        Checks.rank("lse", lse, 2, "[nnz, H]");
        Checks.rank("cu_seqlens", cuSeqlens, 1, "[B + 1]");
        Checks.rank("cu_seqlens_cmp", cuSeqlensCmp, 1, "[B + 1]");
        Checks.rank("indices", indices, 3, "[nnz, G, n]");
        if (scores != null) {
            Checks.rank("scores", scores, 3, "[nnz, G, nb]");
        }
        int heads = q.dim(1);
        int groups = kCmp.dim(1);
        Checks.dim("q", q, 0, plan.nnz(), "q has cu_seqlens[B] rows");
        Checks.dim("k_cmp", kCmp, 0, plan.nnzCmp(), "k_cmp has cu_seqlens_cmp[B] rows (S_cmp summed over sequences)");
        Checks.dim("k_cmp", kCmp, 2, q.dim(2), "k_cmp has the Dk of q");
        Checks.dim("lse", lse, 0, plan.nnz(), "lse has cu_seqlens[B] rows");
        Checks.dim("lse", lse, 1, heads, "lse has the H of q");
        Checks.dim("cu_seqlens", cuSeqlens, 0, plan.batch() + 1, "cu_seqlens has B + 1 entries of the plan");
        Checks.dim("cu_seqlens_cmp", cuSeqlensCmp, 0, plan.batch() + 1, "cu_seqlens_cmp has B + 1 entries of the plan");
        Checks.dim("indices", indices, 0, plan.nnz(), "indices has cu_seqlens[B] rows");
        Checks.dim("indices", indices, 1, groups, "indices has the G of k_cmp");
        Checks.dim("indices", indices, 2, nSel, "indices has n columns");
        int nb = maxBlocks(plan, selBlock);
        if (scores != null) {
            Checks.dim("scores", scores, 0, plan.nnz(), "scores has cu_seqlens[B] rows");
            Checks.dim("scores", scores, 1, groups, "scores has the G of k_cmp");
            if (scores.dim(2) < nb) {
                throw new NsaArgumentException("scores", "scores has nb >= max ceil(len/l') columns",
                        "dimension 2 of " + scores.shape() + " is " + scores.dim(2) + ", the longest sequence has "
                                + nb + " blocks");
            }
            Checks.dtype("scores", scores.dtype(), List.of(DType.FP32), "fp32");
            Checks.lastAxisContiguous("scores", scores.shape());
        }
        Checks.dtype("cu_seqlens", cuSeqlens.dtype(), List.of(DType.INT32), "int32");
        Checks.dtype("cu_seqlens_cmp", cuSeqlensCmp.dtype(), List.of(DType.INT32), "int32");
        Checks.dtype("lse", lse.dtype(), List.of(DType.FP32), "fp32");
        Checks.dtype("indices", indices.dtype(), List.of(DType.INT32), "int32");
        Checks.dtype("k_cmp", kCmp.dtype(), List.of(q.dtype()), "k_cmp in the dtype of q");
        Checks.contiguous("cu_seqlens", cuSeqlens.shape());
        Checks.contiguous("cu_seqlens_cmp", cuSeqlensCmp.shape());
        Checks.lastAxisContiguous("q", q.shape());
        Checks.lastAxisContiguous("k_cmp", kCmp.shape());
        Checks.lastAxisContiguous("indices", indices.shape());
        BlockSelectParams p = new BlockSelectParams(q.address(), kCmp.address(), lse.address(), cuSeqlens.address(),
                cuSeqlensCmp.address(), indices.address(), scores == null ? 0L : scores.address(),
                q.stride(0), q.stride(1), kCmp.stride(0), kCmp.stride(1), lse.stride(0), lse.stride(1),
                indices.stride(0), indices.stride(1), scores == null ? 0 : scores.stride(0),
                scores == null ? 0 : scores.stride(1),
                plan.nnz(), plan.nnzCmp(), plan.batch(), heads, groups, q.dim(2), plan.blockLen(), plan.blockStride(),
                selBlock, nSel, scores == null ? nb : scores.dim(2), scale);
        return plan(p, q.dtype());
    }

    /** The NsaConfig rules for the block sizes and n, plus the kernel's limit on n. */
    static void checkConfig(int l, int d, int lp, int n, float scale) {
        Checks.positive("l", l, "compression block length l");
        Checks.positive("d", d, "compression stride d");
        Checks.positive("l'", lp, "selection block length l'");
        if (l % d != 0) {
            throw new NsaArgumentException("d", "d | l", "l = " + l + " is not a multiple of d = " + d);
        }
        if (lp % d != 0) {
            throw new NsaArgumentException("d", "d | l'", "l' = " + lp + " is not a multiple of d = " + d);
        }
        if (l > lp) {
            throw new NsaArgumentException("l'", "l <= l'", "l = " + l + " exceeds l' = " + lp);
        }
        if (n < 3) {
            throw new NsaArgumentException("n", "n >= 3 (block 0 and two local blocks are forced)", "n is " + n);
        }
        if (n > MAX_N) {
            throw new NsaArgumentException("n", "n <= " + MAX_N + " (the selection kernel's limit)", "n is " + n);
        }
        if (!Float.isFinite(scale)) {
            throw new NsaArgumentException("scale", "finite softmax scale", "scale is " + scale);
        }
    }

    /** Validates raw params (no CUDA call) and picks the kernel. */
    public static Launch plan(BlockSelectParams p, DType in) {
        Checks.dtype("q", in, FLOATS, "fp32, fp16 or bf16");
        checkConfig(p.blockLen(), p.blockStride(), p.selBlock(), p.nSel(), p.scale());
        Checks.nonNegative("q", p.nnz(), "nnz");
        Checks.nonNegative("k_cmp", p.nnzCmp(), "nnz_cmp");
        Checks.nonNegative("cu_seqlens", p.batch(), "batch");
        Checks.positive("q", p.heads(), "H");
        Checks.positive("k_cmp", p.kvHeads(), "G");
        Checks.positive("q", p.dk(), "Dk");
        Checks.nonNegative("scores", p.nbMax(), "nb");
        if (p.heads() % p.kvHeads() != 0) {
            throw new NsaArgumentException("k_cmp", "H % G == 0 (query head i belongs to group i / (H/G))",
                    "H = " + p.heads() + ", G = " + p.kvHeads());
        }
        for (long s : new long[]{p.qTokStride(), p.qHeadStride(), p.kTokStride(), p.kGroupStride(), p.lseTokStride(),
                p.lseHeadStride(), p.idxTokStride(), p.idxGroupStride(), p.scoreTokStride(), p.scoreGroupStride()}) {
            Checks.nonNegative("strides", s, "stride");
        }
        KernelKey key = KernelCatalog.blockSelect(in);
        long work = (long) p.nnz() * p.kvHeads() * THREADS_PER_ROW;
        if (work == 0) {
            return new Launch(key, p, 0);
        }
        if (p.batch() == 0) {
            throw new NsaArgumentException("cu_seqlens", "nnz = cu_seqlens[B]", "batch is 0 but nnz is " + p.nnz());
        }
        Checks.pointer("q", p.q(), in);
        if (p.nnzCmp() > 0) {
            Checks.pointer("k_cmp", p.kCmp(), in);
        }
        Checks.pointer("lse", p.lse(), DType.FP32);
        Checks.pointer("cu_seqlens", p.cuSeqlens(), DType.INT32);
        Checks.pointer("cu_seqlens_cmp", p.cuSeqlensCmp(), DType.INT32);
        Checks.pointer("indices", p.indices(), DType.INT32);
        if (p.scores() != 0L && p.scores() % 4 != 0) {
            Checks.pointer("scores", p.scores(), DType.FP32);
        }
        return new Launch(key, p, work);
    }
}
