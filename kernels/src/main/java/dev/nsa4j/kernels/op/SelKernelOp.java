package dev.nsa4j.kernels.op;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.kernels.CudaException;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.Mask;
import dev.nsa4j.kernels.internal.Attention;
import dev.nsa4j.kernels.internal.AttnParams;
import dev.nsa4j.kernels.internal.AttnSpec;
import dev.nsa4j.kernels.internal.AttnWalk;
import dev.nsa4j.kernels.internal.TcGeometry;
import dev.nsa4j.kernels.internal.TcModule;
import dev.nsa4j.kernels.internal.TensorMaps;
import dev.nsa4j.tensor.DType;

/**
 * The selection branch on {@code sel-kernel} (docs/routing.md): the group-centric tensor-core kernel of
 * {@link TcModule}, in which the h query heads of a KV group share one load of each chosen block. It computes what
 * {@code sdpa-masked} with the chosen-block mask computes (set semantics on the indices: any order, duplicates,
 * negative entries and blocks after the query ignored), o and lse, with the reference's argument layout
 * ({@link AttentionArgs}, {@link AttnParams}).
 * <ul>
 * <li>{@link #unsupported} is the plan-time check (dtype, head dims, l' a multiple of 64 with n·l'/64 at most 256
 *     tiles, n, device, grid, shared memory): a shape it refuses
 *     is the caller's route decision, and {@link #plan} refuses to build the op for it.</li>
 * <li>Each launch first validates the call's tensors host-side ({@link #prepare}): shapes and dtypes no path can
 *     serve throw an {@link NsaArgumentException} naming the tensor and the rule; tensors the kernel's vector
 *     accesses cannot follow (alignment, strides: {@link Refusal}) run the call on the fallback op
 *     ({@code sdpa-masked}), reported by {@link OpRun#fellBack(String, String, String)}; so does a failed launch.</li>
 * </ul>
 * Three layouts compute the same function ({@link SelLayout}): {@link SelLayout#TOKEN} (one query token per CTA),
 * {@link SelLayout#UNION} (four consecutive tokens per CTA, which stream the union of their chosen blocks once; warp w
 * computes token w) and, on SM 9.0, {@link SelLayout#TMA} (one token per one-warp CTA, K and V tiles loaded by the
 * tensor memory accelerator through two tensor maps encoded per call, {@link TensorMaps}).
 * {@link #plan(TcModule, Spec, Sequences, Sequences, ReferenceAttentionOp)} picks by {@link SelLayout#forDevice}.
 * Launch geometry (grid, threads, shared memory) is {@link TcGeometry}'s.
 */
public final class SelKernelOp implements DeviceOp<AttentionArgs> {
    /** docs/routing.md's name of the path. */
    public static final String PATH = "sel-kernel";
    /** The largest n the kernel reads ({@code kMaxBlocks} in sel_attention.cu). */
    public static final int MAX_N = TcGeometry.SEL_MAX_BLOCKS;
    private static final int MAX_GRID_Y = 65535;

    /**
     * The planned computation: q, k, v in {@code dtype}, {@code heads} query heads over {@code kvHeads} KV groups,
     * head dims (Dk, Dv), chosen blocks of l' = {@code selBlock} tokens, n = {@code nSel} per row.
     *
     * @param exactP P·V with P as a high and a low half-precision term (the NSA forward's mode); false: P rounded
     *               once to the input dtype (fast mode)
     */
    public record Spec(DType dtype, int heads, int kvHeads, int dk, int dv, int selBlock, int nSel, float scale,
                       boolean exactP) {
        /** @throws NsaArgumentException for sizes no path can serve */
        public Spec {
            Objects.requireNonNull(dtype, "dtype");
            if (heads < 1 || kvHeads < 1 || heads % kvHeads != 0) {
                throw new NsaArgumentException("q", "H >= 1, G >= 1 and H % G == 0", "H = " + heads + ", G = " + kvHeads);
            }
            if (dk < 1 || dv < 1 || selBlock < 1 || nSel < 1) {
                throw new NsaArgumentException("sel-kernel", "Dk, Dv, l' and n >= 1",
                        "Dk = " + dk + ", Dv = " + dv + ", l' = " + selBlock + ", n = " + nSel);
            }
            if (!Float.isFinite(scale)) {
                throw new NsaArgumentException("scale", "finite softmax scale", "scale is " + scale);
            }
        }

        /** Query heads per KV group. */
        public int h() {
            return heads / kvHeads;
        }

        /** The kernel's symbol in {@code layout}. */
        public String symbol(SelLayout layout) {
            return switch (layout) {
                case TOKEN -> TcModule.selKernelSymbol(dtype, dk, dv, exactP);
                case UNION -> TcModule.selUnionSymbol(dtype, dk, dv, exactP);
                case TMA -> TcModule.selTmaSymbol(dtype, dk, dv, exactP);
            };
        }

        /**
         * Dynamic shared memory per block in {@code layout} ({@link TcGeometry#selSmemBytes},
         * {@link TcGeometry#selUnionSmemBytes}, {@link TcGeometry#selTmaSmemBytes}).
         */
        public int smemBytes(SelLayout layout) {
            return switch (layout) {
                case TOKEN -> TcGeometry.selSmemBytes(dk, dv);
                case UNION -> TcGeometry.selUnionSmemBytes(dk, dv);
                case TMA -> TcGeometry.selTmaSmemBytes(dk, dv);
            };
        }

        /** The reference attention's spec for the same function: the chosen-block mask, walk RANGES, this scale. */
        public AttnSpec reference() {
            return AttnSpec.chosen(selBlock).withWalk(AttnWalk.RANGES).withScale(scale);
        }

        /** {@code sel-kernel exact-P union bf16 dk128 dv128}. */
        public String describe(SelLayout layout) {
            return PATH + (exactP ? " exact-P " : " ") + layout.label() + " " + TcModule.dtypeName(dtype) + " dk" + dk
                    + " dv" + dv;
        }
    }

    /**
     * A host-validated call: the kernel's params, and the rules its tensors break (empty: it can launch).
     *
     * @param params the launch's struct (the reference attention's layout)
     */
    public record Prepared(AttnParams params, List<Refusal> refusals) {
        public Prepared {
            refusals = List.copyOf(refusals);
        }

        /** True when the kernel can run the call. */
        public boolean launchable() {
            return refusals.isEmpty();
        }
    }

    private final TcModule tc;
    private final Spec spec;
    private final SelLayout layout;
    private final Sequences queries;
    private final Sequences keys;
    private final ReferenceAttentionOp fallback;

    private SelKernelOp(TcModule tc, Spec spec, SelLayout layout, Sequences queries, Sequences keys,
                        ReferenceAttentionOp fallback) {
        this.tc = tc;
        this.spec = spec;
        this.layout = layout;
        this.queries = queries;
        this.keys = keys;
        this.fallback = fallback;
    }

    /** Every plan-time rule {@code spec} breaks on {@code device} (empty: the kernel can serve the shape). */
    public static List<Refusal> refusals(DeviceInfo device, Spec spec) {
        List<Refusal> r = new ArrayList<>();
        TcLayout.deviceAndDtype(r, device, spec.dtype(), "q, k and v", "sel-kernel");
        TcModule.HeadDims hd = new TcModule.HeadDims(spec.dk(), spec.dv());
        if (!TcModule.SEL_HEAD_DIMS.contains(hd)) {
            r.add(new Refusal(Refusal.HEAD_DIM, "(Dk, Dv) = " + hd + " is not one of " + TcModule.SEL_HEAD_DIMS));
        } else if (spec.dk() == 256 && device.ccMajor() != 9) {
            r.add(new Refusal(Refusal.HEAD_DIM, "(Dk, Dv) = (256, 256) runs on SM 9.x only; this device is "
                    + device.ccMajor() + "." + device.ccMinor()));
        }
        if (spec.selBlock() % TcGeometry.SEL_TILE_KEYS != 0) {
            r.add(new Refusal(Refusal.SEL_BLOCK, "l' = " + spec.selBlock() + " is not a multiple of "
                    + TcGeometry.SEL_TILE_KEYS + " (the kernel's key tile)"));
        }
        if (spec.nSel() > MAX_N) {
            r.add(new Refusal(Refusal.N, "n = " + spec.nSel() + " exceeds " + MAX_N));
        } else if (TcGeometry.selTiles(spec.nSel(), spec.selBlock()) > TcGeometry.SEL_MAX_TILES) {
            r.add(new Refusal(Refusal.SEL_BLOCK, "n·l'/64 = " + TcGeometry.selTiles(spec.nSel(), spec.selBlock())
                    + " key tiles per row exceed " + TcGeometry.SEL_MAX_TILES + " (the kernel's tile list)"));
        }
        long gy = TcGeometry.selGridY(spec.kvHeads(), spec.h());
        if (gy > MAX_GRID_Y) {
            r.add(new Refusal(Refusal.GRID, "G·ceil(h/16) = " + gy + " exceeds " + MAX_GRID_Y));
        }
        boolean headDimsOk = r.stream().noneMatch(x -> x.rule().equals(Refusal.HEAD_DIM));
        if (headDimsOk && SelLayout.fitting(device, spec).isEmpty()) {   // one layout that fits serves every length
            for (SelLayout layout : List.of(SelLayout.TOKEN, SelLayout.UNION)) {
                r.add(new Refusal(Refusal.SHARED_MEMORY, "the " + layout.label() + " layout needs "
                        + spec.smemBytes(layout) + " bytes of dynamic shared memory per block, the device allows "
                        + SelLayout.smemAllowed(device, layout)));
            }
        }
        return List.copyOf(r);
    }

    /** Why the kernel cannot serve {@code spec} on {@code device} (every rule, with the values), or null. */
    public static String unsupported(DeviceInfo device, Spec spec) {
        return Refusal.reason(refusals(device, spec));
    }

    /**
     * The op for {@code spec} over planned sequences, in the layout {@link SelLayout#forDevice} picks for the keys' longest
     * sequence on the module's device (the TMA layout allowed).
     *
     * @see #plan(TcModule, Spec, SelLayout, Sequences, Sequences, ReferenceAttentionOp)
     */
    public static SelKernelOp plan(TcModule tc, Spec spec, Sequences queries, Sequences keys,
                                   ReferenceAttentionOp fallback) {
        Objects.requireNonNull(tc, "tc");
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(keys, "keys");
        return plan(tc, spec, SelLayout.forDevice(tc.device(), spec, keys.maxLen(), true), queries, keys, fallback);
    }

    /**
     * The op for {@code spec} over planned sequences in {@code layout}.
     *
     * @param fallback the op a call the kernel cannot serve runs on: the reference attention with
     *                 {@link Spec#reference()}'s mask and scale ({@code sdpa-masked}) over the same sequences
     * @throws NsaArgumentException when {@link #unsupported} refuses the shape, or the fallback computes another
     *                              function
     */
    public static SelKernelOp plan(TcModule tc, Spec spec, SelLayout layout, Sequences queries, Sequences keys,
                                   ReferenceAttentionOp fallback) {
        Objects.requireNonNull(tc, "tc");
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(layout, "layout");
        Objects.requireNonNull(queries, "queries");
        Objects.requireNonNull(keys, "keys");
        Objects.requireNonNull(fallback, "fallback");
        String why = unsupported(tc.device(), spec);
        if (why != null) {
            throw new NsaArgumentException(PATH, "a shape sel-kernel serves (SelKernelOp.unsupported)", why);
        }
        if (!SelLayout.serves(tc.device(), spec, layout)) {
            throw new NsaArgumentException(PATH, "a layout that serves the shape on the device",
                    layout == SelLayout.TMA ? "the tma layout: " + SelLayout.whyNotTma(tc.device(), spec)
                            : "the " + layout.label() + " layout needs " + spec.smemBytes(layout)
                            + " bytes, the device allows " + SelLayout.smemAllowed(tc.device(), layout));
        }
        AttnSpec f = fallback.spec();
        if (!(f.mask() instanceof Mask.Chosen c) || c.selBlock() != spec.selBlock()
                || f.scaleFor(spec.dk()) != spec.scale()) {
            throw new NsaArgumentException("fallback", "the chosen-block mask with l' and the scale of the spec",
                    "fallback spec " + f + ", sel-kernel spec " + spec);
        }
        return new SelKernelOp(tc, spec, layout, queries, keys, fallback);
    }

    /**
     * Validates one call host-side (no CUDA call) against the reference attention's rules and the planned shape,
     * then the kernel's layout rules.
     *
     * @throws NsaArgumentException naming the tensor and the rule, for tensors no path can serve (shapes, dtypes,
     *                              a last axis that is not contiguous, pointers not element-aligned)
     */
    public static Prepared prepare(Spec spec, Sequences queries, Sequences keys, AttentionArgs a) {
        Objects.requireNonNull(a, "args");
        Attention.Launch l = Attention.plan(a.q(), a.k(), a.v(), queries.device(), keys.device(), a.blocks(),
                spec.reference(), a.out(), a.lse());
        planned("q", a.q().dtype() == spec.dtype(), "q in the planned dtype " + spec.dtype(), "q is " + a.q().dtype());
        dim("q", a.q(), 0, queries.total(), "q [nnz_q, H, Dk] with nnz_q of the planned sequences");
        dim("q", a.q(), 1, spec.heads(), "q [nnz_q, H, Dk] with the planned H");
        dim("q", a.q(), 2, spec.dk(), "q [nnz_q, H, Dk] with the planned Dk");
        dim("k", a.k(), 0, keys.total(), "k [nnz_k, G, Dk] with nnz_k of the planned sequences");
        dim("k", a.k(), 1, spec.kvHeads(), "k [nnz_k, G, Dk] with the planned G");
        dim("v", a.v(), 2, spec.dv(), "v [nnz_k, G, Dv] with the planned Dv");
        dim("blocks", a.blocks(), 2, spec.nSel(), "blocks [nnz_q, G, n] with the planned n");
        List<Refusal> r = new ArrayList<>();
        if (l.rows() > 0) {
            TcLayout.rows16(r, "q", a.q());
            if (a.k().dim(0) > 0) {
                TcLayout.rows16(r, "k", a.k());
                TcLayout.rows16(r, "v", a.v());
            }
            TcLayout.pairs(r, "out", a.out());
        }
        return new Prepared(l.params(), r);
    }

    private static void dim(String name, DeviceTensor t, int axis, int want, String rule) {
        planned(name, t.dim(axis) == want, rule, "dimension " + axis + " of " + t.shape() + " is " + t.dim(axis)
                + ", planned " + want);
    }

    private static void planned(String name, boolean ok, String rule, String actual) {
        if (!ok) {
            throw new NsaArgumentException(name, rule, actual);
        }
    }

    public Spec spec() {
        return spec;
    }

    /** The planned layout. */
    public SelLayout layout() {
        return layout;
    }

    @Override
    public String describe() {
        return spec.describe(layout);
    }

    @Override
    public OpRun launch(CudaStream stream, AttentionArgs a, Workspace workspace) {
        Prepared p = prepare(spec, queries, keys, a);
        if (!p.launchable()) {
            return fallBack(stream, a, workspace, Refusal.reason(p.refusals()), "contract");
        }
        AttnParams params = p.params();
        if (params.nnzQ() == 0) {
            return OpRun.ran(PATH);
        }
        int gridY = (int) TcGeometry.selGridY(spec.kvHeads(), spec.h());
        // keys of no rows: nothing to map (every row sees no key); the token layout writes the same zeros and -inf
        SelLayout run = layout == SelLayout.TMA && a.k().dim(0) == 0 ? SelLayout.TOKEN : layout;
        try {
            if (run == SelLayout.TMA) {
                byte[] mapK = TensorMaps.encode(mapRows("k", a.k()), TcGeometry.SEL_TMA_TILE_KEYS);
                byte[] mapV = TensorMaps.encode(mapRows("v", a.v()), TcGeometry.SEL_TMA_TILE_KEYS);
                tc.kernels().launchSymbol(spec.symbol(run), params.nnzQ(), gridY, 1, TcGeometry.SEL_TMA_THREADS,
                        spec.smemBytes(run), stream.handle(), params.toBytes(), mapK, mapV);
            } else {
                int gridX = run == SelLayout.UNION ? TcGeometry.selUnionGridX(params.nnzQ()) : params.nnzQ();
                tc.kernels().launchSymbol(spec.symbol(run), gridX, gridY, 1, TcGeometry.THREADS, spec.smemBytes(run),
                        stream.handle(), params.toBytes());
            }
        } catch (IllegalArgumentException e) {   // a tensor map's rule that prepare's checks did not already name
            return fallBack(stream, a, workspace, e.getMessage(), "contract");
        } catch (CudaException e) {
            return fallBack(stream, a, workspace, "sel-kernel failed: " + e.getMessage(), "kernel");
        }
        return OpRun.ran(PATH);
    }

    /**
     * The tensor-map view of k or v ({@code [nnz_k, G, D]}): a stride over an axis of one row is never followed, so
     * it is replaced by the packed one, which the driver accepts.
     */
    static TensorMaps.Rows mapRows(String name, DeviceTensor t) {
        long head = t.dim(1) > 1 ? t.stride(1) : t.dim(2);
        long row = t.dim(0) > 1 ? t.stride(0) : (long) t.dim(1) * head;
        return new TensorMaps.Rows(name, t.dtype(), t.address(), t.dim(0), t.dim(1), t.dim(2), row, head);
    }

    private OpRun fallBack(CudaStream stream, AttentionArgs a, Workspace ws, String why, String cause) {
        fallback.launch(stream, a, ws);
        return OpRun.fellBack(fallback.path(), "sel-kernel blocked: " + why, cause);
    }

    @Override
    public String toString() {
        return describe();
    }
}
