package dev.nsa4j.fa2.contract;

import static dev.nsa4j.fa2.contract.Fa2Rule.BATCH;
import static dev.nsa4j.fa2.contract.Fa2Rule.CAUSALITY;
import static dev.nsa4j.fa2.contract.Fa2Rule.DEVICE;
import static dev.nsa4j.fa2.contract.Fa2Rule.DTYPE;
import static dev.nsa4j.fa2.contract.Fa2Rule.HEAD_DIM;
import static dev.nsa4j.fa2.contract.Fa2Rule.SHAPE;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

import dev.nsa4j.kernels.Mask;
import dev.nsa4j.tensor.DType;

/**
 * The FA-2 preconditions of docs/routing.md, checked on the host for every call: {@link #check} reads the
 * request's shapes, strides, addresses and host cu_seqlens (no CUDA call, no device sync, no allocation
 * unless a rule breaks) and returns a {@link Fa2Verdict} naming every broken {@link Fa2Rule}:
 * <ul>
 * <li>{@code device}: compute capability 8.0, 8.6, 8.9 or 9.0, and a SASS architecture of the image that
 *     runs there ({@link #sassRunsOn}); 8.9 only with {@link Fa2Options#forceSm89()}, since the profile keeps
 *     FA-2 off there.</li>
 * <li>{@code dtype}: q, k, v one dtype, fp16 or bf16; fp32 with {@link Fa2Options#allowFp32()} (the verdict
 *     then carries {@link Fa2Verdict#castTo()}); out the input dtype or fp32; lse fp32.</li>
 * <li>{@code head_dim}: Dk and Dv multiples of 8, at most {@link #maxHeadDim}, and the pair among the
 *     request's compiled pairs.</li>
 * <li>{@code contiguity}: last dim stride 1, head stride = head_dim, token stride = H*D exactly (kv: pair
 *     stride = Hkv*D, token stride = 2*Hkv*D); dense out batches do not overlap.</li>
 * <li>{@code alignment}: every pointer 16-byte aligned (8-byte aligned foreign pointers are rejected with a
 *     message saying so), every row stride a multiple of 16 bytes.</li>
 * <li>{@code cu_seqlens} (varlen): length B+1, cu[0] = 0, non-decreasing, cu[B] = nnz; cu_seqlens_k may differ
 *     from cu_seqlens_q. Fatal.</li>
 * <li>{@code causality}: {@link KeyExtent#FULL} needs a causal-type mask; {@link KeyExtent.Sliced} with
 *     {@link Mask#NONE} needs every slice to end at its query and one query per sequence.</li>
 * <li>{@code batch}: more than {@link #MAX_BATCH} sequences only with {@link Fa2Options#allowLargeBatch()}.</li>
 * <li>{@code shape}: tensors present, ranks and dims consistent, mask parameters at least 1. Fatal.</li>
 * </ul>
 * Messages carry the actual values and name the tensor, array index or sequence at fault.
 */
public final class Fa2Contract {
    /** The (Dk, Dv) pairs the FA-2 kernels are compiled for: equal pairs 32..256 and (192, 128). */
    public static final Set<HeadDims> COMPILED_DIMS = Collections.unmodifiableSet(new LinkedHashSet<>(List.of(
            HeadDims.of(32), HeadDims.of(64), HeadDims.of(96), HeadDims.of(128), HeadDims.of(192), HeadDims.of(256),
            new HeadDims(192, 128))));
    /** The SASS in the shipped FA-2 image: sm_80 (runs on 8.0, 8.6, 8.9) and sm_90a (9.0 only). */
    public static final Set<Integer> IMAGE_ARCHS = Set.of(80, 90);
    /** The largest effective batch (sequences) served without {@link Fa2Options#allowLargeBatch()}. */
    public static final int MAX_BATCH = 1024;

    private Fa2Contract() {
    }

    /** Checks every rule and returns the verdict; never throws for bad input (see {@link Fa2Verdict#toException()}). */
    public static Fa2Verdict check(Fa2Request r, Fa2Options o) {
        Objects.requireNonNull(r, "request");
        Objects.requireNonNull(o, "options");
        Sink s = new Sink();
        device(s, r.device(), o);
        DType cast = dtype(s, r, o);
        LayoutRules.Dims d = LayoutRules.shape(s, r);
        boolean varlen = r.varlen();
        boolean cuOk = !varlen || LayoutRules.cuSeqlens(s, r, d);
        maskParameters(s, r.mask());
        if (d != null) {
            headDim(s, r, d, o);
            LayoutRules.contiguity(s, r);
            LayoutRules.rowStrides(s, r);
        }
        LayoutRules.pointers(s, r);
        int[] cq = r.cuSeqlensQ();
        int batch = varlen ? (cq != null && cq.length > 0 ? cq.length - 1 : -1) : (d == null ? -1 : d.batch());
        if (batch > MAX_BATCH && !o.allowLargeBatch()) {
            s.add(BATCH, varlen ? "cu_seqlens_q" : r.q().name(), "effective batch " + batch + " > " + MAX_BATCH
                    + " sequences; NSA_FA2_ALLOW_LARGE_BATCH=1 allows it");
        }
        causality(s, r, d, batch, cuOk);
        List<Fa2Violation> v = s.list();
        return v.isEmpty() && cast == null ? Fa2Verdict.pass() : new Fa2Verdict(v, Optional.ofNullable(cast));
    }

    /**
     * True when SASS for {@code arch} ({@code 10 * major + minor}) runs on a device of compute capability
     * {@code major.minor}: same major and a device minor at least the arch's (sm_80 runs on 8.0, 8.6, 8.9).
     * Archs from 90 up are taken as arch-specific builds (sm_90a) that run only on their exact capability.
     */
    public static boolean sassRunsOn(int arch, int major, int minor) {
        if (arch / 10 != major) {
            return false;
        }
        return arch >= 90 ? minor == arch % 10 : minor >= arch % 10;
    }

    /** The largest head dim on a device of this major: 256 on SM 9.x and up, 128 on SM 8.x (256 with {@link Fa2Options#allowDGt128()}). */
    public static int maxHeadDim(int major, Fa2Options o) {
        return major >= 9 || o.allowDGt128() ? 256 : 128;
    }

    private static void device(Sink s, Fa2Device dev, Fa2Options o) {
        int cc = dev.cc();
        if (cc != 80 && cc != 86 && cc != 89 && cc != 90) {
            s.add(DEVICE, "device", "compute capability " + dev.ccText() + " is not one of 8.0, 8.6, 8.9, 9.0");
            return;
        }
        if (!dev.imageRuns()) {
            List<Integer> archs = new ArrayList<>(dev.sassArchs());
            Collections.sort(archs);
            s.add(DEVICE, "device", "the kernel image has no SASS that runs on compute capability " + dev.ccText()
                    + " (image: " + archs.stream().map(a -> a >= 90 ? "sm_" + a + "a" : "sm_" + a).toList() + ")");
        }
        if (cc == 89 && !o.forceSm89()) {
            s.add(DEVICE, "device", "compute capability 8.9: profile keeps FA-2 off on SM 8.9; NSA_FA2_FORCE=1 to experiment");
        }
    }

    /** The dtype rule; returns the cast dtype when fp32 inputs were accepted through it, else null. */
    private static DType dtype(Sink s, Fa2Request r, Fa2Options o) {
        TensorView q = r.q();
        if (q == null) {
            return null; // the shape rule names it
        }
        DType in = q.dtype();
        boolean ok = true;
        if (in == DType.FP32 && !o.allowFp32()) {
            s.add(DTYPE, q.name(), q.name() + " dtype FP32: FA-2 takes fp16 or bf16; NSA_FA2_ALLOW_FP32=1 casts fp32 to "
                    + o.castDType() + " first");
            ok = false;
        } else if (in != DType.FP16 && in != DType.BF16 && in != DType.FP32) {
            s.add(DTYPE, q.name(), q.name() + " dtype " + in + " is not fp16 or bf16");
            ok = false;
        }
        TensorView kt = r.keyTensor();
        TensorView vt = r.valueTensor();
        for (TensorView t : vt == kt ? new TensorView[] {kt} : new TensorView[] {kt, vt}) {
            if (t != null && t.dtype() != in) {
                s.add(DTYPE, t.name(), t.name() + " dtype " + t.dtype() + " differs from " + q.name() + " dtype " + in);
                ok = false;
            }
        }
        TensorView out = r.out();
        if (out != null && out.dtype() != in && out.dtype() != DType.FP32) {
            s.add(DTYPE, out.name(), out.name() + " dtype " + out.dtype() + " is neither the input dtype " + in
                    + " nor FP32");
        }
        TensorView lse = r.lse();
        if (lse != null && lse.dtype() != DType.FP32) {
            s.add(DTYPE, lse.name(), lse.name() + " dtype " + lse.dtype() + " is not FP32");
        }
        return ok && in == DType.FP32 ? o.castDType() : null;
    }

    private static void headDim(Sink s, Fa2Request r, LayoutRules.Dims d, Fa2Options o) {
        int major = r.device().major();
        int max = maxHeadDim(major, o);
        TensorView kt = r.keyTensor();
        TensorView vt = r.valueTensor();
        boolean fits = fits(s, kt.name(), d.dk(), major, max, o);
        if (vt != kt) {
            fits &= fits(s, vt.name(), d.dv(), major, max, o);
        }
        if (fits && !r.compiledDims().contains(new HeadDims(d.dk(), d.dv()))) {
            List<HeadDims> pairs = new ArrayList<>(r.compiledDims());
            pairs.sort(Comparator.comparingInt(HeadDims::dk).thenComparingInt(HeadDims::dv));
            s.add(HEAD_DIM, kt.name(), "(Dk, Dv) = " + new HeadDims(d.dk(), d.dv()) + " is not compiled; compiled pairs: "
                    + String.join(" ", pairs.stream().map(HeadDims::toString).toList()));
        }
    }

    private static boolean fits(Sink s, String name, int dim, int major, int max, Fa2Options o) {
        boolean ok = true;
        if (dim % 8 != 0) {
            s.add(HEAD_DIM, name, name + " head_dim " + dim + " is not a multiple of 8");
            ok = false;
        }
        if (dim > max) {
            String limit = major >= 9 ? "SM " + major + ".x"
                    : o.allowDGt128() ? "SM " + major + ".x with NSA_FA2_ALLOW_D_GT_128"
                    : "SM " + major + ".x (NSA_FA2_ALLOW_D_GT_128=1 allows up to 256)";
            s.add(HEAD_DIM, name, name + " head_dim " + dim + " > " + max + ", the limit on " + limit);
            ok = false;
        }
        return ok;
    }

    private static void maskParameters(Sink s, Mask m) {
        switch (m) {
            case Mask.Window w when w.w() < 1 -> s.add(SHAPE, "mask", "window length w = " + w.w() + ", must be >= 1");
            case Mask.Chosen c -> s.add(SHAPE, "mask", "FA-2 has no chosen-block mask (" + c + "): the selection "
                    + "branch runs on its own paths");
            case Mask.BlockCausal b -> {
                if (b.l() < 1) {
                    s.add(SHAPE, "mask", "compression block length l = " + b.l() + ", must be >= 1");
                }
                if (b.d() < 1) {
                    s.add(SHAPE, "mask", "compression stride d = " + b.d() + ", must be >= 1");
                }
            }
            default -> {
            }
        }
    }

    private static void causality(Sink s, Fa2Request r, LayoutRules.Dims d, int batch, boolean cuOk) {
        switch (r.keys()) {
            case KeyExtent.Full f -> {
                if (!r.mask().causal()) {
                    s.add(CAUSALITY, "mask", "full-length keys (prefill) need a causal mask (CAUSAL, WINDOW or"
                            + " BLOCK_CAUSAL), got " + r.mask());
                }
            }
            case KeyExtent.Sliced sl -> sliced(s, r, sl, d, batch, cuOk);
            case KeyExtent.Independent i -> {
            }
        }
    }

    private static void sliced(Sink s, Fa2Request r, KeyExtent.Sliced sl, LayoutRules.Dims d, int batch,
                               boolean cuOk) {
        int[] end = sl.sliceEnd();
        int[] pos = sl.queryPos();
        if (batch < 0) {
            return; // B unknown: the shape or cu_seqlens rule already failed
        }
        if (end.length != batch || pos.length != batch) {
            s.add(SHAPE, "keys", "sliced keys give " + end.length + " slice ends and " + pos.length
                    + " query positions, expected B = " + batch);
            return;
        }
        if (r.mask().causal()) {
            return; // a causal-type mask hides whatever the slice holds beyond the query
        }
        String k = r.keyTensor() == null ? "k" : r.keyTensor().name();
        int first = -1;
        int count = 0;
        for (int b = 0; b < batch; b++) {
            if (end[b] != pos[b]) {
                first = first < 0 ? b : first;
                count++;
            }
        }
        if (first >= 0) {
            s.add(CAUSALITY, k, k + " slice of sequence " + first + " ends at " + end[first] + " but its query is at "
                    + pos[first] + (count > 1 ? " (and " + (count - 1) + " more sequences)" : "")
                    + ": unmasked attention over sliced keys needs each slice to end at its query");
        }
        int many = -1;
        int n = 0;
        if (r.varlen() && cuOk) {
            int[] cq = r.cuSeqlensQ();
            for (int b = 0; b < batch && many < 0; b++) {
                if (cq[b + 1] - cq[b] > 1) {
                    many = b;
                    n = cq[b + 1] - cq[b];
                }
            }
        } else if (!r.varlen() && d != null && d.nq() > 1 && batch > 0) {
            many = 0;
            n = d.nq();
        }
        if (many >= 0) {
            String q = r.q().name();
            s.add(CAUSALITY, q, q + " has " + n + " queries in sequence " + many
                    + ": unmasked attention over sliced keys serves one query per sequence");
        }
    }
}
