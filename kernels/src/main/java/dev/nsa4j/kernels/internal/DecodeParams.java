package dev.nsa4j.kernels.internal;

import java.util.Objects;

/**
 * Mirror of {@code nsa::DecodeParams} (nsa_params.h): the device caches of a GPU decode, one step's tensors and
 * the sizes, as five parts in the struct's field order. Every tensor is contiguous; the layouts are those of
 * nsa_params.h (and {@link Decode}).
 *
 * @param step    the step's inputs (or, for the prefill fill, the varlen k/v rows and cu)
 * @param caches  the cache tensors and the lengths
 * @param outputs the step's fp32 branch outputs, lse and chosen blocks
 * @param dims    sizes and the softmax scale
 * @param split   the tensor-core step's partials and split counts ({@link Split#NONE} on the reference step)
 */
public record DecodeParams(Step step, Caches caches, Outputs outputs, Dims dims, Split split) {

    /** q {@code [B, H, Dk]}; k_c {@code [B, G, Dk]}, v_c {@code [B, G, Dv]}; cu {@code [B + 1]} (fill only, else 0). */
    public record Step(long q, long kCmp, long vCmp, long kSel, long vSel, long kWin, long vWin, long cu) {
    }

    /** Pages {@code [pages, l', G, D]}, table {@code [B, tableStride]}, rings {@code [B, w | l, G, D]}, K̃/Ṽ, lengths. */
    public record Caches(long selK, long selV, long table, long winK, long winV, long rawK, long rawV, long cmpK,
                         long cmpV, long lengths) {
    }

    /**
     * fp32 {@code o_c [B, H, Dv]}, {@code lse_c [B, H]}; int32 indices {@code [B, G, n]}; int32 reads {@code [B, G, 3]}
     * (the keys each branch read: the reads counter).
     */
    public record Outputs(long oCmp, long oSel, long oWin, long lseCmp, long lseSel, long lseWin, long indices,
                          long reads) {
    }

    /**
     * Sizes: {@code nnz} is the fill's source rows (0 in a step); {@code phiMlp}: phi = mlp, so append and the fill
     * leave the compressed tokens to {@link Decode#mlpEmit} / {@link Decode#mlpFill}.
     */
    public record Dims(int batch, int nnz, int heads, int kvHeads, int dk, int dv, int blockLen, int blockStride,
                       int selBlock, int nSel, int window, int pages, int tableStride, int cmpCap, float scale,
                       boolean phiMlp) {
        public Dims withNnz(int v) {
            return new Dims(batch, v, heads, kvHeads, dk, dv, blockLen, blockStride, selBlock, nSel, window, pages,
                    tableStride, cmpCap, scale, phiMlp);
        }

        /** The same sizes over a selection pool of {@code v} pages (a caller's pool). */
        public Dims withPages(int v) {
            return new Dims(batch, nnz, heads, kvHeads, dk, dv, blockLen, blockStride, selBlock, nSel, window, v,
                    tableStride, cmpCap, scale, phiMlp);
        }
    }

    /**
     * The tensor-core step's workspace: fp32 partials {@code o_part [S, B, H, Dv]} and {@code lse_part [S, B, H]}
     * with {@code S = cmp + sel + win} split rows, and the cmp split's scores {@code [B, H, cmp_cap]}.
     */
    public record Split(long oPart, long lsePart, long scores, int cmp, int sel, int win) {
        public static final Split NONE = new Split(0, 0, 0, 0, 0, 0);

        /** Split rows of all three branches. */
        public int total() {
            return cmp + sel + win;
        }

        /** The split count of {@code branch}. */
        public int of(Decode.Branch branch) {
            return switch (branch) {
                case CMP -> cmp;
                case SEL -> sel;
                case WIN -> win;
            };
        }
    }

    public DecodeParams {
        Objects.requireNonNull(step, "step");
        Objects.requireNonNull(split, "split");
        Objects.requireNonNull(caches, "caches");
        Objects.requireNonNull(outputs, "outputs");
        Objects.requireNonNull(dims, "dims");
    }

    public static final StructLayout LAYOUT = StructLayout.builder("DecodeParams")
            .pointer("q").pointer("k_cmp").pointer("v_cmp").pointer("k_sel").pointer("v_sel").pointer("k_win")
            .pointer("v_win").pointer("cu")
            .pointer("sel_k").pointer("sel_v").pointer("table").pointer("win_k").pointer("win_v").pointer("raw_k")
            .pointer("raw_v").pointer("cmp_k").pointer("cmp_v").pointer("lengths")
            .pointer("o_cmp").pointer("o_sel").pointer("o_win").pointer("lse_cmp").pointer("lse_sel")
            .pointer("lse_win").pointer("indices").pointer("reads")
            .i32("batch", "nnz", "heads", "kv_heads", "dk", "dv", "block_len", "block_stride", "sel_block", "n_sel",
                    "window", "pages", "table_stride", "cmp_cap", "branch")
            .f32("scale")
            .pointer("o_part").pointer("lse_part").pointer("scores")
            .i32("split_cmp", "split_sel", "split_win", "phi_mlp")
            .build();

    public DecodeParams withStep(Step s) {
        return new DecodeParams(s, caches, outputs, dims, split);
    }

    public DecodeParams withDims(Dims d) {
        return new DecodeParams(step, caches, outputs, d, split);
    }

    public DecodeParams withSplit(Split x) {
        return new DecodeParams(step, caches, outputs, dims, x);
    }

    /** The struct's bytes, little-endian, in {@link #LAYOUT}, with branch field 0. */
    public byte[] toBytes() {
        return toBytes(0);
    }

    /** The struct's bytes with {@code branch} in the attend kernel's branch field (0 cmp, 1 sel, 2 win). */
    public byte[] toBytes(int branch) {
        Step s = step;
        Caches c = caches;
        Outputs o = outputs;
        Dims d = dims;
        Split x = split;
        return LAYOUT.writer()
                .pointer(s.q).pointer(s.kCmp).pointer(s.vCmp).pointer(s.kSel).pointer(s.vSel).pointer(s.kWin)
                .pointer(s.vWin).pointer(s.cu)
                .pointer(c.selK).pointer(c.selV).pointer(c.table).pointer(c.winK).pointer(c.winV).pointer(c.rawK)
                .pointer(c.rawV).pointer(c.cmpK).pointer(c.cmpV).pointer(c.lengths)
                .pointer(o.oCmp).pointer(o.oSel).pointer(o.oWin).pointer(o.lseCmp).pointer(o.lseSel)
                .pointer(o.lseWin).pointer(o.indices).pointer(o.reads)
                .i32(d.batch).i32(d.nnz).i32(d.heads).i32(d.kvHeads).i32(d.dk).i32(d.dv).i32(d.blockLen)
                .i32(d.blockStride).i32(d.selBlock).i32(d.nSel).i32(d.window).i32(d.pages).i32(d.tableStride)
                .i32(d.cmpCap).i32(branch).f32(d.scale)
                .pointer(x.oPart).pointer(x.lsePart).pointer(x.scores).i32(x.cmp).i32(x.sel).i32(x.win)
                .i32(d.phiMlp ? 1 : 0)
                .bytes();
    }
}
