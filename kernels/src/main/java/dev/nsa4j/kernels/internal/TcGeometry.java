package dev.nsa4j.kernels.internal;

import java.util.List;

/**
 * Launch geometry of the tensor-core kernels ({@link TcModule}): threads, tiles, pipeline stages, grids and dynamic
 * shared memory, all in this one class. The constants mirror those of {@code cuda-tc/sel_attention.cu}
 * ({@code nsa::sel}: {@code kStages}, {@code kMaxTiles}, {@code smem_bytes}) and {@code cuda-tc/block_score.cu}
 * ({@code nsa::score}: {@code kStages}, {@code kRing}, the compiled tokens per warp {@code TPW}, {@code smem_bytes}): a
 * change of a kernel's stages or tiles changes the constant here, nothing else.
 *
 * <p><b>sel-kernel</b>, token layout ({@code nsa_sel_kernel_*}, {@code cuda-tc/sel_attention.cu}): grid
 * {@code (nnz_q, G · ceil(h / 16))}, {@link #THREADS} threads, {@link #selSmemBytes} of dynamic shared memory: the Q
 * tile of 16 heads, one 64-key K and one V tile (loaded FA-2 style, no stages) and the P tile with its low term.
 *
 * <p><b>sel-kernel</b>, union layout ({@code nsa_sel_union_*}, {@code cuda-tc/sel_union.cu}, {@code nsa::selu}):
 * {@link #SEL_UNION_TOKENS} query tokens per CTA (one per warp), grid {@code (ceil(nnz_q / 4), G · ceil(h / 16))},
 * {@link #THREADS} threads, {@link #selUnionSmemBytes} of dynamic shared memory: {@link #SEL_STAGES} stages of one
 * 64-key K and V tile (and, for Dk·Dv above 192·128, each warp's Q tile; smaller ones keep Q in registers).
 *
 * <p><b>sel-kernel</b>, TMA layout ({@code nsa_sel_tma_*}, {@code cuda-tc/sel_tma.cu}, {@code nsa::selt}; SM 9.0): one
 * warp per CTA, grid {@code (nnz_q, G · ceil(h / 16))}, {@link #SEL_TMA_THREADS} threads, {@link #selTmaSmemBytes} of
 * dynamic shared memory: {@link #SEL_TMA_STAGES} stages of one {@link #SEL_TMA_TILE_KEYS}-key K and V tile, filled by
 * the tensor memory accelerator through two tensor maps ({@link TensorMaps}, boxes of 64 × 1 × 32 elements).
 *
 * <p><b>Block scorer</b> ({@code nsa_block_score_*}): {@link #SCORE_TOKENS} query tokens per CTA
 * ({@link #SCORE_TOKENS_PER_WARP} per warp), grid {@code (ceil(maxLen / SCORE_TOKENS), B, G)}, {@link #THREADS}
 * threads, {@link #scoreSmemBytes} of dynamic shared memory: {@link #SCORE_STAGES} stages of 64 compressed keys, the
 * Q rows of the CTA's tokens and each token's ring of the last {@link #SCORE_RING} compressed-token probabilities
 * (independent of the sequence length).
 *
 * <p><b>Hopper block scorer</b> ({@code nsa_block_score_wg_*}, {@code cuda-tc/block_score_wg.cu}; SM 9.0, h &lt;= 16):
 * the block scorer's grid and threads; the four tokens' Q rows as one 64-row warpgroup tile,
 * {@link #scoreWgSmemBytes} of dynamic shared memory (with 1024 bytes of slack for the swizzled tiles' alignment).
 *
 * <p><b>Key-row block scorer</b> ({@code nsa_block_score_kr_*}, {@code cuda-tc/block_score_kr.cu}; SM 9.0, h &lt;= 16,
 * Dk 128): {@link #SCORE_KR_TOKENS} query tokens per CTA, grid {@code (ceil(maxLen / 32), B, G)},
 * {@link #SCORE_KR_THREADS} threads, {@link #scoreKrSmemBytes} of dynamic shared memory (the group's Q for the CTA's
 * tokens, 2 to 4 stages of 64 compressed keys, each token's ring of 256 probabilities), K̃ and q through tensor maps
 * ({@link TensorMaps}, boxes of 64 × 1 × 64 and 64 × 1 × 16 elements).
 *
 * <p><b>GPU decode split</b> ({@code nsa_decode_split_*}, {@code cuda-tc/decode_tc.cu}, {@code nsa::dtc}): grid
 * {@code (splits, B · G · ceil(h / 16), branches)}, {@link #THREADS} threads, {@link #decodeSplitSmemBytes} of
 * dynamic shared memory (per warp two stages of {@link #DECODE_TILE_KEYS} K and V rows); a split's keys are a
 * multiple of {@link #DECODE_SPLIT_ALIGN}.
 */
public final class TcGeometry {
    /** Threads per block of every tensor-core kernel (4 warps; their {@code __launch_bounds__}). */
    public static final int THREADS = 128;
    /** Warps per block. */
    public static final int WARPS = THREADS / 32;
    /** Bytes of one fp16/bf16 element. */
    static final int HALF_BYTES = 2;

    /** GPU decode split: keys per warp tile ({@code kKeys}). */
    public static final int DECODE_TILE_KEYS = 16;
    /** GPU decode split: a split's keys are a multiple of this ({@code kAlign}: a tile per warp). */
    public static final int DECODE_SPLIT_ALIGN = DECODE_TILE_KEYS * WARPS;

    /** GPU decode split dynamic shared memory: {@code 4 warps · 2 stages · 16 keys · (Dk + Dv) · 2} bytes. */
    public static int decodeSplitSmemBytes(int dk, int dv) {
        return WARPS * 2 * DECODE_TILE_KEYS * (dk + dv) * HALF_BYTES;
    }

    /** sel-kernel: query heads of one KV group per CTA (one m16 tensor-core tile). */
    public static final int SEL_HEADS_PER_CTA = 16;
    /** sel-kernel: keys per pipeline stage (l' must be a multiple). */
    public static final int SEL_TILE_KEYS = 64;
    /** sel-kernel union layout: K/V pipeline stages (cp.async; {@code kStages} in sel_union.cu). */
    public static final int SEL_STAGES = 2;
    /** sel-kernel: the most 64-key tiles of one row's chosen blocks, n·l'/64 ({@code kMaxTiles}). */
    public static final int SEL_MAX_TILES = 256;
    /** sel-kernel: the most chosen blocks per row, n ({@code kMaxBlocks}). */
    public static final int SEL_MAX_BLOCKS = 64;
    /** sel-kernel: static shared memory (block list, tile bases, per-warp m and l), for the opt-in limit. */
    public static final int SEL_STATIC_SMEM_BYTES = SEL_MAX_BLOCKS * 4 + SEL_MAX_TILES * 4
            + 2 * WARPS * SEL_HEADS_PER_CTA * 4;

    /** sel-kernel union layout: query tokens per CTA, one per warp ({@code kTok}). */
    public static final int SEL_UNION_TOKENS = WARPS;
    /** sel-kernel union layout: static shared memory (entries, union, masks, visible rows), for the opt-in limit. */
    public static final int SEL_UNION_STATIC_SMEM_BYTES = 4 * SEL_UNION_TOKENS * SEL_MAX_BLOCKS * 4
            + 2 * SEL_UNION_TOKENS * 4 + 4;

    /** sel-kernel TMA layout: threads per CTA (one warp; {@code __launch_bounds__(32, ...)} in sel_tma.cu). */
    public static final int SEL_TMA_THREADS = 32;
    /** sel-kernel TMA layout: keys per stage ({@code kTile} in sel_tma.cu), the rows of a tensor-map box. */
    public static final int SEL_TMA_TILE_KEYS = 32;
    /** sel-kernel TMA layout: K/V stages ({@code kStages}). */
    public static final int SEL_TMA_STAGES = 2;
    /** sel-kernel TMA layout: alignment slack of the 1024-byte-aligned swizzled stages. */
    static final int SEL_TMA_ALIGN_SLACK = 1024;
    /**
     * sel-kernel TMA layout: static shared memory (mbarriers, the chosen set, 32-key tile bases), as ptxas reports it,
     * for the opt-in limit.
     */
    public static final int SEL_TMA_STATIC_SMEM_BYTES = 2688;

    /** Block scorer: K̃ pipeline stages ({@code kStages} in block_score.cu). */
    public static final int SCORE_STAGES = 2;
    /** Block scorer: query tokens per warp, the {@code TPW} the image is compiled with. */
    public static final int SCORE_TOKENS_PER_WARP = 1;
    /** Block scorer: query tokens per CTA (TOK), {@code 4 · TPW}. */
    public static final int SCORE_TOKENS = WARPS * SCORE_TOKENS_PER_WARP;
    /** Block scorer: compressed tokens per stage. */
    public static final int SCORE_TILE = 64;
    /** Block scorer: probabilities kept per token ({@code kRing}). */
    public static final int SCORE_RING = 2 * SCORE_TILE;
    /** Block scorer: top-n buffer entries per token ({@code nsa::kTopCap}, 8-byte keys). */
    public static final int SCORE_TOP_CAP = 128;
    /**
     * Block scorer (both layouts): static shared memory, for the opt-in limit: each token's top-n buffer,
     * {@code SCORE_TOKENS · SCORE_TOP_CAP · 8} bytes.
     */
    public static final int SCORE_STATIC_SMEM_BYTES = SCORE_TOKENS * SCORE_TOP_CAP * 8;
    /** Hopper block scorer: the most query heads per group (the 16 rows each token has in the warpgroup tile). */
    public static final int SCORE_WG_MAX_HEADS = 16;
    /** Hopper block scorer: alignment slack of the 1024-byte-aligned swizzled tiles. */
    static final int SCORE_WG_ALIGN_SLACK = 1024;
    /** Key-row scorer ({@code nsa::score_kr}, cuda-tc/block_score_kr.cu): a producer and two consumer warpgroups. */
    public static final int SCORE_KR_THREADS = 384;
    /** Key-row scorer: query tokens per CTA ({@code kTok}: 16 per consumer). */
    public static final int SCORE_KR_TOKENS = 32;
    /** Key-row scorer: token rows of one box of q's tensor map ({@code kQBox}). */
    public static final int SCORE_KR_Q_BOX = 16;
    /** Key-row scorer: compressed tokens per K̃ tile, the rows of one box of K̃'s tensor map ({@code kN}). */
    public static final int SCORE_KR_TILE = 64;
    /** Key-row scorer: the largest n (its 64-entry top-n buffers hold n − 3 + 32 candidates, {@code kTopTok}). */
    public static final int SCORE_KR_MAX_N = 35;
    /** Key-row scorer: the head counts it is compiled for; a group of h heads runs on the least H &gt;= h. */
    public static final List<Integer> SCORE_KR_HEADS = List.of(4, 8, 16);
    /**
     * Key-row scorer: static shared memory as ptxas reports it for every symbol (the top-n buffers, weights and
     * mbarriers, {@code kStaticBytes} = 16968, rounded up to the 1024-byte alignment of the dynamic part).
     */
    public static final int SCORE_KR_STATIC_SMEM_BYTES = 17408;
    /** {@code kStaticBytes} as the kernel counts it when it sizes its stages. */
    static final int SCORE_KR_STATIC_COUNTED = 32 * 64 * 8 + 2 * 64 * 4 + 8 * (2 * 4 + 1);
    /** SM 9.0's shared memory per block ({@code kSmemLimit}), against which the kernel sizes its K̃ stages. */
    static final int SCORE_KR_SMEM_LIMIT = 232448;
    private static final int SCORE_KR_RING_PITCH = 256 + 4;

    private TcGeometry() {
    }

    /** sel-kernel token layout dynamic shared memory: {@code (16·Dk + 64·(Dk + Dv) + 2·16·64) · 2} bytes. */
    public static int selSmemBytes(int dk, int dv) {
        return (SEL_HEADS_PER_CTA * dk + SEL_TILE_KEYS * (dk + dv) + 2 * SEL_HEADS_PER_CTA * SEL_TILE_KEYS) * HALF_BYTES;
    }

    /** sel-kernel union layout dynamic shared memory ({@code nsa::selu::smem_bytes}). */
    public static int selUnionSmemBytes(int dk, int dv) {
        int q = dk * dv > 192 * 128 ? SEL_UNION_TOKENS * SEL_HEADS_PER_CTA * dk : 0;
        return (q + SEL_STAGES * SEL_TILE_KEYS * (dk + dv)) * HALF_BYTES;
    }

    /** sel-kernel TMA layout dynamic shared memory: {@code 1024 + 2·32·(Dk + Dv)·2} bytes ({@code nsa::selt::smem_bytes}). */
    public static int selTmaSmemBytes(int dk, int dv) {
        return SEL_TMA_ALIGN_SLACK + SEL_TMA_STAGES * SEL_TMA_TILE_KEYS * (dk + dv) * HALF_BYTES;
    }

    /** sel-kernel union layout grid x: {@code ceil(nnz_q / 4)}. */
    public static int selUnionGridX(int nnzQ) {
        return (int) ((nnzQ + (long) SEL_UNION_TOKENS - 1) / SEL_UNION_TOKENS);
    }

    /** m16 tiles of {@code h} query heads: {@code ceil(h / 16)}. */
    public static int headTiles(int h) {
        return (h + SEL_HEADS_PER_CTA - 1) / SEL_HEADS_PER_CTA;
    }

    /** sel-kernel grid y: {@code G · ceil(h / 16)} (a long, so a caller can check it against 65535). */
    public static long selGridY(int kvHeads, int h) {
        return (long) kvHeads * headTiles(h);
    }

    /** sel-kernel: the 64-key tiles of a row's chosen blocks at most, {@code n · l' / 64}. */
    public static long selTiles(int nSel, int selBlock) {
        return (long) nSel * selBlock / SEL_TILE_KEYS;
    }

    /** Compressed tokens of a sequence of {@code len} tokens: {@code len < l ? 0 : (len − l) / d + 1}. */
    public static long compressedTokens(long len, int l, int d) {
        return len < l ? 0 : (len - l) / d + 1;
    }

    /**
     * Block scorer dynamic shared memory for head dim {@code dk} and {@code h} query heads per group:
     * {@code (SCORE_STAGES·64 + SCORE_TOKENS·16·ceil(h/16))·Dk·2 + SCORE_TOKENS·SCORE_RING·4} bytes.
     */
    public static long scoreSmemBytes(int dk, int h) {
        long tokens = SCORE_TOKENS;
        return (SCORE_STAGES * (long) SCORE_TILE + tokens * 16 * headTiles(h)) * dk * HALF_BYTES
                + tokens * SCORE_RING * 4;
    }

    /**
     * Hopper block scorer dynamic shared memory for head dim {@code dk} ({@code nsa::score::wg_smem_bytes}):
     * {@code 1024 + (64 + SCORE_STAGES·64)·Dk·2 + SCORE_TOKENS·SCORE_RING·4} bytes.
     */
    public static long scoreWgSmemBytes(int dk) {
        return SCORE_WG_ALIGN_SLACK + (SCORE_TOKENS * 16L + SCORE_STAGES * (long) SCORE_TILE) * dk * HALF_BYTES
                + (long) SCORE_TOKENS * SCORE_RING * 4;
    }

    /** Key-row scorer: the compiled head count a group of {@code h} heads runs on, or −1 past 16. */
    public static int scoreKrHeads(int h) {
        for (int heads : SCORE_KR_HEADS) {
            if (h <= heads) {
                return heads;
            }
        }
        return -1;
    }

    /**
     * Key-row scorer dynamic shared memory besides its K̃ stages ({@code nsa::score_kr::fixed_bytes}): 1024 bytes of
     * alignment slack, both consumers' Q quads {@code 2·(H/4)·64·Dk·2}, their rings {@code 2·16·260·4} and the lse
     * table {@code H·32·4}.
     */
    static long scoreKrFixedBytes(int dk, int heads) {
        return SCORE_WG_ALIGN_SLACK + 2L * (heads / 4) * 64 * dk * HALF_BYTES + 2L * 16 * SCORE_KR_RING_PITCH * 4
                + (long) heads * SCORE_KR_TOKENS * 4;
    }

    /** Key-row scorer: its K̃ stages ({@code nsa::score_kr::stages}), 4, 3 or 2, as many as SM 9.0's block fits. */
    public static int scoreKrStages(int dk, int heads) {
        long tile = (long) SCORE_KR_TILE * dk * HALF_BYTES;
        for (int st = 4; st > 2; st--) {
            if (scoreKrFixedBytes(dk, heads) + st * tile + SCORE_KR_STATIC_COUNTED <= SCORE_KR_SMEM_LIMIT) {
                return st;
            }
        }
        return 2;
    }

    /** Key-row scorer dynamic shared memory ({@code nsa::score_kr::smem_bytes}) for {@code heads} = H of its symbol. */
    public static long scoreKrSmemBytes(int dk, int heads) {
        return scoreKrFixedBytes(dk, heads) + (long) scoreKrStages(dk, heads) * SCORE_KR_TILE * dk * HALF_BYTES;
    }

    /** Key-row scorer grid x: {@code ceil(maxLen / SCORE_KR_TOKENS)}. */
    public static int scoreKrGridX(int maxLen) {
        return (int) ((maxLen + (long) SCORE_KR_TOKENS - 1) / SCORE_KR_TOKENS);
    }

    /** Block scorer grid x: {@code ceil(maxLen / SCORE_TOKENS)}. */
    public static int scoreGridX(int maxLen) {
        return (int) ((maxLen + (long) SCORE_TOKENS - 1) / SCORE_TOKENS);
    }

    /**
     * Block scorer: the compressed tokens one selection block can overlap, {@code (l' + l − 1) / d + 1}; the kernel
     * needs at most {@link #SCORE_TILE} (a block's compressed tokens reach at most one tile back in its ring).
     */
    public static long scoreBlockSpan(int l, int d, int selBlock) {
        return ((long) selBlock + l - 1) / d + 1;
    }
}
