package dev.nsa4j.nsa;

import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;

/**
 * Resolves {@link Flag}s into an immutable {@link FlagSnapshot}.
 *
 * <p>Precedence, per flag: the system property ({@code nsa.use.fa2}) over the environment variable
 * ({@code NSA_USE_FA2}) over the profile over the built-in default. A blank value (e.g.
 * {@code NSA_FORCE_BRANCH=}) counts as not set at that level. Every value is checked when the snapshot is
 * taken, so a bad flag fails at start-up with an {@link dev.nsa4j.NsaArgumentException} naming it, not in
 * the middle of a forward pass.
 */
public final class Flags {
    private Flags() {}

    /**
     * A snapshot of the real system properties and environment, without a profile: flags whose default is
     * "profile" take their built-in default. What runs on the CPU, and the base that
     * {@link #snapshot(GpuProfile, int)} and {@link RoutingFlags} add a GPU's profile to.
     */
    public static FlagSnapshot snapshot() {
        Properties p = System.getProperties();
        Map<String, String> props = new java.util.HashMap<>();
        for (String name : p.stringPropertyNames()) {
            if (name.startsWith("nsa.")) {
                props.put(name, p.getProperty(name));
            }
        }
        return of(props, System.getenv(), Map.of());
    }

    /**
     * A snapshot of the real system properties and environment over a GPU profile's values for one head dim:
     * property > environment > profile > built-in default.
     */
    public static FlagSnapshot snapshot(GpuProfile profile, int headDim) {
        return snapshot().withProfile(Objects.requireNonNull(profile, "profile"), headDim);
    }

    /**
     * A snapshot from explicit maps (tests, embedding).
     *
     * @param properties system properties, keyed by {@link Flag#propertyName()}
     * @param env        environment variables, keyed by {@link Flag#envName()}
     * @param profile    profile values, keyed by {@link Flag#envName()}
     */
    public static FlagSnapshot of(Map<String, String> properties, Map<String, String> env,
                                  Map<String, String> profile) {
        Objects.requireNonNull(properties, "properties");
        Objects.requireNonNull(env, "env");
        Objects.requireNonNull(profile, "profile");
        Map<Flag, FlagSnapshot.Value> values = new EnumMap<>(Flag.class);
        for (Flag f : Flag.values()) {
            values.put(f, resolve(f, properties, env, profile));
        }
        return new FlagSnapshot(values);
    }

    /** Built-in defaults only. */
    public static FlagSnapshot defaults() {
        return of(Map.of(), Map.of(), Map.of());
    }

    private static FlagSnapshot.Value resolve(Flag f, Map<String, String> props, Map<String, String> env,
                                              Map<String, String> profile) {
        String v = props.get(f.propertyName());
        if (v != null && !v.isBlank()) {
            return new FlagSnapshot.Value(f, f.parse(v, "system property " + f.propertyName()), FlagSource.PROPERTY);
        }
        v = env.get(f.envName());
        if (v != null && !v.isBlank()) {
            return new FlagSnapshot.Value(f, f.parse(v, "environment variable " + f.envName()), FlagSource.ENV);
        }
        v = profile.get(f.envName());
        if (v != null && !v.isBlank()) {
            return new FlagSnapshot.Value(f, f.parse(v, "profile"), FlagSource.PROFILE);
        }
        return new FlagSnapshot.Value(f, f.defaultValue(), FlagSource.DEFAULT);
    }
}
