/**
 * What users import: {@link dev.nsa4j.nsa.NsaAttention} (routing each NSA branch to the fastest correct
 * path, CPU oracle where no GPU serves), routes, flags and their precedence, GPU profiles, counters.
 *
 * <p>Reads its shipped GPU profiles ({@code dev/nsa4j/nsa/profiles/*.yaml}) with
 * {@code GpuProfiles.class.getResourceAsStream}, which finds a module's own resources, and only with
 * jackson-dataformat-yaml's streaming API: nothing is bound reflectively, so nothing is opened.
 */
module dev.nsa4j.nsa {
    requires transitive dev.nsa4j.reference;
    requires transitive dev.nsa4j.kernels;
    requires transitive dev.nsa4j.fa2;
    requires transitive org.slf4j; // RateLimitedLog's sink takes slf4j's Logger and Level
    requires com.fasterxml.jackson.core;
    requires com.fasterxml.jackson.dataformat.yaml;

    exports dev.nsa4j.nsa;
}
