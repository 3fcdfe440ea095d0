package dev.nsa4j.oracle;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.attention.BatchLayout;
import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.config.Phi;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import java.util.Arrays;

/**
 * Checks one attention call against the NSA spec (docs/nsa-spec.md) before anything is computed, and derives its batch layout.
 * Every failure is an {@link NsaArgumentException} naming the tensor and the rule.
 */
public final class InputCheck {
    /** Java arrays hold at most this many elements; the oracle works in fp64 arrays. */
    static final long MAX_ELEMENTS = Integer.MAX_VALUE - 8;

    private InputCheck() {}

    /** Checks everything; returns the layout. */
    public static BatchLayout check(NsaConfig cfg, PhiWeights phi, NsaInputs in) {
        HostTensor q = in.q();
        requireFloating("q", q);
        DType dt = q.dtype();
        BatchLayout layout = layout("q", q, in.cuSeqlens(), "[B,S,H,Dk]", "[nnz,H,Dk]");

        requireTokenShape("q", q, layout, cfg.heads(), cfg.headDimQk(), "H", "Dk", cfg);
        String[] names = {"k_cmp", "v_cmp", "k_sel", "v_sel", "k_win", "v_win"};
        HostTensor[] kv = {in.kCmp(), in.vCmp(), in.kSel(), in.vSel(), in.kWin(), in.vWin()};
        for (int i = 0; i < kv.length; i++) {
            boolean isKey = i % 2 == 0;
            requireFloating(names[i], kv[i]);
            if (kv[i].dtype() != dt) {
                throw new NsaArgumentException(names[i], "dtype matches q",
                        names[i] + " is " + kv[i].dtype() + " but q is " + dt);
            }
            requireTokenShape(names[i], kv[i], layout, cfg.kvGroups(), isKey ? cfg.headDimQk() : cfg.headDimV(),
                    "G", isKey ? "Dk" : "Dv", cfg);
        }

        HostTensor gates = in.gates();
        requireFloating("gates", gates);
        if (gates.dtype() != dt && gates.dtype() != DType.FP32) {
            throw new NsaArgumentException("gates", "dtype matches q or is fp32",
                    "gates is " + gates.dtype() + " but q is " + dt);
        }
        requireTokenShape("gates", gates, layout, cfg.heads(), 3, "H", "3", cfg);
        double[] g = gates.toDoubleArray();
        for (int i = 0; i < g.length; i++) {
            if (!(g[i] >= 0 && g[i] <= 1)) {
                throw new NsaArgumentException("gates", "each gate in [0,1]",
                        "gates" + Arrays.toString(unflatten(i, gates.shape().dims())) + " = " + g[i]);
            }
        }

        if (in.indices() != null) {
            int[] blocks = new int[layout.batch()];
            for (int b = 0; b < blocks.length; b++) {
                blocks[b] = cfg.selBlocks(layout.cu()[b + 1] - layout.cu()[b]);
            }
            checkIndices(cfg, in.indices(), layout, blocks);
        }
        if (cfg.phi() == Phi.MLP) {
            if (phi == null) {
                throw new NsaArgumentException("phi", "phi = mlp needs phi_k/phi_v weights",
                        "config says phi=MLP but no PhiWeights were given");
            }
            requirePhi("phi_k", phi.k(), cfg.blockLen(), cfg.headDimQk());
            requirePhi("phi_v", phi.v(), cfg.blockLen(), cfg.headDimV());
        }
        long biggest = (long) layout.nnz() * cfg.heads() * Math.max(Math.max(cfg.headDimQk(), cfg.headDimV()), 3);
        if (biggest > MAX_ELEMENTS) {
            throw new NsaArgumentException("q", "at most 2^31-9 elements per tensor on the CPU oracle",
                    layout.nnz() + " tokens x " + cfg.heads() + " heads is too large; split the batch");
        }
        return layout;
    }

    /**
     * The batch layout of a token tensor: dense {@code [B,S,...]} (rank of {@code denseForm}) without
     * cu_seqlens, varlen {@code [nnz,...]} (one rank less) with it; checks every cu_seqlens invariant.
     */
    static BatchLayout layout(String name, HostTensor t, HostTensor cuT, String denseForm, String varlenForm) {
        int denseRank = denseForm.split(",").length;
        if (cuT == null) {
            if (t.rank() != denseRank) {
                throw new NsaArgumentException(name, "shape " + denseForm, "dense " + name + " must be "
                        + denseRank + "-D, got " + t.shape() + " (pass cu_seqlens for " + varlenForm + ")");
            }
            int b = t.dim(0);
            int s = t.dim(1);
            int[] cu = new int[b + 1];
            for (int i = 0; i < b; i++) {
                cu[i + 1] = Math.addExact(cu[i], s);
            }
            return new BatchLayout(false, b, s, cu, t.dtype());
        }
        if (cuT.dtype() != DType.INT32) {
            throw new NsaArgumentException("cu_seqlens", "dtype int32", "got " + cuT.dtype());
        }
        if (cuT.rank() != 1 || cuT.dim(0) < 1) {
            throw new NsaArgumentException("cu_seqlens", "shape [B+1]",
                    "expected a 1-D tensor of at least one element, got " + cuT.shape());
        }
        if (t.rank() != denseRank - 1) {
            throw new NsaArgumentException(name, "shape " + varlenForm,
                    "varlen " + name + " must be " + (denseRank - 1) + "-D, got " + t.shape());
        }
        int[] cu = cuT.toIntArray();
        if (cu[0] != 0) {
            throw new NsaArgumentException("cu_seqlens", "cu[0] == 0", "cu[0] = " + cu[0]);
        }
        for (int i = 1; i < cu.length; i++) {
            if (cu[i] < cu[i - 1]) {
                throw new NsaArgumentException("cu_seqlens", "non-decreasing",
                        "cu[" + i + "] = " + cu[i] + " < cu[" + (i - 1) + "] = " + cu[i - 1]);
            }
        }
        int nnz = t.dim(0);
        if (cu[cu.length - 1] != nnz) {
            throw new NsaArgumentException("cu_seqlens", "cu[B] == nnz", "cu[" + (cu.length - 1) + "] = "
                    + cu[cu.length - 1] + " but " + name + " has nnz = " + nnz + " tokens");
        }
        return new BatchLayout(true, cu.length - 1, -1, cu, t.dtype());
    }

    private static void requireFloating(String name, HostTensor t) {
        if (t == null) {
            throw new NsaArgumentException(name, "present", name + " is missing");
        }
        if (!t.dtype().isFloating()) {
            throw new NsaArgumentException(name, "dtype fp32, fp16 or bf16", name + " is " + t.dtype());
        }
    }

    private static void requireTokenShape(String name, HostTensor t, BatchLayout layout, int heads, int dim,
                                          String headSym, String dimSym, NsaConfig cfg) {
        int[] want = layout.dims(heads, dim);
        if (!Arrays.equals(t.shape().dims(), want)) {
            String layoutName = layout.varlen() ? "[nnz," + headSym + "," + dimSym + "]"
                    : "[B,S," + headSym + "," + dimSym + "]";
            throw new NsaArgumentException(name, "shape " + layoutName,
                    "expected " + Arrays.toString(want) + " (H=" + cfg.heads() + ", G=" + cfg.kvGroups() + ", Dk="
                            + cfg.headDimQk() + ", Dv=" + cfg.headDimV() + "), got " + t.shape());
        }
    }

    /**
     * Checks caller-supplied chosen blocks: int32, {@code [B,S,G,n]} or {@code [nnz,G,n]}, each value of
     * sequence b in [−1, blocks[b]). Returns the values.
     */
    static int[] checkIndices(NsaConfig cfg, HostTensor idx, BatchLayout layout, int[] blocks) {
        if (idx.dtype() != DType.INT32) {
            throw new NsaArgumentException("indices", "dtype int32", "got " + idx.dtype());
        }
        int[] want = layout.dims(cfg.kvGroups(), cfg.nSel());
        if (!Arrays.equals(idx.shape().dims(), want)) {
            throw new NsaArgumentException("indices", layout.varlen() ? "shape [nnz,G,n]" : "shape [B,S,G,n]",
                    "expected " + Arrays.toString(want) + ", got " + idx.shape());
        }
        int[] v = idx.toIntArray();
        int perToken = cfg.kvGroups() * cfg.nSel();
        for (int b = 0; b < layout.batch(); b++) {
            for (int i = layout.cu()[b] * perToken; i < layout.cu()[b + 1] * perToken; i++) {
                if (v[i] < -1 || v[i] >= blocks[b]) {
                    int[] at = unflatten(i, want);
                    throw new NsaArgumentException("indices", "each index in [-1, ceil(S/l'))",
                            "indices" + Arrays.toString(at) + " = " + v[i] + " but sequence " + b + " has "
                                    + blocks[b] + " selection blocks");
                }
            }
        }
        return v;
    }

    private static void requirePhi(String name, CompressionMlp mlp, int blockLen, int dim) {
        if (mlp.blockLen() != blockLen || mlp.dim() != dim) {
            throw new NsaArgumentException(name, "weights for [l, D] = [" + blockLen + ", " + dim + "]",
                    "weights were made for [l, D] = [" + mlp.blockLen() + ", " + mlp.dim() + "]");
        }
    }

    static int[] unflatten(long flat, int[] dims) {
        int[] idx = new int[dims.length];
        for (int a = dims.length - 1; a >= 0; a--) {
            int d = Math.max(dims[a], 1);
            idx[a] = (int) (flat % d);
            flat /= d;
        }
        return idx;
    }
}
