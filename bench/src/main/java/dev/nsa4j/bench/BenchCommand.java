package dev.nsa4j.bench;

import picocli.CommandLine.Command;

/** {@code nsa bench}: the bench graphs (attention; thresholds). */
@Command(name = "bench", mixinStandardHelpOptions = true, versionProvider = NsaCli.Version.class,
        description = "Benchmarks on the GPU: attention (FA-2 vs the reference paths), nsa (the whole forward, per step, vs dense FA-2), selection (the selection branch on every path), thresholds (the FA-2 length sweep for a profile).",
        subcommands = {BenchAttentionCommand.class, BenchNsaCommand.class, BenchSelectionCommand.class,
                BenchThresholdsCommand.class})
final class BenchCommand {
}
