package dev.nsa4j.nsa;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.attention.BatchLayout;
import dev.nsa4j.attention.GateOverride;
import dev.nsa4j.attention.GateStats;
import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.attention.NsaResult;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.config.Phi;
import dev.nsa4j.kernels.CudaContext;
import dev.nsa4j.kernels.CudaDevices;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.GpuAvailability;
import dev.nsa4j.oracle.InputCheck;
import dev.nsa4j.oracle.NsaOracle;
import dev.nsa4j.oracle.PhiWeights;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ForkJoinPool;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;

/**
 * NSA attention, what users import: routes each branch to a path (docs/routing.md), runs it, and reports
 * which path ran and why.
 *
 * <pre>{@code
 * NsaAttention nsa = NsaAttention.builder(cfg).device("cpu").build();
 * NsaOutput out = nsa.forward(inputs);          // inputs in the NSA spec (docs/nsa-spec.md) layouts
 * out.result().o();                             // [B,S,H,Dv]
 * out.routes();                                 // cmp/sel/win -> path, reason
 * }</pre>
 *
 * <p>Devices: {@code cpu} runs the CPU oracle (reason "requested"). {@code auto} runs on the GPU
 * (a {@link NsaPlan} per shape class) where a CUDA device, the kernel image and the config allow (phi = avg, or mlp within the
 * kernel's l·D and hidden limits; n ≤ 64, head dims ≤ 256), else the oracle with the reason ("GPU
 * unavailable: ..."). {@code gpu} or a CUDA ordinal demands the GPU: {@link Builder#build()} throws, naming
 * the reason, where it cannot serve.
 *
 * <p>On the GPU, each branch's path follows the flags ({@link GpuRoutes}). The compressed and window
 * branches run on FA-2 ({@code fa2}, through {@link dev.nsa4j.fa2.Fa2AttentionOp}, exact-P mode) where {@code NSA_USE_FA2} and
 * the branch's switch (property, environment or GPU profile) wish it, the call's key length reaches
 * {@code NSA_FA2_MIN_LEN_WIN} / {@code NSA_FA2_MIN_LEN_CMP} ({@link Fa2Threshold}) and the FA-2 contract
 * accepts the call; elsewhere on their reference path. That is decided per call: {@link NsaOutput#routes()}
 * holds the path that ran each branch in that call and why. Below the threshold is a normal route; a
 * contract refusal of the shape (for example fp32 inputs under the dtype rule unless
 * {@code NSA_FA2_ALLOW_FP32=1}) is a route reason, a counted fallback where the user asked for FA-2; a refusal of
 * one call's tensors, a missing FA-2 image or a failed kernel is a counted fallback, logged at WARN with every
 * failed rule ({@code NSA_FA2_HARD_FAIL=1}: it throws instead). The selection branch runs on {@code sel-kernel}
 * ({@link dev.nsa4j.kernels.op.SelKernelOp}, exact P) where {@code NSA_USE_SEL_KERNEL} wishes it, n·l' reaches
 * {@code NSA_SEL_KERNEL_MIN_L} and the kernel serves the shape, with the same rules for reasons and counted
 * fallbacks ({@code sel.kernel.fallback}); a call whose tensors it cannot serve runs on {@code sdpa-masked}. The
 * chosen blocks come from the tensor-core scorer where K̃ is fp16/bf16 (near ties may choose differently from the
 * oracle), else, and with {@code NSA_EXACT_SCORES=1} or in the parity mode, from the fp32 reference scorer. Flags
 * asking for a GPU path on the CPU under {@code auto} are counted and logged as fallbacks.
 *
 * <p>An instance on the GPU holds a stream, a kernel module, where FA-2 is wished for a branch the FA-2 image, and
 * the tensor-core image (sel-kernel, the tc scorer) unless neither can run: {@link #close()} frees them. Without
 * an optional image (a build without nvcc) its calls run the reference paths with that reason. GPU calls on one instance are serialised (one stream); use one instance per thread
 * for concurrency.
 *
 * <p>Flags are read once, from the {@link FlagSnapshot} given to the builder (default
 * {@link Flags#snapshot()}); on a GPU, routing adds the device's profile for the config's head dim
 * ({@link #effectiveFlags(int)}, {@link RoutingFlags}). {@code NSA_FORCE_BRANCH} /
 * {@code NSA_FORCE_UNIFORM_GATE} become a {@link GateOverride}; setting both is an error naming both flags.
 *
 * <p>Observability: per branch and call, a line {@code NSA-LOG route branch=.. path=.. reason=".."} at
 * INFO, {@code fa2.path} at INFO when FA-2 ran a branch ({@code len}, {@code min}), and
 * {@code fa2.fallback} (with {@code cause}, {@code rules}: every failed contract rule, {@code len},
 * {@code min}) / {@code sel.kernel.fallback} / {@code parity.fallback} at WARN ({@code select.fallback}, WARN and
 * not counted, when the tc scorer handed a call to the reference scorer), each tag limited to
 * {@code NSA_LOG_LIMIT} lines; {@link #counters()} holds calls per path that ran, and fallbacks. With
 * {@code NSA_FA2_AUDIT=1} the first instance to open a GPU logs the FA-2 start-up audit (tag {@code fa2.audit}).
 *
 * <p>Thread-safe: forward calls may run concurrently.
 */
public final class NsaAttention implements AutoCloseable {
    /** Prefix of the reason for the CPU path under {@code auto} when no GPU can serve the call. */
    public static final String GPU_UNAVAILABLE = "GPU unavailable: ";
    /** Reason for the CPU path when the caller asked for it. */
    public static final String REQUESTED = "requested";

    private final NsaConfig config;
    private final FlagSnapshot flags;
    /** {@link #flags} plus the GPU's profile per head dim; what GPU routing reads. */
    private final RoutingFlags routingFlags;
    private final DeviceRequest device;
    private final GateOverride override;
    private final NsaOracle oracle;
    private final PhiWeights phi;
    private final Map<Branch, Route> routes;
    private final Map<Branch, String> fallbackTags;
    private final Counters counters = new Counters();
    private final RateLimitedLog log;
    private final CallReport calls;
    /** The GPU side (context, kernels, plans) when a GPU serves the calls, else null. */
    private final GpuBackend gpu;
    private final String cpuReason;

    private NsaAttention(Builder b, FlagSnapshot flags, DeviceRequest device, GateOverride override,
                         RateLimitedLog.Sink sink, int gpuOrdinal, String cpuReason) {
        this.config = b.config;
        this.flags = flags;
        this.device = device;
        this.override = override;
        this.cpuReason = cpuReason;
        this.oracle = new NsaOracle(b.config, b.phi, b.pool);
        this.phi = b.phi;
        // before the context is retained: a bad NSA_PROFILE file throws with nothing to free
        this.routingFlags = gpuOrdinal >= 0 ? RoutingFlags.forDevice(flags, CudaDevices.require(gpuOrdinal))
                : RoutingFlags.withoutProfile(flags, "no GPU is used: "
                        + (REQUESTED.equals(cpuReason) ? "device cpu requested" : cpuReason));
        this.log = sink != null ? new RateLimitedLog(sink, flags.logLimit())
                : new RateLimitedLog(LoggerFactory.getLogger(NsaAttention.class), flags.logLimit());
        this.routes = new EnumMap<>(Branch.class);
        this.fallbackTags = new EnumMap<>(Branch.class);
        this.calls = new CallReport(counters, log, fallbackTags);
        if (gpuOrdinal < 0) {
            this.gpu = null;
            for (Branch br : Branch.values()) {
                planRoute(br);
            }
            return;
        }
        boolean attach = b.context != null;
        CudaContext ctx = attach ? b.context : CudaContext.primary(gpuOrdinal);
        try {
            int hd = routingHeadDim(config);
            FlagSnapshot eff = effectiveFlags(hd);
            String label = routingFlags.profile().map(p -> p.family()
                    + GpuProfile.HeadDimBucket.of(hd).map(x -> " " + x.key()).orElse("")).orElse(null);
            boolean wantFa2 = false;
            // the tc scorer may serve any half-precision shape unless the reference scorer is asked for
            boolean wantTc = !SelectPlanner.exactScores(eff);
            for (Branch br : Branch.values()) {
                GpuRoutes.Plan plan = GpuRoutes.plan(br, eff, label, ctx.device().sm());
                routes.put(br, plan.route());
                wantFa2 |= plan.fa2() != null;
                wantTc |= plan.sel() != null;
            }
            this.gpu = new GpuBackend(b.config, b.phi, ctx, !attach, eff, label, override, wantFa2, wantTc);
        } catch (RuntimeException e) {
            if (!attach) {
                ctx.close();
            }
            throw e;
        }
        Fa2AuditLog.onGpuOpened(flags, gpuOrdinal, log);   // NSA_FA2_AUDIT=1: once per JVM, never throws
    }

    /** The CPU route of a branch, with a fallback tag where flags asked for a faster path under auto. */
    private void planRoute(Branch br) {
        if (device.kind() == DeviceRequest.Kind.CPU) {
            routes.put(br, new Route(br, Path.CPU, REQUESTED));
            return;
        }
        String wanted = null;
        String tag = null;
        if (flags.bool(Flag.NSA_FORCE_PARITY)) {
            wanted = "sdpa forced by NSA_FORCE_PARITY";
            tag = "parity.fallback";
        } else if (br == Branch.SEL && flags.bool(Flag.NSA_USE_SEL_KERNEL)) {
            wanted = "sel-kernel requested by NSA_USE_SEL_KERNEL";
            tag = "sel.kernel.fallback";
        } else if (br != Branch.SEL && flags.bool(Flag.NSA_USE_FA2)
                && flags.bool(br == Branch.CMP ? Flag.NSA_USE_FA2_CMP : Flag.NSA_USE_FA2_WIN)) {
            wanted = "fa2 requested by NSA_USE_FA2 and " + (br == Branch.CMP ? "NSA_USE_FA2_CMP" : "NSA_USE_FA2_WIN");
            tag = "fa2.fallback";
        }
        routes.put(br, new Route(br, Path.CPU, wanted == null ? cpuReason : wanted + " but " + cpuReason));
        if (tag != null) {
            fallbackTags.put(br, tag);
        }
    }

    /** A builder for this config. */
    public static Builder builder(NsaConfig config) {
        return new Builder(config);
    }

    /** Forward with outputs in q's dtype. */
    public NsaOutput forward(NsaInputs inputs) {
        return forward(inputs, null);
    }

    /**
     * Computes NSA attention for one batch.
     *
     * @param outType the outputs' dtype, or {@code null} for q's dtype
     * @throws NsaArgumentException for inputs that break a rule of the NSA spec (docs/nsa-spec.md) (shapes, dtypes, cu_seqlens,
     *                              indices), before anything is computed
     */
    public NsaOutput forward(NsaInputs inputs, DType outType) {
        Objects.requireNonNull(inputs, "inputs");
        long t0 = System.nanoTime();
        if (gpu == null) {
            NsaResult r = oracle.forward(inputs, outType, override);
            Duration elapsed = Duration.ofNanos(System.nanoTime() - t0);
            List<Route> done = List.copyOf(routes.values());
            calls.report(done, Map.of(), null, List.of(), null);
            debugTiming("cpu", inputs, elapsed);
            gateStatsLine(inputs);
            return new NsaOutput(r, done, elapsed, null, null);
        }
        if (outType != null && !outType.isFloating()) {
            throw new IllegalArgumentException("output dtype must be fp32, fp16 or bf16, not " + outType);
        }
        BatchLayout layout = InputCheck.check(config, phi, inputs);
        GpuBackend.HostRun hr = gpu.forwardHost(inputs, layout, outType);
        Duration elapsed = Duration.ofNanos(System.nanoTime() - t0);
        calls.report(hr.routes(), hr.fellBack(), hr.selectFellBack(), hr.nonFiniteRecomputed(),
                gpu.pipeline(hr.plan().shape()));
        debugTiming("gpu", inputs, elapsed);
        gateStatsLine(inputs);
        return new NsaOutput(hr.result(), hr.routes(), elapsed, hr.plan(), hr.timing());
    }

    /**
     * Device API: one forward from device tensors into the caller's device outputs, enqueued on the caller's
     * {@code stream} (of this instance's context); nothing is copied to or from the host and nothing waits. The
     * first call of a shape class builds its {@link NsaPlan} (allocating and synchronising once); later calls
     * of it allocate nothing, so they can be captured into a CUDA graph.
     *
     * @throws NsaArgumentException  for a tensor that breaks a rule (naming it and the rule), before anything is
     *                               enqueued
     * @throws IllegalStateException on an instance that runs on the CPU oracle
     */
    public NsaDeviceResult forward(CudaStream stream, NsaDeviceInputs inputs, NsaDeviceOutputs outputs) {
        return forward(stream, inputs, outputs, StepTimer.NONE);
    }

    /** {@link #forward(CudaStream, NsaDeviceInputs, NsaDeviceOutputs)} with step marks (benches). */
    public NsaDeviceResult forward(CudaStream stream, NsaDeviceInputs inputs, NsaDeviceOutputs outputs,
                                   StepTimer timer) {
        Objects.requireNonNull(stream, "stream");
        Objects.requireNonNull(inputs, "inputs");
        Objects.requireNonNull(outputs, "outputs");
        requireGpu();
        if (stream.context().handle() != gpu.context().handle()) {
            throw new NsaArgumentException("stream", "a stream of this instance's CUDA context",
                    "the stream belongs to another context");
        }
        GpuBackend.DeviceRun run = gpu.forwardDevice(stream, inputs, outputs, timer);
        calls.report(run.ran().routes(), run.ran().fellBack(), run.ran().selectFellBack(), List.of(), run.pipeline());
        DevicePipeline p = run.pipeline();
        return new NsaDeviceResult(p.plan(), run.ran().routes(), () -> gpu.nonFinite(stream, p));
    }

    /**
     * Raw entry point for callers that own CUDA memory (TornadoVM's CUDA backend, other JCuda code): the device
     * forward on a raw {@code CUstream} / {@code cudaStream_t} handle of this instance's context; the tensors wrap
     * raw device pointers ({@link NsaDeviceInputs.Builder#raw}).
     */
    public NsaDeviceResult forward(long rawStream, NsaDeviceInputs inputs, NsaDeviceOutputs outputs) {
        requireGpu();
        return forward(CudaStream.wrap(gpu.context(), rawStream), inputs, outputs);
    }

    /**
     * The plan a device call of these tensors uses (built and cached if new). For {@code nsa run} and benches.
     */
    public NsaPlan plan(NsaDeviceInputs inputs, NsaDeviceOutputs outputs) {
        requireGpu();
        return gpu.pipeline(DeviceInputCheck.check(config, inputs, outputs).shape()).plan();
    }

    /** The plan for a shape class (built and cached if new). */
    public NsaPlan plan(NsaShape shape) {
        requireGpu();
        return gpu.pipeline(shape).plan();
    }

    /** The CUDA context device calls run in (the primary context, or the one given to the builder). */
    public CudaContext context() {
        requireGpu();
        return gpu.context();
    }

    /** The phi = mlp weights this attention was built with, or null (the GPU decoder checks its inputs with them). */
    PhiWeights phiWeights() {
        return phi;
    }

    /** The GPU side (the GPU decoder shares its context and kernel image); requires {@link #onGpu()}. */
    GpuBackend gpu() {
        requireGpu();
        return gpu;
    }

    /** True when the calls run on a GPU. */
    public boolean onGpu() {
        return gpu != null;
    }

    /** Device allocations this instance made (plans, staging): constant after the first call of each shape. */
    public DeviceMemory.Stats deviceMemory() {
        requireGpu();
        return gpu.memory().stats();
    }

    private void requireGpu() {
        if (gpu == null) {
            throw new IllegalStateException("the device API needs a GPU; this instance runs on the CPU oracle ("
                    + (cpuReason == null ? REQUESTED : cpuReason) + ")");
        }
    }

    private void gateStatsLine(NsaInputs inputs) {
        log.log(Level.DEBUG, "gate.stats", () -> GateStats.of(inputs.gates(), override).toLogFields());
    }

    private void debugTiming(String path, NsaInputs inputs, Duration elapsed) {
        if (flags.bool(Flag.NSA_DEBUG_TIMING)) {
            log.log(Level.INFO, "timing", "path=" + path + " q=" + inputs.q().shape() + " dtype=" + inputs.q().dtype()
                    + " contiguous=" + inputs.q().isContiguous() + " varlen=" + inputs.isVarlen()
                    + " ms=" + String.format(java.util.Locale.ROOT, "%.3f", elapsed.toNanos() / 1e6));
        }
    }

    /**
     * The route each branch is planned to take, in the order cmp, sel, win. A planned {@code fa2} route is
     * decided per call (length threshold, FA-2 contract): {@link NsaOutput#routes()} says what ran.
     */
    public List<Route> plannedRoutes() {
        return List.copyOf(routes.values());
    }

    public NsaConfig config() {
        return config;
    }

    /** The flags as given to the builder (or read from the system), without a GPU profile. */
    public FlagSnapshot flags() {
        return flags;
    }

    /**
     * The flags routing uses for calls of this head dim: {@link #flags()} plus, on a GPU, the device's
     * profile for that head dim (property > environment > profile > default; cached per head dim). On the
     * CPU, {@link #flags()}.
     */
    public FlagSnapshot effectiveFlags(int headDim) {
        return routingFlags.forHeadDim(headDim);
    }

    /** The flags per head dim, with the profile in use or why none applies. */
    public RoutingFlags routingFlags() {
        return routingFlags;
    }

    /** The head dim whose profile bucket a call uses: the larger of the q/k and v head dims. */
    static int routingHeadDim(NsaConfig config) {
        return Math.max(config.headDimQk(), config.headDimV());
    }

    /** The device request this instance was built with (after defaulting from {@code NSA_DEVICE}). */
    public DeviceRequest device() {
        return device;
    }

    /** The gate override from {@code NSA_FORCE_BRANCH} / {@code NSA_FORCE_UNIFORM_GATE}. */
    public GateOverride gateOverride() {
        return override;
    }

    /** {@link NsaGradients#path()} of a backward on the CPU oracle (every instance: no GPU backward is routed yet). */
    static final String BACKWARD_CPU = "CPU oracle (fp64)";
    static final String BACKWARD_NO_GPU = BACKWARD_CPU + ": the GPU backward is not a route yet (its reference "
            + "kernels await their GPU suite), so the host variant runs on the CPU";

    /**
     * The backward of a forward (host API): the gradients of a loss L with dL/do = {@code gradO}, with respect to q,
     * each branch's k and v, the gates and (phi = mlp) the compression MLPs' parameters (docs/nsa-spec.md
     * "Backward"). The chosen blocks are the forward's ({@code forward.result().indices()}) and are not
     * differentiated. Under a gate override (NSA_FORCE_BRANCH, NSA_FORCE_UNIFORM_GATE) the override's gates are the
     * ones differentiated through, and dL/dgates is 0. Runs on the CPU oracle in fp64 on every instance; on a GPU
     * instance {@link NsaGradients#path()} says so.
     *
     * @param inputs  the inputs of {@code forward}
     * @param forward this instance's forward over {@code inputs}
     * @param gradO   dL/do in o's shape, any float dtype
     * @throws NsaArgumentException for inputs or a gradient that break a rule, before anything is computed
     */
    public NsaGradients backward(NsaInputs inputs, NsaOutput forward, HostTensor gradO) {
        return NsaGradients.compute(config, phi, override, inputs, forward, gradO,
                gpu == null ? BACKWARD_CPU : BACKWARD_NO_GPU);
    }

    /** {@link NsaGradients#path()} of the reference GPU backward. */
    static final String BACKWARD_GPU_REFERENCE = "GPU reference backward (fp32, decisions D43)";

    /**
     * {@link #backward} on the reference GPU backward (decisions D43), for its GPU suite: not yet the route a GPU
     * instance's {@code backward} takes.
     *
     * @throws IllegalStateException on a CPU instance
     */
    NsaGradients backwardOnGpuReference(NsaInputs inputs, NsaOutput forward, HostTensor gradO) {
        if (gpu == null) {
            throw new IllegalStateException("the reference GPU backward needs a GPU instance");
        }
        return NsaGradients.compute(override, inputs, forward, gradO, BACKWARD_GPU_REFERENCE,
                GpuReferenceBackward.engine(config, phi, gpu));
    }

    /**
     * The gate statistics of a forward over {@code inputs} (docs/routing.md "Observability"): entropy, largest gate,
     * branch shares and collapse fraction of the gates as this instance mixes them (its {@link #gateOverride()}
     * applied). Host API; the forward also logs them as {@code NSA-LOG gate.stats} at DEBUG level (rate-limited per
     * {@code NSA_LOG_LIMIT}), computing them only when that line is printed.
     *
     * @throws NsaArgumentException when the gates' last dimension is not 3
     */
    public GateStats gateStats(NsaInputs inputs) {
        Objects.requireNonNull(inputs, "inputs");
        return GateStats.of(inputs.gates(), override);
    }

    /** This instance's call and fallback counters. */
    public Counters counters() {
        return counters;
    }

    /** Maps the gate flags to a {@link GateOverride}; both set is an error naming both. */
    static GateOverride gateOverride(FlagSnapshot flags) {
        boolean uniform = flags.bool(Flag.NSA_FORCE_UNIFORM_GATE);
        var forced = flags.forceBranch();
        if (uniform && forced.isPresent()) {
            throw new NsaArgumentException("NSA_FORCE_BRANCH, NSA_FORCE_UNIFORM_GATE", "at most one gate override",
                    "NSA_FORCE_BRANCH=" + forced.get().id() + " and NSA_FORCE_UNIFORM_GATE=1 are both set; unset one");
        }
        if (uniform) {
            return GateOverride.UNIFORM;
        }
        return forced.map(b -> switch (b) {
            case CMP -> GateOverride.FORCE_CMP;
            case SEL -> GateOverride.FORCE_SEL;
            case WIN -> GateOverride.FORCE_WIN;
        }).orElse(GateOverride.NONE);
    }

    /**
     * Builder. Required: the config. Optional: phi weights (required for {@code phi = mlp}), the flag
     * snapshot (default {@link Flags#snapshot()}), the device (default {@code NSA_DEVICE}), the pool the
     * CPU oracle runs on (default {@link NsaOracle#defaultPool()}, one worker per core).
     */
    public static final class Builder {
        private final NsaConfig config;
        private PhiWeights phi;
        private FlagSnapshot flags;
        private DeviceRequest device;
        private ForkJoinPool pool = NsaOracle.defaultPool();
        private RateLimitedLog.Sink logSink;
        private java.util.function.Supplier<GpuAvailability> availability;
        private CudaContext context;

        private Builder(NsaConfig config) {
            this.config = Objects.requireNonNull(config, "config");
        }

        public Builder phi(PhiWeights v) { phi = v; return this; }
        public Builder flags(FlagSnapshot v) { flags = Objects.requireNonNull(v, "flags"); return this; }
        public Builder device(DeviceRequest v) { device = Objects.requireNonNull(v, "device"); return this; }
        /** {@code auto}, {@code cpu}, {@code gpu} or a CUDA ordinal. */
        public Builder device(String v) { return device(DeviceRequest.parse(v)); }
        public Builder pool(ForkJoinPool v) { pool = Objects.requireNonNull(v, "pool"); return this; }
        /**
         * Attach mode: run on the caller's context (for example the one TornadoVM's CUDA backend or other JCuda code
         * made current, {@link CudaContext#attachCurrent()}) instead of retaining the device's primary context; the
         * caller keeps ownership. Implies the GPU (the context's device).
         */
        public Builder context(CudaContext v) { context = Objects.requireNonNull(v, "context"); return this; }

        /** Sends log lines to a sink instead of SLF4J (tests). */
        Builder logSink(RateLimitedLog.Sink v) { logSink = v; return this; }

        /** Replaces the device probe (tests). */
        Builder gpuAvailability(java.util.function.Supplier<GpuAvailability> v) { availability = v; return this; }

        /**
         * @throws NsaArgumentException for a GPU device request (no GPU NSA path in this build yet), both gate
         *                              overrides set, or phi = mlp without weights
         */
        public NsaAttention build() {
            FlagSnapshot f = flags != null ? flags : Flags.snapshot();
            DeviceRequest d = device != null ? device : DeviceRequest.parse(f.device());
            if (config.phi() == Phi.MLP && phi == null) {
                throw new NsaArgumentException("phi", "phi = mlp needs phi_k/phi_v weights",
                        "config says phi=MLP but no PhiWeights were given to the builder");
            }
            GateOverride override = gateOverride(f);
            if (d.kind() == DeviceRequest.Kind.CPU) {
                return new NsaAttention(this, f, d, override, logSink, -1, REQUESTED);
            }
            int ordinal = context != null ? context.device().ordinal()
                    : d.kind() == DeviceRequest.Kind.ORDINAL ? d.ordinal() : 0;
            String whyNot = gpuUnavailable(ordinal);
            if (whyNot == null) {
                return new NsaAttention(this, f, d, override, logSink, ordinal, null);
            }
            if (d.kind() != DeviceRequest.Kind.AUTO) {
                throw new NsaArgumentException("device", "GPU paths available",
                        "device '" + d + "' asks for a GPU, but " + whyNot + "; use --device cpu (NSA_DEVICE=cpu) "
                                + "or auto");
            }
            return new NsaAttention(this, f, d, override, logSink, -1, GPU_UNAVAILABLE + whyNot);
        }

        /** Why the GPU paths cannot serve this config on that device, or null when they can. */
        private String gpuUnavailable(int ordinal) {
            GpuAvailability a = availability != null ? availability.get() : GpuAvailability.check(ordinal);
            return a.available() ? GpuSupport.whyNot(config, phi) : a.reason();
        }
    }

    /** Frees the GPU resources (plans, stream, kernel images, the context reference); the CPU path holds none. */
    @Override
    public void close() {
        if (gpu != null) {
            gpu.close();
        }
    }
}
