package dev.nsa4j.oracle;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.config.Phi;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeSet;

/**
 * The parameters of one NSA layer under the stable names of the NSA spec (docs/nsa-spec.md), in {@code torch.nn.Linear} layout
 * ({@code [out, in]}, y = x·Wᵀ + b), so a checkpoint maps one to one:
 * <pre>
 *   wq                    [H·Dk, dim]
 *   wk_cmp wk_sel wk_win  [G·Dk, dim]
 *   wv_cmp wv_sel wv_win  [G·Dv, dim]
 *   wg_hidden, bg_hidden  [gh, dim], [gh]          only when gateHidden = gh > 0
 *   wg, bg                [H·3, gh or dim], [H·3]  gate column h·3 + c is head h, branch c (cmp, sel, win)
 *   wo                    [dim, H·Dv]
 *   phi_k.{pos,w1,b1,w2,b2}, phi_v.{...}           only for phi = mlp (see {@link CompressionMlp})
 * </pre>
 * Held as fp64 copies; immutable.
 */
public final class NsaLayerWeights {
    private final NsaLayerConfig cfg;
    private final Map<String, double[]> w;
    private final PhiWeights phi;

    private NsaLayerWeights(NsaLayerConfig cfg, Map<String, double[]> w, PhiWeights phi) {
        this.cfg = cfg;
        this.w = w;
        this.phi = phi;
    }

    /** Every linear weight's expected dims (phi's are checked by {@link CompressionMlp}). */
    static Map<String, int[]> linearShapes(NsaLayerConfig lc) {
        NsaConfig c = lc.attention();
        int dim = lc.modelDim();
        int gk = c.kvGroups() * c.headDimQk();
        int gv = c.kvGroups() * c.headDimV();
        Map<String, int[]> m = new LinkedHashMap<>();
        m.put("wq", new int[] {c.heads() * c.headDimQk(), dim});
        m.put("wk_cmp", new int[] {gk, dim});
        m.put("wv_cmp", new int[] {gv, dim});
        m.put("wk_sel", new int[] {gk, dim});
        m.put("wv_sel", new int[] {gv, dim});
        m.put("wk_win", new int[] {gk, dim});
        m.put("wv_win", new int[] {gv, dim});
        if (lc.gateHidden() > 0) {
            m.put("wg_hidden", new int[] {lc.gateHidden(), dim});
            m.put("bg_hidden", new int[] {lc.gateHidden()});
        }
        m.put("wg", new int[] {c.heads() * 3, lc.gateHidden() > 0 ? lc.gateHidden() : dim});
        m.put("bg", new int[] {c.heads() * 3});
        m.put("wo", new int[] {dim, c.heads() * c.headDimV()});
        return m;
    }

    private static final String[] PHI_PARTS = {"pos", "w1", "b1", "w2", "b2"};

    /**
     * Checks and copies named weights: every expected name present with its shape, no unknown name.
     *
     * @throws NsaArgumentException naming the first weight that is missing, unknown or of the wrong shape
     */
    public static NsaLayerWeights of(NsaLayerConfig lc, Map<String, HostTensor> named) {
        Map<String, int[]> shapes = linearShapes(lc);
        boolean mlp = lc.attention().phi() == Phi.MLP;
        TreeSet<String> unknown = new TreeSet<>(named.keySet());
        Map<String, double[]> w = new LinkedHashMap<>();
        for (var e : shapes.entrySet()) {
            HostTensor t = named.get(e.getKey());
            if (t == null) {
                throw new NsaArgumentException(e.getKey(), "present", "weight " + e.getKey() + " "
                        + Arrays.toString(e.getValue()) + " is missing");
            }
            if (!Arrays.equals(t.shape().dims(), e.getValue()) || !t.dtype().isFloating()) {
                throw new NsaArgumentException(e.getKey(), "shape " + Arrays.toString(e.getValue()),
                        "got " + t);
            }
            w.put(e.getKey(), t.toDoubleArray());
            unknown.remove(e.getKey());
        }
        PhiWeights phi = null;
        if (mlp) {
            NsaConfig c = lc.attention();
            phi = new PhiWeights(phiOf("phi_k", c.blockLen(), c.headDimQk(), named),
                    phiOf("phi_v", c.blockLen(), c.headDimV(), named));
            for (String p : PHI_PARTS) {
                unknown.remove("phi_k." + p);
                unknown.remove("phi_v." + p);
            }
        }
        if (!unknown.isEmpty()) {
            throw new NsaArgumentException(unknown.first(), "a weight name of NSA-SPEC",
                    "unexpected weights " + unknown + " for this config (phi=" + lc.attention().phi()
                            + ", gateHidden=" + lc.gateHidden() + ")");
        }
        return new NsaLayerWeights(lc, w, phi);
    }

    private static CompressionMlp phiOf(String prefix, int l, int d, Map<String, HostTensor> named) {
        for (String p : PHI_PARTS) {
            if (named.get(prefix + "." + p) == null) {
                throw new NsaArgumentException(prefix + "." + p, "present", "phi = mlp needs " + prefix + "." + p);
            }
        }
        return CompressionMlp.of(prefix, l, d, named.get(prefix + ".pos"), named.get(prefix + ".w1"),
                named.get(prefix + ".b1"), named.get(prefix + ".w2"), named.get(prefix + ".b2"));
    }

    /**
     * Seeded random weights: linear weights uniform in ±1/sqrt(fan_in) (torch.nn.Linear's init), gate bias 0,
     * phi's position embedding 0. For examples, benches and tests.
     *
     * @param phiHidden hidden width of phi's MLPs (ignored for avg); the NSA spec (docs/nsa-spec.md)'s default is D
     */
    public static NsaLayerWeights random(NsaLayerConfig lc, long seed, int phiHidden) {
        SplittableRandom r = new SplittableRandom(seed);
        Map<String, HostTensor> named = new LinkedHashMap<>();
        for (var e : linearShapes(lc).entrySet()) {
            int[] dims = e.getValue();
            boolean bias = dims.length == 1;
            double bound = bias ? 0 : 1 / Math.sqrt(dims[1]);
            named.put(e.getKey(), uniform(r, bound, dims));
        }
        if (lc.attention().phi() == Phi.MLP) {
            NsaConfig c = lc.attention();
            for (String prefix : new String[] {"phi_k", "phi_v"}) {
                int d = prefix.equals("phi_k") ? c.headDimQk() : c.headDimV();
                int hid = phiHidden > 0 ? phiHidden : d;
                int in = c.blockLen() * d;
                named.put(prefix + ".pos", uniform(r, 0, c.blockLen(), d));
                named.put(prefix + ".w1", uniform(r, 1 / Math.sqrt(in), hid, in));
                named.put(prefix + ".b1", uniform(r, 1 / Math.sqrt(in), hid));
                named.put(prefix + ".w2", uniform(r, 1 / Math.sqrt(hid), d, hid));
                named.put(prefix + ".b2", uniform(r, 1 / Math.sqrt(hid), d));
            }
        }
        return of(lc, named);
    }

    private static HostTensor uniform(SplittableRandom r, double bound, int... dims) {
        int n = 1;
        for (int d : dims) {
            n *= d;
        }
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) ((r.nextDouble() * 2 - 1) * bound);
        }
        return HostTensor.of(DType.FP32, v, dims);
    }

    public NsaLayerConfig config() {
        return cfg;
    }

    /** The phi = mlp weights, or null for avg. */
    public PhiWeights phi() {
        return phi;
    }

    /** Every weight under its stable name, as fp32 tensors (for saving or inspection). */
    public Map<String, HostTensor> toNamedTensors() {
        Map<String, HostTensor> out = new LinkedHashMap<>();
        Map<String, int[]> shapes = linearShapes(cfg);
        for (var e : w.entrySet()) {
            out.put(e.getKey(), HostTensor.of(DType.FP32, e.getValue(), shapes.get(e.getKey())));
        }
        if (phi != null) {
            addPhi(out, "phi_k", phi.k());
            addPhi(out, "phi_v", phi.v());
        }
        return out;
    }

    private static void addPhi(Map<String, HostTensor> out, String prefix, CompressionMlp m) {
        int l = m.blockLen(), d = m.dim(), h = m.hidden();
        out.put(prefix + ".pos", HostTensor.of(DType.FP32, m.weight("pos"), l, d));
        out.put(prefix + ".w1", HostTensor.of(DType.FP32, m.weight("w1"), h, l * d));
        out.put(prefix + ".b1", HostTensor.of(DType.FP32, m.weight("b1"), h));
        out.put(prefix + ".w2", HostTensor.of(DType.FP32, m.weight("w2"), d, h));
        out.put(prefix + ".b2", HostTensor.of(DType.FP32, m.weight("b2"), d));
    }

    double[] raw(String name) {
        return w.get(name);
    }
}
