package dev.nsa4j.nsa;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.internal.DecodeParams;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;

/**
 * The device caches of a GPU decode ({@link DecodeCachePlan} sizes them): the selection pool in pages of l' tokens
 * with a block table per sequence, the window ring, the ring of pending compression tokens, K̃/Ṽ, the lengths,
 * and a step's fp32 outputs. Everything is allocated once, when the cache is made; a sequence takes a page from
 * the pool when it enters a new selection block ({@link #reservePages}), so growth writes one table entry and
 * never copies a page. The host keeps a mirror of the lengths and the table: a step never reads device memory
 * back to know where it writes.
 */
final class DeviceDecodeCache implements AutoCloseable {
    final DecodeCachePlan plan;
    private final List<DeviceTensor> owned = new ArrayList<>();
    final DeviceTensor selK, selV, table, winK, winV, rawK, rawV, cmpK, cmpV, lengths;
    final DeviceTensor oCmp, oSel, oWin, lseCmp, lseSel, lseWin, indices, reads;
    private final int[] hostLengths;
    private final int[] hostTable;
    private int nextPage;
    private boolean tableDirty;
    private DecodeParams.Split split = DecodeParams.Split.NONE;

    DeviceDecodeCache(CudaStream stream, DecodeCachePlan plan) {
        this.plan = plan;
        var c = plan.cfg();
        int b = plan.batch();
        int g = c.kvGroups();
        int dk = c.headDimQk();
        int dv = c.headDimV();
        DType dt = plan.dtype();
        try {
            selK = alloc(stream, dt, plan.pages(), c.selBlock(), g, dk);
            selV = alloc(stream, dt, plan.pages(), c.selBlock(), g, dv);
            table = alloc(stream, DType.INT32, b, plan.tableStride());
            winK = alloc(stream, dt, b, c.window(), g, dk);
            winV = alloc(stream, dt, b, c.window(), g, dv);
            rawK = alloc(stream, dt, b, c.blockLen(), g, dk);
            rawV = alloc(stream, dt, b, c.blockLen(), g, dv);
            cmpK = alloc(stream, dt, b, Math.max(1, plan.cmpCap()), g, dk);
            cmpV = alloc(stream, dt, b, Math.max(1, plan.cmpCap()), g, dv);
            lengths = alloc(stream, DType.INT32, b);
            oCmp = alloc(stream, DType.FP32, b, c.heads(), dv);
            oSel = alloc(stream, DType.FP32, b, c.heads(), dv);
            oWin = alloc(stream, DType.FP32, b, c.heads(), dv);
            lseCmp = alloc(stream, DType.FP32, b, c.heads());
            lseSel = alloc(stream, DType.FP32, b, c.heads());
            lseWin = alloc(stream, DType.FP32, b, c.heads());
            indices = alloc(stream, DType.INT32, b, g, c.nSel());
            reads = alloc(stream, DType.INT32, b, g, 3);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        hostLengths = new int[b];
        hostTable = new int[b * plan.tableStride()];
        reset(stream, hostLengths.clone());   // every sequence empty until a prefill
    }

    private DeviceTensor alloc(CudaStream stream, DType dt, int... dims) {
        DeviceTensor t = DeviceTensor.allocate(stream, dt, dims);
        owned.add(t);
        return t;
    }

    /**
     * The tensor-core step's workspace for these split counts (once, before the first step): fp32 partials
     * {@code [S, B, H, Dv]} and {@code [S, B, H]} with S = cmp + sel + win, and the scores {@code [B, H, cmp_cap]}.
     */
    void allocateSplits(CudaStream stream, int cmp, int sel, int win) {
        if (split != DecodeParams.Split.NONE) {
            throw new IllegalStateException("the split workspace is allocated once");
        }
        var c = plan.cfg();
        int rows = cmp + sel + win;
        DeviceTensor o = alloc(stream, DType.FP32, rows, plan.batch(), c.heads(), c.headDimV());
        DeviceTensor lse = alloc(stream, DType.FP32, rows, plan.batch(), c.heads());
        DeviceTensor sc = alloc(stream, DType.FP32, plan.batch(), c.heads(), Math.max(1, plan.cmpCap()));
        split = new DecodeParams.Split(o.address(), lse.address(), sc.address(), cmp, sel, win);
    }

    /** The kernels' view of the caches and the step outputs (step tensors and cu left 0). */
    DecodeParams params() {
        var caches = new DecodeParams.Caches(selK.address(), selV.address(), table.address(), winK.address(),
                winV.address(), rawK.address(), rawV.address(), cmpK.address(), cmpV.address(), lengths.address());
        var outs = new DecodeParams.Outputs(oCmp.address(), oSel.address(), oWin.address(), lseCmp.address(),
                lseSel.address(), lseWin.address(), indices.address(), reads.address());
        return new DecodeParams(new DecodeParams.Step(0, 0, 0, 0, 0, 0, 0, 0), caches, outs, plan.dims(), split);
    }

    /** Bytes of every tensor the cache allocated (the caches, a step's outputs, the split workspace). */
    long deviceBytes() {
        long n = 0;
        for (DeviceTensor t : owned) {
            n += t.shape().numel() * t.dtype().byteSize();
        }
        return n;
    }

    int length(int b) {
        return hostLengths[b];
    }

    /**
     * Sets every sequence's length (a prefill) and gives each the pages its tokens occupy; uploads lengths and table.
     *
     * @throws NsaArgumentException when a length exceeds the capacity
     */
    void reset(CudaStream stream, int[] lens) {
        Arrays.fill(hostTable, -1);
        nextPage = 0;
        for (int b = 0; b < lens.length; b++) {
            requireRoom(b, lens[b]);
            hostLengths[b] = lens[b];
            for (int j = 0; j * plan.cfg().selBlock() < lens[b]; j++) {
                assign(b, j);
            }
        }
        lengths.copyFrom(stream, HostTensor.ofInts(hostLengths.clone(), plan.batch()));
        tableDirty = true;
        flushTable(stream);
    }

    /**
     * Before a step: every sequence has room for one more token, and the page of the block that token enters
     * (a new table entry is uploaded, ordered on {@code stream}).
     *
     * @throws NsaArgumentException naming the sequence at capacity, before anything is enqueued
     */
    void reservePages(CudaStream stream) {
        for (int b = 0; b < plan.batch(); b++) {
            requireRoom(b, hostLengths[b] + 1);
        }
        for (int b = 0; b < plan.batch(); b++) {
            int j = hostLengths[b] / plan.cfg().selBlock();
            if (hostTable[b * plan.tableStride() + j] < 0) {
                assign(b, j);
            }
        }
        flushTable(stream);
    }

    /** After a step's advance kernel: the host mirror follows. */
    void advanced() {
        for (int b = 0; b < hostLengths.length; b++) {
            hostLengths[b]++;
        }
    }

    private void requireRoom(int b, int len) {
        if (len > plan.capacity()) {
            throw new NsaArgumentException("decode.capacity", "at most " + plan.capacity()
                    + " tokens per sequence (the capacity the cache was made with)",
                    "sequence " + b + " would hold " + len + " tokens");
        }
    }

    private void assign(int b, int j) {
        hostTable[b * plan.tableStride() + j] = nextPage++;
        tableDirty = true;
    }

    private void flushTable(CudaStream stream) {
        if (tableDirty) {
            table.copyFrom(stream, HostTensor.ofInts(hostTable.clone(), plan.batch(), plan.tableStride()));
            tableDirty = false;
        }
    }

    @Override
    public void close() {
        for (DeviceTensor t : owned) {
            t.close();
        }
        owned.clear();
    }
}
