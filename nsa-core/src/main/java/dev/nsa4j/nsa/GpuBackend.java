package dev.nsa4j.nsa;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.nsa4j.attention.BatchLayout;
import dev.nsa4j.attention.GateOverride;
import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.attention.NsaResult;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.config.Phi;
import dev.nsa4j.kernels.internal.CompressMlp;
import dev.nsa4j.kernels.CudaContext;
import dev.nsa4j.kernels.CudaEvent;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.internal.KernelModule;
import dev.nsa4j.kernels.internal.TcModule;
import dev.nsa4j.kernels.op.OpRun;
import dev.nsa4j.oracle.PhiWeights;
import dev.nsa4j.oracle.NsaBackward;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;

/**
 * The GPU side of an {@link NsaAttention}: the context, the kernel images, an own stream, phi's weights, and a
 * cache of {@link DevicePipeline}s (one per {@link NsaShape}, least recently used dropped past
 * {@link #MAX_PLANS}). The device API enqueues on the caller's stream; the host API is the device forward plus
 * one upload into planned staging buffers and the downloads.
 *
 * <p>Calls are serialised (one workspace per plan). When consecutive calls use different streams, the later
 * stream waits on an event recorded after the earlier forward, so a workspace is never used by two forwards at
 * once; no host synchronisation is involved (none either while a stream is being captured into a graph).
 */
final class GpuBackend implements AutoCloseable {
    /** Plans kept per instance. */
    static final int MAX_PLANS = 4;

    private final NsaConfig cfg;
    private final CudaContext context;
    private final boolean ownsContext;
    private final GpuImages images;
    private final CudaStream own;
    private final CompressMlp.Weights phiK;
    private final CompressMlp.Weights phiV;
    private final DeviceMemory memory = new DeviceMemory();
    private final PipelineEnv env;
    private final PipelineEnv envNoFa2;
    private final Cache plans = new Cache(true);
    private final Cache referencePlans = new Cache(false);
    private final Map<NsaShape, Staging> staging = new LinkedHashMap<>();
    private final CudaEvent lastEnd;
    private final CudaEvent hostStart;
    private final CudaEvent hostEnd;
    private long lastStream;
    private boolean lastRecorded;

    /** The pipeline cache: insertion-ordered, re-inserted on use, oldest closed past {@link #MAX_PLANS}. */
    private final class Cache extends LinkedHashMap<NsaShape, DevicePipeline> {
        /** The main cache also drops the host staging of a shape it drops. */
        private final boolean ownsStaging;

        Cache(boolean ownsStaging) {
            super(8, 0.75f, true);
            this.ownsStaging = ownsStaging;
        }

        @Override
        protected boolean removeEldestEntry(Map.Entry<NsaShape, DevicePipeline> eldest) {
            if (size() <= MAX_PLANS) {
                return false;
            }
            retire(eldest.getValue());
            Staging st = ownsStaging ? staging.remove(eldest.getKey()) : null;
            if (st != null) {
                st.close();
            }
            return true;
        }
    }

    /**
     * @param context    the context to run in; closed by {@link #close()} when {@code ownsContext}
     * @param flags      the effective flags (profile applied) routing reads
     * @param wantFa2    load the FA-2 image (some branch may run on it)
     * @param wantTc     load the tensor-core image (sel-kernel or the tc scorer may run)
     */
    GpuBackend(NsaConfig cfg, PhiWeights phi, CudaContext context, boolean ownsContext, FlagSnapshot flags,
               String profileLabel, GateOverride override, boolean wantFa2, boolean wantTc) {
        this.cfg = cfg;
        this.context = context;
        this.ownsContext = ownsContext;
        GpuImages im = null;
        CudaStream s = null;
        CompressMlp.Weights wk = null, wv = null;
        CudaEvent e1 = null, e2 = null, e3 = null;
        try {
            im = GpuImages.load(context, wantFa2, wantTc);
            s = CudaStream.create(context);
            if (cfg.phi() == Phi.MLP) {
                wk = CompressMlp.Weights.upload(s, phi.k());
                wv = CompressMlp.Weights.upload(s, phi.v());
            }
            e1 = CudaEvent.create(context);
            e2 = CudaEvent.create(context);
            e3 = CudaEvent.create(context);
        } catch (RuntimeException ex) {
            for (AutoCloseable c : new AutoCloseable[] {e2, e1, wv, wk, s, im}) {
                closeQuietly(c);
            }
            throw ex;
        }
        this.images = im;
        this.own = s;
        this.phiK = wk;
        this.phiV = wv;
        this.lastEnd = e1;
        this.hostStart = e2;
        this.hostEnd = e3;
        this.env = new PipelineEnv(cfg, im, flags, profileLabel, override, wk, wv, s, memory);
        FlagSnapshot noFa2 = flags.with(Flag.NSA_USE_FA2, "0");
        this.envNoFa2 = new PipelineEnv(cfg, im.withoutFa2("FA-2 output had NaN/Inf from finite inputs"),
                noFa2, profileLabel, override, wk, wv, s, memory);
    }

    private static void closeQuietly(AutoCloseable c) {
        if (c != null) {
            try {
                c.close();
            } catch (Exception ignored) {
                // closing after a failed construction; the first failure is what the caller sees
            }
        }
    }

    CudaContext context() {
        return context;
    }

    /** The nsa4j kernel image (the GPU decoder launches its kernels from it). */
    KernelModule kernels() {
        return images.module();
    }

    /** The tensor-core image (the GPU decoder's split kernels), or null: {@link #tcUnavailable} says why. */
    TcModule tc() {
        return images.tc();
    }

    /** Why the tensor-core image is not loaded, or null when it is. */
    String tcUnavailable() {
        return images.tcUnavailable();
    }

    /** phi = mlp's K̃ weights on the device (the GPU decoder emits compressed tokens with them), or null for avg. */
    CompressMlp.Weights phiK() {
        return phiK;
    }

    /** phi = mlp's Ṽ weights on the device, or null for avg. */
    CompressMlp.Weights phiV() {
        return phiV;
    }

    /** The effective flags (the GPU profile applied), as routing reads them. */
    FlagSnapshot effectiveFlags() {
        return env.flags();
    }

    DeviceMemory memory() {
        return memory;
    }

    /** The plan for a shape class: cached, built (and its memory allocated) on first use. */
    synchronized DevicePipeline pipeline(NsaShape shape) {
        return cached(plans, env, shape);
    }

    /** The plan without FA-2 the host API recomputes on when FA-2's output was not finite. */
    private DevicePipeline referencePipeline(NsaShape shape) {
        return cached(referencePlans, envNoFa2, shape);
    }

    private DevicePipeline cached(Cache cache, PipelineEnv e, NsaShape shape) {
        DevicePipeline p = cache.get(shape);
        if (p == null) {
            p = DevicePipeline.build(e, shape, deviceName());
            cache.put(shape, p);
        }
        return p;
    }

    String deviceName() {
        var d = context.device();
        return "cuda:" + d.ordinal() + " " + d.name() + " (sm_" + d.ccMajor() + d.ccMinor() + ")";
    }

    /** A device forward's outcome: the plan and what ran. */
    record DeviceRun(DevicePipeline pipeline, DevicePipeline.Ran ran) {
    }

    /** Enqueues a device forward on {@code stream} (the caller's), after checking every tensor. */
    synchronized DeviceRun forwardDevice(CudaStream stream, NsaDeviceInputs in, NsaDeviceOutputs out, StepTimer timer) {
        DeviceInputCheck.Call c = DeviceInputCheck.check(cfg, in, out);
        DevicePipeline p = pipeline(c.shape());
        p.checkCall(c);
        order(stream);
        DevicePipeline.Ran r = p.run(stream, c, timer);
        finish(stream);
        return new DeviceRun(p, r);
    }

    /** Waits (on the device) for the previous forward when it ran on another stream. */
    private void order(CudaStream stream) {
        if (lastRecorded && lastStream != stream.handle() && !stream.isCapturing()) {
            stream.waitFor(lastEnd);
        }
    }

    private void finish(CudaStream stream) {
        if (stream.isCapturing()) {
            return;   // an event recorded in a capture cannot be waited on outside it
        }
        lastEnd.record(stream);
        lastStream = stream.handle();
        lastRecorded = true;
    }

    /** Reads a guard counter (synchronises {@code stream}). */
    long nonFinite(CudaStream stream, DevicePipeline p) {
        return p.guarded() ? p.guard().toHost(stream).toIntArray()[0] & 0xffffffffL : 0;
    }

    /**
     * What a host forward did.
     *
     * @param selectFellBack      the block scorer's run when it fell back to the reference scorer, else null
     * @param nonFiniteRecomputed branches whose FA-2 output had NaN/Inf from finite inputs (the call was recomputed
     *                            on the reference paths)
     */
    record HostRun(NsaResult result, NsaPlan plan, List<Route> routes, Map<Branch, OpRun> fellBack,
                   OpRun selectFellBack, List<Branch> nonFiniteRecomputed, HostTiming timing) {
    }

    /**
     * The reference GPU backward (decisions D43) of a forward over {@code mixed} with the chosen blocks
     * {@code indices}, on the own stream after the last forward (phi = mlp with this backend's weights).
     */
    synchronized NsaBackward.Gradients backwardReference(NsaInputs mixed, BatchLayout layout, HostTensor indices,
                                                        HostTensor gradO) {
        order(own);
        NsaBackward.Gradients g = GpuReferenceBackward.run(images.module(), own, cfg, mixed, layout, indices, gradO,
                phiK, phiV);
        finish(own);
        return g;
    }

    /** Host API: upload into the plan's staging, the device forward on the own stream, the downloads. */
    synchronized HostRun forwardHost(NsaInputs in, BatchLayout layout, DType outType) {
        NsaShape shape = new NsaShape(layout.cu(), layout.varlen(), layout.dtype(), in.gates().dtype(), DType.FP32,
                in.indices() != null);
        DevicePipeline p = pipeline(shape);
        Staging st = staging.computeIfAbsent(shape, k -> new Staging(in));
        long t0 = System.nanoTime();
        NsaDeviceInputs dIn = st.upload(in);
        long t1 = System.nanoTime();
        order(own);
        hostStart.record(own);
        DeviceInputCheck.Call c = DeviceInputCheck.check(cfg, dIn, NsaDeviceOutputs.of(st.o));
        p.checkCall(c);
        DevicePipeline.Ran r = p.run(own, c, StepTimer.NONE);
        hostEnd.record(own);
        finish(own);
        List<Branch> recomputed = new ArrayList<>();
        long bad = nonFinite(own, p);
        DevicePipeline used = p;
        if (bad > 0 && finite(in)) {
            for (Branch b : new Branch[] {Branch.CMP, Branch.WIN}) {
                if (r.routes().get(b.ordinal()).path() == Path.FA2) {
                    recomputed.add(b);
                }
            }
            used = referencePipeline(shape);
            DeviceInputCheck.Call c2 = DeviceInputCheck.check(cfg, dIn, NsaDeviceOutputs.of(st.o));
            DevicePipeline.Ran r2 = used.run(own, c2, StepTimer.NONE);
            List<Route> routes = new ArrayList<>(r2.routes());
            for (Branch b : recomputed) {
                routes.set(b.ordinal(), new Route(b, Path.SDPA_MASKED,
                        "FA-2 output had NaN/Inf from finite inputs; recomputed on sdpa-masked"));
            }
            r = new DevicePipeline.Ran(routes, r2.fellBack(), r2.selectFellBack());
        }
        float deviceMs = CudaEvent.elapsedMillis(hostStart, hostEnd);
        long t2 = System.nanoTime();
        NsaResult result = NsaResult.of(cfg, layout, outType, fp64(st.o), fp64(used.oCmp()), fp64(used.oSel()),
                fp64(used.oWin()), fp64(used.lseCmp()), fp64(used.lseSel()), fp64(used.lseWin()),
                in.indices() != null ? in.indices().toIntArray() : used.indices().toHost(own).toIntArray());
        long t3 = System.nanoTime();
        return new HostRun(result, p.plan(), r.routes(), r.fellBack(), r.selectFellBack(), recomputed,
                new HostTiming((t1 - t0) / 1e6, deviceMs, (t3 - t2) / 1e6));
    }

    private double[] fp64(DeviceTensor t) {
        return t.toHost(own).toDoubleArray();
    }

    private static boolean finite(NsaInputs in) {
        for (HostTensor t : new HostTensor[] {in.q(), in.kCmp(), in.vCmp(), in.kSel(), in.vSel(), in.kWin(), in.vWin()}) {
            for (double v : t.toDoubleArray()) {
                if (!Double.isFinite(v)) {
                    return false;
                }
            }
        }
        return true;
    }

    /**
     * Device copies of a host call's inputs, allocated on first use and reused by later calls of the shape: q,
     * one slot per k/v (a host tensor passed for several branches of one call is copied once, into the slot of
     * its first use), gates, the caller's indices, and o (fp32).
     */
    private final class Staging implements AutoCloseable {
        private final List<dev.nsa4j.kernels.DeviceBuffer> buffers = new ArrayList<>();
        private final DeviceTensor q;
        private final DeviceTensor gates;
        private final DeviceTensor o;
        private final DeviceTensor[] kv = new DeviceTensor[6];
        private DeviceTensor indices;

        Staging(NsaInputs in) {
            q = alloc(in.q());
            gates = alloc(in.gates());
            int[] dims = in.q().shape().dims();
            dims[dims.length - 1] = cfg.headDimV();
            o = alloc(DType.FP32, dims);
        }

        private DeviceTensor alloc(HostTensor h) {
            return alloc(h.dtype(), h.shape().dims());
        }

        private DeviceTensor alloc(DType dtype, int[] dims) {
            dev.nsa4j.tensor.Shape s = dev.nsa4j.tensor.Shape.of(dims);
            var buf = memory.allocate(own, s.numel() * dtype.byteSize());
            buffers.add(buf);
            return DeviceTensor.wrap(buf.address(), dtype, s);
        }

        /** Copies the host tensors in (a shared one once) and returns the device inputs. */
        NsaDeviceInputs upload(NsaInputs in) {
            HostTensor[] hk = {in.kCmp(), in.vCmp(), in.kSel(), in.vSel(), in.kWin(), in.vWin()};
            q.copyFrom(own, in.q());
            DeviceTensor[] use = new DeviceTensor[6];
            for (int i = 0; i < 6; i++) {
                for (int j = 0; j < i && use[i] == null; j++) {
                    if (hk[j] == hk[i]) {
                        use[i] = use[j];
                    }
                }
                if (use[i] == null) {
                    if (kv[i] == null) {
                        kv[i] = alloc(hk[i]);
                    }
                    use[i] = kv[i];
                    use[i].copyFrom(own, hk[i]);
                }
            }
            gates.copyFrom(own, in.gates());
            if (in.indices() != null) {
                if (indices == null) {
                    indices = alloc(in.indices());
                }
                indices.copyFrom(own, in.indices());
            }
            return new NsaDeviceInputs(q, use[0], use[1], use[2], use[3], use[4], use[5], gates,
                    in.indices() == null ? null : indices, in.isVarlen() ? in.cuSeqlens().toIntArray() : null);
        }

        @Override
        public void close() {
            for (var b : buffers) {
                b.close();
            }
        }
    }

    private void retire(DevicePipeline p) {
        if (lastRecorded) {
            own.waitFor(lastEnd);   // frees are ordered on the own stream: after the last forward, wherever it ran
        }
        p.close();
    }

    @Override
    public synchronized void close() {
        if (lastRecorded) {
            own.waitFor(lastEnd);
        }
        for (DevicePipeline p : plans.values()) {
            p.close();
        }
        for (DevicePipeline p : referencePlans.values()) {
            p.close();
        }
        for (Staging s : staging.values()) {
            s.close();
        }
        plans.clear();
        referencePlans.clear();
        staging.clear();
        own.synchronize();
        for (AutoCloseable c : new AutoCloseable[] {hostEnd, hostStart, lastEnd, phiV, phiK}) {
            closeQuietly(c);
        }
        own.close();
        images.close();
        if (ownsContext) {
            context.close();
        }
    }
}
