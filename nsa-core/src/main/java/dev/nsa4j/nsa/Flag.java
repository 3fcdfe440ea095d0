package dev.nsa4j.nsa;

import dev.nsa4j.NsaArgumentException;
import java.util.Locale;

/**
 * Every routing flag of docs/routing.md ("Flags"), each readable as an environment variable ({@link #envName()},
 * e.g. {@code NSA_USE_FA2}) and as the equal Java system property ({@link #propertyName()}, e.g.
 * {@code nsa.use.fa2}: lower case, {@code '_'} replaced by {@code '.'}).
 *
 * <p>Defaults. Flags whose docs/routing.md default is "profile" ({@link #defaultFromProfile()}) take their value
 * from the GPU profile of the device in use ({@link GpuProfile}, {@link RoutingFlags}), between the
 * environment and the built-in default (see {@link Flags}). Without a profile (CPU, or a GPU family none
 * ships for) the built-in default is the conservative one: FA-2 and {@code sel-kernel} off, minimum lengths
 * {@code -1} (disabled).
 *
 * <p>Values. Booleans accept {@code 1/0, true/false, yes/no, on/off} (case-insensitive, trimmed); ints
 * accept a decimal integer at or above {@link #minInt()}; {@link #NSA_FORCE_BRANCH} is {@code cmp},
 * {@code sel} or {@code win}; {@link #NSA_DEVICE} is {@code auto}, {@code cpu} or a CUDA ordinal.
 * {@link #parse} normalises a raw value or throws an {@link NsaArgumentException} whose subject is the
 * flag's environment name and whose message lists the accepted values.
 */
public enum Flag {
    NSA_USE_FA2(Kind.BOOLEAN, "0", true, "master switch for FA-2; 0 forces it off everywhere"),
    NSA_USE_FA2_WIN(Kind.BOOLEAN, "0", true, "FA-2 for the window branch (when the master is not 0)"),
    NSA_USE_FA2_CMP(Kind.BOOLEAN, "0", true, "FA-2 for the compressed branch (when the master is not 0)"),
    NSA_FA2_MIN_LEN_WIN(Kind.INT, "-1", true, "minimum window length for FA-2; -1 disables"),
    NSA_FA2_MIN_LEN_CMP(Kind.INT, "-1", true, "minimum compressed length for FA-2; -1 disables"),
    NSA_FA2_PREF_FP16(Kind.BOOLEAN, "1", false, "cast fp32 to fp16 (else bf16) when NSA_FA2_ALLOW_FP32=1"),
    NSA_FA2_ALLOW_FP32(Kind.BOOLEAN, "0", false, "let fp32 inputs use FA-2 after a cast"),
    NSA_FA2_ALLOW_D_GT_128(Kind.BOOLEAN, "0", false, "allow head_dim > 128 on SM 8.x"),
    NSA_FA2_ALLOW_LARGE_BATCH(Kind.BOOLEAN, "0", false, "allow an effective batch > 1024"),
    NSA_FA2_FORCE(Kind.BOOLEAN, "0", false, "allow FA-2 on SM 8.9"),
    NSA_FA2_AUDIT(Kind.BOOLEAN, "0", false, "start-up audit of the device and kernels"),
    NSA_FA2_HARD_FAIL(Kind.BOOLEAN, "0", false, "throw when a call is eligible for FA-2 but blocked"),
    NSA_USE_WIN_MASK(Kind.BOOLEAN, "1", false, "window branch on sdpa-masked rather than sdpa"),
    NSA_USE_CMP_MASK(Kind.BOOLEAN, "1", false, "compressed branch on sdpa-masked rather than sdpa"),
    NSA_USE_SEL_PACK(Kind.BOOLEAN, "1", true, "selection branch on sdpa-packed rather than sdpa"),
    NSA_USE_SEL_KERNEL(Kind.BOOLEAN, "0", true, "route selection to sel-kernel"),
    NSA_SEL_KERNEL_FORCE(Kind.BOOLEAN, "0", false, "allow sel-kernel where the profile keeps it off"),
    NSA_SEL_KERNEL_MIN_L(Kind.INT, "-1", true, "minimum selected tokens per row for sel-kernel; -1 disables"),
    NSA_EXACT_SCORES(Kind.BOOLEAN, "0", false,
            "block scoring on the fp32 reference kernel: chosen blocks equal the oracle's"),
    NSA_USE_WGMMA(Kind.BOOLEAN, "1", false,
            "Hopper warpgroup-MMA kernels on SM 9.0 where they serve the shape (the tc scorer, h <= 16; FA-2's Hopper layout)"),
    NSA_FA2_HOPPER_MIN_KEYS(Kind.INT, "512", false,
            "fewest keys per query row (the window, else the longest key sequence) for FA-2's Hopper layout"),
    NSA_USE_TMA(Kind.BOOLEAN, "1", false,
            "sel-kernel's TMA layout and the tc scorer's key-row layout (tensor-memory-accelerator loads) on SM 9.0 "
                    + "where they serve the shape"),
    NSA_DECODE_SPLIT_KEYS(Kind.INT, "64", false,
            "fewest keys (at capacity) per split of the tensor-core decode step's branches; a multiple of 64"),
    NSA_DECODE_CTAS_PER_SM(Kind.INT, "2", false,
            "thread blocks per multiprocessor each split launch of the tensor-core decode step aims to fill"),
    NSA_FAST_P(Kind.BOOLEAN, "0", false,
            "sel-kernel and FA-2 round P once (their fast mode) instead of exact P"),
    NSA_FORCE_PARITY(Kind.BOOLEAN, "0", false, "every branch on sdpa"),
    NSA_FORCE_BRANCH(Kind.STRING, null, false, "cmp, sel or win: one-hot gates"),
    NSA_FORCE_UNIFORM_GATE(Kind.BOOLEAN, "0", false, "all gates 1/3"),
    NSA_STRICT_ASSERTS(Kind.BOOLEAN, "0", false, "verify causality and finiteness; throw on violation"),
    NSA_DEBUG_TIMING(Kind.BOOLEAN, "0", false, "log path, shapes, dtypes, strides and time of each call"),
    NSA_LOG_LIMIT(Kind.INT, "10", false, "at most this many lines per log tag (0 = unlimited)"),
    NSA_DEVICE(Kind.STRING, "auto", false, "auto, cpu, or a CUDA ordinal"),
    NSA_PROFILE(Kind.STRING, "auto", false, "path of a profile YAML instead of the shipped one");

    /** The value type of a flag. */
    public enum Kind { BOOLEAN, INT, STRING }

    static final String BOOLEAN_VALUES = "1/0, true/false, yes/no, on/off";

    private final Kind kind;
    private final String defaultValue;
    private final boolean fromProfile;
    private final String effect;

    Flag(Kind kind, String defaultValue, boolean fromProfile, String effect) {
        this.kind = kind;
        this.defaultValue = defaultValue;
        this.fromProfile = fromProfile;
        this.effect = effect;
    }

    public Kind kind() {
        return kind;
    }

    /** The environment variable, e.g. {@code NSA_USE_FA2}. */
    public String envName() {
        return name();
    }

    /** The system property, e.g. {@code nsa.use.fa2}. */
    public String propertyName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '.');
    }

    /** The built-in default in normalised form ({@code "1"/"0"} for booleans), or {@code null} for unset. */
    public String defaultValue() {
        return defaultValue;
    }

    /** True where docs/routing.md says the default comes from the GPU profile (built-in default where none applies). */
    public boolean defaultFromProfile() {
        return fromProfile;
    }

    /** One line on what the flag does. */
    public String effect() {
        return effect;
    }

    /** The smallest value an INT flag accepts. */
    public int minInt() {
        return switch (this) {
            case NSA_LOG_LIMIT, NSA_FA2_HOPPER_MIN_KEYS -> 0;
            case NSA_DECODE_SPLIT_KEYS, NSA_DECODE_CTAS_PER_SM -> 1;
            default -> -1;
        };
    }

    /** The accepted values, as error messages and {@code --help} print them. */
    public String acceptedValues() {
        return switch (kind) {
            case BOOLEAN -> BOOLEAN_VALUES;
            case INT -> "an integer >= " + minInt();
            case STRING -> switch (this) {
                case NSA_FORCE_BRANCH -> "cmp, sel or win";
                case NSA_DEVICE -> "auto, cpu or a CUDA ordinal (0, 1, ...)";
                default -> "any text";
            };
        };
    }

    /**
     * Checks and normalises a raw value: booleans become {@code "1"} or {@code "0"}, ints their decimal
     * form, {@code NSA_FORCE_BRANCH} and {@code NSA_DEVICE} lower case.
     *
     * @param origin where the value came from, for the message (e.g. {@code "system property nsa.use.fa2"})
     * @throws NsaArgumentException naming this flag, the value and the accepted values
     */
    public String parse(String raw, String origin) {
        String v = raw.trim();
        String lower = v.toLowerCase(Locale.ROOT);
        switch (kind) {
            case BOOLEAN -> {
                switch (lower) {
                    case "1", "true", "yes", "on" -> { return "1"; }
                    case "0", "false", "no", "off" -> { return "0"; }
                    default -> throw bad(raw, origin);
                }
            }
            case INT -> {
                try {
                    int i = Integer.parseInt(v);
                    if (i < minInt()) {
                        throw bad(raw, origin);
                    }
                    return Integer.toString(i);
                } catch (NumberFormatException e) {
                    throw bad(raw, origin);
                }
            }
            default -> {
                if (this == NSA_FORCE_BRANCH) {
                    if (Branch.fromId(lower) == null) {
                        throw bad(raw, origin);
                    }
                    return lower;
                }
                if (this == NSA_DEVICE) {
                    if (lower.equals("auto") || lower.equals("cpu") || isOrdinal(lower)) {
                        return lower.equals("auto") || lower.equals("cpu") ? lower : Integer.toString(Integer.parseInt(lower));
                    }
                    throw bad(raw, origin);
                }
                return v;
            }
        }
    }

    static boolean isOrdinal(String s) {
        if (s.isEmpty() || s.length() > 9) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (!Character.isDigit(s.charAt(i)) || s.charAt(i) > '9') {
                return false;
            }
        }
        return true;
    }

    private NsaArgumentException bad(String raw, String origin) {
        return new NsaArgumentException(envName(), "value is " + acceptedValues(),
                envName() + " = '" + raw + "' (from " + origin + ") is not " + acceptedValues());
    }
}
