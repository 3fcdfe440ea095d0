package dev.nsa4j.bench;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import dev.nsa4j.tensor.Npy;
import dev.nsa4j.tensor.Shape;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * The tensors of one {@code nsa attend} call, held in the varlen form every path takes:
 * {@code q [nnz_q, H, Dk]}, {@code k [nnz_k, Hkv, Dk]}, {@code v [nnz_k, Hkv, Dv]} with offsets
 * {@code cuQ}, {@code cuK} ({@code [B + 1]}). A dense call ({@code [B,S,H,Dk]}, {@code [B,Sk,Hkv,D]}) is the same
 * memory with offsets {@code b·S} and {@code b·Sk}; {@link #outDims} gives outputs back in the caller's layout.
 *
 * @param q      queries, fp32, fp16 or bf16 (one dtype for q, k, v)
 * @param k      keys
 * @param v      values
 * @param cuQ    query offsets per sequence
 * @param cuK    key offsets per sequence
 * @param varlen whether the caller passed cu_seqlens (outputs are then {@code [nnz_q, ...]})
 * @param seqQ   dense Sq (−1 when varlen)
 * @param seqK   dense Sk (−1 when varlen)
 */
record AttendInputs(HostTensor q, HostTensor k, HostTensor v, int[] cuQ, int[] cuK, boolean varlen, int seqQ, int seqK) {
    static final String CU_Q = "cu_seqlens_q";
    static final String CU_K = "cu_seqlens_k";

    int batch() {
        return cuQ.length - 1;
    }

    int heads() {
        return q.dim(1);
    }

    int kvHeads() {
        return k.dim(1);
    }

    int dk() {
        return q.dim(2);
    }

    int dv() {
        return v.dim(2);
    }

    int nnzQ() {
        return q.dim(0);
    }

    int nnzK() {
        return k.dim(0);
    }

    /** Dims of an output with {@code trailing} dims after the token axes: {@code [B,Sq,...]} or {@code [nnz_q,...]}. */
    int[] outDims(int... trailing) {
        int[] lead = varlen ? new int[] {nnzQ()} : new int[] {batch(), seqQ};
        int[] d = Arrays.copyOf(lead, lead.length + trailing.length);
        System.arraycopy(trailing, 0, d, lead.length, trailing.length);
        return d;
    }

    /** q, k and v rounded to {@code dtype} (the values every path computes on). */
    AttendInputs cast(DType dtype) {
        return new AttendInputs(to(q, dtype), to(k, dtype), to(v, dtype), cuQ, cuK, varlen, seqQ, seqK);
    }

    private static HostTensor to(HostTensor t, DType d) {
        return t.dtype() == d ? t : t.to(d);
    }

    /** {@code B=2 Sq=128 Sk=128 H=8 Hkv=2 Dk=64 Dv=64} or {@code varlen B=3 nnz_q=.. nnz_k=.. H=..}. */
    String describe() {
        String tokens = varlen ? "varlen B=" + batch() + " nnz_q=" + nnzQ() + " nnz_k=" + nnzK()
                : "B=" + batch() + " Sq=" + seqQ + " Sk=" + seqK;
        return tokens + " H=" + heads() + " Hkv=" + kvHeads() + " Dk=" + dk() + " Dv=" + dv();
    }

    /** q, k, v as the .npy files a caller would pass (dense: the caller's 4-D layout). */
    Map<String, HostTensor> files() {
        Map<String, HostTensor> m = new LinkedHashMap<>();
        m.put("q", varlen ? q : q.view(Shape.of(batch(), seqQ, heads(), dk())));
        m.put("k", varlen ? k : k.view(Shape.of(batch(), seqK, kvHeads(), dk())));
        m.put("v", varlen ? v : v.view(Shape.of(batch(), seqK, kvHeads(), dv())));
        if (varlen) {
            m.put(CU_Q, HostTensor.ofInts(cuQ, cuQ.length));
            m.put(CU_K, HostTensor.ofInts(cuK, cuK.length));
        }
        return m;
    }

    /**
     * Standard normal fp32 inputs of {@code --random B,S,H,Hkv,Dk,Dv} ({@link ShapeSpec}; Hkv is its G) from
     * {@code seed} ({@link Random#nextGaussian()}, q then k then v, row-major):
     * q {@code [B,S,H,Dk]}, k {@code [B,Sk,Hkv,Dk]}, v {@code [B,Sk,Hkv,Dv]}.
     */
    static AttendInputs random(ShapeSpec s, int seqK, long seed) {
        Random r = new Random(seed);
        HostTensor q = normal(r, s.batch(), s.seqLen(), s.heads(), s.dk());
        HostTensor k = normal(r, s.batch(), seqK, s.groups(), s.dk());
        HostTensor v = normal(r, s.batch(), seqK, s.groups(), s.dv());
        return dense(q, k, v);
    }

    private static HostTensor normal(Random r, int... dims) {
        long n = 1;
        for (int d : dims) {
            n = Math.multiplyExact(n, d);
        }
        double[] x = new double[Math.toIntExact(n)];
        for (int i = 0; i < x.length; i++) {
            x[i] = r.nextGaussian();
        }
        return HostTensor.of(DType.FP32, x, dims);
    }

    /**
     * Reads q.npy, k.npy, v.npy (float32 or float16) and, for a varlen call, cu_seqlens_q.npy and
     * cu_seqlens_k.npy (int32, both or neither) from {@code dir}, checking every shape rule.
     *
     * @throws NsaArgumentException naming the file or tensor and the rule, for anything missing or inconsistent
     */
    static AttendInputs load(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new NsaArgumentException(dir.toString(), "--inputs is a directory",
                    Files.exists(dir) ? "not a directory" : "no such directory");
        }
        Path cuQFile = dir.resolve(CU_Q + ".npy");
        Path cuKFile = dir.resolve(CU_K + ".npy");
        boolean hasQ = Files.exists(cuQFile);
        if (hasQ != Files.exists(cuKFile)) {
            String missing = hasQ ? CU_K : CU_Q;
            throw new NsaArgumentException(missing, "cu_seqlens_q.npy and cu_seqlens_k.npy together",
                    (hasQ ? CU_Q : CU_K) + ".npy is in " + dir + " but " + missing + ".npy is not");
        }
        HostTensor q = floating(dir, "q");
        HostTensor k = floating(dir, "k");
        HostTensor v = floating(dir, "v");
        if (k.dtype() != q.dtype() || v.dtype() != q.dtype()) {
            String odd = k.dtype() != q.dtype() ? "k" : "v";
            throw new NsaArgumentException(odd, "dtype matches q", odd + ".npy is "
                    + Npy.describe(odd.equals("k") ? k.dtype() : v.dtype()) + " but q.npy is " + Npy.describe(q.dtype()));
        }
        if (!hasQ) {
            rank("q", q, 4, "[B,S,H,Dk]");
            rank("k", k, 4, "[B,Sk,Hkv,Dk]");
            rank("v", v, 4, "[B,Sk,Hkv,Dv]");
            int b = q.dim(0);
            dim("k", k, 0, b, "[B,Sk,Hkv,Dk] with the B of q");
            dim("k", k, 3, q.dim(3), "[B,Sk,Hkv,Dk] with the Dk of q");
            dim("v", v, 0, b, "[B,Sk,Hkv,Dv] with the B of q");
            dim("v", v, 1, k.dim(1), "[B,Sk,Hkv,Dv] with the Sk of k");
            dim("v", v, 2, k.dim(2), "[B,Sk,Hkv,Dv] with the Hkv of k");
            checkHeads(q.dim(2), k.dim(2), q.dim(3), v.dim(3));
            return dense(q, k, v);
        }
        rank("q", q, 3, "[nnz_q,H,Dk] (cu_seqlens files are present)");
        rank("k", k, 3, "[nnz_k,Hkv,Dk] (cu_seqlens files are present)");
        rank("v", v, 3, "[nnz_k,Hkv,Dv] (cu_seqlens files are present)");
        dim("k", k, 2, q.dim(2), "[nnz_k,Hkv,Dk] with the Dk of q");
        dim("v", v, 0, k.dim(0), "[nnz_k,Hkv,Dv] with the nnz_k of k");
        dim("v", v, 1, k.dim(1), "[nnz_k,Hkv,Dv] with the Hkv of k");
        checkHeads(q.dim(1), k.dim(1), q.dim(2), v.dim(2));
        int[] cuQ = offsets(cuQFile, CU_Q, q.dim(0), "q");
        int[] cuK = offsets(cuKFile, CU_K, k.dim(0), "k");
        if (cuK.length != cuQ.length) {
            throw new NsaArgumentException(CU_K, "shape [B+1] with the B of cu_seqlens_q",
                    CU_K + ".npy has " + cuK.length + " entries, " + CU_Q + ".npy " + cuQ.length);
        }
        return new AttendInputs(q, k, v, cuQ, cuK, true, -1, -1);
    }

    /** Dense 4-D tensors as their varlen views. */
    private static AttendInputs dense(HostTensor q, HostTensor k, HostTensor v) {
        int b = q.dim(0), sq = q.dim(1), sk = k.dim(1);
        int[] cuQ = new int[b + 1];
        int[] cuK = new int[b + 1];
        for (int i = 0; i < b; i++) {
            cuQ[i + 1] = Math.addExact(cuQ[i], sq);
            cuK[i + 1] = Math.addExact(cuK[i], sk);
        }
        return new AttendInputs(flat(q), flat(k), flat(v), cuQ, cuK, false, sq, sk);
    }

    private static HostTensor flat(HostTensor t) {
        HostTensor c = t.isContiguous() ? t : t.to(t.dtype());
        return c.view(Shape.of(Math.multiplyExact(t.dim(0), t.dim(1)), t.dim(2), t.dim(3)));
    }

    private static HostTensor floating(Path dir, String name) throws IOException {
        HostTensor t = Npy.read(dir.resolve(name + ".npy"));
        if (t.dtype() != DType.FP32 && t.dtype() != DType.FP16) {
            throw new NsaArgumentException(name, "dtype float32 or float16",
                    name + ".npy is " + Npy.describe(t.dtype()));
        }
        return t;
    }

    private static void checkHeads(int heads, int kvHeads, int dk, int dv) {
        if (heads < 1 || kvHeads < 1 || dk < 1 || dv < 1) {
            throw new NsaArgumentException(heads < 1 || dk < 1 ? "q" : kvHeads < 1 ? "k" : "v",
                    "H, Hkv, Dk, Dv >= 1", "H=" + heads + " Hkv=" + kvHeads + " Dk=" + dk + " Dv=" + dv);
        }
        if (heads % kvHeads != 0) {
            throw new NsaArgumentException("k", "H % Hkv == 0 (query heads a multiple of KV heads)",
                    "q has H=" + heads + " heads, k has Hkv=" + kvHeads);
        }
    }

    private static void rank(String name, HostTensor t, int rank, String layout) {
        if (t.rank() != rank) {
            throw new NsaArgumentException(name, "shape " + layout,
                    name + ".npy is " + t.rank() + "-D " + t.shape() + ", expected " + rank + "-D " + layout);
        }
    }

    private static void dim(String name, HostTensor t, int axis, int want, String rule) {
        if (t.dim(axis) != want) {
            throw new NsaArgumentException(name, "shape " + rule,
                    name + ".npy is " + t.shape() + ": dim " + axis + " is " + t.dim(axis) + ", expected " + want);
        }
    }

    private static int[] offsets(Path file, String name, int nnz, String tensor) throws IOException {
        HostTensor t = Npy.read(file, DType.INT32);
        if (t.rank() != 1 || t.dim(0) < 1) {
            throw new NsaArgumentException(name, "shape [B+1]", name + ".npy is " + t.shape());
        }
        int[] cu = t.toIntArray();
        if (cu[0] != 0) {
            throw new NsaArgumentException(name, "cu[0] == 0", name + "[0] = " + cu[0]);
        }
        for (int i = 1; i < cu.length; i++) {
            if (cu[i] < cu[i - 1]) {
                throw new NsaArgumentException(name, "non-decreasing",
                        name + "[" + i + "] = " + cu[i] + " < " + name + "[" + (i - 1) + "] = " + cu[i - 1]);
            }
        }
        if (cu[cu.length - 1] != nnz) {
            throw new NsaArgumentException(name, "cu[B] == nnz", name + "[" + (cu.length - 1) + "] = "
                    + cu[cu.length - 1] + " but " + tensor + ".npy has " + nnz + " tokens");
        }
        return cu;
    }
}
