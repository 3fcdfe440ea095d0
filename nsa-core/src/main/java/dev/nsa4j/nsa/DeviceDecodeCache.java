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
 * with a block table per sequence (the decoder's own pool, or a caller's: {@link DecodePages}), the window ring, the
 * ring of pending compression tokens, K̃/Ṽ, the lengths, and a step's fp32 outputs. Everything is allocated once,
 * when the cache is made; a block gets its page when a token first enters it ({@link #reservePages}; the caller
 * places it in a caller's pool), so growth writes one table entry and never copies a page. The host keeps a mirror
 * of the lengths and the table ({@link DecodePageTable}): a step never reads device memory back to know where it
 * writes.
 */
final class DeviceDecodeCache implements AutoCloseable {
    final DecodeCachePlan plan;
    private final List<DeviceTensor> owned = new ArrayList<>();
    final DeviceTensor selK, selV, table, winK, winV, rawK, rawV, cmpK, cmpV, lengths;
    final DeviceTensor oCmp, oSel, oWin, lseCmp, lseSel, lseWin, indices, reads;
    private final int[] hostLengths;
    final DecodePageTable pageTable;
    private DecodeParams.Split split = DecodeParams.Split.NONE;

    /** Caches of {@code plan}; {@code pages} null: the decoder's own selection pool, else the caller's. */
    DeviceDecodeCache(CudaStream stream, DecodeCachePlan plan, DecodePages pages) {
        this.plan = plan;
        var c = plan.cfg();
        int b = plan.batch();
        int g = c.kvGroups();
        int dk = c.headDimQk();
        int dv = c.headDimV();
        DType dt = plan.dtype();
        int pool = pages == null ? 0 : pages.k().rank() == 4 ? pages.k().dim(0) : -1;
        if (pages != null) {
            checkPool("pages.k", pages.k(), pool, dk);
            checkPool("pages.v", pages.v(), pool, dv);
        }
        try {
            selK = pages != null ? pages.k() : alloc(stream, dt, plan.pages(), c.selBlock(), g, dk);
            selV = pages != null ? pages.v() : alloc(stream, dt, plan.pages(), c.selBlock(), g, dv);
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
        pageTable = pages != null ? DecodePageTable.callerOwned(b, plan.tableStride(), pool)
                : DecodePageTable.owned(b, plan.tableStride());
        reset(stream, hostLengths.clone());   // every sequence empty until a prefill
    }

    /** A caller's pool: {@code [P, l', G, dim]}, contiguous, in the cache dtype, P >= 1 pages of K and of V alike. */
    private void checkPool(String name, DeviceTensor t, int pages, int dim) {
        var c = plan.cfg();
        int[] want = {pages, c.selBlock(), c.kvGroups(), dim};
        if (t.shape().rank() != 4 || !Arrays.equals(t.shape().dims(), want) || !t.shape().isContiguous()
                || pages < 1) {
            throw new NsaArgumentException(name, "contiguous [P, l', G, " + (name.endsWith("k") ? "Dk" : "Dv")
                    + "] = " + Arrays.toString(want) + " with P >= 1 pages (as many for k and v)",
                    "got " + t.shape());
        }
        if (t.dtype() != plan.dtype()) {
            throw new NsaArgumentException(name, "dtype " + plan.dtype() + " (the decoder's cache dtype)",
                    "got " + t.dtype());
        }
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
        return new DecodeParams(new DecodeParams.Step(0, 0, 0, 0, 0, 0, 0, 0), caches, outs,
                plan.dims().withPages(pageTable.pages()), split);
    }

    /** Bytes of every tensor the cache allocated (the caches, a step's outputs, the split workspace; not a caller's pool). */
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
     * Sets every sequence's length (a prefill) and gives each block its tokens occupy a page (a caller's pool: checks
     * that the caller placed them); uploads lengths and table.
     *
     * @throws NsaArgumentException when a length exceeds the capacity or a block of a caller's pool has no page,
     *                              before anything changes
     */
    void reset(CudaStream stream, int[] lens) {
        int lp = plan.cfg().selBlock();
        for (int b = 0; b < lens.length; b++) {
            requireRoom(b, lens[b]);
            if (pageTable.isCallerOwned()) {
                for (int j = 0; j * lp < lens[b]; j++) {
                    pageTable.require(b, j, "prefill");   // throws, changes nothing, on a caller's pool
                }
            }
        }
        pageTable.resetOwned();
        for (int b = 0; b < lens.length; b++) {
            hostLengths[b] = lens[b];
            for (int j = 0; j * lp < lens[b]; j++) {
                pageTable.require(b, j, "prefill");
            }
        }
        lengths.copyFrom(stream, HostTensor.ofInts(hostLengths.clone(), plan.batch()));
        flushTable(stream);
    }

    /**
     * Before a step: every sequence has room for one more token, and the block that token enters has a page (the
     * own pool hands it one; a new table entry is uploaded, ordered on {@code stream}).
     *
     * @throws NsaArgumentException naming the sequence at capacity or the block without a caller's page, before
     *                              anything is enqueued
     */
    void reservePages(CudaStream stream) {
        int lp = plan.cfg().selBlock();
        for (int b = 0; b < plan.batch(); b++) {
            requireRoom(b, hostLengths[b] + 1);
            if (pageTable.isCallerOwned()) {
                pageTable.require(b, hostLengths[b] / lp, "step");
            }
        }
        for (int b = 0; b < plan.batch(); b++) {
            pageTable.require(b, hostLengths[b] / lp, "step");
        }
        flushTable(stream);
    }

    /** After a step's advance kernel: the host mirror follows. */
    void advanced() {
        for (int b = 0; b < hostLengths.length; b++) {
            hostLengths[b]++;
        }
    }

    /**
     * Sequence {@code b} ends: length 0 (uploaded on {@code stream}), a caller's pages of it released.
     *
     * @throws NsaArgumentException for a sequence outside the batch, before anything changes
     */
    void end(CudaStream stream, int b) {
        pageTable.release(b);
        hostLengths[b] = 0;
        lengths.copyFrom(stream, HostTensor.ofInts(hostLengths.clone(), plan.batch()));
        flushTable(stream);
    }

    private void requireRoom(int b, int len) {
        if (len > plan.capacity()) {
            throw new NsaArgumentException("decode.capacity", "at most " + plan.capacity()
                    + " tokens per sequence (the capacity the cache was made with)",
                    "sequence " + b + " would hold " + len + " tokens");
        }
    }

    private void flushTable(CudaStream stream) {
        int[] t = pageTable.takeChanges();
        if (t != null) {
            table.copyFrom(stream, HostTensor.ofInts(t, plan.batch(), plan.tableStride()));
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
