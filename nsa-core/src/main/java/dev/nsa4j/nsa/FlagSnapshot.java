package dev.nsa4j.nsa;

import dev.nsa4j.fa2.contract.Fa2Options;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Every flag's effective value and its source, resolved once by {@link Flags} and immutable afterwards,
 * so one {@link NsaAttention} routes every call the same way. Values are already checked; the typed
 * getters throw {@link IllegalArgumentException} only when asked for a flag of another kind.
 */
public final class FlagSnapshot {
    /**
     * One flag's resolution.
     *
     * @param flag   the flag
     * @param value  the normalised value ({@code "1"/"0"} for booleans), or {@code null} when unset
     * @param source where it came from
     */
    public record Value(Flag flag, String value, FlagSource source) {}

    private final Map<Flag, Value> values;

    FlagSnapshot(Map<Flag, Value> values) {
        this.values = Collections.unmodifiableMap(new EnumMap<>(values));
    }

    /** A boolean flag's value. */
    public boolean bool(Flag f) {
        require(f, Flag.Kind.BOOLEAN);
        return "1".equals(values.get(f).value());
    }

    /** An int flag's value. */
    public int integer(Flag f) {
        require(f, Flag.Kind.INT);
        return Integer.parseInt(values.get(f).value());
    }

    /** A string flag's value, empty when unset. */
    public Optional<String> string(Flag f) {
        require(f, Flag.Kind.STRING);
        return Optional.ofNullable(values.get(f).value());
    }

    /** Where a flag's value came from. */
    public FlagSource source(Flag f) {
        return values.get(f).source();
    }

    /** {@code NSA_FORCE_BRANCH} as a branch. */
    public Optional<Branch> forceBranch() {
        return string(Flag.NSA_FORCE_BRANCH).map(Branch::fromId);
    }

    /** {@code NSA_DEVICE}: {@code auto}, {@code cpu} or an ordinal, normalised. */
    public String device() {
        return string(Flag.NSA_DEVICE).orElse("auto");
    }

    /** {@code NSA_LOG_LIMIT}: lines per log tag, 0 = unlimited. */
    public int logLimit() {
        return integer(Flag.NSA_LOG_LIMIT);
    }

    /**
     * The FA-2 contract's options: {@code NSA_FA2_ALLOW_FP32}, {@code NSA_FA2_PREF_FP16},
     * {@code NSA_FA2_ALLOW_D_GT_128}, {@code NSA_FA2_ALLOW_LARGE_BATCH}, {@code NSA_FA2_FORCE}, and the Hopper
     * layout's {@code NSA_USE_WGMMA} and {@code NSA_FA2_HOPPER_MIN_KEYS}.
     */
    public Fa2Options fa2Options() {
        return new Fa2Options(bool(Flag.NSA_FA2_ALLOW_FP32), bool(Flag.NSA_FA2_PREF_FP16),
                bool(Flag.NSA_FA2_ALLOW_D_GT_128), bool(Flag.NSA_FA2_ALLOW_LARGE_BATCH), bool(Flag.NSA_FA2_FORCE),
                bool(Flag.NSA_USE_WGMMA), integer(Flag.NSA_FA2_HOPPER_MIN_KEYS));
    }

    /**
     * This snapshot with a GPU profile's values for one head dim ({@link GpuProfile#flagValues(int)}) in the
     * profile's place of the precedence: values from a property or the environment stay, every other flag
     * takes the profile's value (source {@link FlagSource#PROFILE}) or, where the profile has none, its
     * built-in default. Equal to resolving the same properties and environment with that profile.
     */
    public FlagSnapshot withProfile(GpuProfile profile, int headDim) {
        return withProfileValues(profile.flagValues(headDim),
                "profile " + profile.family() + " (" + profile.origin() + ")");
    }

    /** {@link #withProfile} from raw values keyed by {@link Flag#envName()}; {@code origin} goes into errors. */
    FlagSnapshot withProfileValues(Map<String, String> profile, String origin) {
        Map<Flag, Value> out = new EnumMap<>(Flag.class);
        for (Value v : values.values()) {
            Flag f = v.flag();
            String p = profile.get(f.envName());
            if (v.source() == FlagSource.PROPERTY || v.source() == FlagSource.ENV) {
                out.put(f, v);
            } else if (p != null && !p.isBlank()) {
                out.put(f, new Value(f, f.parse(p, origin), FlagSource.PROFILE));
            } else {
                out.put(f, new Value(f, f.defaultValue(), FlagSource.DEFAULT));
            }
        }
        return new FlagSnapshot(out);
    }

    /** This snapshot with one flag set as if by a property (internal re-plans, e.g. without FA-2). */
    FlagSnapshot with(Flag f, String value) {
        Map<Flag, Value> out = new EnumMap<>(values);
        out.put(f, new Value(f, f.parse(value, "internal"), FlagSource.PROPERTY));
        return new FlagSnapshot(out);
    }

    /** Every flag in declaration order with its value and source (for the {@code routing} command). */
    public List<Value> listing() {
        return List.copyOf(values.values());
    }

    /** The listing as aligned text lines: {@code NSA_USE_FA2  0  DEFAULT}. */
    public List<String> describe() {
        int w = 0;
        for (Flag f : Flag.values()) {
            w = Math.max(w, f.envName().length());
        }
        List<String> lines = new ArrayList<>();
        for (Value v : values.values()) {
            String shown = v.value() == null ? "(unset)" : v.value();
            lines.add(String.format("%-" + w + "s  %-8s  %s", v.flag().envName(), shown,
                    v.source().name().toLowerCase(java.util.Locale.ROOT)));
        }
        return lines;
    }

    private static void require(Flag f, Flag.Kind kind) {
        if (f.kind() != kind) {
            throw new IllegalArgumentException(f + " is a " + f.kind() + " flag, not " + kind);
        }
    }
}
