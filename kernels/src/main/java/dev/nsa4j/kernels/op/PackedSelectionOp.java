package dev.nsa4j.kernels.op;

import java.util.Objects;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.kernels.internal.Attention;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.internal.KernelModule;
import dev.nsa4j.kernels.internal.SelPacked;
import dev.nsa4j.tensor.DType;

/**
 * The selection branch on path {@code sdpa-packed} ({@link SelPacked}: gather the chosen blocks' keys and
 * values per (token, group), then dense attention), in chunks of query tokens whose packed rows fit a byte
 * budget. The packed buffers of one chunk are this op's planned scratch, so a launch allocates nothing.
 */
public final class PackedSelectionOp implements DeviceOp<AttentionArgs> {
    private final KernelModule module;
    private final Sequences seqs;
    private final int selBlock;
    private final float scale;
    private final int chunk;
    private final long packedKBytes;
    private final long packedVBytes;
    private final long metaBytes;
    private final long cuBytes;

    /**
     * Plans the chunks for {@code nnz = seqs.total()} query tokens of {@code groups} KV groups, n chosen blocks
     * of {@code selBlock} tokens, head dims {@code dk}/{@code dv} in {@code dtype}.
     *
     * @throws NsaArgumentException when one token's packed rows exceed {@code budgetBytes}
     */
    public PackedSelectionOp(KernelModule module, Sequences seqs, int groups, int nSel, int selBlock, int dk, int dv,
                             DType dtype, float scale, long budgetBytes) {
        this.module = Objects.requireNonNull(module, "module");
        this.seqs = Objects.requireNonNull(seqs, "seqs");
        this.selBlock = selBlock;
        this.scale = scale;
        int nnz = seqs.total();
        this.chunk = Math.max(1, SelPacked.tokensPerChunk(nnz, groups, nSel, selBlock, dk, dv, dtype, budgetBytes));
        long rows = (long) chunk * groups * SelPacked.capacity(nSel, selBlock);
        long meta = (long) chunk * groups;
        this.packedKBytes = Workspace.aligned(rows * dk * dtype.byteSize());
        this.packedVBytes = Workspace.aligned(rows * dv * dtype.byteSize());
        this.metaBytes = Workspace.aligned(meta * 4L);
        this.cuBytes = Workspace.aligned((meta + 1) * 4L);
    }

    /** Query tokens per chunk. */
    public int chunkTokens() {
        return chunk;
    }

    @Override
    public String describe() {
        return "sdpa-packed chosen blocks (" + chunk + " tokens per chunk)";
    }

    @Override
    public long workspaceBytes() {
        return packedKBytes + packedVBytes + 2 * metaBytes + 2 * cuBytes;
    }

    @Override
    public OpRun launch(CudaStream stream, AttentionArgs a, Workspace ws) {
        if (ws.bytes() < workspaceBytes()) {
            throw new NsaArgumentException("workspace", "at least " + workspaceBytes() + " bytes", ws.bytes() + " bytes");
        }
        long pk = ws.address();
        long pv = pk + packedKBytes;
        long len = pv + packedVBytes;
        long last = len + metaBytes;
        long cq = last + metaBytes;
        long ck = cq + cuBytes;
        DeviceTensor cu = seqs.device();
        for (SelPacked.Chunk c : SelPacked.plan(a.q(), a.k(), a.v(), cu, cu, null, null, a.blocks(), selBlock, scale,
                a.out(), a.lse(), chunk, pk, pv, len, last, cq, ck)) {
            SelPacked.Gather g = c.gather();
            module.launch(g.key(), g.grid(), SelPacked.BLOCK, stream.handle(), g.params().toBytes());
            Attention.Launch at = c.attention();
            module.launch(at.key(), at.grid(), Attention.BLOCK, stream.handle(), at.params().toBytes());
        }
        return OpRun.ran("sdpa-packed");
    }
}
