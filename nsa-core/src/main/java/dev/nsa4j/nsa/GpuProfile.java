package dev.nsa4j.nsa;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * One GPU family's routing profile (docs/routing.md "Profiles and thresholds"): per head-dim bucket, whether
 * FA-2 (window, compressed) and {@code sel-kernel} may be chosen and from which length on. It supplies the
 * values of the flags whose default is "profile" ({@link #flagValues(int)}); properties and environment
 * variables override it ({@link Flags}).
 *
 * <p>The YAML form is documented in {@link #SCHEMA_COMMENT} and docs/routing-profiles.md;
 * {@link GpuProfiles} reads it, {@link #toYaml()} writes it (what the threshold bench calls to write a new
 * {@code sm90.yaml}).
 *
 * @param family  the GPU family, e.g. {@code sm90}
 * @param gpu     the GPU the thresholds were measured on, or {@value #STARTING_POINT}
 * @param driver  the NVIDIA driver (and CUDA) version of the sweep, or {@code n/a}
 * @param date    when the profile was written ({@code YYYY-MM-DD})
 * @param source  the sweep or command it came from; free text, may span lines
 * @param buckets the thresholds of each head-dim bucket; all three required
 * @param origin  where it was read from ({@code classpath:dev/nsa4j/nsa/profiles/sm90.yaml}, a file path), or
 *                {@code "memory"} for one built in code; not written by {@link #toYaml()}
 */
public record GpuProfile(String family, String gpu, String driver, String date, String source,
                         Map<HeadDimBucket, Thresholds> buckets, String origin) {

    /** The {@code gpu} value of a profile that no sweep has measured. */
    public static final String STARTING_POINT = "starting point (no sweep yet)";

    /** The comment at the top of every profile file: the schema, for whoever edits one by hand. */
    public static final String SCHEMA_COMMENT = """
            # nsa4j GPU profile: which fast paths routing may choose on one GPU family, per head-dim bucket.
            # Schema (docs/routing-profiles.md); every key below is required (but sel_pack), any other key is an error:
            #   family   text  sm80 | sm86 | sm89 | sm90 (compute capability 8.0 | 8.6, 8.7 | 8.9 | 9.x)
            #   gpu      text  the GPU the thresholds were measured on, or "starting point (no sweep yet)"
            #   driver   text  NVIDIA driver (and CUDA) version of the sweep, or "n/a"
            #   date     text  when the profile was written, YYYY-MM-DD
            #   source   text  the sweep or command it came from (may span lines: "source: |" then indented lines)
            #   d128, d192, d256  one mapping per head-dim bucket (head_dim <= 128, <= 192, <= 256; above 256: FA-2 off):
            #     fa2_win           bool  FA-2 for the window branch              -> NSA_USE_FA2_WIN (NSA_USE_FA2 = win or cmp)
            #     fa2_cmp           bool  FA-2 for the compressed branch          -> NSA_USE_FA2_CMP
            #     fa2_min_len_win   int   minimum window length for FA-2, -1 off  -> NSA_FA2_MIN_LEN_WIN
            #     fa2_min_len_cmp   int   minimum compressed length, -1 off       -> NSA_FA2_MIN_LEN_CMP
            #     sel_kernel        bool  selection on sel-kernel                 -> NSA_USE_SEL_KERNEL
            #     sel_kernel_min_l  int   minimum selected tokens per row, -1 off -> NSA_SEL_KERNEL_MIN_L
            #     sel_pack          bool  selection on sdpa-packed (true) or sdpa-masked (false); optional, default true -> NSA_USE_SEL_PACK
            # bool is true or false; int is a plain integer >= -1. Environment variables and -Dnsa.* properties override
            # every value here; NSA_PROFILE=<file> replaces this profile.
            """;

    /** Head-dim buckets: a head dim uses the smallest bucket that holds it. */
    public enum HeadDimBucket {
        D128(128), D192(192), D256(256);

        private final int maxHeadDim;

        HeadDimBucket(int maxHeadDim) {
            this.maxHeadDim = maxHeadDim;
        }

        /** The largest head dim of this bucket. */
        public int maxHeadDim() {
            return maxHeadDim;
        }

        /** The YAML key, e.g. {@code d128}. */
        public String key() {
            return "d" + maxHeadDim;
        }

        /**
         * The bucket of a head dim: {@code <= 128} D128, {@code <= 192} D192, {@code <= 256} D256; empty above 256.
         *
         * @throws IllegalArgumentException for a head dim below 1
         */
        public static Optional<HeadDimBucket> of(int headDim) {
            if (headDim < 1) {
                throw new IllegalArgumentException("head dim must be >= 1, got " + headDim);
            }
            for (HeadDimBucket b : values()) {
                if (headDim <= b.maxHeadDim) {
                    return Optional.of(b);
                }
            }
            return Optional.empty();
        }
    }

    /**
     * One bucket's routing thresholds (YAML keys in brackets).
     *
     * @param fa2Win        FA-2 for the window branch [{@code fa2_win}]
     * @param fa2Cmp        FA-2 for the compressed branch [{@code fa2_cmp}]
     * @param fa2MinLenWin  minimum window length for FA-2, -1 disables [{@code fa2_min_len_win}]
     * @param fa2MinLenCmp  minimum compressed length for FA-2, -1 disables [{@code fa2_min_len_cmp}]
     * @param selKernel     selection on {@code sel-kernel} [{@code sel_kernel}]
     * @param selKernelMinL minimum selected tokens per row for {@code sel-kernel}, -1 disables
     *                      [{@code sel_kernel_min_l}]
     * @param selPack       the selection branch's reference path: {@code sdpa-packed} (true) or {@code sdpa-masked}
     *                      [{@code sel_pack}, optional, default true]
     */
    public record Thresholds(boolean fa2Win, boolean fa2Cmp, int fa2MinLenWin, int fa2MinLenCmp,
                             boolean selKernel, int selKernelMinL, boolean selPack) {
        /** Everything off: what a head dim without a bucket gets. */
        public static final Thresholds OFF = new Thresholds(false, false, -1, -1, false, -1, true);

        /** With the built-in selection path ({@code sel_pack} absent). */
        public Thresholds(boolean fa2Win, boolean fa2Cmp, int fa2MinLenWin, int fa2MinLenCmp, boolean selKernel,
                          int selKernelMinL) {
            this(fa2Win, fa2Cmp, fa2MinLenWin, fa2MinLenCmp, selKernel, selKernelMinL, true);
        }

        /** @throws IllegalArgumentException for a length below -1 */
        public Thresholds {
            requireLength("fa2_min_len_win", fa2MinLenWin);
            requireLength("fa2_min_len_cmp", fa2MinLenCmp);
            requireLength("sel_kernel_min_l", selKernelMinL);
        }

        private static void requireLength(String key, int v) {
            if (v < -1) {
                throw new IllegalArgumentException(key + " must be >= -1 (-1 disables), got " + v);
            }
        }
    }

    /** @throws IllegalArgumentException for a blank text field or a missing bucket */
    public GpuProfile {
        requireText("family", family);
        requireText("gpu", gpu);
        requireText("driver", driver);
        requireText("date", date);
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(origin, "origin");
        EnumMap<HeadDimBucket, Thresholds> copy = new EnumMap<>(HeadDimBucket.class);
        for (HeadDimBucket b : HeadDimBucket.values()) {
            Thresholds t = buckets.get(b);
            if (t == null) {
                throw new IllegalArgumentException("bucket " + b.key() + " is missing");
            }
            copy.put(b, t);
        }
        buckets = Collections.unmodifiableMap(copy);
    }

    private static void requireText(String key, String v) {
        if (v == null || v.isBlank()) {
            throw new IllegalArgumentException(key + " must not be blank");
        }
    }

    /** The thresholds for a head dim: its bucket's, or {@link Thresholds#OFF} above 256. */
    public Thresholds thresholds(int headDim) {
        return HeadDimBucket.of(headDim).map(buckets::get).orElse(Thresholds.OFF);
    }

    /**
     * The values this profile supplies for a head dim, keyed by {@link Flag#envName()} in the form
     * {@link Flags#of} takes: {@code NSA_USE_FA2} ({@code 1} when the bucket enables FA-2 for win or cmp),
     * {@code NSA_USE_FA2_WIN}, {@code NSA_USE_FA2_CMP}, {@code NSA_FA2_MIN_LEN_WIN}, {@code NSA_FA2_MIN_LEN_CMP},
     * {@code NSA_USE_SEL_KERNEL}, {@code NSA_SEL_KERNEL_MIN_L}: exactly the flags with
     * {@link Flag#defaultFromProfile()}. Head dims above 256 have no bucket: everything off, lengths -1.
     *
     * @throws IllegalArgumentException for a head dim below 1
     */
    public Map<String, String> flagValues(int headDim) {
        Thresholds t = thresholds(headDim);
        Map<String, String> m = new LinkedHashMap<>();
        m.put(Flag.NSA_USE_FA2.envName(), bit(t.fa2Win() || t.fa2Cmp()));
        m.put(Flag.NSA_USE_FA2_WIN.envName(), bit(t.fa2Win()));
        m.put(Flag.NSA_USE_FA2_CMP.envName(), bit(t.fa2Cmp()));
        m.put(Flag.NSA_FA2_MIN_LEN_WIN.envName(), Integer.toString(t.fa2MinLenWin()));
        m.put(Flag.NSA_FA2_MIN_LEN_CMP.envName(), Integer.toString(t.fa2MinLenCmp()));
        m.put(Flag.NSA_USE_SEL_KERNEL.envName(), bit(t.selKernel()));
        m.put(Flag.NSA_SEL_KERNEL_MIN_L.envName(), Integer.toString(t.selKernelMinL()));
        m.put(Flag.NSA_USE_SEL_PACK.envName(), bit(t.selPack()));
        return Collections.unmodifiableMap(m);
    }

    private static String bit(boolean b) {
        return b ? "1" : "0";
    }

    /** The first line of {@link #source()} (what the {@code routing} command shows). */
    public String sourceFirstLine() {
        String s = source.strip();
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl).strip();
    }

    /**
     * This profile as a profile file: {@link #SCHEMA_COMMENT}, then every key of the schema ({@code origin}
     * is not written). {@link GpuProfiles#parse} reads it back to an equal profile (but for the origin). A
     * multi-line {@code source} is written as a literal block.
     */
    public String toYaml() {
        StringWriter w = new StringWriter();
        w.write(SCHEMA_COMMENT);
        w.write('\n');
        YAMLFactory yaml = YAMLFactory.builder()
                .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
                .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
                .enable(YAMLGenerator.Feature.ALWAYS_QUOTE_NUMBERS_AS_STRINGS)
                .enable(YAMLGenerator.Feature.LITERAL_BLOCK_STYLE)
                .build();
        try (JsonGenerator g = yaml.createGenerator(w)) {
            g.writeStartObject();
            g.writeStringField("family", family);
            g.writeStringField("gpu", gpu);
            g.writeStringField("driver", driver);
            g.writeStringField("date", date);
            g.writeStringField("source", source);
            for (HeadDimBucket b : HeadDimBucket.values()) {
                Thresholds t = buckets.get(b);
                g.writeObjectFieldStart(b.key());
                g.writeBooleanField("fa2_win", t.fa2Win());
                g.writeBooleanField("fa2_cmp", t.fa2Cmp());
                g.writeNumberField("fa2_min_len_win", t.fa2MinLenWin());
                g.writeNumberField("fa2_min_len_cmp", t.fa2MinLenCmp());
                g.writeBooleanField("sel_kernel", t.selKernel());
                g.writeNumberField("sel_kernel_min_l", t.selKernelMinL());
                g.writeBooleanField("sel_pack", t.selPack());
                g.writeEndObject();
            }
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a StringWriter does not fail
        }
        return w.toString();
    }

    /** {@code sm90 (gpu: NVIDIA H100 ..., date: 2026-11-22)}. */
    public String summary() {
        return family + " (gpu: " + gpu + ", driver: " + driver + ", date: " + date + ")";
    }
}
