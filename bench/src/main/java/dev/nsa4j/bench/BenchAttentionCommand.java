package dev.nsa4j.bench;

import dev.nsa4j.bench.report.MaskText;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;

import dev.nsa4j.bench.report.AttentionBenchRow;
import dev.nsa4j.bench.report.AttentionShape;
import dev.nsa4j.bench.report.BenchCsv;
import dev.nsa4j.bench.report.BenchMarkdown;
import dev.nsa4j.kernels.Mask;
import dev.nsa4j.fa2.Fa2Attention;
import dev.nsa4j.fa2.Fa2Bridge;
import dev.nsa4j.fa2.contract.Fa2Options;
import dev.nsa4j.fa2.contract.KeyExtent;
import dev.nsa4j.kernels.internal.Attention;
import dev.nsa4j.kernels.internal.AttnWalk;
import dev.nsa4j.kernels.CudaContext;
import dev.nsa4j.kernels.CudaEvent;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceBuffer;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.internal.KernelModule;
import dev.nsa4j.kernels.Mask;
import dev.nsa4j.parity.ParityHarness;
import dev.nsa4j.parity.ParityReport;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import dev.nsa4j.tensor.Shape;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;

/**
 * {@code nsa bench attention}: for each shape and mask, FA-2 and the reference paths in the same run on
 * the same inputs; each output validated against {@code sdpa} before timing; CUDA-event medians over
 * rotating input sets; rows in the attention bench CSV schema (docs/benchmarks.md) and a Markdown table
 * with the speedup over {@code sdpa}.
 */
@Command(name = "attention", mixinStandardHelpOptions = true, sortOptions = false, versionProvider = NsaCli.Version.class,
        description = {"Time FA-2 against the reference attention paths (CUDA events, same run, same inputs).",
                "Shapes B,H,S,D or B,H,Hkv,S,D; masks causal, none, window:W, block-causal:L,D (S tokens -> compressed keys)."})
final class BenchAttentionCommand implements Callable<Integer> {
    @Option(names = "--shapes", split = " ", paramLabel = "B,H[,Hkv],S,D",
            defaultValue = "16,16,1024,128 4,16,4096,128 1,16,16384,128", description = "Shapes (default: ${DEFAULT-VALUE}).")
    List<String> shapes;

    @Option(names = "--mask", split = " ", defaultValue = "causal", description = "Masks (default: ${DEFAULT-VALUE}).")
    List<String> masks;

    @Option(names = "--dtype", defaultValue = "bf16", description = "bf16 or fp16 (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--paths", split = ",", defaultValue = "fa2,sdpa", description = "fa2, sdpa, sdpa-masked (default: ${DEFAULT-VALUE}).")
    List<String> paths;

    @Option(names = "--warmup", defaultValue = "3")
    int warmup;

    @Option(names = "--repeat", defaultValue = "20", description = "Timed runs of fa2 (default: ${DEFAULT-VALUE}).")
    int repeat;

    @Option(names = "--ref-repeat", defaultValue = "5", description = "Timed runs of the reference paths (default: ${DEFAULT-VALUE}).")
    int refRepeat;

    @Option(names = "--out", paramLabel = "CSV", description = "Append the rows to this CSV.")
    Path out;

    @Option(names = "--md", paramLabel = "FILE", description = "Write the Markdown table here.")
    Path md;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        DType dt = halfPrecision(spec, dtype);
        List<AttentionShape> planned = new ArrayList<>();   // every shape checked before the GPU is touched
        for (String s : shapes) {
            for (String m : masks) {
                try {
                    planned.add(parseShape(s, m, dt));
                } catch (IllegalArgumentException | TypeConversionException e) {
                    throw new ParameterException(spec.commandLine(), "--shapes " + s + " --mask " + m + ": " + e.getMessage());
                }
            }
        }
        List<AttentionBenchRow> rows = new ArrayList<>();
        try (Bench b = Bench.open(0)) {
            for (AttentionShape s : planned) {
                rows.addAll(b.measure(s, paths, warmup, repeat, refRepeat, System.out));
            }
        }
        if (out != null) {
            BenchCsv.append(out, rows);
        }
        String table = BenchMarkdown.table(rows, "sdpa");
        System.out.println(table);
        if (md != null) {
            Files.writeString(md, table);
        }
        return 0;
    }

    /** The {@code --dtype} of the GPU benches: bf16 or fp16, else a usage error naming the option. */
    static DType halfPrecision(CommandSpec spec, String dtype) {
        return switch (dtype.toLowerCase(Locale.ROOT)) {
            case "bf16" -> DType.BF16;
            case "fp16" -> DType.FP16;
            default -> throw new ParameterException(spec.commandLine(), "--dtype " + dtype + " is not bf16 or fp16");
        };
    }

    /** {@code B,H,S,D} or {@code B,H,Hkv,S,D} with a mask id; block-causal keys are the compressed tokens of S. */
    static AttentionShape parseShape(String s, String mask, DType dt) {
        String[] p = s.split(",");
        if (p.length != 4 && p.length != 5) {
            throw new IllegalArgumentException("shape '" + s + "' is not B,H,S,D or B,H,Hkv,S,D");
        }
        int[] v = new int[p.length];
        for (int i = 0; i < p.length; i++) {
            v[i] = positive("shape '" + s + "'", p[i]);
        }
        int b = v[0], h = v[1], hkv = p.length == 5 ? v[2] : v[1], sq = v[p.length - 2], d = v[p.length - 1];
        if (h % hkv != 0) {
            throw new IllegalArgumentException("shape '" + s + "': H = " + h + " is not a multiple of Hkv = " + hkv);
        }
        Mask ms = parseMask(mask);
        int sk = ms instanceof Mask.BlockCausal bc ? (int) MaskText.compressedLen(bc, sq) : sq;
        return new AttentionShape(dt.name().toLowerCase(Locale.ROOT), b, h, hkv, sq, sk, d, d, ms);
    }

    static Mask parseMask(String m) {
        String id = m.trim().toLowerCase(Locale.ROOT);
        if (id.equals("causal")) {
            return MaskText.of("causal", 0, 0, 0);
        }
        if (id.equals("none")) {
            return MaskText.of("none", 0, 0, 0);
        }
        if (id.startsWith("window:")) {
            return MaskText.checkedWindow(positive("window", id.substring(7)));
        }
        if (id.startsWith("block-causal:")) {
            return new AttendCommand.BlockCausalConverter().convert(id.substring(13));
        }
        throw new IllegalArgumentException("mask '" + m + "' is not causal, none, window:W or block-causal:L,D");
    }

    /** {@code text} as an integer >= 1; the message names {@code what}. */
    static int positive(String what, String text) {
        try {
            int v = Integer.parseInt(text.trim());
            if (v >= 1) {
                return v;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(what + ": '" + text.trim() + "' is not a positive integer");
    }

    /** One device, its modules and stream; measures shapes. Also used by {@code nsa bench thresholds}. */
    static final class Bench implements AutoCloseable {
        static final int SETS = 3;
        final CudaContext ctx;
        final KernelModule module;
        final CudaStream stream;
        final Fa2Bridge bridge;
        final String gpu;

        private Bench(CudaContext ctx, KernelModule module, CudaStream stream, Fa2Bridge bridge) {
            this.ctx = ctx;
            this.module = module;
            this.stream = stream;
            this.bridge = bridge;
            this.gpu = ctx.device().name();
        }

        static Bench open(int ordinal) {
            CudaContext ctx = CudaContext.primary(ordinal);
            KernelModule m = KernelModule.load(ctx);
            CudaStream s = CudaStream.create(ctx);
            Fa2Bridge br = Fa2Bridge.open(m, false);
            if (!br.fa2Loaded()) {
                throw new IllegalStateException(br.fa2Unavailable());
            }
            return new Bench(ctx, m, s, br);
        }

        /** Rows for {@code paths} on {@code shape}: validated (fp32 outputs vs sdpa), then timed. */
        List<AttentionBenchRow> measure(AttentionShape shape, List<String> paths, int warmup, int repeat, int refRepeat,
                                        java.io.PrintStream log) {
            DType dt = shape.dtype().equals("fp16") ? DType.FP16 : DType.BF16;
            int b = shape.batch(), h = shape.heads(), hkv = shape.kvHeads(), sq = shape.seqlenQ(), sk = shape.seqlenK();
            int d = shape.dk();
            Random rnd = new Random(17);
            HostTensor hq = random(rnd, dt, b * sq, h, d), hk = random(rnd, dt, b * sk, hkv, d), hv = random(rnd, dt, b * sk, hkv, d);
            List<AttentionBenchRow> rows = new ArrayList<>();
            List<DeviceTensor> owned = new ArrayList<>();
            try {
                DeviceTensor[][] sets = new DeviceTensor[SETS][];
                for (int i = 0; i < SETS; i++) {
                    sets[i] = new DeviceTensor[]{up(hq, owned), up(hk, owned), up(hv, owned)};
                }
                int[] cuQ = new int[b + 1], cuK = new int[b + 1];
                for (int i = 0; i < b; i++) {
                    cuQ[i + 1] = cuQ[i] + sq;
                    cuK[i + 1] = cuK[i] + sk;
                }
                DeviceTensor dcq = up(HostTensor.ofInts(cuQ, b + 1), owned), dck = up(HostTensor.ofInts(cuK, b + 1), owned);
                DeviceTensor oHalf = alloc(dt, owned, b * sq, h, d), o32 = alloc(DType.FP32, owned, b * sq, h, d);
                DeviceTensor ref32 = alloc(DType.FP32, owned, b * sq, h, d), lse = alloc(DType.FP32, owned, b * sq, h);
                Mask mask = shape.mask();
                Fa2Attention.Spec spec = Fa2Attention.Spec.of(mask, KeyExtent.FULL);
                // Validate: sdpa (fp32 out) vs fa2 fast (fp32 out), same inputs, before any timing.
                Attention.run(module, stream, sets[0][0], sets[0][1], sets[0][2], dcq, dck, null,
                        GpuAttention.spec(shape.mask()), ref32, lse);
                Fa2Attention.Plan p32 = plan(sets[0], o32, lse, cuQ, cuK, dcq, dck, spec);
                run(p32);
                stream.synchronize();
                ParityReport check = ParityHarness.outputs().withTolerance(2e-2)
                        .compare(shape.label(), "fa2", o32.toHost(stream), "sdpa", ref32.toHost(stream));
                log.println("validate: " + check.line());
                if (!check.pass()) {
                    throw new IllegalStateException("FA-2 does not match sdpa on " + shape.label() + ": " + check.line());
                }
                String note = String.format(Locale.ROOT, "fa2 vs sdpa MAE %.2e", check.mae());
                for (String path : paths) {
                    int n = path.equals("fa2") ? repeat : refRepeat;
                    double[] ms = new double[n];
                    for (int it = -Math.min(warmup, path.equals("fa2") ? warmup : 1); it < n; it++) {
                        DeviceTensor[] in = sets[Math.floorMod(it, SETS)];
                        try (CudaEvent e0 = CudaEvent.create(ctx); CudaEvent e1 = CudaEvent.create(ctx)) {
                            Fa2Attention.Plan p = path.equals("fa2") ? plan(in, oHalf, lse, cuQ, cuK, dcq, dck, spec) : null;
                            e0.record(stream);
                            switch (path) {
                                case "fa2" -> run(p);
                                case "sdpa", "sdpa-masked" -> Attention.run(module, stream, in[0], in[1], in[2], dcq, dck,
                                        null, GpuAttention.spec(shape.mask()).withWalk(path.equals("sdpa") ? AttnWalk.ALL
                                                : AttnWalk.RANGES), oHalf, lse);
                                default -> throw new IllegalArgumentException("path '" + path + "' is not fa2, sdpa or sdpa-masked");
                            }
                            e1.record(stream);
                            e1.synchronize();
                            if (it >= 0) {
                                ms[it] = CudaEvent.elapsedMillis(e0, e1);
                            }
                        }
                    }
                    AttentionBenchRow row = AttentionBenchRow.measured("nsa4j", path, gpu, shape, ms,
                            path.equals("fa2") ? note : "");
                    log.printf(Locale.ROOT, "%-44s %-12s median %10.4f ms  %8.2f TFLOP/s%n", shape.label(), path,
                            row.medianMs(), row.tflops());
                    rows.add(row);
                }
            } finally {
                stream.synchronize();
                owned.forEach(DeviceTensor::close);
            }
            return rows;
        }

        private Fa2Attention.Plan plan(DeviceTensor[] in, DeviceTensor o, DeviceTensor lse, int[] cuQ, int[] cuK,
                                       DeviceTensor dcq, DeviceTensor dck, Fa2Attention.Spec spec) {
            Fa2Attention.Plan p = Fa2Attention.plan(ctx.device(), Fa2Attention.Inputs.varlen(in[0], in[1], in[2], o, lse,
                    dcq, cuQ, dck, cuK), spec, Fa2Options.defaults());
            if (!p.launchable()) {
                throw new IllegalStateException("FA-2 refused the bench shape: " + p.verdict().reason());
            }
            return p;
        }

        private void run(Fa2Attention.Plan p) {
            try (DeviceBuffer ws = p.workspaceBytes() > 0 ? DeviceBuffer.allocate(stream, p.workspaceBytes()) : null) {
                Fa2Attention.enqueue(bridge.fa2(), stream.handle(), p, ws);
            }
        }

        private DeviceTensor up(HostTensor t, List<DeviceTensor> owned) {
            DeviceTensor d = DeviceTensor.upload(stream, t);
            owned.add(d);
            return d;
        }

        private DeviceTensor alloc(DType dt, List<DeviceTensor> owned, int... dims) {
            DeviceTensor d = DeviceTensor.allocate(stream, dt, dims);
            owned.add(d);
            return d;
        }

        static HostTensor random(Random rnd, DType dt, int... dims) {
            HostTensor f = HostTensor.zeros(DType.FP32, dims);
            java.lang.foreign.MemorySegment seg = f.segment();
            long n = Shape.of(dims).numel();
            for (long i = 0; i < n; i++) {
                seg.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i, (float) (2 * rnd.nextDouble() - 1));
            }
            return f.to(dt);
        }

        @Override
        public void close() {
            stream.synchronize();
            bridge.close();
            stream.close();
            module.close();
            ctx.close();
        }
    }
}
