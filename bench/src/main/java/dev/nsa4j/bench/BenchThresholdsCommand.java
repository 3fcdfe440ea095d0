package dev.nsa4j.bench;

import dev.nsa4j.bench.report.MaskText;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import dev.nsa4j.bench.report.AttentionBenchRow;
import dev.nsa4j.bench.report.AttentionShape;
import dev.nsa4j.bench.report.BenchCsv;
import dev.nsa4j.kernels.Mask;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code nsa bench thresholds}: the sweep behind a profile's {@code NSA_FA2_MIN_LEN_WIN/CMP}. For each head
 * dim, the window branch over window lengths and the compressed branch over compressed lengths, FA-2 against
 * {@code sdpa-masked} (the path that runs when FA-2 does not) in one run; the threshold is the smallest
 * length from which FA-2 is at least 1.2x faster at every longer length measured (docs/routing.md), -1 if none.
 */
@Command(name = "thresholds", mixinStandardHelpOptions = true, sortOptions = false, versionProvider = NsaCli.Version.class,
        description = "Sweep key lengths per head dim: FA-2 vs sdpa-masked; print the FA-2 minimum lengths for a profile.")
final class BenchThresholdsCommand implements Callable<Integer> {
    static final double SPEEDUP = 1.2;

    @Option(names = "--head-dims", split = ",", defaultValue = "64,128,256")
    List<Integer> headDims;

    @Option(names = "--lengths", split = ",", defaultValue = "16,32,48,64,96,128,192,256,512,1024",
            description = "Key lengths swept (window length; compressed length) (default: ${DEFAULT-VALUE}).")
    List<Integer> lengths;

    @Option(names = "--queries", defaultValue = "4096", description = "Query tokens of the window sweep (default: ${DEFAULT-VALUE}).")
    int queries;

    @Option(names = "--heads", defaultValue = "16,4", description = "H,Hkv (default: ${DEFAULT-VALUE}).")
    String heads;

    @Option(names = "--cmp", defaultValue = "32,16", converter = AttendCommand.BlockCausalConverter.class,
            description = "Compression l,d of the compressed sweep (default: ${DEFAULT-VALUE}).")
    Mask.BlockCausal cmp;

    @Option(names = "--repeat", defaultValue = "10")
    int repeat;

    @Option(names = "--out", paramLabel = "CSV", description = "Append the rows to this CSV.")
    Path out;

    @Option(names = "--summary", paramLabel = "FILE", description = "Write the thresholds (key: value lines) here.")
    Path summary;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        String[] hh = heads.split(",", -1);
        int h, hkv;
        try {
            if (hh.length != 2) {
                throw new IllegalArgumentException("'" + heads + "' is not H,Hkv");
            }
            h = BenchAttentionCommand.positive("H", hh[0]);
            hkv = BenchAttentionCommand.positive("Hkv", hh[1]);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--heads: " + e.getMessage());
        }
        if (h % hkv != 0) {
            throw new ParameterException(spec.commandLine(), "--heads: H = " + h + " is not a multiple of Hkv = " + hkv);
        }
        if (headDims.stream().anyMatch(v -> v < 1) || lengths.stream().anyMatch(v -> v < 1) || queries < 1 || repeat < 1) {
            throw new ParameterException(spec.commandLine(), "--head-dims, --lengths, --queries and --repeat must be >= 1");
        }
        int l = cmp.l(), d = cmp.d();
        List<AttentionBenchRow> all = new ArrayList<>();
        StringBuilder sum = new StringBuilder();
        try (BenchAttentionCommand.Bench b = BenchAttentionCommand.Bench.open(0)) {
            sum.append("gpu: ").append(b.gpu).append('\n');
            for (int dim : headDims) {
                for (String branch : List.of("win", "cmp")) {
                    double[] speedup = new double[lengths.size()];
                    for (int i = 0; i < lengths.size(); i++) {
                        int len = lengths.get(i);
                        AttentionShape s = branch.equals("win")
                                ? new AttentionShape("bf16", 1, h, hkv, queries, queries, dim, dim, MaskText.checkedWindow(len))
                                : new AttentionShape("bf16", 1, h, hkv, (len - 1) * d + l, len, dim, dim, MaskText.checkedBlockCausal(l, d));
                        List<AttentionBenchRow> rows = b.measure(s, List.of("fa2", "sdpa-masked"), 3, repeat, repeat, System.out);
                        all.addAll(rows);
                        speedup[i] = rows.get(1).medianMs() / rows.get(0).medianMs();
                        System.out.printf(Locale.ROOT, "%s D=%d len=%d: fa2 %.4f ms, sdpa-masked %.4f ms, speedup %.2fx%n",
                                branch, dim, len, rows.get(0).medianMs(), rows.get(1).medianMs(), speedup[i]);
                    }
                    int t = threshold(lengths, speedup, SPEEDUP);
                    sum.append(String.format(Locale.ROOT, "d%d.fa2_min_len_%s: %d%n", dim, branch, t));
                }
            }
        }
        if (out != null) {
            BenchCsv.append(out, all);
        }
        System.out.print(sum);
        if (summary != null) {
            Files.writeString(summary, sum.toString());
        }
        return 0;
    }

    /** The smallest swept length from which every longer one reaches {@code bar}; -1 when the longest does not. */
    static int threshold(List<Integer> lengths, double[] speedup, double bar) {
        int t = -1;
        for (int i = lengths.size() - 1; i >= 0 && speedup[i] >= bar; i--) {
            t = lengths.get(i);
        }
        return t;
    }

}
