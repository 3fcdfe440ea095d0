package dev.nsa4j.bench;

import java.util.Arrays;
import java.util.Iterator;
import java.util.Locale;
import java.util.stream.Collectors;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * The implementations {@code nsa attend} can run (docs/routing.md "Paths"). Adding one is a constant here and one
 * method in {@link AttendCommand#compute}.
 */
enum AttendPath {
    /** fp64 masked attention on the CPU ({@link CpuAttention}). */
    CPU("cpu", false),
    /** GPU reference attention, every key tested against the mask ({@code AttnWalk.ALL}). */
    SDPA("sdpa", true),
    /** GPU reference attention over the key ranges the mask allows ({@code AttnWalk.RANGES}). */
    SDPA_MASKED("sdpa-masked", true),
    /** FlashAttention-2 through the guarded bridge ({@code Fa2Bridge}): sdpa-masked with the reason where its contract refuses. */
    FA2("fa2", true);

    private final String id;
    private final boolean gpu;

    AttendPath(String id, boolean gpu) {
        this.id = id;
        this.gpu = gpu;
    }

    String id() {
        return id;
    }

    boolean gpu() {
        return gpu;
    }

    /** {@code cpu|sdpa|sdpa-masked|fa2}. */
    static String ids() {
        return Arrays.stream(values()).map(AttendPath::id).collect(Collectors.joining("|"));
    }

    @Override
    public String toString() {
        return id;
    }

    /** Parses a path id for picocli. */
    static final class Converter implements ITypeConverter<AttendPath> {
        @Override
        public AttendPath convert(String value) {
            String v = value.trim().toLowerCase(Locale.ROOT);
            for (AttendPath p : values()) {
                if (p.id.equals(v)) {
                    return p;
                }
            }
            throw new TypeConversionException("'" + value + "' is not one of " + ids().replace("|", ", "));
        }
    }

    /** The ids, for picocli's help and completion. */
    static final class Candidates implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return Arrays.stream(values()).map(AttendPath::id).iterator();
        }
    }
}
