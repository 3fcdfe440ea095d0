package dev.nsa4j.fa2.contract;

import static dev.nsa4j.fa2.contract.Fa2Rule.ALIGNMENT;
import static dev.nsa4j.fa2.contract.Fa2Rule.CONTIGUITY;
import static dev.nsa4j.fa2.contract.Fa2Rule.CU_SEQLENS;
import static dev.nsa4j.fa2.contract.Fa2Rule.SHAPE;

/**
 * The rules about where the data is: {@link Fa2Rule#SHAPE}, {@link Fa2Rule#CU_SEQLENS},
 * {@link Fa2Rule#CONTIGUITY} and {@link Fa2Rule#ALIGNMENT}. Axis names in messages follow {@link Layout}.
 */
final class LayoutRules {
    private LayoutRules() {
    }

    /**
     * Dims read off a request whose tensors are all present with the right ranks.
     *
     * @param batch   B (dense), or -1 (varlen: B comes from cu_seqlens_q)
     * @param nq      queries per sequence (dense Sq) or in all (varlen nnz_q)
     * @param nk      keys per sequence (dense Sk) or in all (varlen nnz_k)
     * @param heads   H of q
     * @param kvHeads Hkv of k (or kv)
     * @param dk      head dim of k (or kv)
     * @param dv      head dim of v (or kv)
     */
    record Dims(int batch, int nq, int nk, int heads, int kvHeads, int dk, int dv) {
    }

    private static final String[] Q_DENSE = {"B", "Sq", "H", "Dk"};
    private static final String[] Q_VARLEN = {"nnz_q", "H", "Dk"};
    private static final String[] K_DENSE = {"B", "Sk", "Hkv", "Dk"};
    private static final String[] K_VARLEN = {"nnz_k", "Hkv", "Dk"};
    private static final String[] V_DENSE = {"B", "Sk", "Hkv", "Dv"};
    private static final String[] V_VARLEN = {"nnz_k", "Hkv", "Dv"};
    private static final String[] KV_DENSE = {"B", "Sk", "pair", "Hkv", "D"};
    private static final String[] KV_VARLEN = {"nnz_k", "pair", "Hkv", "D"};
    private static final String[] OUT_DENSE = {"B", "Sq", "H", "Dv"};
    private static final String[] OUT_VARLEN = {"nnz_q", "H", "Dv"};
    private static final String[] LSE_DENSE = {"B", "Sq", "H"};
    private static final String[] LSE_VARLEN = {"nnz_q", "H"};

    /** The shape rule: presence, ranks, consistent dims. Returns the dims, or null when a tensor is missing or of the wrong rank. */
    static Dims shape(Sink s, Fa2Request r) {
        boolean varlen = r.varlen();
        boolean packed = r.layout() == Layout.KV_PACKED;
        boolean ok = present(s, r, r.q(), "q") & present(s, r, r.out(), "out");
        if (packed) {
            ok &= present(s, r, r.kv(), "kv");
            for (TensorView t : new TensorView[] {r.k(), r.v()}) {
                if (t != null) {
                    s.add(SHAPE, t.name(), t.name() + " is not read with layout KV_PACKED (K and V come from kv)");
                }
            }
        } else {
            ok &= present(s, r, r.k(), "k") & present(s, r, r.v(), "v");
            if (r.kv() != null) {
                s.add(SHAPE, r.kv().name(), r.kv().name() + " is only read with layout KV_PACKED");
            }
        }
        if (r.layout() == Layout.DENSE && (r.cuSeqlensQ() != null || r.cuSeqlensK() != null)) {
            s.add(SHAPE, r.cuSeqlensQ() != null ? "cu_seqlens_q" : "cu_seqlens_k",
                    "cu_seqlens are not read with layout DENSE (use VARLEN)");
        }
        if (!ok) {
            return null;
        }
        TensorView q = r.q();
        TensorView kt = r.keyTensor();
        TensorView vt = r.valueTensor();
        TensorView out = r.out();
        ok = rank(s, q, labels(q, r)) & rank(s, kt, labels(kt, r)) & rank(s, out, labels(out, r));
        if (!packed) {
            ok &= rank(s, vt, labels(vt, r));
        }
        if (!ok) {
            return null;
        }
        int lead = varlen ? 0 : 1;
        int batch = varlen ? -1 : q.dim(0);
        int heads = q.dim(lead + 1);
        int kvHeads = kt.dim(kt.rank() - 2);
        Dims d = new Dims(batch, q.dim(lead), kt.dim(lead), heads, kvHeads, kt.lastDim(), vt.lastDim());
        if (!varlen) {
            same(s, r, kt, 0, batch, q);
            if (!packed) {
                same(s, r, vt, 0, batch, q);
            }
            same(s, r, out, 0, batch, q);
        }
        same(s, r, kt, kt.rank() - 1, q.lastDim(), q);
        if (packed) {
            if (kt.dim(lead + 1) != 2) {
                s.add(SHAPE, kt.name(), kt.name() + " pair dim (axis " + (lead + 1) + ") is " + kt.dim(lead + 1)
                        + ", expected 2 (K, V)");
            }
        } else {
            same(s, r, vt, lead, d.nk(), kt);
            same(s, r, vt, lead + 1, kvHeads, kt);
        }
        if (kvHeads < 1) {
            s.add(SHAPE, kt.name(), kt.name() + " has Hkv = 0 KV heads");
        } else if (heads % kvHeads != 0) {
            s.add(SHAPE, q.name(), q.name() + " heads H = " + heads + " is not a multiple of " + kt.name()
                    + " heads Hkv = " + kvHeads);
        }
        same(s, r, out, lead, d.nq(), q);
        same(s, r, out, lead + 1, heads, q);
        same(s, r, out, lead + 2, d.dv(), vt);
        TensorView lse = r.lse();
        if (lse != null && rank(s, lse, labels(lse, r))) {
            if (!varlen) {
                same(s, r, lse, 0, batch, q);
            }
            same(s, r, lse, lead, d.nq(), q);
            same(s, r, lse, lead + 1, heads, q);
        }
        return d;
    }

    private static boolean present(Sink s, Fa2Request r, TensorView t, String role) {
        if (t == null) {
            s.add(SHAPE, role, role + " is missing (layout " + r.layout() + " needs it)");
            return false;
        }
        if (t.address() == 0L && t.numel() > 0) {
            s.add(SHAPE, t.name(), t.name() + " has " + t.numel() + " elements at a null device pointer");
        }
        return true;
    }

    private static boolean rank(Sink s, TensorView t, String[] labels) {
        if (t.rank() == labels.length) {
            return true;
        }
        s.add(SHAPE, t.name(), t.name() + " has rank " + t.rank() + " " + java.util.Arrays.toString(t.shape())
                + ", expected rank " + labels.length + " " + java.util.Arrays.toString(labels));
        return false;
    }

    private static void same(Sink s, Fa2Request r, TensorView t, int axis, int expected, TensorView ref) {
        if (t.dim(axis) != expected) {
            s.add(SHAPE, t.name(), t.name() + " " + labels(t, r)[axis] + " (dim " + axis + ") is " + t.dim(axis)
                    + ", expected " + expected + " as in " + ref.name());
        }
    }

    /** The axis names of a tensor of the request, by its role. */
    private static String[] labels(TensorView t, Fa2Request r) {
        boolean v = r.varlen();
        if (t == r.q()) {
            return v ? Q_VARLEN : Q_DENSE;
        }
        if (t == r.kv() && r.layout() == Layout.KV_PACKED) {
            return v ? KV_VARLEN : KV_DENSE;
        }
        if (t == r.k()) {
            return v ? K_VARLEN : K_DENSE;
        }
        if (t == r.v()) {
            return v ? V_VARLEN : V_DENSE;
        }
        if (t == r.out()) {
            return v ? OUT_VARLEN : OUT_DENSE;
        }
        return v ? LSE_VARLEN : LSE_DENSE;
    }

    /**
     * The cu_seqlens rule (varlen only): both arrays present, B+1 entries (B from cu_seqlens_q, as
     * FlashAttention takes it), cu[0] = 0, never negative, non-decreasing, cu[B] = nnz. Returns true when both
     * arrays are valid.
     */
    static boolean cuSeqlens(Sink s, Fa2Request r, Dims d) {
        int[] cq = r.cuSeqlensQ();
        int[] ck = r.cuSeqlensK();
        boolean ok = true;
        int b = cq != null && cq.length > 0 ? cq.length - 1 : -1;
        for (int i = 0; i < 2; i++) {
            int[] cu = i == 0 ? cq : ck;
            String name = i == 0 ? "cu_seqlens_q" : "cu_seqlens_k";
            if (cu == null) {
                s.add(CU_SEQLENS, name, name + " is missing (layout " + r.layout() + " is varlen)");
                ok = false;
            } else if (cu.length == 0) {
                s.add(CU_SEQLENS, name, name + " is empty; it needs B+1 >= 1 entries");
                ok = false;
            } else {
                if (i == 1 && b >= 0 && cu.length != b + 1) {
                    s.add(CU_SEQLENS, name, name + " has length " + cu.length + ", expected B+1 = " + (b + 1)
                            + " (B = " + b + " from cu_seqlens_q)");
                    ok = false;
                }
                TensorView t = i == 0 ? r.q() : r.keyTensor();
                ok &= offsets(s, name, cu, d == null ? -1 : i == 0 ? d.nq() : d.nk(), i == 0 ? "nnz_q" : "nnz_k",
                        t == null ? "" : t.name());
            }
        }
        return ok;
    }

    private static boolean offsets(Sink s, String name, int[] cu, int nnz, String nnzLabel, String tensor) {
        boolean ok = true;
        if (cu[0] != 0) {
            s.add(CU_SEQLENS, name, name + "[0] is " + cu[0] + ", must be 0");
            ok = false;
        }
        int negative = -1;
        int decrease = -1;
        for (int i = 1; i < cu.length; i++) {
            if (cu[i] < 0) {
                negative = negative < 0 ? i : negative;
            } else if (cu[i] < cu[i - 1] && decrease < 0) {
                decrease = i;
            }
        }
        if (negative > 0) {
            s.add(CU_SEQLENS, name, name + "[" + negative + "] is " + cu[negative] + ", offsets are never negative");
            ok = false;
        }
        if (decrease > 0) {
            s.add(CU_SEQLENS, name, name + " decreases at index " + decrease + ": " + name + "[" + (decrease - 1)
                    + "] = " + cu[decrease - 1] + " > " + name + "[" + decrease + "] = " + cu[decrease]);
            ok = false;
        }
        int last = cu.length - 1;
        if (nnz >= 0 && cu[last] != nnz) {
            s.add(CU_SEQLENS, name, name + "[B = " + last + "] is " + cu[last] + ", expected " + nnzLabel + " = "
                    + nnz + " (dim 0 of " + tensor + ")");
            ok = false;
        }
        return ok;
    }

    /**
     * The contiguity rule, for tensors of the right rank: row-major from the token axis to the last (the
     * K/V pair axis included for kv); size-1 axes may have any stride. Dense out batches must not overlap.
     */
    static void contiguity(Sink s, Fa2Request r) {
        int lead = r.varlen() ? 0 : 1;
        for (TensorView t : tensors(r)) {
            rows(s, t, lead, labels(t, r));
        }
        TensorView out = r.out();
        long batchElems = lead == 1 ? (long) out.dim(1) * out.dim(2) * out.dim(3) : 0;
        if (lead == 1 && out.dim(0) > 1 && batchElems > 0 && out.stride(0) < batchElems) {
            s.add(CONTIGUITY, out.name(), out.name() + " stride of B is " + out.stride(0) + " < Sq*H*Dv = "
                    + batchElems + ": batches of the output would overlap");
        }
    }

    private static void rows(Sink s, TensorView t, int firstAxis, String[] labels) {
        long expected = 1;
        for (int a = t.rank() - 1; a >= firstAxis; a--) {
            if (t.dim(a) > 1 && t.stride(a) != expected) {
                s.add(CONTIGUITY, t.name(), t.name() + " stride of " + labels[a] + " is " + t.stride(a) + ", expected "
                        + product(labels, a + 1) + " = " + expected);
            }
            expected *= Math.max(t.dim(a), 1);
        }
    }

    private static String product(String[] labels, int from) {
        if (from == labels.length) {
            return "1";
        }
        StringBuilder b = new StringBuilder();
        for (int i = from; i < labels.length; i++) {
            b.append(i > from ? "*" : "").append(labels[i].equals("pair") ? "2" : labels[i]);
        }
        return b.toString();
    }

    /** The alignment rule for row strides: every stride but the last (of an axis longer than 1) a multiple of 16 bytes. */
    static void rowStrides(Sink s, Fa2Request r) {
        for (TensorView t : tensors(r)) {
            if (t == r.lse()) {
                continue; // written one fp32 scalar at a time, never with 16-byte accesses
            }
            String[] labels = labels(t, r);
            int bytes = t.dtype().byteSize();
            for (int a = 0; a < t.rank() - 1; a++) {
                if (t.dim(a) > 1 && (t.stride(a) * bytes) % 16 != 0) {
                    s.add(ALIGNMENT, t.name(), t.name() + " stride of " + labels[a] + " is " + t.stride(a)
                            + " elements = " + t.stride(a) * bytes + " bytes, not a multiple of 16");
                }
            }
        }
    }

    /** The alignment rule for pointers: every device pointer 16-byte aligned. */
    static void pointers(Sink s, Fa2Request r) {
        for (TensorView t : new TensorView[] {r.q(), r.k(), r.v(), r.kv(), r.out(), r.lse()}) {
            if (t == null || t.address() % 16 == 0) {
                continue;
            }
            String hex = "0x" + Long.toHexString(t.address());
            s.add(ALIGNMENT, t.name(), t.address() % 8 == 0
                    ? t.name() + " address " + hex + " is only 8-byte aligned (a foreign pointer?); FA-2 needs 16-byte"
                            + " aligned pointers: copy into an aligned buffer or take the reference path"
                    : t.name() + " address " + hex + " is not 16-byte aligned");
        }
    }

    /** q, k, v (or kv), out and lse when of the right rank. */
    private static TensorView[] tensors(Fa2Request r) {
        TensorView lse = r.lse() != null && r.lse().rank() == labels(r.lse(), r).length ? r.lse() : null;
        TensorView[] all = r.layout() == Layout.KV_PACKED
                ? new TensorView[] {r.q(), r.kv(), r.out(), lse}
                : new TensorView[] {r.q(), r.k(), r.v(), r.out(), lse};
        return lse != null ? all : java.util.Arrays.copyOf(all, all.length - 1);
    }
}
