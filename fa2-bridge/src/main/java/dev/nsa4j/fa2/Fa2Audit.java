package dev.nsa4j.fa2;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.nsa4j.fa2.contract.Fa2Contract;
import dev.nsa4j.fa2.contract.Fa2Device;
import dev.nsa4j.fa2.contract.Fa2Options;
import dev.nsa4j.fa2.contract.Fa2Verdict;
import dev.nsa4j.fa2.contract.HeadDims;
import dev.nsa4j.fa2.contract.KeyExtent;
import dev.nsa4j.kernels.internal.Attention;
import dev.nsa4j.kernels.internal.AttnSpec;
import dev.nsa4j.kernels.CudaContext;
import dev.nsa4j.kernels.CudaDevices;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceBuffer;
import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.GpuAvailability;
import dev.nsa4j.kernels.internal.KernelModule;
import dev.nsa4j.kernels.Mask;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import dev.nsa4j.tensor.Shape;

/**
 * The FA-2 start-up audit (docs/routing.md flag {@code NSA_FA2_AUDIT}, command {@code nsa doctor}): what the
 * machine is (device, driver, CUDA, JCuda, nsa4j and Java versions), what the FA-2 kernel image is (present,
 * size, SASS archs, whether one runs on the device), and one probe per compiled equal head-dim pair
 * ({@link #HEAD_DIMS}) and dtype ({@link #DTYPES}): the contract's verdict for a tiny dense causal call
 * ({@code B = 1, S = 17, H = 2, Hkv = 1}) on the device under the given {@link Fa2Options} and, where it
 * passes, one FA-2 forward (exact P, fp32 output) compared with the reference path {@code sdpa}
 * ({@link Attention}, walk ALL) on the same uploaded inputs.
 *
 * <p>{@link #run} never throws: without a driver, a device or a kernel image it returns a {@link Report}
 * that says why. Planning ({@link #verdicts}) is separate from launching and touches no CUDA state, so the
 * contract side can be checked for a described device on any machine. On the GPU every allocation is a few
 * KiB, made and freed on one stream, in a context, module and stream of the audit's own.
 */
public final class Fa2Audit {
    /** The probed head dims: the compiled pairs with Dk == Dv, ascending (32, 64, 96, 128, 192, 256). */
    public static final List<Integer> HEAD_DIMS = Fa2Contract.COMPILED_DIMS.stream()
            .filter(p -> p.dk() == p.dv()).map(HeadDims::dk).sorted().toList();
    /** The probed dtypes. */
    public static final List<DType> DTYPES = List.of(DType.FP16, DType.BF16);
    /** Probe shape: dense {@code q [1, 17, 2, D]}, {@code k, v [1, 17, 1, D]}, {@code out} fp32 {@code [1, 17, 2, D]}. */
    public static final int BATCH = 1, SEQ = 17, HEADS = 2, KV_HEADS = 1;
    /** A probe passes when the mean absolute difference to {@code sdpa} is at most this (docs/routing.md acceptance). */
    public static final double MAE_LIMIT = 1e-5;
    /** The call every probe makes: causal, full-length keys (prefill), exact P, default scale, automatic splits. */
    static final Fa2Attention.Spec SPEC = Fa2Attention.Spec.of(Mask.CAUSAL, KeyExtent.FULL).withExactP(true);
    /** One line on what a probe computes, for reports. */
    public static final String PROBE_SHAPE = "dense causal B=" + BATCH + " S=" + SEQ + " H=" + HEADS + " Hkv="
            + KV_HEADS + ", exact P, fp32 out, against sdpa (MAE <= 1e-5)";

    private static final Pattern NVIDIA_RELEASE = Pattern.compile("Kernel Module.*?\\s(\\d+\\.\\d+(?:\\.\\d+)?)\\s");

    private Fa2Audit() {
    }

    /** One probe: a head dim (Dk = Dv) and a dtype. */
    public record ProbeCase(int headDim, DType dtype) {
        public ProbeCase {
            Objects.requireNonNull(dtype, "dtype");
        }

        /** {@code fp16 d128}. */
        public String label() {
            return Fa2Kernels.dtypeName(dtype) + " d" + headDim;
        }
    }

    /** A probe's outcome. */
    public enum Status {
        /** FA-2 ran and matched {@code sdpa}. */
        PASSED,
        /** The contract refuses the call on this device with these options (a limit, not a fault). */
        BLOCKED,
        /** FA-2 was allowed but failed: a CUDA error, a non-finite output, or an MAE above {@link #MAE_LIMIT}. */
        FAILED,
        /** Allowed by the contract but not launched (no kernel image, no reference path). */
        SKIPPED;

        /** {@code passed}, {@code blocked}, ... */
        public String id() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * @param probe  which probe
     * @param status what happened
     * @param reason the contract's reason (blocked), the error or the MAE rule (failed), why not launched
     *               (skipped); empty when passed
     * @param mae    mean absolute difference to {@code sdpa} where both ran, else NaN
     */
    public record Probe(ProbeCase probe, Status status, String reason, double mae) {
        public Probe {
            Objects.requireNonNull(probe, "probe");
            Objects.requireNonNull(status, "status");
            Objects.requireNonNull(reason, "reason");
        }

        /** The {@code NSA-LOG fa2.audit} fields: {@code probe=fp16/d128 status=passed mae=1.19e-07}. */
        public String keyValues() {
            StringBuilder b = new StringBuilder("probe=").append(Fa2Kernels.dtypeName(probe.dtype())).append("/d")
                    .append(probe.headDim()).append(" status=").append(status.id());
            if (!Double.isNaN(mae)) {
                b.append(" mae=").append(sci(mae));
            }
            if (!reason.isEmpty()) {
                b.append(" reason=").append(quote(reason));
            }
            return b.toString();
        }

        /** {@code fp16 d128   passed   MAE 1.19e-07}. */
        public String describe() {
            String detail = status == Status.PASSED ? "MAE " + sci(mae)
                    : reason + (Double.isNaN(mae) || reason.startsWith("MAE") ? "" : " (MAE " + sci(mae) + ")");
            return String.format(Locale.ROOT, "%-10s %-8s %s", probe.label(), status.id(), detail);
        }
    }

    /**
     * The FA-2 kernel image.
     *
     * @param present  true when the jar carries {@link Fa2Module#RESOURCE}
     * @param bytes    its size, 0 when absent
     * @param archs    SASS architectures it carries ({@link Fa2Contract#IMAGE_ARCHS}: 80, 90)
     * @param runsHere true when one of them runs on the audited device (false without a device)
     */
    public record Image(boolean present, long bytes, Set<Integer> archs, boolean runsHere) {
        public Image {
            archs = Set.copyOf(archs);
        }

        /** {@code sm_80, sm_90a} (archs from 90 up are the arch-specific builds). */
        public String archText() {
            List<String> names = new ArrayList<>();
            for (int a : new TreeSet<>(archs)) {
                names.add(a >= 90 ? "sm_" + a + "a" : "sm_" + a);
            }
            return String.join(", ", names);
        }
    }

    /**
     * @param cudaDriver   {@code cuDriverGetVersion} (e.g. 13000: the CUDA version the driver serves), 0 when unknown
     * @param nvidiaDriver the NVIDIA kernel driver release ({@code 580.65.06}, from {@code /proc/driver/nvidia/version}),
     *                     or {@code unknown}
     * @param jcuda        JCuda's version ({@code jcuda.JCudaVersion})
     * @param nsa4j        nsa4j's version
     * @param java         the Java runtime's version and vendor
     */
    public record Versions(int cudaDriver, String nvidiaDriver, String jcuda, String nsa4j, String java) {
        public Versions {
            Objects.requireNonNull(nvidiaDriver, "nvidiaDriver");
            Objects.requireNonNull(jcuda, "jcuda");
            Objects.requireNonNull(nsa4j, "nsa4j");
            Objects.requireNonNull(java, "java");
        }

        /** {@code 13.0} from 13000; {@code unknown} for 0. */
        public String cudaText() {
            return cudaDriver <= 0 ? "unknown" : cudaDriver / 1000 + "." + (cudaDriver % 1000) / 10;
        }
    }

    /**
     * What the audit found.
     *
     * @param device      the audited device, or null when none could be used
     * @param unavailable why no probe could be launched (no driver or device, no kernel image, a failed setup),
     *                    or null when the audit got as far as launching (or the contract blocked every probe)
     * @param versions    driver, CUDA, JCuda, nsa4j and Java versions
     * @param image       the FA-2 kernel image
     * @param options     the contract options the probes were checked under
     * @param probes      one per {@link #cases()} in order; empty without a device
     */
    public record Report(DeviceInfo device, String unavailable, Versions versions, Image image, Fa2Options options,
                         List<Probe> probes) {
        public Report {
            Objects.requireNonNull(versions, "versions");
            Objects.requireNonNull(image, "image");
            Objects.requireNonNull(options, "options");
            probes = List.copyOf(probes);
        }

        public long count(Status s) {
            return probes.stream().filter(p -> p.status() == s).count();
        }

        /** True when some probe passed and none failed: FA-2 serves at least those calls. */
        public boolean ready() {
            return count(Status.PASSED) > 0 && count(Status.FAILED) == 0;
        }

        /** {@code cuda:0 (sm_90)}. */
        public String deviceLabel() {
            return device == null ? "no device" : "cuda:" + device.ordinal() + " (sm_" + device.sm() + ")";
        }

        /**
         * The one-line verdict: {@code FA-2 ready on cuda:0 (sm_90): 12/12 probes passed}, {@code FA-2 failing on
         * ...: 10/12 probes passed, 2 failed (first: ...)} or {@code FA-2 unavailable: <reason>}.
         */
        public String verdict() {
            long passed = count(Status.PASSED), failed = count(Status.FAILED), blocked = count(Status.BLOCKED);
            String tally = passed + "/" + probes.size() + " probes passed";
            if (failed > 0) {
                Probe first = probes.stream().filter(p -> p.status() == Status.FAILED).findFirst().orElseThrow();
                return "FA-2 failing on " + deviceLabel() + ": " + tally + ", " + failed + " failed (first: "
                        + first.probe().label() + ": " + first.reason() + ")";
            }
            if (passed > 0) {
                return "FA-2 ready on " + deviceLabel() + ": " + tally
                        + (blocked > 0 ? "; " + blocked + " blocked by the contract" : "");
            }
            if (unavailable != null) {
                return "FA-2 unavailable: " + unavailable;
            }
            String why = probes.stream().filter(p -> p.status() == Status.BLOCKED).map(Probe::reason).findFirst()
                    .orElse("no probe ran");
            return "FA-2 unavailable: every probe is blocked on " + deviceLabel() + ": " + why;
        }

        /** The {@code NSA-LOG fa2.audit} fields of the device line. */
        public String deviceKeyValues() {
            StringBuilder b = new StringBuilder();
            if (device == null) {
                b.append("device=none");
            } else {
                b.append("device=cuda:").append(device.ordinal()).append(" name=").append(quote(device.name()))
                        .append(" sm=").append(device.sm()).append(" sms=").append(device.smCount())
                        .append(" mem_mib=").append(device.totalMemory() >> 20);
            }
            b.append(" driver=").append(versions.nvidiaDriver()).append(" cuda=").append(versions.cudaText())
                    .append(" jcuda=").append(versions.jcuda()).append(" nsa4j=").append(versions.nsa4j())
                    .append(" java=").append(quote(versions.java()))
                    .append(" image=").append(image.present() ? "present" : "absent")
                    .append(" image_bytes=").append(image.bytes())
                    .append(" image_archs=").append(quote(image.archText()))
                    .append(" image_runs=").append(device == null ? "n/a" : image.runsHere() ? "yes" : "no")
                    .append(" passed=").append(count(Status.PASSED)).append('/').append(probes.size())
                    .append(" verdict=").append(quote(verdict()));
            return b.toString();
        }

        /** The report as readable lines (what {@code nsa doctor} prints before the routing summary). */
        public List<String> describe() {
            List<String> l = new ArrayList<>();
            l.add(row("device", device == null ? "none (" + unavailable + ")" : device.toString()));
            l.add(row("driver", "NVIDIA " + versions.nvidiaDriver() + "; CUDA " + versions.cudaText()
                    + (versions.cudaDriver() > 0 ? " (cuDriverGetVersion " + versions.cudaDriver() + ")" : "")));
            l.add(row("JCuda", versions.jcuda()));
            l.add(row("nsa4j", versions.nsa4j()));
            l.add(row("Java", versions.java()));
            String runs = device == null ? "" : "; runs on sm_" + device.sm() + ": " + (image.runsHere() ? "yes" : "no");
            l.add(row("FA-2 image", image.present()
                    ? "present, " + image.bytes() + " bytes; SASS " + image.archText() + runs
                    : "absent (" + Fa2Module.NOT_BUILT + ": the jar has no " + Fa2Module.RESOURCE + "); a built image"
                    + " carries SASS " + image.archText() + runs));
            l.add(row("FA-2 options", "NSA_FA2_ALLOW_D_GT_128=" + bit(options.allowDGt128()) + " NSA_FA2_FORCE="
                    + bit(options.forceSm89())));
            if (probes.isEmpty()) {
                l.add(row("probes", "not run (" + unavailable + ")"));
            } else {
                l.add(row("probes", PROBE_SHAPE));
                for (Probe p : probes) {
                    l.add("  " + p.describe());
                }
            }
            return l;
        }
    }

    /** The probes in report order: every dtype of {@link #DTYPES} for each head dim of {@link #HEAD_DIMS}. */
    public static List<ProbeCase> cases() {
        List<ProbeCase> out = new ArrayList<>();
        for (DType dt : DTYPES) {
            for (int d : HEAD_DIMS) {
                out.add(new ProbeCase(d, dt));
            }
        }
        return out;
    }

    /**
     * The contract's verdict for every probe on {@code device} under {@code options}, in {@link #cases()}
     * order. Plans with placeholder (aligned) addresses: no CUDA call, any machine.
     */
    public static Map<ProbeCase, Fa2Verdict> verdicts(DeviceInfo device, Fa2Options options) {
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(options, "options");
        Map<ProbeCase, Fa2Verdict> out = new LinkedHashMap<>();
        for (ProbeCase c : cases()) {
            long[] next = {1L << 20};
            int d = c.headDim();
            Fa2Attention.Inputs in = Fa2Attention.Inputs.dense(placeholder(next, c.dtype(), BATCH, SEQ, HEADS, d),
                    placeholder(next, c.dtype(), BATCH, SEQ, KV_HEADS, d), placeholder(next, c.dtype(), BATCH, SEQ, KV_HEADS, d),
                    placeholder(next, DType.FP32, BATCH, SEQ, HEADS, d), null);
            out.put(c, Fa2Attention.plan(device, in, SPEC, options).verdict());
        }
        return out;
    }

    /**
     * Audits device {@code ordinal}: versions, the image, and every probe (see the class comment). Never
     * throws; takes well under a second on a GPU (two module loads, 12 tiny launches and 12 syncs).
     *
     * @param nsa4jVersion nsa4j's version as the caller knows it ({@link #nsa4jVersion()} reads this jar's manifest)
     */
    public static Report run(int ordinal, Fa2Options options, String nsa4jVersion) {
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(nsa4jVersion, "nsa4jVersion");
        CudaDevices.Discovery disc = CudaDevices.discover();
        Versions versions = new Versions(disc.driverVersion(), nvidiaDriver().orElse("unknown"), jcudaVersion(),
                nsa4jVersion, Runtime.version() + " (" + System.getProperty("java.vendor", "unknown vendor") + ")");
        try {
            return audit(disc, ordinal, options, versions);
        } catch (RuntimeException e) {   // a bug or an unreadable jar: still a report, never an exception
            return new Report(null, "the audit failed: " + message(e), versions,
                    new Image(false, 0, Fa2Contract.IMAGE_ARCHS, false), options, List.of());
        }
    }

    private static Report audit(CudaDevices.Discovery disc, int ordinal, Fa2Options options, Versions versions) {
        long imageBytes = Fa2Module.image().map(b -> (long) b.length).orElse(-1L);
        boolean present = imageBytes >= 0;
        if (!disc.available()) {
            return new Report(null, disc.reason(), versions,
                    new Image(present, Math.max(0, imageBytes), Fa2Contract.IMAGE_ARCHS, false), options, List.of());
        }
        if (ordinal < 0 || ordinal >= disc.devices().size()) {
            return new Report(null, "CUDA ordinal " + ordinal + " does not exist (" + disc.devices().size()
                    + " devices)", versions, new Image(present, Math.max(0, imageBytes), Fa2Contract.IMAGE_ARCHS, false),
                    options, List.of());
        }
        DeviceInfo device = disc.devices().get(ordinal);
        Image image = new Image(present, Math.max(0, imageBytes), Fa2Contract.IMAGE_ARCHS,
                new Fa2Device(device.ccMajor(), device.ccMinor(), Fa2Contract.IMAGE_ARCHS).imageRuns());
        Map<ProbeCase, Fa2Verdict> verdicts = verdicts(device, options);
        String skip = null;
        if (!present) {
            skip = Fa2Module.NOT_BUILT + " (the jar has no " + Fa2Module.RESOURCE + "; build with nvcc on PATH)";
        } else {
            GpuAvailability a = GpuAvailability.check(ordinal);
            if (!a.available()) {
                skip = "the reference path sdpa is unavailable: " + a.reason();
            }
        }
        boolean anyAllowed = verdicts.values().stream().anyMatch(Fa2Verdict::ok);
        if (skip != null || !anyAllowed) {
            List<Probe> probes = new ArrayList<>();
            for (Map.Entry<ProbeCase, Fa2Verdict> e : verdicts.entrySet()) {
                probes.add(e.getValue().ok() ? new Probe(e.getKey(), Status.SKIPPED, skip, Double.NaN)
                        : blocked(e.getKey(), e.getValue()));
            }
            return new Report(device, skip, versions, image, options, probes);
        }
        Launched l = launchAll(ordinal, device, verdicts, options);
        return new Report(device, l.setupError(), versions, image, options, l.probes());
    }

    /**
     * nsa4j's version from this jar's manifest ({@code Implementation-Version}; on the module path, where a named
     * module's packages carry no manifest versions, the jar's module version), or {@code dev} from classes.
     */
    public static String nsa4jVersion() {
        String v = Fa2Audit.class.getPackage().getImplementationVersion();
        if (v == null && Fa2Audit.class.getModule().getDescriptor() != null) {
            v = Fa2Audit.class.getModule().getDescriptor().rawVersion().orElse(null);
        }
        return v == null ? "dev" : v;
    }

    /** JCuda's version ({@code jcuda.JCudaVersion.get()}: a constant, no native code), or {@code unknown}. */
    static String jcudaVersion() {
        try {
            return jcuda.JCudaVersion.get();
        } catch (LinkageError e) {
            return "unknown";
        }
    }

    /** The NVIDIA driver release from {@code /proc/driver/nvidia/version} (Linux), if readable. */
    static Optional<String> nvidiaDriver() {
        try {
            return parseNvidiaRelease(Files.readString(Path.of("/proc/driver/nvidia/version")));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** {@code 580.65.06} from {@code NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.65.06  Sun Jul 27 ...}. */
    static Optional<String> parseNvidiaRelease(String text) {
        Matcher m = NVIDIA_RELEASE.matcher(text);
        return m.find() ? Optional.of(m.group(1)) : Optional.empty();
    }

    private record Launched(List<Probe> probes, String setupError) {
    }

    /** Opens a context, both modules and a stream, runs every allowed probe, and closes all of it. */
    private static Launched launchAll(int ordinal, DeviceInfo device, Map<ProbeCase, Fa2Verdict> verdicts,
                                      Fa2Options options) {
        List<Probe> probes = new ArrayList<>();
        CudaContext ctx = null;
        KernelModule reference = null;
        Fa2Module fa2 = null;
        CudaStream stream = null;
        String setupError = null;
        try {
            ctx = CudaContext.primary(ordinal);
            reference = KernelModule.load(ctx);
            try {
                fa2 = Fa2Module.load(ctx);
            } catch (RuntimeException e) {
                throw new IllegalStateException("the FA-2 image did not load: " + message(e), e);
            }
            stream = CudaStream.create(ctx);
        } catch (RuntimeException e) {
            setupError = "audit setup failed on cuda:" + ordinal + ": " + message(e);
        }
        try {
            for (Map.Entry<ProbeCase, Fa2Verdict> e : verdicts.entrySet()) {
                ProbeCase c = e.getKey();
                if (!e.getValue().ok()) {
                    probes.add(blocked(c, e.getValue()));
                } else if (setupError != null) {
                    probes.add(new Probe(c, Status.FAILED, setupError, Double.NaN));
                } else {
                    probes.add(probe(reference, fa2, stream, device, c, options));
                }
            }
        } finally {
            closeQuietly(stream);
            closeQuietly(fa2);
            closeQuietly(reference);
            closeQuietly(ctx);
        }
        return new Launched(probes, setupError);
    }

    /** One probe on the GPU: upload, FA-2 and sdpa on the same inputs, compare on the host. */
    static Probe probe(KernelModule reference, Fa2Module fa2, CudaStream stream, DeviceInfo device, ProbeCase c,
                       Fa2Options options) {
        int d = c.headDim();
        Random rnd = new Random(1000L * d + c.dtype().ordinal());
        try (DeviceTensor q = DeviceTensor.upload(stream, random(rnd, c.dtype(), 2, BATCH, SEQ, HEADS, d));
             DeviceTensor k = DeviceTensor.upload(stream, random(rnd, c.dtype(), 2, BATCH, SEQ, KV_HEADS, d));
             DeviceTensor v = DeviceTensor.upload(stream, random(rnd, c.dtype(), 1, BATCH, SEQ, KV_HEADS, d));
             DeviceTensor oFa = DeviceTensor.allocate(stream, DType.FP32, BATCH, SEQ, HEADS, d);
             DeviceTensor oRef = DeviceTensor.allocate(stream, DType.FP32, BATCH, SEQ, HEADS, d);
             DeviceTensor cu = DeviceTensor.upload(stream, HostTensor.ofInts(new int[]{0, SEQ}, 2))) {
            Fa2Attention.Plan plan = Fa2Attention.plan(device, Fa2Attention.Inputs.dense(q, k, v, oFa, null), SPEC, options);
            if (!plan.launchable()) {   // the real addresses broke a rule the placeholders kept
                return blocked(c, plan.verdict());
            }
            HostTensor got, want;
            try (DeviceBuffer ws = plan.workspaceBytes() > 0 ? DeviceBuffer.allocate(stream, plan.workspaceBytes()) : null) {
                Fa2Attention.enqueue(fa2, stream.handle(), plan, ws);
                // B = 1: the dense tensors' batch entry 0 is the varlen layout sdpa reads, cu = {0, S}
                Attention.run(reference, stream, Fa2Bridge.slice(q, 0), Fa2Bridge.slice(k, 0), Fa2Bridge.slice(v, 0),
                        cu, cu, null, AttnSpec.causal(), Fa2Bridge.slice(oRef, 0), null);
                got = oFa.toHost(stream);   // waits for the stream: both kernels have run
                want = oRef.toHost(stream);
            }   // every free here and below is stream-ordered
            return compare(c, got.toDoubleArray(), want.toDoubleArray());
        } catch (RuntimeException e) {
            return new Probe(c, Status.FAILED, message(e), Double.NaN);
        }
    }

    /** Passed when every output is finite and the MAE is at most {@link #MAE_LIMIT}. */
    static Probe compare(ProbeCase c, double[] got, double[] want) {
        double sum = 0;
        int bad = 0;
        for (int i = 0; i < got.length; i++) {
            if (!Double.isFinite(got[i])) {
                bad++;
            } else {
                sum += Math.abs(got[i] - want[i]);
            }
        }
        if (bad > 0) {
            return new Probe(c, Status.FAILED, bad + " of " + got.length + " FA-2 outputs are NaN/Inf", Double.NaN);
        }
        double mae = got.length == 0 ? 0 : sum / got.length;
        return mae <= MAE_LIMIT ? new Probe(c, Status.PASSED, "", mae)
                : new Probe(c, Status.FAILED, "MAE " + sci(mae) + " > 1e-5", mae);
    }

    private static Probe blocked(ProbeCase c, Fa2Verdict v) {
        return new Probe(c, Status.BLOCKED, v.reason(), Double.NaN);
    }

    private static HostTensor random(Random rnd, DType dtype, double amplitude, int... dims) {
        double[] v = new double[(int) Shape.of(dims).numel()];
        for (int i = 0; i < v.length; i++) {
            v[i] = amplitude * (2 * rnd.nextDouble() - 1);
        }
        return HostTensor.of(dtype, v, dims);
    }

    private static DeviceTensor placeholder(long[] next, DType dtype, int... dims) {
        long a = next[0];
        next[0] += (Shape.of(dims).numel() * dtype.byteSize() + 511) & ~255L;
        return DeviceTensor.wrap(a, dtype, Shape.of(dims));
    }

    private static void closeQuietly(AutoCloseable c) {
        if (c == null) {
            return;
        }
        try {
            if (c instanceof CudaStream s) {
                s.synchronize();
            }
            c.close();
        } catch (Exception ignored) {
            // the audit reports; a failed release after a sticky CUDA error has nothing more to say
        }
    }

    private static String message(Throwable e) {
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }

    private static String row(String key, String value) {
        return String.format(Locale.ROOT, "%-13s %s", key + ":", value);
    }

    private static String bit(boolean b) {
        return b ? "1" : "0";
    }

    static String sci(double x) {
        return String.format(Locale.ROOT, "%.2e", x);
    }

    static String quote(String s) {
        return "\"" + s.replace("\"", "'") + "\"";
    }
}
