package dev.nsa4j.nsa;

import dev.nsa4j.kernels.DeviceInfo;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * The flags routing uses on one device: a base {@link FlagSnapshot} (properties, environment, built-in
 * defaults) plus, on a GPU, that GPU's profile for the call's head dim. Snapshots are cached per head dim.
 * {@link NsaAttention} routes with it and the {@code routing} command prints it, so both agree.
 *
 * <p>On the CPU, or on a GPU without a profile, every head dim gets the base snapshot unchanged.
 *
 * <p>Thread-safe.
 */
public final class RoutingFlags {
    private final FlagSnapshot base;
    private final GpuProfiles.Choice choice;
    private final ConcurrentMap<Integer, FlagSnapshot> byHeadDim = new ConcurrentHashMap<>();

    private RoutingFlags(FlagSnapshot base, GpuProfiles.Choice choice) {
        this.base = Objects.requireNonNull(base, "base");
        this.choice = Objects.requireNonNull(choice, "choice");
    }

    /**
     * Flags for a GPU: its profile from {@code NSA_PROFILE} in {@code base} ({@code auto}: the shipped one for
     * its compute capability; else the file named).
     *
     * @throws dev.nsa4j.NsaArgumentException naming the path when {@code NSA_PROFILE} names a missing or
     *                                        invalid file
     */
    public static RoutingFlags forDevice(FlagSnapshot base, DeviceInfo device) {
        return new RoutingFlags(base, GpuProfiles.forDevice(device.ccMajor(), device.ccMinor(),
                base.string(Flag.NSA_PROFILE).orElse(GpuProfiles.AUTO)));
    }

    /** Flags with a given profile choice (tests, and callers that resolve the profile themselves). */
    public static RoutingFlags of(FlagSnapshot base, GpuProfiles.Choice choice) {
        return new RoutingFlags(base, choice);
    }

    /** Flags without a profile; {@code reason} says why none applies (e.g. "no GPU is used"). */
    public static RoutingFlags withoutProfile(FlagSnapshot base, String reason) {
        return new RoutingFlags(base, GpuProfiles.Choice.none(reason));
    }

    /**
     * The effective snapshot for calls of this head dim: property > environment > profile > default.
     *
     * @throws IllegalArgumentException for a head dim below 1
     */
    public FlagSnapshot forHeadDim(int headDim) {
        if (headDim < 1) {
            throw new IllegalArgumentException("head dim must be >= 1, got " + headDim);
        }
        return choice.profile()
                .map(p -> byHeadDim.computeIfAbsent(headDim, d -> base.withProfile(p, d)))
                .orElse(base);
    }

    /** The snapshot without the profile. */
    public FlagSnapshot base() {
        return base;
    }

    /** The profile in use, if any. */
    public Optional<GpuProfile> profile() {
        return choice.profile();
    }

    /** Where the profile came from, or why there is none. */
    public String profileReason() {
        return choice.reason();
    }
}
