package dev.nsa4j.nsa;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.config.NsaConfig;
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
                cmpCap(), (float) cfg.scale());
    }

    /** Bytes of the caches: pages, rings, K̃/Ṽ, the table and the lengths (the step's outputs not included). */
    public long cacheBytes() {
        long es = dtype.byteSize();
        long kv = (long) cfg.kvGroups() * (cfg.headDimQk() + cfg.headDimV()) * es;
        long tokens = (long) pages() * cfg.selBlock() + (long) batch * (cfg.window() + cfg.blockLen() + cmpCap());
        return tokens * kv + 4L * batch * tableStride() + 4L * batch;
    }

    /** Bytes of one step's fp32 branch outputs, lse and chosen blocks. */
    public long stepBytes() {
        long rows = (long) batch * cfg.heads();
        return 4L * (3 * rows * cfg.headDimV() + 3 * rows + (long) batch * cfg.kvGroups() * cfg.nSel());
    }
}
