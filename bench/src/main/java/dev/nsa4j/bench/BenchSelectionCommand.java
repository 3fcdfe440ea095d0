package dev.nsa4j.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import dev.nsa4j.bench.report.AttentionBenchRow;
import dev.nsa4j.kernels.CudaContext;
import dev.nsa4j.kernels.CudaEvent;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceBuffer;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.GpuAvailability;
import dev.nsa4j.kernels.internal.AttnSpec;
import dev.nsa4j.kernels.internal.AttnWalk;
import dev.nsa4j.kernels.internal.KernelModule;
import dev.nsa4j.kernels.internal.SelPacked;
import dev.nsa4j.kernels.internal.TcModule;
import dev.nsa4j.kernels.op.AttentionArgs;
import dev.nsa4j.kernels.op.DeviceOp;
import dev.nsa4j.kernels.op.PackedSelectionOp;
import dev.nsa4j.kernels.op.ReferenceAttentionOp;
import dev.nsa4j.kernels.op.SelKernelOp;
import dev.nsa4j.kernels.op.SelLayout;
import dev.nsa4j.kernels.op.Sequences;
import dev.nsa4j.kernels.op.Workspace;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import dev.nsa4j.tensor.Shape;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code nsa bench selection}: the selection branch alone on every GPU path, on the same device-resident q, k, v
 * and chosen blocks: {@code sel-kernel} (exact P, the forward's mode, in the layout the forward picks for the length),
 * {@code sel-kernel-fast} (P rounded once), {@code sel-kernel-token}, {@code sel-kernel-union} and, on SM 9.0,
 * {@code sel-kernel-tma} (exact P in each layout, {@link SelLayout}; a layout that does not serve the shape is skipped
 * with the reason),
 * {@code sdpa-masked} (the reference kernel walking the chosen blocks in place) and {@code sdpa-packed} (gather,
 * then dense). The blocks are {@link SelectionIndices#random} sets or, with {@code --indices}, a peer's file
 * (bench/peers/fla_selection.py writes the sets it timed fla's selection on), so the rows compare with fla's on the
 * very same blocks. Per path: CUDA events around each launch after {@code --warmup} untimed ones, the median, and
 * TFLOP/s over the attended keys (4·D·h per query head and key, Dk + Dv for D). Every path's output on the first
 * tokens is checked against sdpa-masked's first (MAE), unless {@code --paths} leaves sdpa-masked out. Rows go to
 * stdout as a table and, with {@code --out}, to a CSV.
 */
@Command(name = "selection", mixinStandardHelpOptions = true, sortOptions = false, versionProvider = NsaCli.Version.class,
        description = {"Time the selection branch alone on sel-kernel (exact and fast P, each layout), sdpa-masked and",
                "sdpa-packed, on the same q/k/v and chosen blocks (random, or a peer's file), with TFLOP/s over the",
                "attended keys."})
final class BenchSelectionCommand implements Callable<Integer> {
    static final List<String> PATHS = List.of("sel-kernel", "sel-kernel-fast", "sel-kernel-token", "sel-kernel-union",
            "sel-kernel-tma", "sdpa-masked", "sdpa-packed");
    static final String CSV_HEADER = "path,gpu,dtype,batch,seqlen,heads,kv_heads,dk,dv,sel_block,n_sel,attended_keys,"
            + "median_ms,p10_ms,p90_ms,tflops,runs,mae_vs_sdpa_masked";
    /** Tokens whose outputs the check compares (the first ones; the check is a sanity test, not the parity suite). */
    static final int CHECK_TOKENS = 1024;

    @Mixin
    BenchShapeOptions shape = new BenchShapeOptions();

    @Option(names = "--paths", split = ",",
            defaultValue = "sel-kernel,sel-kernel-fast,sel-kernel-token,sel-kernel-union,sel-kernel-tma,sdpa-masked,sdpa-packed",
            description = "Paths to time (default: ${DEFAULT-VALUE}).")
    List<String> paths;

    @Option(names = "--indices", paramLabel = "FILE", description = "Raw int32 [B·S, Hkv, n] chosen blocks (one shape).")
    Path indices;

    @Option(names = "--seed", defaultValue = "0") long seed;
    @Option(names = "--warmup", defaultValue = "2") int warmup;
    @Option(names = "--repeat", defaultValue = "10") int repeat;

    @Option(names = "--out", paramLabel = "CSV", description = "Append the rows to this CSV (created with its header if absent).")
    Path out;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        DType dt = BenchAttentionCommand.halfPrecision(spec, shape.dtype);
        List<int[]> planned = BenchNsaCommand.parseShapes(spec, shape.shapes);
        if (warmup < 0 || repeat < 1) {
            throw new ParameterException(spec.commandLine(), "--warmup must be >= 0 and --repeat >= 1");
        }
        for (String p : paths) {
            if (!PATHS.contains(p)) {
                throw new ParameterException(spec.commandLine(), "--paths: '" + p + "' is not one of " + PATHS);
            }
        }
        if (indices != null && planned.size() != 1) {
            throw new ParameterException(spec.commandLine(), "--indices holds the blocks of one shape; --shapes has "
                    + planned.size());
        }
        BenchShapeOptions o = shape;
        if (o.heads < 1 || o.kvHeads < 1 || o.heads % o.kvHeads != 0 || o.nSel < 3 || o.selBlock < 1) {
            throw new ParameterException(spec.commandLine(), "need H % Hkv == 0, n >= 3 and l' >= 1 (got H = " + o.heads
                    + ", Hkv = " + o.kvHeads + ", n = " + o.nSel + ", l' = " + o.selBlock + ")");
        }
        GpuAvailability gpuCheck = GpuAvailability.check(0);
        if (!gpuCheck.available()) {
            throw new ParameterException(spec.commandLine(), "nsa bench selection needs a GPU: " + gpuCheck.reason());
        }
        PrintStream log = System.err;
        List<String> lines = new ArrayList<>();
        try (CudaContext ctx = CudaContext.primary(0);
             KernelModule module = KernelModule.load(ctx);
             TcModule tc = TcModule.load(ctx);
             CudaStream stream = CudaStream.create(ctx)) {
            String gpu = ctx.device().name();
            for (int[] bs : planned) {
                log.printf(Locale.ROOT, "[bench selection] B=%d S=%d%n", bs[0], bs[1]);
                lines.addAll(measure(module, tc, stream, gpu, dt, bs[0], bs[1], log));
            }
        }
        System.out.println(CSV_HEADER);
        lines.forEach(System.out::println);
        if (out != null) {
            if (!Files.exists(out) || Files.size(out) == 0) {
                Files.writeString(out, CSV_HEADER + "\n");
            } else if (!Files.readAllLines(out).get(0).equals(CSV_HEADER)) {
                throw new ParameterException(spec.commandLine(), "--out " + out + ": its header is not " + CSV_HEADER);
            }
            Files.writeString(out, String.join("\n", lines) + "\n", StandardOpenOption.APPEND);
            log.println("[bench selection] appended " + lines.size() + " rows to " + out);
        }
        return 0;
    }

    private List<String> measure(KernelModule module, TcModule tc, CudaStream stream, String gpu, DType dt, int b, int s,
                                 PrintStream log) throws IOException {
        int heads = shape.heads, g = shape.kvHeads, dk = shape.dk, dv = shape.dv, lsel = shape.selBlock, n = shape.nSel;
        int nnz = Math.multiplyExact(b, s);
        int[] idx = indices != null ? SelectionIndices.read(indices, (long) nnz * g * n)
                : SelectionIndices.random(b, s, g, n, lsel, seed);
        long keys = SelectionIndices.attendedKeys(idx, b, s, g, n, lsel);
        double flop = 2.0 * keys * (heads / g) * (dk + dv);
        int[] cu = new int[b + 1];
        for (int i = 1; i <= b; i++) {
            cu[i] = cu[i - 1] + s;
        }
        float scale = (float) (1 / Math.sqrt(dk));
        List<AutoCloseable> owned = new ArrayList<>();
        try {
            DeviceTensor q = up(stream, owned, NsaBenchRun.random(dt, seed * 7 + 1, -1, 1, nnz, heads, dk));
            DeviceTensor k = up(stream, owned, NsaBenchRun.random(dt, seed * 7 + 2, -1, 1, nnz, g, dk));
            DeviceTensor v = up(stream, owned, NsaBenchRun.random(dt, seed * 7 + 3, -1, 1, nnz, g, dv));
            DeviceTensor blocks = up(stream, owned, HostTensor.ofInts(idx, nnz, g, n));
            Sequences seqs = new Sequences(cu, up(stream, owned, HostTensor.ofInts(cu, b + 1)));
            AttnSpec ref = AttnSpec.chosen(lsel).withWalk(AttnWalk.RANGES).withScale(scale);
            ReferenceAttentionOp masked = new ReferenceAttentionOp(module, ref, seqs, seqs);
            DeviceTensor refOut = null;
            List<String> lines = new ArrayList<>();
            // sdpa-masked first: the other paths' check compares against its output
            List<String> order = new ArrayList<>(paths);
            if (order.remove("sdpa-masked")) {
                order.add(0, "sdpa-masked");
            }
            for (String path : order) {
                String noTma = path.equals("sel-kernel-tma") ? SelLayout.whyNotTma(tc.device(), new SelKernelOp.Spec(dt,
                        heads, g, dk, dv, lsel, n, scale, true)) : null;
                if (noTma != null) {
                    log.println("bench selection: " + path + " skipped: " + noTma);
                    continue;
                }
                DeviceOp<AttentionArgs> op = switch (path) {
                    case "sel-kernel", "sel-kernel-fast" -> SelKernelOp.plan(tc, new SelKernelOp.Spec(dt, heads, g, dk,
                            dv, lsel, n, scale, path.equals("sel-kernel")), seqs, seqs, masked);
                    case "sel-kernel-token", "sel-kernel-union", "sel-kernel-tma" -> SelKernelOp.plan(tc,
                            new SelKernelOp.Spec(dt, heads, g, dk, dv, lsel, n, scale, true),
                            SelLayout.valueOf(path.substring("sel-kernel-".length()).toUpperCase(Locale.ROOT)), seqs,
                            seqs, masked);
                    case "sdpa-masked" -> masked;
                    default -> new PackedSelectionOp(module, seqs, g, n, lsel, dk, dv, dt, scale,
                            SelPacked.DEFAULT_BUDGET_BYTES);
                };
                DeviceTensor o = alloc(stream, owned, DType.FP32, nnz, heads, dv);
                DeviceTensor lse = alloc(stream, owned, DType.FP32, nnz, heads);
                DeviceBuffer scratch = DeviceBuffer.allocate(stream, Math.max(256, op.workspaceBytes()));
                owned.add(scratch);
                Workspace ws = new Workspace(scratch.address(), scratch.byteSize());
                AttentionArgs args = new AttentionArgs(q, k, v, o, lse, blocks);
                double[] ms = time(stream, () -> op.launch(stream, args, ws));
                String mae = "";
                if (path.equals("sdpa-masked")) {
                    refOut = o;
                } else if (refOut != null) {
                    mae = String.format(Locale.ROOT, "%.3g", mae(stream, refOut, o, Math.min(nnz, CHECK_TOKENS)));
                }
                double[] sorted = ms.clone();
                Arrays.sort(sorted);
                double med = AttentionBenchRow.percentile(sorted, 50);
                String line = String.join(",", path, gpu.replace(',', ' '), dt.name().toLowerCase(Locale.ROOT),
                        Integer.toString(b), Integer.toString(s), Integer.toString(heads), Integer.toString(g),
                        Integer.toString(dk), Integer.toString(dv), Integer.toString(lsel), Integer.toString(n),
                        Long.toString(keys), fmt(med), fmt(AttentionBenchRow.percentile(sorted, 10)),
                        fmt(AttentionBenchRow.percentile(sorted, 90)),
                        String.format(Locale.ROOT, "%.1f", flop / med / 1e9), Integer.toString(repeat), mae);
                log.printf(Locale.ROOT, "[bench selection]   %-16s %10.3f ms  %7.1f TFLOP/s%s%n", path, med,
                        flop / med / 1e9, mae.isEmpty() ? "" : "  MAE vs sdpa-masked " + mae);
                lines.add(line);
            }
            return lines;
        } finally {
            stream.synchronize();
            for (int i = owned.size() - 1; i >= 0; i--) {
                try {
                    owned.get(i).close();
                } catch (Exception e) {
                    log.println("[bench selection] freeing: " + e.getMessage());
                }
            }
        }
    }

    /** Per-launch times (ms) of {@code repeat} launches after {@code warmup} untimed ones, by CUDA events. */
    private double[] time(CudaStream stream, Runnable launch) {
        for (int i = 0; i < warmup; i++) {
            launch.run();
        }
        double[] ms = new double[repeat];
        try (CudaEvent a = CudaEvent.create(stream.context()); CudaEvent z = CudaEvent.create(stream.context())) {
            for (int r = 0; r < repeat; r++) {
                a.record(stream);
                launch.run();
                z.record(stream);
                ms[r] = CudaEvent.elapsedMillis(a, z);
            }
        }
        return ms;
    }

    /** Mean absolute difference of the first {@code tokens} tokens of two fp32 [nnz, H, Dv] outputs. */
    private static double mae(CudaStream stream, DeviceTensor ref, DeviceTensor got, int tokens) {
        Shape first = Shape.of(tokens, ref.dim(1), ref.dim(2));
        double[] a = ref.view(first).toHost(stream).toDoubleArray();
        double[] c = got.view(first).toHost(stream).toDoubleArray();
        double sum = 0;
        for (int i = 0; i < a.length; i++) {
            sum += Math.abs(a[i] - c[i]);
        }
        return a.length == 0 ? 0 : sum / a.length;
    }

    private static DeviceTensor up(CudaStream stream, List<AutoCloseable> owned, HostTensor t) {
        DeviceTensor d = DeviceTensor.upload(stream, t);
        owned.add(d);
        return d;
    }

    private static DeviceTensor alloc(CudaStream stream, List<AutoCloseable> owned, DType d, int... dims) {
        DeviceTensor t = DeviceTensor.allocate(stream, d, dims);
        owned.add(t);
        return t;
    }

    private static String fmt(double ms) {
        return String.format(Locale.ROOT, "%.6g", ms);
    }
}
