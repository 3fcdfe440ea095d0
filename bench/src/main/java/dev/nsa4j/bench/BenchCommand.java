package dev.nsa4j.bench;

import picocli.CommandLine.Command;

/** {@code nsa bench}: the bench graphs (attention; thresholds). */
@Command(name = "bench", mixinStandardHelpOptions = true, versionProvider = NsaCli.Version.class,
        description = "Benchmarks on the GPU: attention (FA-2 vs the reference paths), thresholds (the FA-2 length sweep for a profile).",
        subcommands = {BenchAttentionCommand.class, BenchThresholdsCommand.class})
final class BenchCommand {
}
