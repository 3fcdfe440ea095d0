package dev.nsa4j.fa2;

import dev.nsa4j.kernels.internal.StructLayout;

/**
 * Mirror of {@code nsa::Fa2Params} (fa2_params.h): the FA-2 kernels' whole argument, written as the same
 * little-endian bytes. Strides in elements; {@code mask} is the code of {@link Fa2Mask}; pointers are raw
 * device addresses (0 = null for the optional ones). {@link Fa2Attention#plan} fills it from tensors;
 * interop callers may fill it directly and launch through {@link Fa2Attention#enqueue}.
 */
public record Fa2Params(
        long q, long k, long v, long o, long lse, long cuQ, long cuK, long qStart, long kStart, long oAccum, long lseAccum,
        long qBatchStride, long qTokStride, long qHeadStride,
        long kBatchStride, long kTokStride, long kHeadStride,
        long vBatchStride, long vTokStride, long vHeadStride,
        long oBatchStride, long oTokStride, long oHeadStride,
        long lseBatchStride, long lseTokStride,
        int batch, int heads, int kvHeads, int seqlenQ, int seqlenK, int rows, int dk, int dv, int mask, int window,
        int cmpLen, int cmpStride, int outFp32, int numSplits,
        float scale, float scaleLog2) {

    public static final StructLayout LAYOUT = StructLayout.builder("Fa2Params")
            .pointer("q").pointer("k").pointer("v").pointer("o").pointer("lse").pointer("cu_q").pointer("cu_k")
            .pointer("q_start").pointer("k_start").pointer("o_accum").pointer("lse_accum")
            .i64("q_batch_stride", "q_tok_stride", "q_head_stride", "k_batch_stride", "k_tok_stride", "k_head_stride",
                    "v_batch_stride", "v_tok_stride", "v_head_stride", "o_batch_stride", "o_tok_stride", "o_head_stride",
                    "lse_batch_stride", "lse_tok_stride")
            .i32("batch", "heads", "kv_heads", "seqlen_q", "seqlen_k", "rows", "dk", "dv", "mask", "window", "cmp_len",
                    "cmp_stride", "out_fp32", "num_splits")
            .f32("scale").f32("scale_log2")
            .build();

    /** The struct's bytes, little-endian, in {@link #LAYOUT}. */
    public byte[] toBytes() {
        return LAYOUT.writer()
                .pointer(q).pointer(k).pointer(v).pointer(o).pointer(lse).pointer(cuQ).pointer(cuK)
                .pointer(qStart).pointer(kStart).pointer(oAccum).pointer(lseAccum)
                .i64(qBatchStride).i64(qTokStride).i64(qHeadStride).i64(kBatchStride).i64(kTokStride).i64(kHeadStride)
                .i64(vBatchStride).i64(vTokStride).i64(vHeadStride).i64(oBatchStride).i64(oTokStride).i64(oHeadStride)
                .i64(lseBatchStride).i64(lseTokStride)
                .i32(batch).i32(heads).i32(kvHeads).i32(seqlenQ).i32(seqlenK).i32(rows).i32(dk).i32(dv).i32(mask)
                .i32(window).i32(cmpLen).i32(cmpStride).i32(outFp32).i32(numSplits)
                .f32(scale).f32(scaleLog2)
                .bytes();
    }

    /** The same params writing split {@code numSplits} partial results to the given workspace. */
    Fa2Params withSplits(int splits, long oAccumAddr, long lseAccumAddr) {
        return new Fa2Params(q, k, v, o, lse, cuQ, cuK, qStart, kStart, oAccumAddr, lseAccumAddr,
                qBatchStride, qTokStride, qHeadStride, kBatchStride, kTokStride, kHeadStride,
                vBatchStride, vTokStride, vHeadStride, oBatchStride, oTokStride, oHeadStride, lseBatchStride, lseTokStride,
                batch, heads, kvHeads, seqlenQ, seqlenK, rows, dk, dv, mask, window, cmpLen, cmpStride, outFp32, splits,
                scale, scaleLog2);
    }
}
