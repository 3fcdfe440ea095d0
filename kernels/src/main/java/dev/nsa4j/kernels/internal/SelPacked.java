package dev.nsa4j.kernels.internal;

import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceBuffer;
import dev.nsa4j.kernels.DeviceTensor;
import java.util.ArrayList;
import java.util.List;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.tensor.DType;

/**
 * Selection branch, docs/routing.md path {@code sdpa-packed}: "gather the chosen blocks' keys/values per (query,
 * group), then dense attention". Same contract and same bits as {@link Attention} with
 * {@link AttnSpec#chosen}{@code (l')} and either walk.
 *
 * <ol>
 *   <li><b>gather</b> ({@code nsa_sel_gather_<dtype>}, sel_gather.cu): per (query token t, KV group g), the keys
 *       s ≤ t of the distinct chosen blocks, in ascending position, copied bit for bit into
 *       {@code packed_k [nnz, G, n·l', Dk]} and {@code packed_v [nnz, G, n·l', Dv]} (the input dtype), with the row
 *       length {@code packed_len [nnz, G]} (and {@code packed_last = packed_len − 1});</li>
 *   <li><b>dense attention</b> over each packed row: the reference attention kernel on a varlen view of the
 *       packed rows (one "sequence" per (t, g) with the H/G query heads of g, causal mask with the query at
 *       position {@code packed_last}, so exactly the {@code packed_len} keys are seen), walk RANGES.</li>
 * </ol>
 * Both steps add the same keys in the same order with the same fp32 online-softmax arithmetic as the RANGES
 * walk of the chosen-block mask, so the outputs agree bitwise with it. A row with no key gives 0 and
 * {@code lse = −inf}.
 *
 * <p><b>Memory.</b> The packed buffers take {@link #bytesPerToken} bytes per query token:
 * {@code G·n·l'·(Dk + Dv)·elem} plus {@code 16·G} bytes of row metadata; for all {@code nnz} tokens that is
 * {@code nnz·G·n·l'·(Dk + Dv)·elem}. {@link #run} processes the query tokens in chunks whose packed buffers fit
 * a byte budget ({@link #DEFAULT_BUDGET_BYTES} = 1 GiB unless given) and whose row offsets fit int32; the
 * buffers are allocated once per call on the stream (stream-ordered) and freed after the last chunk.
 *
 * <p>Extra layout rule (the view of step 2): q and out must have token stride = H · head stride, and lse
 * (when given) token stride H; contiguous tensors satisfy it.
 */
public final class SelPacked {
    /** Threads per block of the gather kernel; one warp per (query token, group) row. */
    public static final int BLOCK = 128;
    /** (token, group) rows per gather block. */
    public static final int ROWS_PER_BLOCK = BLOCK / 32;
    /** Default byte budget of the packed buffers of one chunk. */
    public static final long DEFAULT_BUDGET_BYTES = 1L << 30;

    private SelPacked() {
    }

    /** The gather launch of one chunk. */
    public record Gather(KernelKey key, SelGatherParams params, long rows) {
        /** Blocks of {@link #BLOCK} threads. */
        public int grid() {
            return (int) ((rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK);
        }
    }

    /** One chunk: the gather, then the dense attention over its packed rows. */
    public record Chunk(Gather gather, Attention.Launch attention) {
    }

    /** Row capacity of a packed row: {@code n·l'} keys. */
    public static long capacity(int nSel, int selBlock) {
        return (long) nSel * selBlock;
    }

    /** Bytes of packed buffers per query token: {@code G·n·l'·(Dk + Dv)·elem + 16·G}. */
    public static long bytesPerToken(int groups, int nSel, int selBlock, int dk, int dv, DType dtype) {
        return (long) groups * (capacity(nSel, selBlock) * (dk + dv) * dtype.byteSize() + 16L);
    }

    /**
     * Query tokens per chunk: the most that fit {@code budgetBytes} and keep {@code rows·G·n·l'} and
     * {@code rows·G} below 2^31, at most {@code nnz} (and at least 1 when {@code nnz > 0}).
     *
     * @throws NsaArgumentException ("blocks") when a single token's packed rows exceed the budget
     */
    public static int tokensPerChunk(int nnz, int groups, int nSel, int selBlock, int dk, int dv, DType dtype,
                                     long budgetBytes) {
        if (nnz == 0) {
            return 0;
        }
        long per = bytesPerToken(groups, nSel, selBlock, dk, dv, dtype);
        long byBudget = budgetBytes / per;
        if (byBudget < 1) {
            throw new NsaArgumentException("blocks",
                    "one query token's packed rows G·n·l'·(Dk+Dv)·elem fit the packed-selection budget",
                    "G = " + groups + ", n = " + nSel + ", l' = " + selBlock + ", Dk = " + dk + ", Dv = " + dv
                            + ": " + per + " bytes per token > budget " + budgetBytes + " bytes");
        }
        long rowsCap = (long) groups * capacity(nSel, selBlock);
        long byIndex = (Integer.MAX_VALUE - 1L) / Math.max(1L, rowsCap);
        long byRows = (Integer.MAX_VALUE - 1L) / groups;
        long t = Math.min(Math.min(byBudget, byIndex), Math.min(byRows, nnz));
        if (t < 1) {
            throw new NsaArgumentException("blocks", "G·n·l' < 2^31 (packed row offsets are int32)",
                    "G·n·l' = " + rowsCap);
        }
        return (int) t;
    }

    /**
     * Validates everything (no CUDA call) and plans the chunks over scratch buffers at the given addresses.
     * Arguments as {@link Attention#plan} with {@code AttnSpec.chosen(selBlock)}; {@code scale} NaN = 1/√Dk.
     * Scratch: {@code packedK}/{@code packedV} hold {@code chunk·G·n·l'} rows, {@code packedLen},
     * {@code packedLast} {@code chunk·G} int32, {@code packedCuQ}/{@code packedCuK} {@code chunk·G + 1} int32.
     */
    public static List<Chunk> plan(DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor cuQ, DeviceTensor cuK,
                                   DeviceTensor qStart, DeviceTensor kStart, DeviceTensor blocks, int selBlock,
                                   float scale, DeviceTensor out, DeviceTensor lse, int chunkTokens, long packedK,
                                   long packedV, long packedLen, long packedLast, long packedCuQ, long packedCuK) {
        AttnParams rp = validate(q, k, v, cuQ, cuK, qStart, kStart, blocks, selBlock, scale, out, lse);
        int nnz = rp.nnzQ(), heads = rp.heads(), groups = rp.kvHeads(), dk = rp.dk(), dv = rp.dv();
        int hpg = heads / groups;
        List<Chunk> chunks = new ArrayList<>();
        if (nnz == 0) {
            return chunks;
        }
        if (chunkTokens < 1) {
            throw new NsaArgumentException("chunk", "chunk tokens >= 1", "chunk tokens " + chunkTokens);
        }
        int limit = tokensPerChunk(nnz, groups, rp.nSel(), selBlock, dk, dv, q.dtype(), Long.MAX_VALUE);
        if (chunkTokens > limit) {
            throw new NsaArgumentException("chunk", "chunk·G·n·l' < 2^31 (packed row offsets are int32)",
                    "chunk tokens " + chunkTokens + " > " + limit);
        }
        Checks.pointer("packed_k", packedK, q.dtype());
        Checks.pointer("packed_v", packedV, q.dtype());
        Checks.pointer("packed_len", packedLen, DType.INT32);
        Checks.pointer("packed_last", packedLast, DType.INT32);
        Checks.pointer("packed_cu_q", packedCuQ, DType.INT32);
        Checks.pointer("packed_cu_k", packedCuK, DType.INT32);
        DType in = q.dtype();
        int cap = (int) capacity(rp.nSel(), selBlock);
        long qElem = in.byteSize();
        long oElem = out.dtype().byteSize();
        for (int tok0 = 0; tok0 < nnz; tok0 += chunkTokens) {
            int rows = Math.min(chunkTokens, nnz - tok0);
            SelGatherParams gp = new SelGatherParams(rp.k(), rp.v(), rp.cuQ(), rp.cuK(), rp.qStart(), rp.kStart(),
                    rp.blocks(), packedK, packedV, packedLen, packedLast, packedCuQ, packedCuK,
                    rp.kTokStride(), rp.kHeadStride(), rp.vTokStride(), rp.vHeadStride(), rp.blocksTokStride(),
                    rp.blocksHeadStride(), tok0, rows, rp.batch(), groups, dk, dv, selBlock, rp.nSel(), cap);
            Gather g = new Gather(KernelCatalog.require(KernelCatalog.selGather(in)), gp, (long) rows * groups);
            int r = rows * groups;
            AttnParams ap = new AttnParams(rp.q() + tok0 * rp.qTokStride() * qElem, packedK, packedV,
                    rp.o() + tok0 * rp.oTokStride() * oElem, rp.lse() == 0L ? 0L : rp.lse() + tok0 * (long) heads * 4L,
                    packedCuQ, packedCuK, packedLast, 0L, 0L,
                    (long) hpg * rp.qHeadStride(), rp.qHeadStride(), dk, 0L, dv, 0L,
                    (long) hpg * rp.oHeadStride(), rp.oHeadStride(), hpg, 0L, 0L,
                    r, r, hpg, 1, dk, dv, AttnMask.CAUSAL.code(), AttnWalk.RANGES.code(), 0, 0, 0, 0, 0,
                    rp.outFp32(), rp.scale());
            chunks.add(new Chunk(g, Attention.plan(ap, in)));
        }
        return chunks;
    }

    /** Every rule of {@link Attention#plan} for the chosen-block mask plus the packed view's stride rule. */
    private static AttnParams validate(DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor cuQ,
                                       DeviceTensor cuK, DeviceTensor qStart, DeviceTensor kStart, DeviceTensor blocks,
                                       int selBlock, float scale, DeviceTensor out, DeviceTensor lse) {
        AttnSpec spec = AttnSpec.chosen(selBlock).withWalk(AttnWalk.RANGES);
        if (!Float.isNaN(scale)) {
            spec = spec.withScale(scale);
        }
        // every shape / dtype / stride / pointer rule of the chosen-block attention
        Attention.Launch ref = Attention.plan(q, k, v, cuQ, cuK, qStart, kStart, blocks, spec, out, lse);
        AttnParams rp = ref.params();
        int heads = rp.heads();
        if (q.stride(0) != heads * q.stride(1)) {
            throw new NsaArgumentException("q", "token stride = H·head stride (packed selection views q as [nnz·G, H/G, Dk])",
                    "strides " + q.stride(0) + ", " + q.stride(1) + " with H = " + heads);
        }
        if (out.stride(0) != heads * out.stride(1)) {
            throw new NsaArgumentException("out", "token stride = H·head stride (packed selection views out as [nnz·G, H/G, Dv])",
                    "strides " + out.stride(0) + ", " + out.stride(1) + " with H = " + heads);
        }
        if (lse != null && lse.stride(0) != heads) {
            throw new NsaArgumentException("lse", "token stride = H (packed selection views lse as [nnz·G, H/G])",
                    "token stride " + lse.stride(0) + " with H = " + heads);
        }
        return rp;
    }

    /** {@link #run(KernelModule, CudaStream, DeviceTensor, DeviceTensor, DeviceTensor, DeviceTensor, DeviceTensor, DeviceTensor, DeviceTensor, DeviceTensor, int, float, DeviceTensor, DeviceTensor, long)} with sequences at position 0 and the default budget. */
    public static void run(KernelModule module, CudaStream stream, DeviceTensor q, DeviceTensor k, DeviceTensor v,
                           DeviceTensor cuQ, DeviceTensor cuK, DeviceTensor blocks, int selBlock, float scale,
                           DeviceTensor out, DeviceTensor lse) {
        run(module, stream, q, k, v, cuQ, cuK, null, null, blocks, selBlock, scale, out, lse, DEFAULT_BUDGET_BYTES);
    }

    /**
     * Validates, allocates the packed buffers for one chunk (at most {@code budgetBytes}) on {@code stream},
     * enqueues gather + attention per chunk, and frees the buffers (stream-ordered). {@code scale} NaN = 1/√Dk.
     */
    public static void run(KernelModule module, CudaStream stream, DeviceTensor q, DeviceTensor k, DeviceTensor v,
                           DeviceTensor cuQ, DeviceTensor cuK, DeviceTensor qStart, DeviceTensor kStart,
                           DeviceTensor blocks, int selBlock, float scale, DeviceTensor out, DeviceTensor lse,
                           long budgetBytes) {
        AttnParams rp = validate(q, k, v, cuQ, cuK, qStart, kStart, blocks, selBlock, scale, out, lse);
        int nnz = rp.nnzQ();
        if (nnz == 0) {
            return;
        }
        int groups = rp.kvHeads(), nSel = rp.nSel(), dk = rp.dk(), dv = rp.dv();
        int chunk = tokensPerChunk(nnz, groups, nSel, selBlock, dk, dv, q.dtype(), budgetBytes);
        long rowsCap = (long) chunk * groups * capacity(nSel, selBlock);
        long meta = (long) chunk * groups;
        try (DeviceBuffer pk = DeviceBuffer.allocate(stream, rowsCap * dk * q.dtype().byteSize());
             DeviceBuffer pv = DeviceBuffer.allocate(stream, rowsCap * dv * q.dtype().byteSize());
             DeviceBuffer len = DeviceBuffer.allocate(stream, meta * 4L);
             DeviceBuffer last = DeviceBuffer.allocate(stream, meta * 4L);
             DeviceBuffer cq = DeviceBuffer.allocate(stream, (meta + 1) * 4L);
             DeviceBuffer ck = DeviceBuffer.allocate(stream, (meta + 1) * 4L)) {
            for (Chunk c : plan(q, k, v, cuQ, cuK, qStart, kStart, blocks, selBlock, scale, out, lse, chunk,
                    pk.address(), pv.address(), len.address(), last.address(), cq.address(), ck.address())) {
                Gather g = c.gather();
                module.launch(g.key(), g.grid(), BLOCK, stream.handle(), g.params().toBytes());
                Attention.Launch a = c.attention();
                module.launch(a.key(), a.grid(), Attention.BLOCK, stream.handle(), a.params().toBytes());
            }
        }
    }
}
