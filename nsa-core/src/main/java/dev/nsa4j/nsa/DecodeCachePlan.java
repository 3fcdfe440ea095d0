package dev.nsa4j.nsa;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.config.Phi;
import dev.nsa4j.kernels.internal.DecodeParams;
import dev.nsa4j.tensor.DType;

/**
 * The sizes of a GPU decode cache (docs/nsa-spec.md "Decode"): B sequences of up to {@code capacity} tokens each,
 * in {@code dtype} (the inputs' dtype; K̃/Ṽ too). The selection cache is paged: pages of l' tokens, one block table
 * row of {@link #tableStride} entries per sequence, {@link #pages} pages in the pool; the window is a ring of w
 * tokens, the pending compression tokens a ring of l, the compressed tokens {@link #cmpCap} per sequence.
 *
 * @param cfg      the attention's config
 * @param batch    B, sequences decoded together
 * @param capacity the longest sequence the cache holds, prefill and steps together
 * @param dtype    the dtype of the inputs and of the cache
 */
public record DecodeCachePlan(NsaConfig cfg, int batch, int capacity, DType dtype) {
    public DecodeCachePlan {
        if (batch < 1) {
            throw new NsaArgumentException("decode.batch", "B >= 1", "B = " + batch);
        }
        if (capacity < 1) {
            throw new NsaArgumentException("decode.capacity", "capacity >= 1 token per sequence",
                    "capacity = " + capacity);
        }
        if (dtype != DType.FP32 && dtype != DType.FP16 && dtype != DType.BF16) {
            throw new NsaArgumentException("decode.dtype", "fp32, fp16 or bf16", "dtype " + dtype);
        }
        if ((long) batch * ((capacity + (long) cfg.selBlock() - 1) / cfg.selBlock()) > Integer.MAX_VALUE) {
            throw new NsaArgumentException("decode.capacity", "B · ceil(capacity / l') pages fit an int32",
                    "B = " + batch + ", capacity = " + capacity);
        }
    }

    /** Block table entries per sequence: ceil(capacity / l'). */
    public int tableStride() {
        return (capacity + cfg.selBlock() - 1) / cfg.selBlock();
    }

    /** Pages in the selection pool: enough for every sequence at capacity. */
    public int pages() {
        return batch * tableStride();
    }

    /** Compressed tokens per sequence: S_cmp(capacity). */
    public int cmpCap() {
        return cfg.compressedLen(capacity);
    }

    /** The kernels' sizes ({@code nnz} 0: a step). */
    DecodeParams.Dims dims() {
        return new DecodeParams.Dims(batch, 0, cfg.heads(), cfg.kvGroups(), cfg.headDimQk(), cfg.headDimV(),
                cfg.blockLen(), cfg.stride(), cfg.selBlock(), cfg.nSel(), cfg.window(), pages(), tableStride(),
                cmpCap(), (float) cfg.scale(), cfg.phi() == Phi.MLP);
    }

    /** Bytes of the caches: pages, rings, K̃/Ṽ, the table and the lengths (the step's outputs not included). */
    public long cacheBytes() {
        long es = dtype.byteSize();
        long kv = (long) cfg.kvGroups() * (cfg.headDimQk() + cfg.headDimV()) * es;
        long tokens = (long) pages() * cfg.selBlock() + (long) batch * (cfg.window() + cfg.blockLen() + cmpCap());
        return tokens * kv + 4L * batch * tableStride() + 4L * batch;
    }

    /**
     * How the tensor-core step splits each branch over its keys: a split count per branch, fixed for the decoder (a
     * captured step stays valid as lengths grow; each split's share of the keys grows instead).
     */
    public record Splits(int cmp, int sel, int win) {
        public int total() {
            return cmp + sel + win;
        }
    }

    /**
     * Split counts for a GPU of {@code sms} multiprocessors. Each split launch should fill the GPU in one wave of
     * CTAs (two per multiprocessor; the split kernel keeps three resident at Dk + Dv {@literal <=} 256, so a launch's
     * CTAs start together) over the batch's (sequence, group, 16-head chunk) cells: the cmp launch gets that many
     * splits per cell, the sel and win launch shares them in proportion to the two branches' keys; never more
     * splits than 64-key shares of a branch's keys at capacity, never fewer than one.
     */
    public Splits splits(int sms) {
        return splits(sms, 2, 64);
    }

    /**
     * Split counts as {@link #splits(int)} with the tuning of {@code NSA_DECODE_CTAS_PER_SM} and
     * {@code NSA_DECODE_SPLIT_KEYS}: {@code ctasPerSm} CTAs per multiprocessor in a launch's wave, and never fewer
     * than {@code splitKeys} keys of a branch at capacity per split (rounded up to a multiple of 64, the kernel's
     * alignment). Fewer, longer splits shorten the merge of the partials, which is latency at small B.
     *
     * @throws NsaArgumentException when either is below 1
     */
    public Splits splits(int sms, int ctasPerSm, int splitKeys) {
        if (ctasPerSm < 1 || splitKeys < 1) {
            throw new NsaArgumentException(ctasPerSm < 1 ? "NSA_DECODE_CTAS_PER_SM" : "NSA_DECODE_SPLIT_KEYS",
                    "an integer >= 1", "got " + (ctasPerSm < 1 ? ctasPerSm : splitKeys));
        }
        long share = (splitKeys + 63L) / 64 * 64;
        long cells = (long) batch * cfg.kvGroups() * ((cfg.heads() / cfg.kvGroups() + 15) / 16);
        long perCell = Math.max(1, (long) ctasPerSm * sms / Math.max(1, cells));
        long selKeys = Math.min(capacity, (long) cfg.nSel() * cfg.selBlock());
        long winKeys = Math.min(capacity, cfg.window());
        long both = Math.max(2, perCell);
        long sel = Math.max(1, Math.round((double) both * selKeys / Math.max(1, selKeys + winKeys)));
        long win = Math.max(1, both - sel);
        return new Splits(shares(perCell, cmpCap(), share), shares(sel, selKeys, share), shares(win, winKeys, share));
    }

    private static int shares(long want, long keys, long share) {
        return (int) Math.max(1, Math.min(want, (keys + share - 1) / share));
    }

    /** Bytes of the tensor-core step's workspace: the splits' fp32 partials (o and lse) and the cmp scores. */
    public long splitBytes(Splits s) {
        long rows = (long) batch * cfg.heads();
        return 4L * ((long) s.total() * rows * (cfg.headDimV() + 1) + rows * Math.max(1, cmpCap()));
    }

    /**
     * Bytes of device memory a decoder of this plan allocates: the caches, a step's outputs and, on the tensor-core
     * step ({@code splits} not null), its workspace.
     */
    public long deviceBytes(Splits splits) {
        // the cache tensors allocate at least one compressed row per sequence
        long es = dtype.byteSize();
        long pad = cmpCap() == 0 ? (long) batch * cfg.kvGroups() * (cfg.headDimQk() + cfg.headDimV()) * es : 0;
        return cacheBytes() + pad + stepBytes() + (splits == null ? 0 : splitBytes(splits));
    }

    /** Bytes of one step's fp32 branch outputs, lse, chosen blocks and reads counters. */
    public long stepBytes() {
        long rows = (long) batch * cfg.heads();
        return 4L * (3 * rows * cfg.headDimV() + 3 * rows + (long) batch * cfg.kvGroups() * (cfg.nSel() + 3));
    }
}
