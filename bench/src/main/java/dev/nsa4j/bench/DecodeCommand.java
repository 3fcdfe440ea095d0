package dev.nsa4j.bench;

import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.config.Phi;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.nsa.DeviceRequest;
import dev.nsa4j.nsa.Flags;
import dev.nsa4j.nsa.NsaAttention;
import dev.nsa4j.nsa.NsaGpuDecoder;
import dev.nsa4j.oracle.DecodeCache;
import dev.nsa4j.oracle.DecodeReads;
import dev.nsa4j.oracle.NsaDecoder;
import dev.nsa4j.oracle.PhiWeights;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import dev.nsa4j.tensor.Shape;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ForkJoinPool;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code nsa decode}: a prefill, then k decode steps, on the GPU decoder or the CPU one. */
@Command(name = "decode", mixinStandardHelpOptions = true, sortOptions = false, versionProvider = NsaCli.Version.class,
        description = {
            "Prefill B sequences of S tokens, then run k decode steps (one token per sequence each) and print the "
                    + "time, tokens/s and the key/value tokens each branch read.",
            "",
            "The inputs are one dense call of S + k tokens per sequence: random (--seed) or, with --inputs, the .npy "
                    + "files nsa run reads (q, k_cmp, v_cmp, k_sel, v_sel, k_win, v_win, gates; [B,T,...], no "
                    + "cu_seqlens or indices). Tokens 0..S-1 are the prefill, token S+j is step j, so step j's output "
                    + "equals row S+j of nsa run on the same inputs (the spec's decode invariant). On the GPU "
                    + "(NsaGpuDecoder, phi avg or mlp) the steps run from device-resident tokens, eager or (--graph) as a "
                    + "replayed CUDA graph; on the CPU (NsaDecoder) the decoder counts the reads itself. With --out, "
                    + "o.npy [B,k,H,Dv] float32 (step j at [:, j]).",
            "",
            "Exit codes: 0 ok, 2 usage or bad input, 1 internal or I/O error."},
        footer = {"", "Example: nsa decode --device cpu --batch 2 --prefill 256 --steps 8 --out got/"})
final class DecodeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--device", paramLabel = "auto|cpu|gpu|N", converter = RunCommand.DeviceConverter.class,
            description = "Where to decode (default: NSA_DEVICE, else auto): auto (the GPU decoder where a GPU serves "
                    + "the config, else the CPU one), cpu, gpu or a CUDA ordinal.")
    DeviceRequest device;

    @Option(names = "--inputs", paramLabel = "DIR", description = "Directory of .npy inputs [B,T,...] (B, H, G, Dk, "
            + "Dv and T from the files; --batch, --heads, --kv-heads, --dk, --dv must not be given).")
    Path inputs;

    @Option(names = "--out", paramLabel = "DIR", description = "Write o.npy [B,k,H,Dv] float32 of the steps here.")
    Path out;

    @Option(names = "--batch", description = "B, sequences (default: 1).") Integer batch;
    @Option(names = "--prefill", paramLabel = "S", description = "Prefill tokens per sequence (default: 512; with "
            + "--inputs, T - k).") Integer prefill;
    @Option(names = "--steps", paramLabel = "k", description = "Decode steps (default: 16; with --inputs, T - S).")
    Integer steps;
    @Option(names = "--heads", description = "H (default: 8).") Integer heads;
    @Option(names = "--kv-heads", description = "G, key/value heads (default: 2).") Integer kvHeads;
    @Option(names = "--dk", description = "Dk (default: 64).") Integer dk;
    @Option(names = "--dv", description = "Dv (default: 64).") Integer dv;
    @Option(names = "--block-len", paramLabel = "l", defaultValue = "32") int blockLen;
    @Option(names = "--stride", paramLabel = "d", defaultValue = "16") int stride;
    @Option(names = "--sel-block", paramLabel = "l'", defaultValue = "64") int selBlock;
    @Option(names = "--n-sel", paramLabel = "n", defaultValue = "16") int nSel;
    @Option(names = "--window", paramLabel = "w", defaultValue = "512") int window;
    @Option(names = "--phi", paramLabel = "avg|mlp", defaultValue = "avg", converter = RunCommand.PhiConverter.class,
            description = "Compression (default: ${DEFAULT-VALUE}); mlp (random weights from --seed).")
    Phi phi;
    @Option(names = "--scale", description = "Softmax scale (default: 1/sqrt(Dk)).") Double scale;

    @Option(names = "--dtype", paramLabel = "fp32|fp16|bf16", defaultValue = "fp32",
            converter = RunCommand.DTypeConverter.class, description = "Dtype of q, k, v and the caches (default: "
                    + "${DEFAULT-VALUE}).")
    DType dtype;

    @Option(names = "--seed", defaultValue = "0") long seed;

    @Option(names = "--graph", description = "GPU: replay the step captured once as a CUDA graph (default: eager steps).")
    boolean graph;

    @Mixin
    NsaCli.VerboseOption verbosity;

    @Override
    public Integer call() throws Exception {
        AtomicOutput.checkOption(spec, out);
        DecodeInputs in;
        NsaConfig.Builder cb = NsaConfig.builder().blockLen(blockLen).stride(stride).selBlock(selBlock).nSel(nSel)
                .window(window).phi(phi).scale(scale);
        int s, k;
        String source;
        if (inputs != null) {
            if (batch != null || heads != null || kvHeads != null || dk != null || dv != null) {
                throw new ParameterException(spec.commandLine(), "--batch, --heads, --kv-heads, --dk and --dv come "
                        + "from the .npy files with --inputs");
            }
            InputFiles f = InputFiles.load(inputs, dtype);
            in = DecodeInputs.of(f.inputs());
            cb.heads(f.heads()).kvGroups(f.groups()).headDims(f.dk(), f.dv());
            int t = in.tokens();
            k = steps != null ? steps : prefill != null ? t - prefill : Math.min(16, t - 1);
            s = prefill != null ? prefill : t - k;
            if (s < 1 || k < 1 || s + k > t) {
                throw new ParameterException(spec.commandLine(), "--prefill S = " + s + " and --steps k = " + k
                        + " need S >= 1, k >= 1 and S + k <= T = " + t + " (tokens per sequence in the files)");
            }
            source = "inputs from " + inputs;
        } else {
            s = prefill != null ? prefill : 512;
            k = steps != null ? steps : 16;
            int b = batch != null ? batch : 1;
            if (s < 1 || k < 1 || b < 1) {
                throw new ParameterException(spec.commandLine(), "--batch, --prefill and --steps must be >= 1");
            }
            ShapeSpec shape = new ShapeSpec(b, Math.addExact(s, k), or(heads, 8), or(kvHeads, 2), or(dk, 64),
                    or(dv, 64));
            if (shape.heads() < 1 || shape.groups() < 1 || shape.heads() % shape.groups() != 0) {
                throw new ParameterException(spec.commandLine(), "need H >= 1, G >= 1 and H % G == 0 (got H = "
                        + shape.heads() + ", G = " + shape.groups() + ")");
            }
            cb.heads(shape.heads()).kvGroups(shape.groups()).headDims(shape.dk(), shape.dv());
            cb.build();   // config errors before drawing inputs
            in = DecodeInputs.of(RandomInputs.draw(shape, dtype, seed));
            source = "random inputs, seed " + seed;
        }
        NsaConfig cfg = cb.build();
        PhiWeights weights = phi == Phi.MLP ? RandomInputs.mlp(cfg, seed) : null;
        NsaAttention.Builder nb = NsaAttention.builder(cfg).phi(weights).flags(Flags.snapshot());
        if (device != null) {
            nb.device(device);
        }
        PrintWriter w = spec.commandLine().getOut();
        try (NsaAttention nsa = nb.build()) {
            boolean gpu = nsa.onGpu();
            if (graph && !gpu) {
                throw new ParameterException(spec.commandLine(), "--graph replays a CUDA graph: it needs the GPU "
                        + "decoder (this run is on the CPU)");
            }
            w.printf(Locale.ROOT, "nsa decode: %s, %s, %s%n", source, dtype.name().toLowerCase(Locale.ROOT),
                    gpu ? "on the GPU (NsaGpuDecoder on " + nsa.context().device().name() + ")"
                            : "on the CPU (NsaDecoder: " + nsa.plannedRoutes().getFirst().reason() + ")");
            w.printf(Locale.ROOT, "shape: B=%d prefill S=%d steps k=%d H=%d G=%d Dk=%d Dv=%d%n", in.batch(), s, k,
                    cfg.heads(), cfg.kvGroups(), cfg.headDimQk(), cfg.headDimV());
            w.printf(Locale.ROOT, "config: l=%d d=%d l'=%d n=%d w=%d phi=%s scale=%.6g%n", cfg.blockLen(), cfg.stride(),
                    cfg.selBlock(), cfg.nSel(), cfg.window(), cfg.phi().name().toLowerCase(Locale.ROOT), cfg.scale());
            HostTensor o = gpu ? gpu(w, nsa, cfg, in, s, k) : cpu(w, nsa, cfg, weights, in, s, k);
            if (out != null) {
                AtomicOutput.write(out, Map.of("o", o));
                w.println("wrote o.npy " + Arrays.toString(o.shape().dims()) + " (float32; step j at [:, j]) to " + out);
            }
        }
        w.flush();
        return 0;
    }

    private HostTensor gpu(PrintWriter w, NsaAttention nsa, NsaConfig cfg, DecodeInputs in, int s, int k) {
        int b = in.batch();
        try (NsaGpuDecoder dec = NsaGpuDecoder.open(nsa, b, s + k, dtype);
             CudaStream stream = CudaStream.create(nsa.context())) {
            w.printf(Locale.ROOT, "caches: %.3g MB for %d tokens per sequence%n", dec.plan().cacheBytes() / 1e6, s + k);
            long t0 = System.nanoTime();
            dec.prefill(in.contiguousPrefix(s));   // contiguous: the GPU prefill views its k/v as [nnz,G,D]
            w.printf(Locale.ROOT, "prefill: %d tokens per sequence in %.1f ms (the attention's forward, the caches "
                    + "filled)%n", s, (System.nanoTime() - t0) / 1e6);
            GpuDecodeSteps.Result r = GpuDecodeSteps.run(dec, stream, cfg, dtype, in, s, k, graph);
            steps(w, graph ? "graph replays (one device copy of the step's tokens in and of o out each)"
                    : "eager device-API steps", k, b, NsaBenchRun.median(r.stepMs()), r.wallMs(), "CUDA events");
            DecodeReads[] total = new DecodeReads[b];
            Arrays.fill(total, DecodeReads.ZERO);
            for (int j = 0; j < k; j++) {
                for (int q = 0; q < b; q++) {
                    total[q] = total[q].plus(DecodeStepReads.at(cfg, s + j));
                }
            }
            reads(w, cfg, s + k - 1, b, k, total, "from the NSA spec's reads formula at each sequence's position "
                    + "(DecodeStepReads; the GPU decoder does not count reads)");
            // [k,B,1,H,Dv] -> [B,k,H,Dv]
            HostTensor raw = r.o();
            Shape sh = raw.shape();
            HostTensor view = raw.view(Shape.strided(new int[] {b, k, cfg.heads(), cfg.headDimV()},
                    new long[] {sh.stride(1), sh.stride(0), sh.stride(3), sh.stride(4)}));
            return view.to(DType.FP32);
        }
    }

    private HostTensor cpu(PrintWriter w, NsaAttention nsa, NsaConfig cfg, PhiWeights weights, DecodeInputs in,
                           int s, int k) {
        int b = in.batch(), h = cfg.heads(), dvv = cfg.headDimV();
        NsaDecoder dec = new NsaDecoder(cfg, weights, ForkJoinPool.commonPool());
        long t0 = System.nanoTime();
        DecodeCache cache = dec.prefill(in.prefix(s), DType.FP32, nsa.gateOverride()).cache();
        w.printf(Locale.ROOT, "prefill: %d tokens per sequence in %.1f ms (the oracle's forward, the cache filled)%n", s,
                (System.nanoTime() - t0) / 1e6);
        HostTensor o = HostTensor.zeros(DType.FP32, b, k, h, dvv);
        double[] ms = new double[k];
        DecodeReads[] total = new DecodeReads[b];
        Arrays.fill(total, DecodeReads.ZERO);
        boolean formulaAgrees = true;
        long wall0 = System.nanoTime();
        for (int j = 0; j < k; j++) {
            NsaInputs tok = in.token(s + j);
            long t = System.nanoTime();
            NsaDecoder.Step st = dec.step(cache, tok, DType.FP32, nsa.gateOverride());
            ms[j] = (System.nanoTime() - t) / 1e6;
            double[] oj = st.result().o().toDoubleArray();
            for (int q = 0; q < b; q++) {
                for (int i = 0; i < h * dvv; i++) {
                    o.setAt(((long) q * k + j) * h * dvv + i, oj[q * h * dvv + i]);
                }
                total[q] = total[q].plus(st.reads()[q]);
                formulaAgrees &= st.reads()[q].equals(DecodeStepReads.at(cfg, s + j));
            }
        }
        double wall = (System.nanoTime() - wall0) / 1e6;
        steps(w, "CPU steps", k, b, NsaBenchRun.median(ms), wall, "wall clock");
        reads(w, cfg, s + k - 1, b, k, total, "counted by the CPU decoder (DecodeReads); the closed form "
                + (formulaAgrees ? "gives the same at every step" : "DIFFERS at some step (a bug: please report)"));
        return o;
    }

    private static void steps(PrintWriter w, String what, int k, int b, double medianMs, double wallMs, String clock) {
        w.printf(Locale.ROOT, "steps: %d %s; median %.4f ms per step (%s); %d steps in %.2f ms wall: %.0f tokens/s "
                + "(B·k / wall)%n", k, what, medianMs, clock, k, wallMs, (double) b * k / (wallMs / 1e3));
    }

    private void reads(PrintWriter w, NsaConfig cfg, int last, int b, int k, DecodeReads[] total, String how) {
        DecodeReads at = DecodeStepReads.at(cfg, last);
        w.printf(Locale.ROOT, "reads of the last step (t = %d), per sequence: compressed %d, selected %d, window %d "
                + "tokens (summed over G = %d), %d bytes of k/v%n", last, at.compressed(), at.selected(), at.window(),
                cfg.kvGroups(), DecodeStepReads.kvBytes(cfg, last, dtype.byteSize()));
        DecodeReads all = DecodeReads.ZERO;
        for (DecodeReads r : total) {
            all = all.plus(r);
        }
        w.printf(Locale.ROOT, "reads over %d steps x %d sequences: compressed %d, selected %d, window %d = %d tokens; "
                + "%s%n", k, b, all.compressed(), all.selected(), all.window(), all.total(), how);
    }

    private static int or(Integer v, int dflt) {
        return v != null ? v : dflt;
    }
}
