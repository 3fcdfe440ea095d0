package dev.nsa4j.fa2.contract;

import java.util.Objects;
import java.util.Set;

/**
 * The device a call would run on, as the contract sees it: its compute capability and the SASS
 * architectures of the FA-2 kernel image that would be loaded there.
 *
 * @param major     compute capability major (9 for an H100)
 * @param minor     compute capability minor
 * @param sassArchs SASS architectures in the image as {@code 10 * major + minor} ({@code 80}, {@code 90});
 *                  see {@link Fa2Contract#sassRunsOn} for where each one runs
 */
public record Fa2Device(int major, int minor, Set<Integer> sassArchs) {
    public Fa2Device {
        sassArchs = Set.copyOf(Objects.requireNonNull(sassArchs, "sassArchs"));
    }

    /** A device with the shipped FA-2 image ({@link Fa2Contract#IMAGE_ARCHS}: sm_80 and sm_90a). */
    public static Fa2Device of(int major, int minor) {
        return new Fa2Device(major, minor, Fa2Contract.IMAGE_ARCHS);
    }

    /** {@code 10 * major + minor}, e.g. 86. */
    public int cc() {
        return 10 * major + minor;
    }

    /** {@code "8.6"}. */
    public String ccText() {
        return major + "." + minor;
    }

    /** True when some SASS of the image runs here. */
    public boolean imageRuns() {
        for (int arch : sassArchs) {
            if (Fa2Contract.sassRunsOn(arch, major, minor)) {
                return true;
            }
        }
        return false;
    }
}
