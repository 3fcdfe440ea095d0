package dev.nsa4j.nsa;

/** Where a flag's effective value came from, highest precedence first. */
public enum FlagSource {
    /** A Java system property such as {@code -Dnsa.use.fa2=1}. */
    PROPERTY,
    /** An environment variable such as {@code NSA_USE_FA2=1}. */
    ENV,
    /** The GPU profile of the device in use, for the call's head dim ({@link GpuProfile#flagValues(int)}). */
    PROFILE,
    /** The built-in default of {@link Flag}. */
    DEFAULT
}
