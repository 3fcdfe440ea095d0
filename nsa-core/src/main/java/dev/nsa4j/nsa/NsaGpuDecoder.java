package dev.nsa4j.nsa;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.attention.BatchLayout;
import dev.nsa4j.attention.GateOverride;
import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.kernels.CudaGraph;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.internal.Decode;
import dev.nsa4j.kernels.internal.DecodeParams;
import dev.nsa4j.oracle.DecodeReads;
import dev.nsa4j.oracle.InputCheck;
import dev.nsa4j.oracle.NsaOracle;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import dev.nsa4j.tensor.Shape;

/**
 * Decode on the GPU (docs/nsa-spec.md "Decode"): a prefill fills device caches ({@link DecodeCachePlan}: a paged
 * selection cache with a block table per sequence, the window ring, the pending compression tokens, K̃/Ṽ), then
 * each {@link #step} appends one token per sequence, emits the compressed token a completed block gives, and
 * computes the three branches and the gate combine for that query, as a prefill computes its row. Sequences of
 * different lengths decode together; a length may be 0 before the first step.
 *
 * <p>The decoder runs on an {@link NsaAttention} that is on a GPU (its context, kernel image and, for phi = mlp, the
 * compression weights: a compressed token is emitted by the forward's MLP arithmetic); the caches hold the inputs' dtype (K̃/Ṽ too, fp32 for fp32 inputs). A step is a fixed sequence of launches
 * on one stream with no host synchronisation, except that a sequence entering a new selection block uploads
 * that block's table entry first.
 *
 * <p>Step inputs are one token per sequence, {@code [B,1,...]} (decisions D8): q {@code [B,1,H,Dk]}, k_c
 * {@code [B,1,G,Dk]}, v_c {@code [B,1,G,Dv]}, gates {@code [B,1,H,3]}; caller-chosen blocks are not taken yet.
 * Not thread-safe: one decoder per thread of decode.
 */
public final class NsaGpuDecoder implements AutoCloseable {
    private final NsaAttention attention;
    private final NsaConfig cfg;
    private final CudaStream stream;
    private final DeviceDecodeCache cache;
    private final DecodeLaunches launches;

    private NsaGpuDecoder(NsaAttention attention, DecodeCachePlan plan, DecodePages pages) {
        this.attention = attention;
        this.cfg = attention.config();
        Decode.check(plan.dtype(), plan.dims());
        this.launches = DecodeLaunches.choose(attention, plan);
        DecodeCachePlan.Splits sp = launches.splits();
        this.stream = CudaStream.create(attention.context());
        DeviceDecodeCache c = null;
        try {
            c = new DeviceDecodeCache(stream, plan, pages);
            if (sp != null) {
                c.allocateSplits(stream, sp.cmp(), sp.sel(), sp.win());
            }
            stream.synchronize();   // the caches are usable from any stream of the context from here on
        } catch (RuntimeException e) {
            if (c != null) {
                c.close();
            }
            stream.close();
            throw e;
        }
        this.cache = c;
    }

    /**
     * A decoder for {@code batch} sequences of up to {@code capacity} tokens in {@code dtype}, on the attention's GPU.
     *
     * @throws NsaArgumentException when the attention is not on a GPU or a size breaks a rule
     */
    public static NsaGpuDecoder open(NsaAttention attention, int batch, int capacity, DType dtype) {
        return open(attention, batch, capacity, dtype, null);
    }

    /**
     * A decoder whose selection pages are the caller's ({@link DecodePages}, a paged-KV manager's pools; null: the
     * decoder's own). The caller places every selection block a token enters with {@link #assignPage} before the
     * prefill or step that writes it; the decoder checks each placement and never frees the pools.
     *
     * @throws NsaArgumentException when the attention is not on a GPU, the pools' shape or dtype do not fit, or a
     *                              size breaks a rule
     */
    public static NsaGpuDecoder open(NsaAttention attention, int batch, int capacity, DType dtype, DecodePages pages) {
        Objects.requireNonNull(attention, "attention");
        if (!attention.onGpu()) {
            throw new NsaArgumentException("decode.device", "an NsaAttention on a GPU (device gpu or auto with a GPU)",
                    "this one runs on the CPU oracle: use NsaDecoder there");
        }
        return new NsaGpuDecoder(attention, new DecodeCachePlan(attention.config(), batch, capacity, dtype), pages);
    }

    /**
     * Caller-owned pages: selection block {@code block} of sequence {@code sequence} (its tokens block·l' ..
     * (block+1)·l' - 1) lives in page {@code page} of the caller's pools. Takes effect with the next prefill or step
     * (the table entry is uploaded on its stream).
     *
     * @throws NsaArgumentException when the decoder owns its pages, an index is out of range, the page holds
     *                              another block, or the block already has another page
     */
    public void assignPage(int sequence, int block, int page) {
        cache.pageTable.assign(sequence, block, page);
    }

    /** The page of each selection block of {@code sequence} (-1 where none), as the decoder placed or was told. */
    public int[] pageTable(int sequence) {
        return cache.pageTable.row(sequence);
    }

    /**
     * Ends {@code sequence}: its length becomes 0 (the next step is its token 0), and with caller-owned pages its
     * pages are released for the caller to reuse (the decoder's own pool keeps them for the sequence's new tokens).
     * Synchronises the decoder's stream, so the change is in place for a step on any stream.
     */
    public void endSequence(int sequence) {
        cache.end(stream, sequence);   // the index rule is checked first, before anything changes
        stream.synchronize();
    }

    /** Which step runs and why: the tensor-core step, or the reference step with the rule that ruled it out. */
    public String route() {
        return launches.route();
    }

    /** The cache's sizes. */
    public DecodeCachePlan plan() {
        return cache.plan;
    }

    /** Tokens in sequence {@code b}'s cache. */
    public int length(int b) {
        return cache.length(b);
    }

    /**
     * The outputs of one step, on the host: {@code [B,1,...]}, fp32 (indices int32), and each sequence's reads (the
     * keys the step's kernels read, summed over the KV groups).
     */
    public record Step(HostTensor o, HostTensor oCmp, HostTensor oSel, HostTensor oWin, HostTensor lseCmp,
                       HostTensor lseSel, HostTensor lseWin, HostTensor indices, DecodeReads[] reads) {
    }

    /**
     * The reads counter of the last step (NSA-SPEC "Decode"): per sequence, the compressed, selected and window keys
     * its kernels read, summed over the KV groups, as the kernels counted them on the device. Synchronises the
     * decoder's stream (a download).
     */
    public DecodeReads[] reads() {
        int[] r = cache.reads.toHost(stream).toIntArray();
        int g = cfg.kvGroups();
        DecodeReads[] out = new DecodeReads[cache.plan.batch()];
        for (int b = 0; b < out.length; b++) {
            long c = 0, s = 0, w = 0;
            for (int gg = 0; gg < g; gg++) {
                int at = (b * g + gg) * 3;
                c += r[at];
                s += r[at + 1];
                w += r[at + 2];
            }
            out[b] = new DecodeReads(c, s, w);
        }
        return out;
    }

    /**
     * Bytes of device memory the decoder allocated: {@link DecodeCachePlan#deviceBytes} of its plan and route (less
     * the selection pages when they are the caller's).
     */
    public long deviceBytes() {
        return cache.deviceBytes();
    }

    /** The tensor-core step's split counts, or null on the reference step. */
    public DecodeCachePlan.Splits splits() {
        return launches.splits();
    }

    /** True when the tensor-core step runs (else the reference step; {@link #route} says why). */
    public boolean tensorCoreStep() {
        return launches.tensorCore();
    }

    /**
     * Prefill of a dense or varlen batch of B sequences (B of the plan; a varlen length may be 0): the attention's
     * forward, and the caches filled from the same k/v.
     *
     * @throws NsaArgumentException for inputs that break a rule or a length past the capacity, before the cache
     *                              changes
     */
    public NsaOutput prefill(NsaInputs in) {
        BatchLayout layout = InputCheck.check(cfg, attention.phiWeights(), in);
        checkBatch(layout.batch(), "q");
        requireDtype(layout.dtype(), "q");
        int[] cu = layout.cu();
        int[] lens = new int[layout.batch()];
        for (int b = 0; b < lens.length; b++) {
            lens[b] = cu[b + 1] - cu[b];
            if (lens[b] > cache.plan.capacity()) {
                throw new NsaArgumentException("decode.capacity", "at most " + cache.plan.capacity()
                        + " tokens per sequence", "sequence " + b + " has " + lens[b]);
            }
        }
        int nnz = layout.nnz();
        // a batch of empty sequences has no row to compute (and no kernel to launch): its output is the oracle's
        NsaOutput out = nnz == 0 ? new NsaOutput(new NsaOracle(cfg).forward(in, DType.FP32, GateOverride.NONE),
                List.of(), Duration.ZERO) : attention.forward(in, DType.FP32);
        List<DeviceTensor> up = new ArrayList<>();
        try {
            HostTensor[] kv = {in.kCmp(), in.vCmp(), in.kSel(), in.vSel(), in.kWin(), in.vWin()};
            long[] addr = new long[kv.length];
            for (int i = 0; i < kv.length; i++) {
                DeviceTensor t = DeviceTensor.upload(stream, kv[i]);   // contiguous: rows [nnz, G, D]
                up.add(t);
                addr[i] = t.address();
            }
            fillCaches(stream, cu, lens, addr, up);
            stream.synchronize();
        } finally {
            for (DeviceTensor t : up) {
                t.close();
            }
        }
        return out;
    }

    /**
     * Device prefill: the caches of all B sequences filled from device k/v (dense {@code [B,S,G,D]} or varlen
     * {@code [nnz,G,D]} with the host cu_seqlens, contiguous, the cache dtype), enqueued on {@code stream} with no
     * host copy of the tensors and no wait; with {@code outputs} not null, the attention's device forward on the same
     * tensors first ({@link NsaAttention#forward(CudaStream, NsaDeviceInputs, NsaDeviceOutputs)}), else none (a cache
     * filled from k/v a caller computed elsewhere). q and the gates are read only by the forward. Replaces every
     * sequence's cache, as {@link #prefill(NsaInputs)} does.
     *
     * @throws NsaArgumentException naming the tensor and the rule (or a length past the capacity), before anything is
     *                              enqueued or the cache changes
     */
    public NsaDeviceResult prefill(CudaStream stream, NsaDeviceInputs in, NsaDeviceOutputs outputs) {
        Objects.requireNonNull(stream, "stream");
        Objects.requireNonNull(in, "in");
        int bsz = cache.plan.batch();
        int[] cu;
        if (in.isVarlen()) {
            cu = in.cuSeqlens();
            if (cu.length != bsz + 1) {
                throw new NsaArgumentException("cu_seqlens", "B + 1 = " + (bsz + 1) + " offsets (the decoder's batch)",
                        "got " + cu.length);
            }
        } else {
            DeviceTensor k = Objects.requireNonNull(in.kCmp(), "k_cmp");
            if (k.shape().rank() != 4 || k.shape().dim(0) != bsz) {
                throw new NsaArgumentException("k_cmp", "[B,S,G,Dk] with B = " + bsz + " (or varlen with cu_seqlens)",
                        "got " + k.shape());
            }
            cu = new int[bsz + 1];
            for (int b = 0; b < bsz; b++) {
                cu[b + 1] = cu[b] + k.shape().dim(1);
            }
        }
        int[] lens = new int[bsz];
        for (int b = 0; b < bsz; b++) {
            lens[b] = cu[b + 1] - cu[b];
            if (cu[b] < 0 || lens[b] < 0) {
                throw new NsaArgumentException("cu_seqlens", "cu[0] = 0, non-decreasing", "got " + Arrays.toString(cu));
            }
            if (lens[b] > cache.plan.capacity()) {
                throw new NsaArgumentException("decode.capacity", "at most " + cache.plan.capacity()
                        + " tokens per sequence", "sequence " + b + " has " + lens[b]);
            }
        }
        int nnz = cu[bsz];
        DeviceTensor[] kv = {in.kCmp(), in.vCmp(), in.kSel(), in.vSel(), in.kWin(), in.vWin()};
        String[] names = {"k_cmp", "v_cmp", "k_sel", "v_sel", "k_win", "v_win"};
        long[] addr = new long[kv.length];
        for (int i = 0; i < kv.length; i++) {
            addr[i] = rows(names[i], kv[i], nnz, i % 2 == 0 ? cfg.headDimQk() : cfg.headDimV()).address();
        }
        NsaDeviceResult r = outputs == null || nnz == 0 ? null : attention.forward(stream, in, outputs);
        List<DeviceTensor> up = new ArrayList<>();
        try {
            fillCaches(stream, cu, lens, addr, up);
        } finally {
            for (DeviceTensor t : up) {
                t.close();   // stream-ordered: after the fill kernels
            }
        }
        return r;
    }

    /** {@code t} as {@code [nnz, G, dim]} rows: contiguous, the cache dtype, nnz·G·dim elements. */
    private DeviceTensor rows(String name, DeviceTensor t, int nnz, int dim) {
        Objects.requireNonNull(t, name);
        long want = (long) nnz * cfg.kvGroups() * dim;
        if (!t.shape().isContiguous() || t.shape().numel() != want) {
            throw new NsaArgumentException(name, "contiguous rows [nnz, " + cfg.kvGroups() + ", " + dim + "] with nnz = "
                    + nnz + " (the cu_seqlens' total)", "got " + t.shape());
        }
        if (t.dtype() != cache.plan.dtype()) {
            throw new NsaArgumentException(name, "dtype " + cache.plan.dtype() + " (the decoder's cache dtype)",
                    "got " + t.dtype());
        }
        return t;
    }

    /** Lengths and table from {@code lens}, then the fill kernels over the k/v rows at {@code addr} (cu uploaded). */
    private void fillCaches(CudaStream s, int[] cu, int[] lens, long[] addr, List<DeviceTensor> owned) {
        DeviceTensor cuDev = DeviceTensor.upload(s, HostTensor.ofInts(cu.clone(), cu.length));
        owned.add(cuDev);
        cache.reset(s, lens);
        DecodeParams base = cache.params();
        DecodeParams p = base.withStep(new DecodeParams.Step(0, addr[0], addr[1], addr[2], addr[3], addr[4],
                addr[5], cuDev.address())).withDims(base.dims().withNnz(cu[cu.length - 1]));
        launches.fill(s, cache.plan.dtype(), p);
    }

    /**
     * One step for every sequence, host tensors in and out (one upload per input, the downloads of {@link Step}).
     *
     * @throws NsaArgumentException for inputs that break a rule, before the cache changes
     */
    public Step step(NsaInputs in) {
        Objects.requireNonNull(in, "in");
        DecodeStepInputs.requireOneTokenPerSequence(in.isVarlen(), in.indices() != null);
        BatchLayout layout = InputCheck.check(cfg, attention.phiWeights(), in);
        if (layout.seqLen() != 1) {
            throw new NsaArgumentException("q", "shape [B,1,H,Dk] (one token per sequence)", "got " + in.q().shape());
        }
        checkBatch(layout.batch(), "q");
        requireDtype(layout.dtype(), "q");
        List<DeviceTensor> up = new ArrayList<>();
        try {
            HostTensor[] host = {in.q(), in.kCmp(), in.vCmp(), in.kSel(), in.vSel(), in.kWin(), in.vWin(), in.gates()};
            DeviceTensor[] d = new DeviceTensor[host.length];
            for (int i = 0; i < host.length; i++) {
                d[i] = DeviceTensor.upload(stream, host[i]);
                up.add(d[i]);
            }
            int[] tok = {layout.batch(), 1};
            DeviceTensor o = DeviceTensor.allocate(stream, DType.FP32, tok[0], 1, cfg.heads(), cfg.headDimV());
            up.add(o);
            step(stream, NsaDeviceInputs.builder().q(d[0]).cmp(d[1], d[2]).sel(d[3], d[4]).win(d[5], d[6]).gates(d[7])
                    .build(), o);
            return new Step(o.toHost(stream), download(cache.oCmp, tok, cfg.heads(), cfg.headDimV()),
                    download(cache.oSel, tok, cfg.heads(), cfg.headDimV()),
                    download(cache.oWin, tok, cfg.heads(), cfg.headDimV()),
                    download(cache.lseCmp, tok, cfg.heads()), download(cache.lseSel, tok, cfg.heads()),
                    download(cache.lseWin, tok, cfg.heads()), download(cache.indices, tok, cfg.kvGroups(), cfg.nSel()),
                    reads());
        } finally {
            for (DeviceTensor t : up) {
                t.close();
            }
        }
    }

    /**
     * One step on device tensors, enqueued on {@code stream}: q {@code [B,1,H,Dk]}, k_c {@code [B,1,G,Dk]}, v_c
     * {@code [B,1,G,Dv]} in the cache dtype, gates {@code [B,1,H,3]} (fp32 or that dtype), all contiguous; o
     * {@code [B,1,H,Dv]} fp32 or the cache dtype. No host synchronisation; a sequence entering a new selection block
     * uploads its table entry first.
     *
     * @throws NsaArgumentException naming the tensor and the rule, before anything is enqueued
     */
    public void step(CudaStream stream, NsaDeviceInputs in, DeviceTensor o) {
        DecodeStepInputs b = DecodeStepInputs.of(cache.plan, in, o);
        cache.reservePages(stream);
        enqueue(stream, b);
        cache.advanced();
    }

    /**
     * Captures one step on these device tensors into a CUDA graph: each {@link StepGraph#replay} is one step reading
     * what the tensors then hold (the caller writes the next token into them between replays).
     *
     * @throws NsaArgumentException as {@link #step(CudaStream, NsaDeviceInputs, DeviceTensor)}
     */
    public StepGraph capture(CudaStream stream, NsaDeviceInputs in, DeviceTensor o) {
        DecodeStepInputs b = DecodeStepInputs.of(cache.plan, in, o);
        return new StepGraph(CudaGraph.capture(stream, () -> enqueue(stream, b)));
    }

    /** A step captured by {@link #capture}: one replay per token, lengths and pages kept by the decoder. */
    public final class StepGraph implements AutoCloseable {
        private final CudaGraph graph;

        private StepGraph(CudaGraph graph) {
            this.graph = graph;
        }

        /** One step: the page of a block a sequence enters (if any), then the graph, on {@code stream}. */
        public void replay(CudaStream stream) {
            cache.reservePages(stream);
            graph.launch(stream);
            cache.advanced();
        }

        @Override
        public void close() {
            graph.close();
        }
    }

    /** The step's launches ({@link DecodeLaunches#step}). */
    private void enqueue(CudaStream stream, DecodeStepInputs bound) {
        launches.step(stream, cache.plan.dtype(), cache.params().withStep(bound.step()), cache, bound.gates(),
                bound.o());
    }

    private HostTensor download(DeviceTensor t, int[] tok, int... rest) {
        int[] dims = new int[tok.length + rest.length];
        System.arraycopy(tok, 0, dims, 0, tok.length);
        System.arraycopy(rest, 0, dims, tok.length, rest.length);
        return t.toHost(stream).view(Shape.of(dims));
    }

    private void checkBatch(int b, String tensor) {
        if (b != cache.plan.batch()) {
            throw new NsaArgumentException(tensor, "B = " + cache.plan.batch() + " sequences (the decoder's batch)",
                    "got B = " + b);
        }
    }

    private void requireDtype(DType dt, String tensor) {
        if (dt != cache.plan.dtype()) {
            throw new NsaArgumentException(tensor, "dtype " + cache.plan.dtype() + " (the decoder's cache dtype)",
                    "got " + dt);
        }
    }

    @Override
    public void close() {
        try {
            stream.synchronize();
        } finally {
            cache.close();
            stream.close();
        }
    }
}
