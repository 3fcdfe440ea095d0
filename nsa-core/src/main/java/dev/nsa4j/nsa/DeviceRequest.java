package dev.nsa4j.nsa;

import dev.nsa4j.NsaArgumentException;
import java.util.Locale;

/**
 * Where a caller asks NSA to run: {@code auto} (the best available), {@code cpu}, {@code gpu} (the default
 * CUDA device) or a CUDA ordinal.
 *
 * @param kind    the kind of request
 * @param ordinal the CUDA ordinal for {@link Kind#ORDINAL}, else -1
 */
public record DeviceRequest(Kind kind, int ordinal) {
    /** Kinds of device request. */
    public enum Kind { AUTO, CPU, GPU, ORDINAL }

    public static final DeviceRequest AUTO = new DeviceRequest(Kind.AUTO, -1);
    public static final DeviceRequest CPU = new DeviceRequest(Kind.CPU, -1);
    public static final DeviceRequest GPU = new DeviceRequest(Kind.GPU, -1);

    public DeviceRequest {
        if ((kind == Kind.ORDINAL) != (ordinal >= 0)) {
            throw new IllegalArgumentException("ordinal " + ordinal + " does not fit kind " + kind);
        }
    }

    /**
     * Parses {@code auto|cpu|gpu|<ordinal>} (case-insensitive, trimmed).
     *
     * @throws NsaArgumentException with subject {@code device} for anything else
     */
    public static DeviceRequest parse(String s) {
        String v = s.trim().toLowerCase(Locale.ROOT);
        return switch (v) {
            case "auto" -> AUTO;
            case "cpu" -> CPU;
            case "gpu", "cuda" -> GPU;
            default -> {
                if (Flag.isOrdinal(v)) {
                    yield new DeviceRequest(Kind.ORDINAL, Integer.parseInt(v));
                }
                throw new NsaArgumentException("device", "auto, cpu, gpu or a CUDA ordinal",
                        "unknown device '" + s + "': expected auto, cpu, gpu or a CUDA ordinal (0, 1, ...)");
            }
        };
    }

    @Override
    public String toString() {
        return kind == Kind.ORDINAL ? Integer.toString(ordinal) : kind.name().toLowerCase(Locale.ROOT);
    }
}
