package dev.nsa4j.nsa;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.config.Phi;
import dev.nsa4j.fa2.Fa2Bridge;
import dev.nsa4j.kernels.Attention;
import dev.nsa4j.kernels.AttnWalk;
import dev.nsa4j.kernels.BlockSelect;
import dev.nsa4j.kernels.CudaContext;
import dev.nsa4j.kernels.CudaDevices;
import dev.nsa4j.kernels.GpuAvailability;
import dev.nsa4j.kernels.nsa.GpuNsa;
import dev.nsa4j.oracle.GateOverride;
import dev.nsa4j.oracle.NsaInputs;
import dev.nsa4j.oracle.NsaOracle;
import dev.nsa4j.oracle.NsaResult;
import dev.nsa4j.oracle.PhiWeights;
import dev.nsa4j.tensor.DType;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ForkJoinPool;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;

/**
 * NSA attention, what users import: routes each branch to a path (ROUTING.md), runs it, and reports
 * which path ran and why.
 *
 * <pre>{@code
 * NsaAttention nsa = NsaAttention.builder(cfg).device("cpu").build();
 * NsaOutput out = nsa.forward(inputs);          // inputs in NSA-SPEC layouts
 * out.result().o();                             // [B,S,H,Dv]
 * out.routes();                                 // cmp/sel/win -> path, reason
 * }</pre>
 *
 * <p>Devices: {@code cpu} runs the CPU oracle (reason "requested"). {@code auto} runs on the GPU
 * ({@link GpuNsa}) where a CUDA device, the kernel image and the config allow (phi = avg, or mlp within the
 * kernel's l·D and hidden limits; n <= 64, head dims <= 256), else the oracle with the reason ("GPU
 * unavailable: ..."). {@code gpu} or a CUDA ordinal demands the GPU: {@link Builder#build()} throws, naming
 * the reason, where it cannot serve.
 *
 * <p>On the GPU, each branch's path follows the flags ({@link GpuRoutes}). The compressed and window
 * branches run on FA-2 ({@code fa2}, through {@link Fa2Bridge}, exact-P mode) where {@code NSA_USE_FA2} and
 * the branch's switch (property, environment or GPU profile) wish it, the call's key length reaches
 * {@code NSA_FA2_MIN_LEN_WIN} / {@code NSA_FA2_MIN_LEN_CMP} ({@link Fa2Threshold}) and the FA-2 contract
 * accepts the call; elsewhere on their reference path. That is decided per call: {@link NsaOutput#routes()}
 * holds the path that ran each branch in that call and why. Below the threshold is a normal route; a
 * contract refusal (for example the compressed branch, which runs in fp32, under the dtype rule unless
 * {@code NSA_FA2_ALLOW_FP32=1}), a missing FA-2 image or a failed kernel is a counted fallback, logged at
 * WARN with every failed rule ({@code NSA_FA2_HARD_FAIL=1}: it throws instead). Where flags ask for a fast
 * path this build lacks ({@code NSA_USE_SEL_KERNEL}) the call is counted and logged as a fallback, likewise
 * FA-2 on the CPU under {@code auto}; where only the GPU profile asks for {@code sel-kernel}, the route's
 * reason says so and nothing is counted.
 *
 * <p>An instance on the GPU holds a stream, a kernel module and, where FA-2 is wished for a branch, the FA-2
 * image: {@link #close()} frees them. Without the FA-2 image (a build without nvcc) every FA-2 call falls
 * back with that reason. GPU calls on one instance are serialised (one stream); use one instance per thread
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
 * {@code min}) / {@code sel.kernel.fallback} / {@code parity.fallback} at WARN, each tag limited to
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
    private final Map<Branch, Route> routes;
    private final Map<Branch, String> fallbackTags;
    private final Counters counters = new Counters();
    private final RateLimitedLog log;
    /** The GPU composition when a GPU serves the calls, else null. */
    private final GpuNsa gpu;
    private final CudaContext gpuContext;
    /** FA-2 over {@link #gpu}'s module where a branch wishes it, else null. */
    private final Fa2Bridge fa2;
    /** The FA-2 runners of the cmp/win branches that wish FA-2. */
    private final Map<Branch, Fa2BranchRunner> fa2Runners;
    private final String cpuReason;
    private final GpuNsa.Walks walks;

    private NsaAttention(Builder b, FlagSnapshot flags, DeviceRequest device, GateOverride override,
                         RateLimitedLog.Sink sink, int gpuOrdinal, String cpuReason) {
        this.config = b.config;
        this.flags = flags;
        this.device = device;
        this.override = override;
        this.cpuReason = cpuReason;
        this.oracle = new NsaOracle(b.config, b.phi, b.pool);
        // before the context is retained: a bad NSA_PROFILE file throws with nothing to free
        this.routingFlags = gpuOrdinal >= 0 ? RoutingFlags.forDevice(flags, CudaDevices.require(gpuOrdinal))
                : RoutingFlags.withoutProfile(flags, "no GPU is used: "
                        + (REQUESTED.equals(cpuReason) ? "device cpu requested" : cpuReason));
        this.log = sink != null ? new RateLimitedLog(sink, flags.logLimit())
                : new RateLimitedLog(LoggerFactory.getLogger(NsaAttention.class), flags.logLimit());
        this.routes = new EnumMap<>(Branch.class);
        this.fallbackTags = new EnumMap<>(Branch.class);
        this.fa2Runners = new EnumMap<>(Branch.class);
        if (gpuOrdinal < 0) {
            this.gpuContext = null;
            this.gpu = null;
            this.fa2 = null;
            this.walks = null;
            for (Branch br : Branch.values()) {
                planRoute(br);
            }
            return;
        }
        CudaContext ctx = CudaContext.primary(gpuOrdinal);
        GpuNsa g = null;
        Fa2Bridge bridge = null;
        try {
            g = new GpuNsa(b.config, b.phi, ctx);
            int hd = routingHeadDim(config);
            FlagSnapshot eff = effectiveFlags(hd);
            String label = routingFlags.profile().map(p -> p.family()
                    + GpuProfile.HeadDimBucket.of(hd).map(x -> " " + x.key()).orElse("")).orElse(null);
            AttnWalk[] w = new AttnWalk[3];
            Map<Branch, GpuRoutes.Fa2Wish> wishes = new EnumMap<>(Branch.class);
            for (Branch br : Branch.values()) {
                GpuRoutes.Plan plan = GpuRoutes.plan(br, eff, label);
                routes.put(br, plan.route());
                w[br.ordinal()] = plan.walk();
                if (plan.fallbackTag() != null) {
                    fallbackTags.put(br, plan.fallbackTag());
                }
                if (plan.fa2() != null) {
                    wishes.put(br, plan.fa2());
                }
            }
            if (!wishes.isEmpty()) {
                // checkFinite: ROUTING.md's NaN/Inf check after a fast path (one small kernel and a sync)
                bridge = Fa2Bridge.open(g.module(), true);
                for (Map.Entry<Branch, GpuRoutes.Fa2Wish> e : wishes.entrySet()) {
                    fa2Runners.put(e.getKey(), new Fa2BranchRunner(e.getKey(), e.getValue(), g.module(), bridge,
                            eff.fa2Options(), eff.bool(Flag.NSA_FA2_HARD_FAIL)));
                }
            }
            this.walks = new GpuNsa.Walks(w[0], w[1], w[2], routes.get(Branch.SEL).path() == Path.SDPA_PACKED)
                    .withRunners(fa2Runners.get(Branch.CMP), fa2Runners.get(Branch.WIN));
        } catch (RuntimeException e) {
            if (bridge != null) {
                bridge.close();
            }
            if (g != null) {
                g.close();
            }
            ctx.close();
            throw e;
        }
        this.gpuContext = ctx;
        this.gpu = g;
        this.fa2 = bridge;
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
     * @throws NsaArgumentException for inputs that break a rule of NSA-SPEC (shapes, dtypes, cu_seqlens,
     *                              indices), before anything is computed
     */
    public NsaOutput forward(NsaInputs inputs, DType outType) {
        Objects.requireNonNull(inputs, "inputs");
        long t0 = System.nanoTime();
        NsaResult r;
        Map<Branch, Fa2BranchRunner.Call> fa2Calls = new EnumMap<>(Branch.class);
        if (gpu != null) {
            synchronized (gpu) { // one stream; the runners record this call
                fa2Runners.values().forEach(Fa2BranchRunner::reset);
                r = gpu.forward(inputs, outType, override, walks);
                for (Fa2BranchRunner runner : fa2Runners.values()) {
                    Fa2BranchRunner.Call c = runner.take();
                    if (c == null) {
                        throw new IllegalStateException("the " + runner.branch().id() + " branch's FA-2 runner was not called");
                    }
                    fa2Calls.put(runner.branch(), c);
                }
            }
        } else {
            r = oracle.forward(inputs, outType, override);
        }
        Duration elapsed = Duration.ofNanos(System.nanoTime() - t0);
        List<Route> done = new ArrayList<>(3);
        for (Branch br : Branch.values()) {
            Fa2BranchRunner.Call call = fa2Calls.get(br);
            Route route = call != null ? call.route() : routes.get(br);
            done.add(route);
            counters.recordCall(br, route.path());
            log.log(Level.INFO, "route", route.toKeyValues());
            if (call != null) {
                String lengths = " len=" + call.decision().length() + " min=" + call.decision().min();
                if (route.path() == Path.FA2) {
                    log.log(Level.INFO, "fa2.path", route.toKeyValues() + lengths);
                } else if (call.fellBack()) {
                    counters.recordFallback(br, route.path(), route.reason());
                    log.log(Level.WARN, "fa2.fallback", route.toKeyValues() + " cause=" + call.cause(fa2.fa2Loaded())
                            + " rules=" + call.rules() + lengths);
                }
            }
            String tag = fallbackTags.get(br);
            if (tag != null) {
                counters.recordFallback(br, route.path(), route.reason());
                log.log(Level.WARN, tag, route.toKeyValues());
            }
        }
        if (flags.bool(Flag.NSA_DEBUG_TIMING)) {
            log.log(Level.INFO, "timing", "path=" + (gpu != null ? "gpu" : "cpu") + " q=" + inputs.q().shape() + " dtype=" + inputs.q().dtype()
                    + " contiguous=" + inputs.q().isContiguous() + " varlen=" + inputs.isVarlen()
                    + " ms=" + String.format(java.util.Locale.ROOT, "%.3f", elapsed.toNanos() / 1e6));
        }
        return new NsaOutput(r, done, elapsed);
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

        private Builder(NsaConfig config) {
            this.config = Objects.requireNonNull(config, "config");
        }

        public Builder phi(PhiWeights v) { phi = v; return this; }
        public Builder flags(FlagSnapshot v) { flags = Objects.requireNonNull(v, "flags"); return this; }
        public Builder device(DeviceRequest v) { device = Objects.requireNonNull(v, "device"); return this; }
        /** {@code auto}, {@code cpu}, {@code gpu} or a CUDA ordinal. */
        public Builder device(String v) { return device(DeviceRequest.parse(v)); }
        public Builder pool(ForkJoinPool v) { pool = Objects.requireNonNull(v, "pool"); return this; }

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
            int ordinal = d.kind() == DeviceRequest.Kind.ORDINAL ? d.ordinal() : 0;
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
            if (!a.available()) {
                return a.reason();
            }
            if (config.phi() == Phi.MLP) {
                try {
                    GpuNsa.checkPhi(config, phi);
                } catch (NsaArgumentException e) {
                    return "phi = mlp weights do not fit the GPU kernel: " + e.getMessage();
                }
            }
            if (config.nSel() > BlockSelect.MAX_N) {
                return "n = " + config.nSel() + " exceeds the GPU selection kernel's limit " + BlockSelect.MAX_N;
            }
            if (Math.max(config.headDimQk(), config.headDimV()) > Attention.MAX_HEAD_DIM) {
                return "head dim above " + Attention.MAX_HEAD_DIM + " has no GPU kernel";
            }
            return null;
        }
    }

    /** Frees the GPU resources (FA-2 image, stream, kernel module, context reference); the CPU path holds none. */
    @Override
    public void close() {
        if (fa2 != null) {
            fa2.close();
        }
        if (gpu != null) {
            gpu.close();
            gpuContext.close();
        }
    }
}
