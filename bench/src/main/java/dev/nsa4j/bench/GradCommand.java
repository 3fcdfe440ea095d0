package dev.nsa4j.bench;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.attention.GateStats;
import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.attention.NsaResult;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.oracle.CompressionMlp;
import dev.nsa4j.nsa.Branch;
import dev.nsa4j.nsa.Flags;
import dev.nsa4j.nsa.NsaAttention;
import dev.nsa4j.nsa.NsaGradients;
import dev.nsa4j.nsa.NsaOutput;
import dev.nsa4j.oracle.NsaBackward;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import dev.nsa4j.tensor.Npy;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code nsa grad}: the gradients of one NSA forward on the CPU oracle, for checking against PyTorch autograd. */
@Command(name = "grad", mixinStandardHelpOptions = true, sortOptions = false, versionProvider = NsaCli.Version.class,
        description = {
            "Compute one NSA forward and its backward on the CPU oracle (fp64) and print each gradient's size.",
            "",
            "The inputs are those of nsa run (--inputs DIR of .npy files, or random ones of --shape from --seed). "
                    + "The loss is L = sum(grad_o * o) for grad_o from --grad-o (float32 .npy in o's shape) or drawn "
                    + "from --seed; the chosen blocks are the forward's (or the caller's indices.npy) and are not "
                    + "differentiated. With --out, write float32 .npy files: o, indices, grad_o and the gradients "
                    + "dq, dk_cmp, dv_cmp, dk_sel, dv_sel, dk_win, dv_win, d_gates in their inputs' shapes; with "
                    + "--phi mlp also the MLP weights (phi_k_pos, phi_k_w1, phi_k_b1, phi_k_w2, phi_k_b2, phi_v_...) "
                    + "and their gradients (d_phi_k_pos, ...), so PyTorch autograd can be run on the same numbers. "
                    + "All files or none are written. No GPU backward yet: this runs on the CPU everywhere. A gate "
                    + "override (NSA_FORCE_BRANCH, NSA_FORCE_UNIFORM_GATE) is differentiated through, and d_gates is "
                    + "then 0.",
            "",
            "Exit codes: 0 ok, 2 usage or bad input, 1 internal or I/O error."},
        footer = {"", "Example: nsa grad --shape 1,256,8,2,64,64 --out grads/",
            "  then in Python: q = torch.tensor(np.load('grads/q.npy')) ... compare q.grad with np.load('grads/dq.npy')"})
final class GradCommand implements Callable<Integer> {
    private static final String[] INPUTS = {"q", "k_cmp", "v_cmp", "k_sel", "v_sel", "k_win", "v_win", "gates"};
    private static final String[] MLP_WEIGHTS = {"pos", "w1", "b1", "w2", "b2"};

    @Spec
    CommandSpec spec;

    @Mixin
    CaseOptions options;

    @Option(names = "--grad-o", paramLabel = "FILE",
            description = "dL/do as a float32 .npy in o's shape (default: standard normal from --seed + 1).")
    Path gradO;

    @Option(names = "--out", paramLabel = "DIR",
            description = "Write the inputs, o, indices, grad_o and every gradient as .npy here (created if absent; "
                    + "other files in it are left alone; nothing is written if the run fails).")
    Path out;

    @Mixin
    NsaCli.VerboseOption verbosity;

    @Override
    public Integer call() throws Exception {
        AtomicOutput.checkOption(spec, out);
        PrintWriter w = spec.commandLine().getOut();
        CaseOptions.Case c = options.load(spec);
        NsaConfig cfg = c.config();
        NsaInputs in = c.inputs();
        try (NsaAttention nsa = NsaAttention.builder(cfg).phi(c.phi()).flags(Flags.snapshot()).device("cpu").build()) {
            return run(w, nsa, c, in);
        }
    }

    private int run(PrintWriter w, NsaAttention nsa, CaseOptions.Case c, NsaInputs in) throws Exception {
        NsaConfig cfg = c.config();
        NsaOutput forward = nsa.forward(in, DType.FP32);
        NsaResult fwd = forward.result();
        HostTensor go = gradO != null ? Npy.read(gradO, DType.FP32) : normal(new Random(options.seed + 1), fwd.o());
        if (!go.shape().sameDims(fwd.o().shape())) {
            throw new NsaArgumentException("grad_o", "o's shape " + fwd.o().shape(), "got " + go.shape()
                    + (gradO != null ? " from " + gradO : ""));
        }
        NsaGradients back = nsa.backward(in, forward, go);
        NsaBackward.Gradients g = back.fp64();
        w.printf(Locale.ROOT, "nsa grad: %s, %s, on the %s%n", c.source(),
                in.q().dtype().name().toLowerCase(Locale.ROOT), back.path());
        w.printf(Locale.ROOT, "config: H=%d G=%d Dk=%d Dv=%d l=%d d=%d l'=%d n=%d w=%d phi=%s scale=%.6g%n",
                cfg.heads(), cfg.kvGroups(), cfg.headDimQk(), cfg.headDimV(), cfg.blockLen(), cfg.stride(),
                cfg.selBlock(), cfg.nSel(), cfg.window(), cfg.phi().name().toLowerCase(Locale.ROOT), cfg.scale());
        w.printf(Locale.ROOT, "time: forward %.1f ms, backward %.1f ms%n", forward.elapsed().toNanos() / 1e6,
                back.elapsed().toNanos() / 1e6);
        GateStats gs = nsa.gateStats(in);
        w.printf(Locale.ROOT, "gates: entropy mean %.4f min %.4f, shares cmp/sel/win %.3f/%.3f/%.3f, collapsed %.4f%n",
                gs.entropyMean(), gs.entropyMin(), gs.shareCmp(), gs.shareSel(), gs.shareWin(), gs.collapseFraction());
        HostTensor[] src = {in.q(), in.kCmp(), in.vCmp(), in.kSel(), in.vSel(), in.kWin(), in.vWin(), in.gates()};
        double[][] grads = {g.dq(), g.dkCmp(), g.dvCmp(), g.dkSel(), g.dvSel(), g.dkWin(), g.dvWin(), g.dGates()};
        HostTensor[] tensors = {back.dq(), back.dk(Branch.CMP), back.dv(Branch.CMP), back.dk(Branch.SEL),
            back.dv(Branch.SEL), back.dk(Branch.WIN), back.dv(Branch.WIN), back.dGates()};
        Map<String, HostTensor> files = new LinkedHashMap<>();
        files.put("o", fwd.o());
        files.put("indices", fwd.indices());
        files.put("grad_o", go);
        for (int i = 0; i < INPUTS.length; i++) {
            String name = (INPUTS[i].equals("gates") ? "d_" : "d") + INPUTS[i];
            files.put(name, tensors[i]);
            line(w, name, grads[i], src[i].shape().toString());
            if (out != null && options.inputs == null) {
                files.put(INPUTS[i], src[i].dtype() == DType.FP32 ? src[i] : HostTensor.of(DType.FP32,
                        src[i].toDoubleArray(), src[i].shape().dims()));
            }
        }
        if (c.phi() != null) {
            mlp(w, files, "phi_k", c.phi().k(), g.phiK());
            mlp(w, files, "phi_v", c.phi().v(), g.phiV());
        }
        if (out != null) {
            AtomicOutput.write(out, files);
            w.println("wrote " + files.size() + " .npy files to " + out);
        }
        w.flush();
        return 0;
    }

    private static void mlp(PrintWriter w, Map<String, HostTensor> files, String name, CompressionMlp m,
                            NsaBackward.MlpGrads d) {
        double[][] grads = {d.pos(), d.w1(), d.b1(), d.w2(), d.b2()};
        int l = m.blockLen();
        int dim = m.dim();
        int h = m.hidden();
        int[][] shapes = {{l, dim}, {h, l * dim}, {h}, {dim, h}, {dim}};
        for (int i = 0; i < MLP_WEIGHTS.length; i++) {
            String n = name + "_" + MLP_WEIGHTS[i];
            files.put(n, HostTensor.of(DType.FP32, m.weight(MLP_WEIGHTS[i]), shapes[i]));
            files.put("d_" + n, HostTensor.of(DType.FP32, grads[i], shapes[i]));
            line(w, "d_" + n, grads[i], java.util.Arrays.toString(shapes[i]));
        }
    }

    private static void line(PrintWriter w, String name, double[] g, String shape) {
        double max = 0;
        double sq = 0;
        for (double v : g) {
            max = Math.max(max, Math.abs(v));
            sq += v * v;
        }
        w.printf(Locale.ROOT, "%-12s %-18s max |g| %.4g, |g|_2 %.4g%n", name, shape, max, Math.sqrt(sq));
    }

    private static HostTensor normal(Random r, HostTensor like) {
        double[] v = new double[(int) like.numel()];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextGaussian();
        }
        return HostTensor.of(DType.FP32, v, like.shape().dims());
    }
}
