package dev.nsa4j.bench;

import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.kernels.GpuAvailability;
import dev.nsa4j.nsa.DeviceRequest;
import dev.nsa4j.nsa.Flag;
import dev.nsa4j.nsa.FlagSnapshot;
import dev.nsa4j.nsa.Flags;
import dev.nsa4j.nsa.GpuProfile;
import dev.nsa4j.nsa.GpuProfiles;
import dev.nsa4j.nsa.RoutingFlags;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code nsa routing}: every flag's effective value and where it came from, on the device a forward pass
 * would use, with the GPU profile in use or why none applies. It resolves flags as {@code NsaAttention}
 * does ({@link RoutingFlags}), so the two agree.
 */
@Command(name = "routing", mixinStandardHelpOptions = true, sortOptions = false, versionProvider = NsaCli.Version.class,
        description = {
            "Print every routing flag's effective value and where it came from (property, env, profile, "
                    + "default), and the GPU profile in use or why none applies.",
            "",
            "Precedence: -Dnsa.* property > NSA_* environment variable > GPU profile > built-in default. "
                    + "Profile values depend on the head dim (buckets d128, d192, d256; above 256 FA-2 is off). "
                    + "Without a GPU no profile applies.",
            "",
            "Exit codes: 0 ok, 2 usage or bad input (a bad flag value, a missing or invalid NSA_PROFILE file), "
                    + "1 internal error."})
final class RoutingCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--device", paramLabel = "cpu|auto|N", converter = RunCommand.DeviceConverter.class,
            description = "The device to report on (default: NSA_DEVICE, else auto): cpu, auto (GPU 0 where it "
                    + "can run nsa4j's kernels, else cpu) or a CUDA ordinal.")
    DeviceRequest device;

    @Option(names = "--head-dim", paramLabel = "D", defaultValue = "128",
            description = "Head dim whose profile bucket to show (default: ${DEFAULT-VALUE}).")
    int headDim;

    @Mixin
    NsaCli.VerboseOption verbosity;

    @Override
    public Integer call() {
        if (headDim < 1) {
            throw new ParameterException(spec.commandLine(), "--head-dim must be >= 1, got " + headDim);
        }
        PrintWriter out = spec.commandLine().getOut();
        FlagSnapshot base = Flags.snapshot();
        DeviceRequest d = device != null ? device : DeviceRequest.parse(base.device());
        print(out, resolve(base, d, false), headDim);
        out.flush();
        return 0;
    }

    /** The device line and the flags routing uses there. */
    record Resolved(String deviceLine, RoutingFlags flags) {
    }

    /**
     * The routing flags a forward pass on {@code d} would use, as {@code NsaAttention} resolves them.
     *
     * @param cpuWhenUnavailable report the CPU (with the reason) when the GPU {@code d} names cannot be used,
     *                           as {@code auto} does; else that is a usage problem
     * @throws NsaCli.UsageProblem for an explicit GPU that cannot be used (unless {@code cpuWhenUnavailable})
     * @throws dev.nsa4j.NsaArgumentException for a missing or invalid {@code NSA_PROFILE} file
     */
    static Resolved resolve(FlagSnapshot base, DeviceRequest d, boolean cpuWhenUnavailable) {
        if (d.kind() == DeviceRequest.Kind.CPU) {
            return new Resolved("cpu (requested)", cpuFlags(base));
        }
        int ordinal = d.kind() == DeviceRequest.Kind.ORDINAL ? d.ordinal() : 0;
        GpuAvailability a = GpuAvailability.check(ordinal);
        if (a.available()) {
            DeviceInfo info = a.discovery().devices().get(ordinal);
            return new Resolved(info + ", driver CUDA " + a.discovery().driverCudaVersion(),
                    RoutingFlags.forDevice(base, info));
        }
        if (d.kind() == DeviceRequest.Kind.AUTO || cpuWhenUnavailable) {
            return new Resolved("cpu (GPU unavailable: " + a.reason() + ")", cpuFlags(base));
        }
        throw new NsaCli.UsageProblem("device '" + d + "' asks for a GPU, but " + a.reason()
                + "; use --device cpu or auto");
    }

    /** The report: device, profile, head dim and every flag's value and source. Resolves before it prints. */
    static void print(PrintWriter out, Resolved r, int headDim) {
        FlagSnapshot effective = r.flags().forHeadDim(headDim);
        out.println("device: " + r.deviceLine());
        printProfile(out, r.flags());
        out.println("head dim: " + headDim + profileBucket(r.flags(), headDim));
        out.println();
        printFlags(out, effective, r.flags(), headDim);
    }

    /**
     * No profile on the CPU. A file named by NSA_PROFILE is still read, so a broken one is reported here
     * rather than on the first GPU run.
     */
    private static RoutingFlags cpuFlags(FlagSnapshot base) {
        String reason = "no GPU is used, and profiles are per GPU family: flags whose default is 'profile' "
                + "take their built-in default";
        var named = GpuProfiles.fromFlag(base.string(Flag.NSA_PROFILE).orElse(GpuProfiles.AUTO));
        if (named.isPresent()) {
            reason += "; NSA_PROFILE=" + named.get().origin() + " (" + named.get().family()
                    + ") is valid but applies only on a GPU";
        }
        return RoutingFlags.withoutProfile(base, reason);
    }

    private static void printProfile(PrintWriter out, RoutingFlags flags) {
        if (flags.profile().isEmpty()) {
            out.println("profile: none (" + flags.profileReason() + ")");
            return;
        }
        GpuProfile p = flags.profile().get();
        out.println("profile: " + p.family() + " (" + flags.profileReason() + ")");
        out.println("  gpu: " + p.gpu());
        out.println("  driver: " + p.driver());
        out.println("  date: " + p.date());
        out.println("  source: " + p.sourceFirstLine());
        out.println("  file: " + p.origin());
    }

    private static String profileBucket(RoutingFlags flags, int headDim) {
        if (flags.profile().isEmpty()) {
            return "";
        }
        return GpuProfile.HeadDimBucket.of(headDim).map(b -> " (profile bucket " + b.key() + ")")
                .orElse(" (above 256: no profile bucket, FA-2 and sel-kernel off)");
    }

    private static void printFlags(PrintWriter out, FlagSnapshot s, RoutingFlags flags, int headDim) {
        int w = "flag".length();
        for (Flag f : Flag.values()) {
            w = Math.max(w, f.envName().length());
        }
        String fmt = "%-" + w + "s  %-8s  %s%n";
        out.printf(Locale.ROOT, fmt, "flag", "value", "source");
        for (FlagSnapshot.Value v : s.listing()) {
            out.printf(Locale.ROOT, fmt, v.flag().envName(), v.value() == null ? "(unset)" : v.value(),
                    source(v, flags, headDim));
        }
    }

    /** {@code property nsa.use.fa2}, {@code env NSA_USE_FA2}, {@code profile sm90 d128}, {@code default}. */
    private static String source(FlagSnapshot.Value v, RoutingFlags flags, int headDim) {
        return switch (v.source()) {
            case PROPERTY -> "property " + v.flag().propertyName();
            case ENV -> "env " + v.flag().envName();
            case PROFILE -> "profile " + flags.profile().map(GpuProfile::family).orElse("?") + " "
                    + GpuProfile.HeadDimBucket.of(headDim).map(GpuProfile.HeadDimBucket::key).orElse("(head dim > 256)");
            case DEFAULT -> v.flag().defaultFromProfile() && flags.profile().isEmpty()
                    ? "default (no profile)" : "default";
        };
    }
}
