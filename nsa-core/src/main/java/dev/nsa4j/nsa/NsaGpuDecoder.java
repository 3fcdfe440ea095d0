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
import dev.nsa4j.config.Phi;
import dev.nsa4j.kernels.CudaGraph;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.internal.Decode;
import dev.nsa4j.kernels.internal.DecodeParams;
import dev.nsa4j.kernels.internal.GateCombine;
import dev.nsa4j.kernels.internal.KernelModule;
import dev.nsa4j.kernels.internal.TcModule;
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
    private final KernelModule module;
    private final CudaStream stream;
    private final DeviceDecodeCache cache;
    /** The split kernels' image, or null: the reference step. */
    private final TcModule tc;
    private final boolean exactP;
    private final String route;
    private final DecodeCachePlan.Splits splits;

    private NsaGpuDecoder(NsaAttention attention, DecodeCachePlan plan) {
        this.attention = attention;
        this.cfg = attention.config();
        GpuBackend gpu = attention.gpu();
        this.module = gpu.kernels();
        Decode.check(plan.dtype(), plan.dims());
        String why = tcRefusal(gpu, plan);
        this.tc = why == null ? gpu.tc() : null;
        this.exactP = !gpu.effectiveFlags().bool(Flag.NSA_FAST_P);
        DecodeCachePlan.Splits sp = plan.splits(attention.context().device().smCount());
        this.splits = tc != null ? sp : null;
        this.route = why != null ? "reference step (one warp per (sequence, head) and branch): " + why
                : "tensor-core step (branches split over their keys, cmp/sel/win splits " + sp.cmp() + "/" + sp.sel()
                        + "/" + sp.win() + ", " + (exactP ? "exact P" : "fast P (NSA_FAST_P=1)")
                        + ")";
        this.stream = CudaStream.create(attention.context());
        DeviceDecodeCache c = null;
        try {
            c = new DeviceDecodeCache(stream, plan);
            if (tc != null) {
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

    /** Why the tensor-core step cannot serve this decoder, or null when it can. */
    private static String tcRefusal(GpuBackend gpu, DecodeCachePlan plan) {
        if (gpu.effectiveFlags().bool(Flag.NSA_FORCE_PARITY)) {
            return "parity mode (NSA_FORCE_PARITY=1)";
        }
        if (gpu.tc() == null) {
            return gpu.tcUnavailable();
        }
        return Decode.tcRefusal(plan.dtype(), plan.dims());
    }

    /**
     * A decoder for {@code batch} sequences of up to {@code capacity} tokens in {@code dtype}, on the attention's GPU.
     *
     * @throws NsaArgumentException when the attention is not on a GPU or a size breaks a rule
     */
    public static NsaGpuDecoder open(NsaAttention attention, int batch, int capacity, DType dtype) {
        Objects.requireNonNull(attention, "attention");
        if (!attention.onGpu()) {
            throw new NsaArgumentException("decode.device", "an NsaAttention on a GPU (device gpu or auto with a GPU)",
                    "this one runs on the CPU oracle: use NsaDecoder there");
        }
        return new NsaGpuDecoder(attention, new DecodeCachePlan(attention.config(), batch, capacity, dtype));
    }

    /** Which step runs and why: the tensor-core step, or the reference step with the rule that ruled it out. */
    public String route() {
        return route;
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

    /** Bytes of device memory the decoder allocated: {@link DecodeCachePlan#deviceBytes} of its plan and route. */
    public long deviceBytes() {
        return cache.deviceBytes();
    }

    /** The tensor-core step's split counts, or null on the reference step. */
    public DecodeCachePlan.Splits splits() {
        return splits;
    }

    /** True when the tensor-core step runs (else the reference step; {@link #route} says why). */
    public boolean tensorCoreStep() {
        return tc != null;
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
        DType dt = cache.plan.dtype();
        Decode.fill(module, s.handle(), dt, p);
        if (p.dims().phiMlp()) {
            Decode.mlpFill(module, s.handle(), dt, p, attention.gpu().phiK(), attention.gpu().phiV());
        } else {
            Decode.fillCmp(module, s.handle(), dt, p);
        }
    }

    /**
     * One step for every sequence, host tensors in and out (one upload per input, the downloads of {@link Step}).
     *
     * @throws NsaArgumentException for inputs that break a rule, before the cache changes
     */
    public Step step(NsaInputs in) {
        Objects.requireNonNull(in, "in");
        requireOneTokenPerSequence(in.isVarlen(), in.indices() != null);
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

    /** A step takes one token per sequence ({@code [B,1,...]}, no cu_seqlens) and scores its blocks itself. */
    private static void requireOneTokenPerSequence(boolean varlen, boolean indices) {
        if (varlen) {
            throw new NsaArgumentException("cu_seqlens", "absent in a decode step",
                    "a step takes one token per sequence as [B,1,...] tensors");
        }
        if (indices) {
            throw new NsaArgumentException("indices", "absent on the GPU decoder (its step scores the blocks)",
                    "caller-chosen blocks in a step decode on the CPU oracle (NsaDecoder) for now");
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
        Bound b = bind(in, o);
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
        Bound b = bind(in, o);
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

    /** A step's device tensors, checked and viewed in the kernels' layouts. */
    private record Bound(DecodeParams.Step step, DeviceTensor gates, DeviceTensor o) {
    }

    private Bound bind(NsaDeviceInputs in, DeviceTensor o) {
        Objects.requireNonNull(in, "in");
        Objects.requireNonNull(o, "o");
        requireOneTokenPerSequence(in.isVarlen(), in.indices() != null);
        DType dt = cache.plan.dtype();
        DeviceTensor q = stepTensor("q", in.q(), List.of(dt), cfg.heads(), cfg.headDimQk());
        DeviceTensor[] kv = {in.kCmp(), in.vCmp(), in.kSel(), in.vSel(), in.kWin(), in.vWin()};
        String[] names = {"k_cmp", "v_cmp", "k_sel", "v_sel", "k_win", "v_win"};
        long[] addr = new long[kv.length];
        for (int i = 0; i < kv.length; i++) {
            addr[i] = stepTensor(names[i], kv[i], List.of(dt), cfg.kvGroups(),
                    i % 2 == 0 ? cfg.headDimQk() : cfg.headDimV()).address();
        }
        DeviceTensor gates = stepTensor("gates", in.gates(), List.of(DType.FP32, dt), cfg.heads(), 3);
        DeviceTensor out = stepTensor("o", o, List.of(DType.FP32, dt), cfg.heads(), cfg.headDimV());
        return new Bound(new DecodeParams.Step(q.address(), addr[0], addr[1], addr[2], addr[3], addr[4], addr[5], 0),
                gates, out);
    }

    /** {@code t} as {@code [B, heads, dim]}: contiguous, B·heads·dim elements ({@code [B,1,heads,dim]} or that). */
    private DeviceTensor stepTensor(String name, DeviceTensor t, List<DType> dtypes, int heads, int dim) {
        Objects.requireNonNull(t, name);
        long want = (long) cache.plan.batch() * heads * dim;
        if (!t.shape().isContiguous() || t.shape().numel() != want) {
            throw new NsaArgumentException(name, "contiguous [B,1," + heads + "," + dim + "] with B = "
                    + cache.plan.batch(), "got " + t.shape());
        }
        if (!dtypes.contains(t.dtype())) {
            throw new NsaArgumentException(name, "dtype " + dtypes, "got " + t.dtype());
        }
        return t.view(Shape.of(cache.plan.batch(), heads, dim));
    }

    /**
     * The step's launches. Reference step: append, cmp, select, sel, win, the gate combine, advance. Tensor-core
     * step: append, the cmp split, the scorer (fed by the cmp split's scores), one split launch for sel and win, and
     * finish (the splits merged, the gate combine, advance): five launches. phi = mlp adds the two mlp_emit launches
     * (K̃, Ṽ) after append.
     */
    private void enqueue(CudaStream stream, Bound bound) {
        DecodeParams p = cache.params().withStep(bound.step());
        DType dt = cache.plan.dtype();
        long s = stream.handle();
        Decode.append(module, s, dt, p);
        if (p.dims().phiMlp()) {
            Decode.mlpEmit(module, s, dt, p, attention.gpu().phiK(), attention.gpu().phiV());
        }
        if (tc != null) {
            Decode.split(tc, s, dt, Decode.Branch.CMP, 1, p, exactP);
            Decode.selectScores(module, s, p);
            Decode.split(tc, s, dt, Decode.Branch.SEL, 2, p, exactP);
            Decode.finish(module, s, bound.gates().dtype(), bound.gates().address(), bound.o().dtype(),
                    bound.o().address(), p);
            return;
        }
        Decode.attend(module, s, dt, Decode.Branch.CMP, p);
        Decode.select(module, s, dt, p);
        Decode.attend(module, s, dt, Decode.Branch.SEL, p);
        Decode.attend(module, s, dt, Decode.Branch.WIN, p);
        GateCombine.run(module, stream, cache.oCmp, cache.oSel, cache.oWin, bound.gates(), bound.o());
        Decode.advance(module, s, p);
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
