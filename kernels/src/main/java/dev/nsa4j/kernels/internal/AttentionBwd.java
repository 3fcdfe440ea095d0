package dev.nsa4j.kernels.internal;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.tensor.DType;

/**
 * Launches of the reference backward (attention_bwd.cu, decisions D43): the gates' backward, one branch's dq and dk /
 * dv from the forward's {@link AttnParams} (its o the branch's fp32 output, its lse the saved one), and phi = avg's
 * backward. Raw device addresses, checked by the caller; the order on a stream is gates, then per branch dq (which
 * writes delta) before dk / dv, then the compression backward of the cmp branch's dK̃ / dṼ.
 */
public final class AttentionBwd {
    /** Threads per block of the warp kernels ({@code kBwdWarps} rows of one warp). */
    public static final int BLOCK = 128;

    private AttentionBwd() {
    }

    /** dL/dgates and dL/do_c of every (token, head) row: one warp per row. */
    public static void gates(KernelModule m, long stream, GateBwdParams p) {
        if (p.rows() == 0) {
            return;
        }
        KernelKey key = KernelCatalog.require(new KernelKey(KernelCatalog.GATE_BWD, DType.FP32,
                "d" + Attention.dimClass(1, p.dv())));
        m.launchSymbol(key.symbol(), grid(p.rows(), BLOCK / 32), 1, 1, BLOCK, 0, stream, p.toBytes());
    }

    /**
     * One branch's dq (written, or added to under {@code b.accumulate()}) and delta, for {@code a}'s {@code nnz_q ·
     * heads} rows, q / k / v in {@code dtype}.
     */
    public static void dq(KernelModule m, long stream, DType dtype, AttnParams a, AttnBwdParams b) {
        launch(m, stream, KernelCatalog.ATTENTION_BWD_DQ, dtype, a, b, (long) a.nnzQ() * a.heads());
    }

    /** One branch's dk and dv for its {@code nnzK} key rows (after {@link #dq}, whose delta it reads). */
    public static void dkv(KernelModule m, long stream, DType dtype, AttnParams a, AttnBwdParams b, int nnzK) {
        if (nnzK < 0) {
            throw new NsaArgumentException("k", "nnz_k >= 0 key rows", "got " + nnzK);
        }
        launch(m, stream, KernelCatalog.ATTENTION_BWD_DKV, dtype, a, b, (long) nnzK * a.kvHeads());
    }

    /** phi = avg's backward: the raw tokens' gradient from dK̃ (or dṼ). */
    public static void compressAvg(KernelModule m, long stream, CompressAvgBwdParams p) {
        long total = (long) p.nnz() * p.groups() * p.dim();
        if (total == 0) {
            return;
        }
        KernelKey key = KernelCatalog.require(new KernelKey(KernelCatalog.COMPRESS_AVG_BWD, DType.FP32, ""));
        m.launch(key, m.gridFor(total), stream, p.toBytes());   // grid-stride, KernelModule.BLOCK threads
    }

    /**
     * phi = mlp's backward: the act kernel on a (nnz_cmp, groups) grid, then the weights' gradients and the raw tokens'
     * (grid-stride), in that order on {@code stream}. nnz_cmp = 0 still writes zero gradients.
     */
    public static void compressMlp(KernelModule m, long stream, CompressMlpBwdParams p) {
        CompressMlp.checkLimits("phi", p.blockLen(), p.dim(), p.hidden());
        String[] steps = KernelCatalog.COMPRESS_MLP_BWD_STEPS.toArray(String[]::new);
        byte[] bytes = p.toBytes();
        if (p.nnzCmp() > 0 && p.groups() > 0) {
            m.launchSymbol(symbol(steps[0]), p.nnzCmp(), p.groups(), 1, KernelModule.BLOCK, 0, stream, bytes);
        }
        long in = (long) p.blockLen() * p.dim();
        long params = p.hidden() * in + p.hidden() + (long) p.dim() * p.hidden() + p.dim() + in;
        m.launchSymbol(symbol(steps[1]), m.gridFor(params), 1, 1, KernelModule.BLOCK, 0, stream, bytes);
        long raw = (long) p.nnz() * p.groups() * p.dim();
        if (raw > 0) {
            m.launchSymbol(symbol(steps[2]), m.gridFor(raw), 1, 1, KernelModule.BLOCK, 0, stream, bytes);
        }
    }

    private static String symbol(String step) {
        return KernelCatalog.require(new KernelKey(KernelCatalog.COMPRESS_MLP_BWD, DType.FP32, step)).symbol();
    }

    private static void launch(KernelModule m, long stream, String family, DType dtype, AttnParams a, AttnBwdParams b,
                               long rows) {
        if (a.outFp32() != 1 && dtype != DType.FP32) {
            throw new NsaArgumentException("o", "the branch's fp32 output (out_fp32 = 1): the backward reads o in fp32",
                    "out_fp32 = " + a.outFp32() + " with " + dtype + " inputs");
        }
        if (rows == 0) {
            return;
        }
        KernelKey key = KernelCatalog.require(new KernelKey(family, dtype, "d" + Attention.dimClass(a.dk(), a.dv())));
        m.launchSymbol(key.symbol(), grid(rows, BLOCK / 32), 1, 1, BLOCK, 0, stream, a.toBytes(), b.toBytes());
    }

    private static int grid(long rows, int perBlock) {
        long g = (rows + perBlock - 1) / perBlock;
        if (g > Integer.MAX_VALUE) {
            throw new NsaArgumentException("rows", "at most " + Integer.MAX_VALUE + " blocks of " + perBlock + " rows",
                    rows + " rows");
        }
        return (int) g;
    }
}
