package dev.nsa4j.bench;

import dev.nsa4j.attention.BatchLayout;
import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.attention.NsaResult;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.config.Phi;
import dev.nsa4j.nsa.DeviceRequest;
import dev.nsa4j.nsa.Flags;
import dev.nsa4j.nsa.NsaAttention;
import dev.nsa4j.nsa.NsaOutput;
import dev.nsa4j.nsa.Route;
import dev.nsa4j.oracle.Workload;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;

/** {@code nsa run}: one NSA forward pass on .npy inputs or seeded random ones. */
@Command(name = "run", mixinStandardHelpOptions = true, sortOptions = false, versionProvider = NsaCli.Version.class,
        description = {
            "Compute one NSA attention forward pass and print shapes, time and the route of each branch.",
            "",
            "With --inputs, read float32 q, k_cmp, v_cmp, k_sel, v_sel, k_win, v_win and gates (and optional int32 "
                    + "indices, cu_seqlens) .npy files in NSA-SPEC layouts; otherwise draw random inputs of --shape "
                    + "from --seed. With --out, write o, indices, o_cmp, o_sel, o_win .npy files (float32 / int32), "
                    + "all or nothing. --device auto runs on the GPU where a GPU can serve the config, else on the CPU "
                    + "oracle. On the GPU the compressed and window branches run on FA-2 where the flags or the "
                    + "GPU profile wish it, the key length reaches the threshold and the FA-2 contract accepts "
                    + "the call, else on the reference paths; each route line says which path ran each branch "
                    + "in the (last timed) call and why.",
            "",
            "Exit codes: 0 ok, 2 usage or bad input, 1 internal or I/O error."},
        footer = {"", "Example: nsa run --inputs ref/ --out got/",
            "  then in Python: np.abs(np.load('got/o.npy') - o).max()"})
final class RunCommand implements Callable<Integer> {
    static final String DEFAULT_SHAPE = CaseOptions.DEFAULT_SHAPE;

    @Spec
    CommandSpec spec;

    @Mixin
    CaseOptions options;

    @Option(names = "--out", paramLabel = "DIR",
            description = "Write o.npy, indices.npy, o_cmp.npy, o_sel.npy, o_win.npy here (created if absent; "
                    + "other files in it are left alone; nothing is written if the run fails).")
    Path out;

    @Option(names = "--device", paramLabel = "auto|cpu|gpu|N", converter = DeviceConverter.class,
            description = "Where to run (default: NSA_DEVICE, else auto): auto, cpu, gpu (fails if no GPU can serve) or a CUDA ordinal.")
    DeviceRequest device;

    @Option(names = "--warmup", defaultValue = "0", description = "Untimed runs before the timed ones, to warm the JIT (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--repeat", defaultValue = "1", description = "Timed runs; the median is reported (default: ${DEFAULT-VALUE}).")
    int repeat;

    @Mixin
    NsaCli.VerboseOption verbosity;

    @Override
    public Integer call() throws Exception {
        AtomicOutput.checkOption(spec, out);
        PrintWriter w = spec.commandLine().getOut();
        CaseOptions.Case c = options.load(spec);
        NsaAttention.Builder nb = NsaAttention.builder(c.config()).phi(c.phi()).flags(Flags.snapshot());
        if (device != null) {
            nb.device(device);
        }
        if (warmup < 0 || repeat < 1) {
            throw new ParameterException(spec.commandLine(), "--warmup must be >= 0 and --repeat >= 1");
        }
        try (NsaAttention nsa = nb.build()) {
            return run(w, nsa, c.inputs(), c.config(), c.source());
        }
    }

    /** The timed forwards and the report; routes are those of the last timed call. */
    private int run(PrintWriter w, NsaAttention nsa, NsaInputs in, NsaConfig cfg, String source) throws Exception {
        for (int i = 0; i < warmup; i++) {
            nsa.forward(in, DType.FP32);
        }
        long[] nanos = new long[repeat];
        double[] up = new double[repeat], devMs = new double[repeat], down = new double[repeat];
        NsaOutput result = null;
        for (int i = 0; i < repeat; i++) {
            result = nsa.forward(in, DType.FP32);
            nanos[i] = result.elapsed().toNanos();
            if (result.timing() != null) {
                up[i] = result.timing().uploadMs();
                devMs[i] = result.timing().deviceMs();
                down[i] = result.timing().downloadMs();
            }
        }
        java.util.Arrays.sort(nanos);
        java.util.Arrays.sort(up);
        java.util.Arrays.sort(devMs);
        java.util.Arrays.sort(down);
        NsaResult r = result.result();

        BatchLayout layout = r.layout();
        w.printf(Locale.ROOT, "nsa run: %s, %s%n", source, in.q().dtype().name().toLowerCase(Locale.ROOT));
        w.printf(Locale.ROOT, "shape: %s H=%d G=%d Dk=%d Dv=%d%n",
                layout.varlen() ? "varlen B=" + layout.batch() + " nnz=" + layout.nnz()
                        : "B=" + layout.batch() + " S=" + layout.seqLen(),
                cfg.heads(), cfg.kvGroups(), cfg.headDimQk(), cfg.headDimV());
        w.printf(Locale.ROOT, "config: l=%d d=%d l'=%d n=%d w=%d phi=%s scale=%.6g%n", cfg.blockLen(), cfg.stride(),
                cfg.selBlock(), cfg.nSel(), cfg.window(), cfg.phi().name().toLowerCase(Locale.ROOT), cfg.scale());
        w.printf(Locale.ROOT, "tensors: q %s, k_cmp %s, v_cmp %s, gates %s -> o %s, indices %s%n", in.q().shape(),
                in.kCmp().shape(), in.vCmp().shape(), in.gates().shape(), r.o().shape(), r.indices().shape());
        double ms = nanos[repeat / 2] / 1e6;
        Workload work = Workload.of(cfg, r);
        double gflop = work.flops() / 1e9;
        w.printf(Locale.ROOT, "time: %.1f ms%s (%.3g GFLOP, %.3g GFLOP/s; %d cores)%n", ms,
                repeat > 1 ? " median of " + repeat + " after " + warmup + " warm-up" : "", gflop, gflop / (ms / 1e3),
                Runtime.getRuntime().availableProcessors());
        if (result.timing() != null) {
            int m = repeat / 2;
            double parts = up[m] + devMs[m] + down[m];
            w.printf(Locale.ROOT, "gpu time: host-to-host %.2f ms = %.3g x (transfers %.2f ms [upload %.2f, download %.2f] "
                            + "+ device forward %.2f ms = %.2f ms); medians%n", ms, ms / parts, up[m] + down[m], up[m],
                    down[m], devMs[m], parts);
        }
        w.printf(Locale.ROOT, "keys attended (per query head, summed): cmp %d, sel %d, win %d%n",
                work.compressedKeys(), work.selectedKeys(), work.windowKeys());
        for (Route route : result.routes()) {
            w.printf(Locale.ROOT, "route %s: %s (%s)%n", route.branch().id(), route.path().id(), route.reason());
        }
        if (result.plan() != null) {
            w.println(result.plan());
        }
        if (nsa.gateOverride() != dev.nsa4j.attention.GateOverride.NONE) {
            w.println("gates: overridden by flags: " + nsa.gateOverride());
        }
        if (out != null) {
            Map<String, HostTensor> files = new LinkedHashMap<>();
            files.put("o", r.o());
            files.put("indices", r.indices());
            files.put("o_cmp", r.oCmp());
            files.put("o_sel", r.oSel());
            files.put("o_win", r.oWin());
            AtomicOutput.write(out, files);
            w.println("wrote " + String.join(", ", files.keySet().stream().map(n -> n + ".npy").toList()) + " to " + out);
        }
        w.flush();
        return 0;
    }

    static final class ShapeConverter implements ITypeConverter<ShapeSpec> {
        @Override
        public ShapeSpec convert(String value) {
            return ShapeSpec.parse(value);
        }
    }

    static final class PhiConverter implements ITypeConverter<Phi> {
        @Override
        public Phi convert(String value) {
            try {
                return Phi.parse(value.trim());
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException("'" + value + "' is not avg or mlp");
            }
        }
    }

    static final class DTypeConverter implements ITypeConverter<DType> {
        @Override
        public DType convert(String value) {
            DType d;
            try {
                d = DType.parse(value.trim());
            } catch (IllegalArgumentException e) {
                d = null;
            }
            if (d == null || !d.isFloating()) {
                throw new TypeConversionException("'" + value + "' is not fp32, fp16 or bf16");
            }
            return d;
        }
    }

    static final class DeviceConverter implements ITypeConverter<DeviceRequest> {
        @Override
        public DeviceRequest convert(String value) {
            try {
                return DeviceRequest.parse(value);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException("'" + value + "' is not auto, cpu, gpu or a CUDA ordinal");
            }
        }
    }
}
