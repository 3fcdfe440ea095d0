package dev.nsa4j.nsa;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.nsa4j.NsaArgumentException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Finds and reads {@link GpuProfile}s: the four shipped in this jar (resources
 * {@code dev/nsa4j/nsa/profiles/<family>.yaml}) and a user's file named by {@code NSA_PROFILE}.
 *
 * <p>Family per compute capability: 8.0 {@code sm80}; 8.6 and 8.7 {@code sm86}; 8.9 {@code sm89}; 9.x
 * {@code sm90}; any other has no profile (FA-2 and {@code sel-kernel} stay at the built-in defaults: off).
 *
 * <p>Reading is strict: the schema of {@link GpuProfile#SCHEMA_COMMENT}, nothing more and nothing less. An
 * unknown, duplicate or missing key, a value of the wrong type, or a YAML syntax error is an
 * {@link NsaArgumentException} whose subject is the file and whose message names the key and its line.
 * Only the streaming API of jackson-dataformat-yaml is used (no data binding).
 */
public final class GpuProfiles {
    /** The classpath folder of the shipped profiles. */
    public static final String RESOURCE_DIR = "dev/nsa4j/nsa/profiles/";
    /** The shipped families. */
    public static final List<String> FAMILIES = List.of("sm80", "sm86", "sm89", "sm90");
    /** {@code NSA_PROFILE}'s value for "the shipped profile of the detected GPU". */
    public static final String AUTO = "auto";

    static final String SCHEMA_RULE = "GPU profile schema (docs/routing-profiles.md)";
    private static final Set<String> TEXT_KEYS = Set.of("family", "gpu", "driver", "date", "source");
    private static final List<String> BUCKET_KEYS = List.of("fa2_win", "fa2_cmp", "fa2_min_len_win",
            "fa2_min_len_cmp", "sel_kernel", "sel_kernel_min_l");
    /** Bucket keys that may be absent: sel_pack (default true, NSA_USE_SEL_PACK's built-in default). */
    private static final List<String> OPTIONAL_BUCKET_KEYS = List.of("sel_pack");
    private static final YAMLFactory YAML = YAMLFactory.builder().build();
    private static final Map<String, GpuProfile> SHIPPED = new ConcurrentHashMap<>();

    private GpuProfiles() {}

    /**
     * Which profile applies, or why none does.
     *
     * @param profile the profile, empty when none applies
     * @param reason  one line: where the profile came from, or why there is none
     */
    public record Choice(Optional<GpuProfile> profile, String reason) {
        public Choice {
            Objects.requireNonNull(profile, "profile");
            Objects.requireNonNull(reason, "reason");
        }

        /** No profile, for this reason. */
        public static Choice none(String reason) {
            return new Choice(Optional.empty(), reason);
        }
    }

    /** The shipped family of a compute capability ({@code 9.0 -> sm90}), empty when none ships. */
    public static Optional<String> familyFor(int ccMajor, int ccMinor) {
        if (ccMajor == 8) {
            return switch (ccMinor) {
                case 0 -> Optional.of("sm80");
                case 6, 7 -> Optional.of("sm86");
                case 9 -> Optional.of("sm89");
                default -> Optional.empty();
            };
        }
        return ccMajor == 9 ? Optional.of("sm90") : Optional.empty();
    }

    /** The shipped profile of a device's compute capability, or none with the reason. */
    public static Choice forDevice(int ccMajor, int ccMinor) {
        String cc = ccMajor + "." + ccMinor;
        return familyFor(ccMajor, ccMinor)
                .map(f -> new Choice(Optional.of(shipped(f)), "shipped profile " + f + " for compute capability " + cc))
                .orElseGet(() -> Choice.none("no shipped profile for compute capability " + cc
                        + " (shipped: sm80 for 8.0, sm86 for 8.6/8.7, sm89 for 8.9, sm90 for 9.x); "
                        + "FA-2 and sel-kernel stay off"));
    }

    /**
     * The profile for a device under {@code NSA_PROFILE}: {@code auto} (or blank) picks the shipped one
     * ({@link #forDevice(int, int)}); anything else is the path of a profile file, used whatever the device.
     *
     * @throws NsaArgumentException naming the path when the file is missing, unreadable or invalid
     */
    public static Choice forDevice(int ccMajor, int ccMinor, String nsaProfile) {
        Optional<GpuProfile> named = fromFlag(nsaProfile);
        if (named.isEmpty()) {
            return forDevice(ccMajor, ccMinor);
        }
        GpuProfile p = named.get();
        String reason = "NSA_PROFILE=" + p.origin();
        Optional<String> deviceFamily = familyFor(ccMajor, ccMinor);
        if (!deviceFamily.equals(Optional.of(p.family()))) {
            reason += " (its family " + p.family() + " is not this device's, compute capability "
                    + ccMajor + "." + ccMinor + ")";
        }
        return new Choice(Optional.of(p), reason);
    }

    /**
     * The profile file named by a value of {@code NSA_PROFILE}; empty for {@code auto} or blank (the shipped
     * profile of the device applies then).
     *
     * @throws NsaArgumentException naming the path (and NSA_PROFILE) when it is missing, unreadable or invalid
     */
    public static Optional<GpuProfile> fromFlag(String nsaProfile) {
        if (nsaProfile == null || nsaProfile.isBlank() || nsaProfile.strip().equals(AUTO)) {
            return Optional.empty();
        }
        return Optional.of(load(java.nio.file.Path.of(nsaProfile.strip()), "NSA_PROFILE names "));
    }

    /**
     * A shipped profile (read once per JVM).
     *
     * @throws IllegalArgumentException for a family not in {@link #FAMILIES}
     * @throws IllegalStateException    when the resource is missing or invalid (a packaging bug)
     */
    public static GpuProfile shipped(String family) {
        if (!FAMILIES.contains(family)) {
            throw new IllegalArgumentException("no shipped profile '" + family + "'; shipped: " + FAMILIES);
        }
        return SHIPPED.computeIfAbsent(family, GpuProfiles::readShipped);
    }

    private static GpuProfile readShipped(String family) {
        String resource = RESOURCE_DIR + family + ".yaml";
        // Class.getResourceAsStream (absolute name): finds this module's own resources on the module path too,
        // where ClassLoader.getResourceAsStream sees only packages opened to everyone
        try (InputStream in = GpuProfiles.class.getResourceAsStream("/" + resource)) {
            if (in == null) {
                throw new IllegalStateException("shipped profile " + resource + " is missing from the jar");
            }
            return parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), "classpath:" + resource);
        } catch (IOException | NsaArgumentException e) {
            throw new IllegalStateException("shipped profile " + resource + " cannot be read: " + e.getMessage(), e);
        }
    }

    /**
     * Reads a profile file (UTF-8).
     *
     * @throws NsaArgumentException with the path as subject when it is missing, unreadable or invalid
     */
    public static GpuProfile load(java.nio.file.Path file) {
        return load(file, "");
    }

    private static GpuProfile load(java.nio.file.Path file, String via) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new NsaArgumentException(file.toString(), "an existing GPU profile file",
                    via + "profile file " + file + ", which does not exist");
        } catch (IOException e) {
            throw new NsaArgumentException(file.toString(), "a readable GPU profile file",
                    via + "profile file " + file + ", which cannot be read: " + e);
        }
        return parse(text, file.toString());
    }

    /**
     * Parses a profile's YAML text.
     *
     * @param origin where the text came from: the subject of errors and {@link GpuProfile#origin()}
     * @throws NsaArgumentException naming the origin and the key (with its line) for anything off schema
     */
    public static GpuProfile parse(String yaml, String origin) {
        try (JsonParser p = YAML.createParser(yaml)) {
            return read(p, origin);
        } catch (JsonProcessingException e) {
            throw new NsaArgumentException(origin, "valid YAML", "profile " + origin + " is not valid YAML: "
                    + e.getOriginalMessage().strip() + at(e.getLocation() == null ? -1 : e.getLocation().getLineNr()));
        } catch (IOException e) {
            throw new NsaArgumentException(origin, "valid YAML", "profile " + origin + " cannot be read: " + e);
        }
    }

    private static GpuProfile read(JsonParser p, String origin) throws IOException {
        if (p.nextToken() != JsonToken.START_OBJECT) {
            throw bad(origin, "", p, "the document must be a mapping of family, gpu, driver, date, source, d128, "
                    + "d192, d256");
        }
        Map<String, String> text = new java.util.HashMap<>();
        Map<GpuProfile.HeadDimBucket, GpuProfile.Thresholds> buckets = new EnumMap<>(GpuProfile.HeadDimBucket.class);
        Set<String> seen = new HashSet<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String key = p.currentName();
            if (!seen.add(key)) {
                throw bad(origin, key, p, "appears twice");
            }
            Optional<GpuProfile.HeadDimBucket> bucket = bucketOf(key);
            JsonToken t = p.nextToken();
            if (TEXT_KEYS.contains(key)) {
                text.put(key, text(p, t, origin, key));
            } else if (bucket.isPresent()) {
                buckets.put(bucket.get(), thresholds(p, t, origin, key));
            } else {
                throw bad(origin, key, p, "is not a profile key (allowed: family, gpu, driver, date, source, "
                        + "d128, d192, d256)");
            }
        }
        if (p.nextToken() != null) {
            throw bad(origin, "", p, "the file must hold exactly one YAML document");
        }
        for (String k : List.of("family", "gpu", "driver", "date", "source")) {
            if (!text.containsKey(k)) {
                throw missing(origin, k);
            }
        }
        for (GpuProfile.HeadDimBucket b : GpuProfile.HeadDimBucket.values()) {
            if (!buckets.containsKey(b)) {
                throw missing(origin, b.key());
            }
        }
        try {
            return new GpuProfile(text.get("family"), text.get("gpu"), text.get("driver"), text.get("date"),
                    text.get("source"), buckets, origin);
        } catch (IllegalArgumentException e) {
            throw new NsaArgumentException(origin, SCHEMA_RULE, "profile " + origin + ": " + e.getMessage());
        }
    }

    private static Optional<GpuProfile.HeadDimBucket> bucketOf(String key) {
        for (GpuProfile.HeadDimBucket b : GpuProfile.HeadDimBucket.values()) {
            if (b.key().equals(key)) {
                return Optional.of(b);
            }
        }
        return Optional.empty();
    }

    /** Text keys take any scalar but true/false/null, as written (so {@code driver: 550.54} stays text). */
    private static String text(JsonParser p, JsonToken t, String origin, String key) throws IOException {
        if (t == JsonToken.VALUE_STRING || t == JsonToken.VALUE_NUMBER_INT || t == JsonToken.VALUE_NUMBER_FLOAT) {
            return p.getText();
        }
        throw bad(origin, key, p, "must be text, found " + describe(p, t));
    }

    private static GpuProfile.Thresholds thresholds(JsonParser p, JsonToken t, String origin, String key)
            throws IOException {
        if (t != JsonToken.START_OBJECT) {
            throw bad(origin, key, p, "must be a mapping of " + String.join(", ", BUCKET_KEYS) + "; found "
                    + describe(p, t));
        }
        Map<String, Object> v = new java.util.HashMap<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            String path = key + "." + name;
            if (!BUCKET_KEYS.contains(name) && !OPTIONAL_BUCKET_KEYS.contains(name)) {
                throw bad(origin, path, p, "is not a bucket key (allowed: " + String.join(", ", BUCKET_KEYS) + ")");
            }
            if (v.containsKey(name)) {
                throw bad(origin, path, p, "appears twice");
            }
            JsonToken vt = p.nextToken();
            if (name.startsWith("fa2_min_len") || name.equals("sel_kernel_min_l")) {
                if (vt != JsonToken.VALUE_NUMBER_INT || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER
                        || p.getLongValue() < -1 || p.getLongValue() > Integer.MAX_VALUE) {
                    throw bad(origin, path, p, "must be an integer >= -1 (-1 disables), found " + describe(p, vt));
                }
                v.put(name, p.getIntValue());
            } else {
                if (vt != JsonToken.VALUE_TRUE && vt != JsonToken.VALUE_FALSE) {
                    throw bad(origin, path, p, "must be true or false, found " + describe(p, vt));
                }
                v.put(name, vt == JsonToken.VALUE_TRUE);
            }
        }
        for (String k : BUCKET_KEYS) {
            if (!v.containsKey(k)) {
                throw missing(origin, key + "." + k);
            }
        }
        return new GpuProfile.Thresholds((Boolean) v.get("fa2_win"), (Boolean) v.get("fa2_cmp"),
                (Integer) v.get("fa2_min_len_win"), (Integer) v.get("fa2_min_len_cmp"),
                (Boolean) v.get("sel_kernel"), (Integer) v.get("sel_kernel_min_l"),
                (Boolean) v.getOrDefault("sel_pack", Boolean.TRUE));
    }

    private static String describe(JsonParser p, JsonToken t) throws IOException {
        if (t == null) {
            return "nothing";
        }
        return switch (t) {
            case START_OBJECT -> "a mapping";
            case START_ARRAY -> "a list";
            case VALUE_NULL -> "an empty value";
            case VALUE_STRING -> p.getText().isEmpty() ? "an empty value" : "text '" + p.getText() + "'";
            default -> "'" + p.getText() + "'";
        };
    }

    private static NsaArgumentException bad(String origin, String key, JsonParser p, String what) {
        String subject = key.isEmpty() ? "" : "key '" + key + "' ";
        return new NsaArgumentException(origin, SCHEMA_RULE, "profile " + origin + ": " + subject + what
                + at(p.currentTokenLocation().getLineNr()));
    }

    private static NsaArgumentException missing(String origin, String key) {
        return new NsaArgumentException(origin, SCHEMA_RULE, "profile " + origin + ": key '" + key + "' is missing");
    }

    private static String at(int line) {
        return line > 0 ? " (line " + line + ")" : "";
    }
}
