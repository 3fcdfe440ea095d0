package dev.nsa4j.fa2;

import java.util.Objects;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.fa2.contract.Fa2Contract;
import dev.nsa4j.fa2.contract.Fa2Device;
import dev.nsa4j.fa2.contract.Fa2Options;
import dev.nsa4j.fa2.contract.Fa2Request;
import dev.nsa4j.fa2.contract.Fa2Verdict;
import dev.nsa4j.fa2.contract.KeyExtent;
import dev.nsa4j.fa2.contract.TensorView;
import dev.nsa4j.kernels.DeviceBuffer;
import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.Mask;
import dev.nsa4j.kernels.internal.TensorMaps;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.Shape;

/**
 * One FlashAttention-2 forward: {@link #plan} checks the call against the contract of docs/routing.md
 * ({@link Fa2Contract}, host-side, no device sync) and, when it passes, picks the kernel, the grid and the
 * split-KV factor; {@link #enqueue} launches it. Callers that want fallbacks use {@link Fa2Bridge}.
 *
 * <p>Layouts: dense {@code q [B, Sq, H, Dk]}, {@code k [B, Sk, Hkv, Dk]}, {@code v [B, Sk, Hkv, Dv]},
 * {@code out [B, Sq, H, Dv]}, {@code lse} fp32 {@code [B, Sq, H]}; varlen the same without B, with
 * {@code cu_seqlens} int32 {@code [B + 1]} on the device and a host copy of the same values (the contract
 * reads the host copy; the device copy must hold the same values); kv-packed {@code kv [B, Sk, 2, Hkv, D]}
 * or {@code [nnz_k, 2, Hkv, D]}. Optional {@code q_start}/{@code k_start} int32 {@code [B]} give each
 * sequence's first query/key position (null: 0); they only move the mask, never an address. Output is
 * fp32 or the input dtype. GQA: query head h reads KV head {@code h / (H / Hkv)}.
 */
public final class Fa2Attention {
    private Fa2Attention() {
    }

    /**
     * What to compute.
     *
     * @param mask   which keys each query sees
     * @param keys   how the keys relate to the queries' positions (the causality rule)
     * @param exactP P·V with P as a high and a low half-precision term (parity mode); false: P rounded once
     * @param scale  softmax scale, NaN for {@code 1/sqrt(Dk)}
     * @param splits split-KV factor: 0 = chosen from the grid and the SM count, else 1..{@value Fa2Kernels#MAX_SPLITS}
     */
    public record Spec(Mask mask, KeyExtent keys, boolean exactP, float scale, int splits) {
        public Spec {
            Objects.requireNonNull(mask, "mask");
            Objects.requireNonNull(keys, "keys");
            if (splits < 0 || splits > Fa2Kernels.MAX_SPLITS) {
                throw new NsaArgumentException("splits", "0 (auto) or 1.." + Fa2Kernels.MAX_SPLITS, "splits = " + splits);
            }
        }

        /** Fast mode, default scale, automatic splits. */
        public static Spec of(Mask mask, KeyExtent keys) {
            return new Spec(mask, keys, false, Float.NaN, 0);
        }

        public Spec withExactP(boolean e) {
            return new Spec(mask, keys, e, scale, splits);
        }

        public Spec withScale(float s) {
            return new Spec(mask, keys, exactP, s, splits);
        }

        public Spec withSplits(int n) {
            return new Spec(mask, keys, exactP, scale, n);
        }
    }

    /**
     * The tensors of one call. {@code k} and {@code v} of a kv-packed call are strided views of {@code kv}.
     */
    public record Inputs(DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor kv, DeviceTensor out,
                         DeviceTensor lse, DeviceTensor cuQ, int[] cuQHost, DeviceTensor cuK, int[] cuKHost,
                         DeviceTensor qStart, DeviceTensor kStart) {

        public static Inputs dense(DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor out, DeviceTensor lse) {
            return new Inputs(q, k, v, null, out, lse, null, null, null, null, null, null);
        }

        public static Inputs varlen(DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor out, DeviceTensor lse,
                                    DeviceTensor cuQ, int[] cuQHost, DeviceTensor cuK, int[] cuKHost) {
            return new Inputs(q, k, v, null, out, lse, cuQ, cuQHost, cuK, cuKHost, null, null);
        }

        /** {@code kv [B, Sk, 2, Hkv, D]} (dense) or {@code [nnz_k, 2, Hkv, D]} (varlen: pass the cu arrays). */
        public static Inputs kvPacked(DeviceTensor q, DeviceTensor kv, DeviceTensor out, DeviceTensor lse,
                                      DeviceTensor cuQ, int[] cuQHost, DeviceTensor cuK, int[] cuKHost) {
            int pair = kv.rank() - 3;
            if (pair < 1 || kv.dim(pair) != 2) {
                throw new NsaArgumentException("kv", "kv [B, Sk, 2, Hkv, D] or [nnz_k, 2, Hkv, D]", "kv is " + kv.shape());
            }
            return new Inputs(q, half(kv, pair, 0), half(kv, pair, 1), kv, out, lse, cuQ, cuQHost, cuK, cuKHost,
                    null, null);
        }

        public Inputs withStarts(DeviceTensor qs, DeviceTensor ks) {
            return new Inputs(q, k, v, kv, out, lse, cuQ, cuQHost, cuK, cuKHost, qs, ks);
        }

        boolean varlen() {
            return cuQ != null || cuQHost != null;
        }

        private static DeviceTensor half(DeviceTensor kv, int pair, int which) {
            int[] dims = new int[kv.rank() - 1];
            long[] strides = new long[kv.rank() - 1];
            for (int a = 0, o = 0; a < kv.rank(); a++) {
                if (a != pair) {
                    dims[o] = kv.dim(a);
                    strides[o++] = kv.stride(a);
                }
            }
            long addr = kv.address() + which * kv.stride(pair) * kv.dtype().byteSize();
            return DeviceTensor.wrap(addr, kv.dtype(), Shape.strided(dims, strides));
        }
    }

    /** One kernel launch: the symbol, the grid, threads per CTA and dynamic shared memory. */
    public record Launch(String symbol, int gridX, int gridY, int gridZ, int threads, int smemBytes) {
    }

    /**
     * A checked call: the verdict and, when it passed, the params, the launch, the kernel layout and why
     * ({@link Fa2Layout#choose}), the split-KV factor and the workspace the split-KV path needs
     * ({@code workspaceBytes}, 0 without splits).
     */
    public record Plan(Fa2Verdict verdict, DType dtype, Fa2Params params, Launch launch, Fa2Layout.Choice layout,
                       int splits, long workspaceBytes) {
        /** True when the contract passed and the call needs no cast (launchable as is). */
        public boolean launchable() {
            return verdict.ok() && verdict.castTo().isEmpty();
        }

        public String symbol() {
            return launch == null ? null : launch.symbol();
        }

        public int gridX() {
            return launch == null ? 0 : launch.gridX();
        }

        public int gridY() {
            return launch == null ? 0 : launch.gridY();
        }

        public int gridZ() {
            return launch == null ? 0 : launch.gridZ();
        }

        public int smemBytes() {
            return launch == null ? 0 : launch.smemBytes();
        }
    }

    /** Checks {@code in} against the contract on {@code device} and plans the launch. Never touches the device. */
    public static Plan plan(DeviceInfo device, Inputs in, Spec spec, Fa2Options options) {
        Objects.requireNonNull(in.q(), "q");
        if (in.varlen()) {
            deviceOffsets("cu_seqlens_q", in.cuQ(), in.cuQHost());
            deviceOffsets("cu_seqlens_k", in.cuK(), in.cuKHost());
        }
        int batchGuess = in.varlen() ? in.cuQHost().length - 1 : in.q().rank() > 0 ? in.q().dim(0) : 0;
        positions("q_start", in.qStart(), batchGuess);
        positions("k_start", in.kStart(), batchGuess);
        Fa2Request req = request(device, in, spec);
        Fa2Verdict verdict = Fa2Contract.check(req, options);
        if (!verdict.ok() || verdict.castTo().isPresent()) {
            return new Plan(verdict, in.q() == null ? null : in.q().dtype(), null, null, null, 0, 0);
        }
        boolean varlen = in.varlen();
        DeviceTensor q = in.q(), k = in.k(), v = in.v(), out = in.out(), lse = in.lse();
        int lead = varlen ? 0 : 1;   // index of the token axis
        int batch = varlen ? in.cuQHost().length - 1 : q.dim(0);
        int heads = q.dim(lead + 1), kvHeads = k.dim(lead + 1), dk = q.dim(lead + 2), dv = v.dim(lead + 2);
        int maxQ = 0, maxK = 0, rows;
        if (varlen) {
            for (int b = 0; b < batch; b++) {
                maxQ = Math.max(maxQ, in.cuQHost()[b + 1] - in.cuQHost()[b]);
                maxK = Math.max(maxK, in.cuKHost()[b + 1] - in.cuKHost()[b]);
            }
            rows = q.dim(0);
        } else {
            maxQ = q.dim(1);
            maxK = k.dim(1);
            rows = batch * maxQ;
        }
        Fa2Mask mask = Fa2Mask.of(spec.mask());
        int window = spec.mask() instanceof Mask.Window w ? w.w() : 0;
        int cmpLen = spec.mask() instanceof Mask.BlockCausal bc ? bc.l() : 0;
        int cmpStride = spec.mask() instanceof Mask.BlockCausal bc ? bc.d() : 0;
        float scale = Float.isNaN(spec.scale()) ? (float) (1.0 / Math.sqrt(dk)) : spec.scale();
        if (!Float.isFinite(scale)) {
            throw new NsaArgumentException("scale", "scale finite", "scale is " + spec.scale());
        }
        DType dtype = q.dtype();
        int bm = Fa2Kernels.blockM(dk, dv);
        int mBlocks = (maxQ + bm - 1) / bm;
        int kBlocks = (maxK + Fa2Kernels.BLOCK_N - 1) / Fa2Kernels.BLOCK_N;
        int splits = spec.splits() > 0 ? spec.splits() : autoSplits((long) mBlocks * heads * batch, kBlocks, device.smCount());
        splits = Math.max(1, Math.min(splits, Math.max(1, kBlocks)));
        while (splits > 1 && (long) batch * splits > 65535) {
            splits--;
        }
        if (batch > 65535 || heads > 65535) {
            throw new NsaArgumentException("q", "B and H at most 65535 (the CUDA grid)", "B = " + batch + ", H = " + heads);
        }
        long lseBatch = 0, lseTok = 0;
        if (lse != null) {
            lseBatch = varlen ? 0 : lse.stride(0);
            lseTok = lse.stride(lead);
        }
        Fa2Params p = new Fa2Params(q.address(), k.address(), v.address(), out.address(), lse == null ? 0 : lse.address(),
                addr(in.cuQ()), addr(in.cuK()), addr(in.qStart()), addr(in.kStart()), 0, 0,
                varlen ? 0 : q.stride(0), q.stride(lead), q.stride(lead + 1),
                varlen ? 0 : k.stride(0), k.stride(lead), k.stride(lead + 1),
                varlen ? 0 : v.stride(0), v.stride(lead), v.stride(lead + 1),
                varlen ? 0 : out.stride(0), out.stride(lead), out.stride(lead + 1),
                lseBatch, lseTok,
                batch, heads, kvHeads, maxQ, varlen ? 0 : maxK, rows, dk, dv, mask.code(), window, cmpLen, cmpStride,
                out.dtype() == DType.FP32 ? 1 : 0, 1, scale, (float) (scale * (1.0 / Math.log(2.0))));
        long ws = splits > 1 ? (long) splits * rows * heads * (dv + 1L) * Float.BYTES : 0;
        long keysPerRow = window > 0 ? Math.min(window, maxK) : maxK;
        Fa2Layout.Choice layout = Fa2Layout.choose(device, options, tmaCall(in, dtype, dk, dv, splits, keysPerRow,
                batch));
        Launch launch;
        if (layout.layout() == Fa2Layout.HOPPER) {
            int hb = Fa2Layout.HOPPER_BLOCK_M;
            launch = new Launch(Fa2Kernels.hopper(mask, dtype, spec.exactP()), (maxQ + hb - 1) / hb, heads, batch,
                    Fa2Layout.HOPPER_THREADS, Fa2Layout.HOPPER_SMEM_BYTES);
        } else {
            launch = new Launch(Fa2Kernels.forward(mask, dtype, dk, dv, spec.exactP()), mBlocks, heads, batch * splits,
                    Fa2Kernels.THREADS, Fa2Kernels.smemBytes(dk, dv));
        }
        return new Plan(verdict, dtype, p, launch, layout, splits, ws);
    }

    /**
     * The call as the layout choice reads it: q, k and v as rows of {@code [rows, heads, d]} (varlen: their token
     * rows; dense: {@code b · S + i}, which needs each batch's rows to follow the previous batch's).
     */
    private static Fa2Layout.Call tmaCall(Inputs in, DType dtype, int dk, int dv, int splits, long keysPerRow,
                                          int batch) {
        boolean dense = !in.varlen();
        int lead = dense ? 1 : 0, b = dense ? batch : 1;
        String notRows = null;
        if (dense && batch > 1) {
            notRows = batchGap("q", in.q());
            notRows = notRows != null ? notRows : batchGap("k", in.k());
            notRows = notRows != null ? notRows : batchGap("v", in.v());
        }
        return new Fa2Layout.Call(dtype, dk, dv, splits, keysPerRow, rows("q", in.q(), lead, b),
                rows("k", in.k(), lead, b), rows("v", in.v(), lead, b), notRows);
    }

    /** Why a dense {@code [B, S, H, D]} tensor's rows are not {@code b · S + i}, or null when they are. */
    private static String batchGap(String name, DeviceTensor t) {
        long follow = t.dim(1) * t.stride(1);
        return t.stride(0) == follow ? null : "dense " + name + ": batch stride " + t.stride(0) + " != S · token stride "
                + follow + ", its rows are no TMA rows";
    }

    private static TensorMaps.Rows rows(String name, DeviceTensor t, int lead, int batch) {
        return new TensorMaps.Rows(name, t.dtype(), t.address(), (long) batch * t.dim(lead), t.dim(lead + 1),
                t.dim(lead + 2), t.stride(lead), t.stride(lead + 1));
    }

    /**
     * Enqueues a launchable plan on {@code stream}. {@code workspace} holds at least {@link Plan#workspaceBytes}
     * (may be null when that is 0); it must stay allocated until the stream has run the kernels.
     */
    public static void enqueue(Fa2Module module, long stream, Plan plan, DeviceBuffer workspace) {
        if (!plan.launchable()) {
            throw new IllegalStateException("FA-2 plan is not launchable: " + plan.verdict().reason());
        }
        Fa2Params p = plan.params();
        if (p.rows() == 0 || plan.gridX() == 0) {
            return;
        }
        if (plan.splits() > 1) {
            if (workspace == null || workspace.byteSize() < plan.workspaceBytes()) {
                throw new NsaArgumentException("workspace", "workspace of at least " + plan.workspaceBytes() + " bytes",
                        workspace == null ? "no workspace" : workspace.byteSize() + " bytes");
            }
            long oAcc = workspace.address();
            long lseAcc = oAcc + (long) plan.splits() * p.rows() * p.heads() * p.dv() * Float.BYTES;
            p = p.withSplits(plan.splits(), oAcc, lseAcc);
        }
        byte[] bytes = p.toBytes();
        Launch l = plan.launch();
        if (plan.layout().layout() == Fa2Layout.HOPPER) {
            Fa2Layout.Choice c = plan.layout();
            module.kernels().launchSymbol(l.symbol(), l.gridX(), l.gridY(), l.gridZ(), l.threads(), l.smemBytes(),
                    stream, bytes, TensorMaps.encode(c.q(), Fa2Layout.HOPPER_Q_BOX),
                    TensorMaps.encode(c.k(), Fa2Layout.HOPPER_KV_BOX), TensorMaps.encode(c.v(), Fa2Layout.HOPPER_KV_BOX));
            return;
        }
        module.kernels().launchSymbol(l.symbol(), l.gridX(), l.gridY(), l.gridZ(), l.threads(), l.smemBytes(), stream,
                bytes);
        if (plan.splits() > 1) {
            long items = (long) p.rows() * p.heads();
            int warps = Fa2Kernels.THREADS / 32;
            module.kernels().launchSymbol(Fa2Kernels.combine(plan.dtype()), (int) ((items + warps - 1) / warps), 1, 1,
                    Fa2Kernels.THREADS, 0, stream, bytes);
        }
    }

    /**
     * Splits so that a small grid (decode: few query tiles, long keys) still fills the GPU: about two CTAs per
     * SM, each split keeping at least two key blocks.
     */
    static int autoSplits(long ctas, int keyBlocks, int smCount) {
        long target = 2L * smCount;
        if (ctas >= target || keyBlocks < 4) {
            return 1;
        }
        long s = Math.min(target / Math.max(1, ctas), keyBlocks / 2);
        return (int) Math.max(1, Math.min(s, Fa2Kernels.MAX_SPLITS));
    }

    /** A varlen call needs the device offsets and their host copy, of one length (int32 [B + 1]). */
    private static void deviceOffsets(String name, DeviceTensor dev, int[] host) {
        if (dev == null || host == null) {
            throw new NsaArgumentException(name, "varlen calls pass " + name + " on the device and its host copy",
                    (dev == null ? "device tensor" : "host copy") + " missing");
        }
        if (dev.dtype() != DType.INT32 || dev.rank() != 1 || dev.dim(0) != host.length || !dev.shape().isContiguous()) {
            throw new NsaArgumentException(name, name + " int32 [B + 1], contiguous, as long as its host copy",
                    "device " + dev + ", host copy of length " + host.length);
        }
        if (host.length > 0 && (dev.address() & 3) != 0) {
            throw new NsaArgumentException(name, name + " 4-byte aligned", "address 0x" + Long.toHexString(dev.address()));
        }
    }

    private static void positions(String name, DeviceTensor t, int batch) {
        if (t != null && (t.dtype() != DType.INT32 || t.rank() != 1 || t.dim(0) != batch || !t.shape().isContiguous()
                || (batch > 0 && (t.address() & 3) != 0))) {
            throw new NsaArgumentException(name, name + " int32 [B], contiguous, 4-byte aligned", "got " + t + " for B = " + batch);
        }
    }

    static Fa2Request request(DeviceInfo device, Inputs in, Spec spec) {
        Fa2Device dev = Fa2Device.of(device.ccMajor(), device.ccMinor());
        Fa2Request r;
        if (in.kv() != null) {
            r = in.varlen() ? Fa2Request.kvPackedVarlen(dev, view("q", in.q()), view("kv", in.kv()), view("out", in.out()),
                    in.cuQHost(), in.cuKHost())
                    : Fa2Request.kvPacked(dev, view("q", in.q()), view("kv", in.kv()), view("out", in.out()));
        } else if (in.varlen()) {
            r = Fa2Request.varlen(dev, view("q", in.q()), view("k", in.k()), view("v", in.v()), view("out", in.out()),
                    in.cuQHost(), in.cuKHost());
        } else {
            r = Fa2Request.dense(dev, view("q", in.q()), view("k", in.k()), view("v", in.v()), view("out", in.out()));
        }
        if (in.lse() != null) {
            r = r.withLse(view("lse", in.lse()));
        }
        return r.withMask(spec.mask()).withKeys(spec.keys());
    }

    static TensorView view(String name, DeviceTensor t) {
        return t == null ? null : new TensorView(name, t.dtype(), t.shape().dims(), t.shape().strides(), t.address());
    }

    private static long addr(DeviceTensor t) {
        return t == null ? 0 : t.address();
    }
}
