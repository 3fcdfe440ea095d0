package dev.nsa4j.bench;

import java.util.List;

import picocli.CommandLine.Option;

/**
 * The options {@code nsa bench nsa} and {@code nsa bench selection} share ({@code @Mixin}): the {@code B,S} shapes,
 * the heads, head dims, selection block and count, and the input dtype, with fla's benchmark shape as defaults.
 */
final class BenchShapeOptions {
    @Option(names = "--shapes", split = " ", paramLabel = "B,S", defaultValue = "4,4096 1,16384 1,65536",
            description = "Batch and sequence length pairs (default: ${DEFAULT-VALUE}).")
    List<String> shapes;

    @Option(names = "--heads", defaultValue = "64") int heads;
    @Option(names = "--kv-heads", defaultValue = "4") int kvHeads;
    @Option(names = "--dk", defaultValue = "128") int dk;
    @Option(names = "--dv", defaultValue = "128") int dv;
    @Option(names = "--sel-block", defaultValue = "64") int selBlock;
    @Option(names = "--n-sel", defaultValue = "16") int nSel;

    @Option(names = "--dtype", defaultValue = "bf16", description = "bf16 or fp16 (default: ${DEFAULT-VALUE}).")
    String dtype;
}
