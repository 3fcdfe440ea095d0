package dev.nsa4j.bench;

import dev.nsa4j.bench.report.MaskText;
import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.kernels.Mask;
import dev.nsa4j.bench.report.VisiblePairs;
import dev.nsa4j.kernels.internal.Attention;
import dev.nsa4j.kernels.internal.AttnWalk;
import dev.nsa4j.kernels.GpuAvailability;
import dev.nsa4j.nsa.Flags;
import dev.nsa4j.nsa.NsaAttention;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import dev.nsa4j.tensor.Shape;
import java.io.PrintWriter;
import java.math.BigDecimal;
import java.math.MathContext;
import java.nio.file.Files;
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

/**
 * {@code nsa attend}: one masked attention call on .npy inputs (or seeded random ones) on a chosen path,
 * writing {@code o.npy} and {@code lse.npy}, so any path can be checked against PyTorch or NumPy on identical
 * inputs. The route line says which path ran and why.
 */
@Command(name = "attend", mixinStandardHelpOptions = true, sortOptions = false, versionProvider = NsaCli.Version.class,
        description = {
            "Compute one attention call o = softmax(scale·q·kᵀ + mask)·v and write o.npy and lse.npy.",
            "",
            "--inputs DIR holds q.npy [B,S,H,Dk], k.npy [B,Sk,Hkv,Dk], v.npy [B,Sk,Hkv,Dv] (float32 or float16), or, "
                    + "with cu_seqlens_q.npy and cu_seqlens_k.npy (int32 [B+1]), q [nnz_q,H,Dk] and k/v [nnz_k,Hkv,D]. "
                    + "Queries and keys of each sequence start at position 0. Query head h reads KV head h / (H/Hkv).",
            "Masks: none (default), --causal (key s <= t), --window W (t-W+1 <= s <= t), --block-causal L,D "
                    + "(the keys are compressed tokens: key i visible iff i·D + L - 1 <= t). A query with no visible "
                    + "key gives o = 0 and lse = -inf.",
            "Outputs (float32): o.npy in q's layout with Dv, lse.npy [B,S,H] or [nnz_q,H], natural log-sum-exp "
                    + "of the scaled scores; written all or nothing.",
            "",
            "Exit codes: 0 ok, 2 usage or bad input, 1 internal or I/O error."},
        footer = {"", "Example: nsa attend --random 1,256,8,2,64,64 --inputs in/ --causal --path sdpa-masked --out got/",
            "  then in Python: torch SDPA on in/q.npy, in/k.npy, in/v.npy (transposed to [B,H,S,D]) vs got/o.npy"})
final class AttendCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--inputs", paramLabel = "DIR",
            description = "Directory of q.npy, k.npy, v.npy (and optional cu_seqlens_q.npy, cu_seqlens_k.npy). "
                    + "With --random: where the drawn inputs are written.")
    Path inputs;

    @Option(names = "--out", paramLabel = "DIR",
            description = "Write o.npy and lse.npy here (created if absent; other files are left alone).")
    Path out;

    @Option(names = "--path", paramLabel = "PATH", converter = AttendPath.Converter.class,
            completionCandidates = AttendPath.Candidates.class,
            description = "Implementation: ${COMPLETION-CANDIDATES} (default: sdpa-masked where a GPU can "
                    + "serve the call, else cpu).")
    AttendPath path;

    @Option(names = "--causal", description = "Causal mask: key s <= query t.")
    boolean causal;

    @Option(names = "--window", paramLabel = "W", description = "Sliding window of W keys, the query's own included.")
    Integer window;

    @Option(names = "--block-causal", paramLabel = "L,D", converter = BlockCausalConverter.class,
            description = "Compressed keys of block length L and stride D: key i visible iff i·D + L - 1 <= t. "
                    + "With --random, Sk = (S - L)/D + 1 compressed keys.")
    Mask.BlockCausal blockCausal;

    @Option(names = "--dtype", paramLabel = "fp32|fp16|bf16", defaultValue = "fp32",
            converter = RunCommand.DTypeConverter.class,
            description = "Dtype q, k, v are rounded to before the call, on every path (default: ${DEFAULT-VALUE}). "
                    + "Outputs are float32.")
    DType dtype;

    @Option(names = "--scale", paramLabel = "S", description = "Softmax scale (default: 1/sqrt(Dk)).")
    Double scale;

    @Option(names = "--exact-p", description = "fa2: multiply V by P's high and low half-precision terms (parity mode); "
            + "default: P rounded once to the dtype, as FlashAttention does.")
    boolean exactP;

    @Option(names = "--random", paramLabel = ShapeSpec.ATTEND_FORMAT, converter = RandomShapeConverter.class,
            description = "Draw standard normal float32 inputs of this shape from --seed instead of reading them "
                    + "(Sk = S, or the compressed length with --block-causal); written to --inputs if given.")
    ShapeSpec random;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of --random (default: ${DEFAULT-VALUE}).")
    long seed;

    @Mixin
    NsaCli.VerboseOption verbosity;

    @Override
    public Integer call() throws Exception {
        Mask mask = mask();
        if (inputs == null && random == null) {
            throw new ParameterException(spec.commandLine(), "give --inputs DIR or --random " + ShapeSpec.ATTEND_FORMAT);
        }
        if (scale != null && !(scale > 0 && Double.isFinite(scale))) {
            throw new ParameterException(spec.commandLine(), "--scale must be finite and > 0, got " + scale);
        }
        AtomicOutput.checkOption(spec, out);
        PrintWriter w = spec.commandLine().getOut();

        AttendInputs raw;
        String source;
        if (random != null) {
            int seqK = mask instanceof Mask.BlockCausal b ? (int) MaskText.compressedLen(b, random.seqLen()) : random.seqLen();
            raw = AttendInputs.random(random, seqK, seed);
            source = String.format(Locale.ROOT, "random inputs B=%d S=%d H=%d Hkv=%d Dk=%d Dv=%d, seed %d",
                    random.batch(), random.seqLen(), random.heads(), random.groups(), random.dk(), random.dv(), seed);
            if (inputs != null) {
                for (String cu : new String[] {AttendInputs.CU_Q, AttendInputs.CU_K}) {
                    if (Files.exists(inputs.resolve(cu + ".npy"))) {
                        throw new NsaArgumentException(cu, "--random writes dense inputs only",
                                inputs.resolve(cu + ".npy") + " would make the written q, k, v read as varlen; remove it");
                    }
                }
                AtomicOutput.write(inputs, raw.files());
                source += ", written to " + inputs;
            }
        } else {
            raw = AttendInputs.load(inputs);
            source = "inputs from " + inputs + " (" + raw.q().dtype().name().toLowerCase(Locale.ROOT) + ")";
        }
        AttendInputs in = raw.cast(dtype);
        double s = scale != null ? scale : 1.0 / Math.sqrt(in.dk());
        Route route = route(in);

        long t0 = System.nanoTime();
        AttendOutput result;
        if (route.path() == AttendPath.FA2) {
            GpuAttention.Fa2Result r = GpuAttention.runFa2(in, mask, s, exactP, Flags.snapshot());
            result = r.output();
            route = r.outcome().fellBack() ? new Route(AttendPath.SDPA_MASKED, "fa2 blocked: " + r.outcome().reason())
                    : new Route(AttendPath.FA2, NsaAttention.REQUESTED + (exactP ? ", exact P" : ", fast mode (P rounded once)")
                            + (r.outcome().reason().isEmpty() ? "" : "; " + r.outcome().reason()));
        } else {
            result = compute(route.path(), in, mask, s);
        }
        double ms = (System.nanoTime() - t0) / 1e6;

        long pairs = 0;
        for (int b = 0; b < in.batch(); b++) {
            pairs += VisiblePairs.perSequence(mask, in.cuQ()[b + 1] - in.cuQ()[b], in.cuK()[b + 1] - in.cuK()[b]);
        }
        double gflop = VisiblePairs.flops(pairs, in.heads(), in.dk(), in.dv()) / 1e9;
        w.printf(Locale.ROOT, "nsa attend: %s%n", source);
        w.printf(Locale.ROOT, "shape: %s%n", in.describe());
        w.printf(Locale.ROOT, "mask: %s, scale=%s, dtype %s%n", MaskText.describe(mask),
                new BigDecimal(s).round(new MathContext(6)).stripTrailingZeros().toPlainString(),
                dtype.name().toLowerCase(Locale.ROOT));
        w.printf(Locale.ROOT, "route: attention -> %s (%s)%n", route.path().id(), route.reason());
        w.printf(Locale.ROOT, "time: %.2f ms%s (%d visible pairs per head, %.3g GFLOP)%n", ms,
                route.path().gpu() ? " including context, upload and download" : "", pairs, gflop);
        if (out != null) {
            Map<String, HostTensor> files = new LinkedHashMap<>();
            files.put("o", result.o().view(Shape.of(in.outDims(in.heads(), in.dv()))));
            files.put("lse", result.lse().view(Shape.of(in.outDims(in.heads()))));
            AtomicOutput.write(out, files);
            w.println("wrote o.npy, lse.npy to " + out);
        }
        w.flush();
        return 0;
    }

    /** The path that runs the call and why. */
    record Route(AttendPath path, String reason) {}

    private Route route(AttendInputs in) {
        String unfit = Math.max(in.dk(), in.dv()) > Attention.MAX_HEAD_DIM
                ? "the GPU reference attention serves Dk and Dv <= " + Attention.MAX_HEAD_DIM + ", got Dk=" + in.dk()
                        + " Dv=" + in.dv() : null;
        if (path != null && !path.gpu()) {
            return new Route(path, NsaAttention.REQUESTED);
        }
        GpuAvailability gpu = path != null || unfit == null ? GpuAvailability.check() : null;
        if (path != null) {
            if (!gpu.available() || unfit != null) {
                throw new NsaArgumentException("--path", "path " + path.id() + " can serve the call",
                        unfit != null ? unfit : NsaAttention.GPU_UNAVAILABLE + gpu.reason());
            }
            return new Route(path, NsaAttention.REQUESTED);
        }
        if (unfit != null) {
            return new Route(AttendPath.CPU, unfit);
        }
        return gpu.available() ? new Route(AttendPath.SDPA_MASKED, "default where a GPU can serve the call")
                : new Route(AttendPath.CPU, NsaAttention.GPU_UNAVAILABLE + gpu.reason());
    }

    /** One method per path; inputs already rounded to --dtype. */
    static AttendOutput compute(AttendPath path, AttendInputs in, Mask mask, double scale) {
        return switch (path) {
            case CPU -> CpuAttention.run(in, mask, scale);
            case SDPA -> GpuAttention.run(in, mask, scale, AttnWalk.ALL);
            case SDPA_MASKED -> GpuAttention.run(in, mask, scale, AttnWalk.RANGES);
            case FA2 -> GpuAttention.runFa2(in, mask, scale, false, Flags.snapshot()).output();
        };
    }

    private Mask mask() {
        int given = (causal ? 1 : 0) + (window != null ? 1 : 0) + (blockCausal != null ? 1 : 0);
        if (given > 1) {
            throw new ParameterException(spec.commandLine(),
                    "choose at most one mask: --causal, --window W or --block-causal L,D");
        }
        if (window != null) {
            if (window < 1) {
                throw new ParameterException(spec.commandLine(), "--window must be >= 1, got " + window);
            }
            return MaskText.checkedWindow(window);
        }
        return causal ? Mask.CAUSAL : blockCausal != null ? blockCausal : Mask.NONE;
    }

    static final class BlockCausalConverter implements ITypeConverter<Mask.BlockCausal> {
        @Override
        public Mask.BlockCausal convert(String value) {
            String[] p = value.split(",", -1);
            try {
                if (p.length == 2) {
                    int l = Integer.parseInt(p[0].trim());
                    int d = Integer.parseInt(p[1].trim());
                    if (l >= 1 && d >= 1) {
                        return MaskText.checkedBlockCausal(l, d);
                    }
                }
            } catch (NumberFormatException e) {
                // reported below
            }
            throw new TypeConversionException("'" + value + "' is not L,D: two positive integers, block length "
                    + "and stride (e.g. 32,16)");
        }
    }

    static final class RandomShapeConverter implements ITypeConverter<ShapeSpec> {
        @Override
        public ShapeSpec convert(String value) {
            return ShapeSpec.parse(value, ShapeSpec.ATTEND_FORMAT);
        }
    }
}
