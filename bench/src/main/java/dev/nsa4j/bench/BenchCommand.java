package dev.nsa4j.bench;

import picocli.CommandLine.Command;

/** {@code nsa bench}: the benches (attention, nsa, selection, decode, thresholds). */
@Command(name = "bench", mixinStandardHelpOptions = true, versionProvider = NsaCli.Version.class,
        description = "Benchmarks on the GPU: attention (FA-2 vs the reference paths), nsa (the whole forward, per step, vs dense FA-2), selection (the selection branch on every path), decode (the NSA decode step, eager and as a CUDA graph, vs dense FA-2 split-KV), thresholds (the FA-2 length sweep for a profile).",
        subcommands = {BenchAttentionCommand.class, BenchNsaCommand.class, BenchSelectionCommand.class,
                BenchDecodeCommand.class, BenchThresholdsCommand.class})
final class BenchCommand {
}
