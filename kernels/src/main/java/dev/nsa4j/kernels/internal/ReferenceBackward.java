package dev.nsa4j.kernels.internal;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.tensor.DType;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The reference GPU backward of one NSA call (decisions D43), on one stream: K̃ / Ṽ by compress_avg or the MLP,
 * each branch's forward by the reference attention (fp32 o_c and lse_c), the gates' backward, each branch's dq (the
 * three summed in the fixed order cmp, sel, win) and dk / dv, and phi's backward of dK̃ / dṼ to the raw k_cmp / v_cmp
 * (a raw token in no compressed block, or a sequence shorter than l, gets 0) and, for phi = mlp, to its parameters.
 * Everything fp32, contiguous, varlen ({@code [nnz, ..]} with the {@link CompressionPlan}'s cu arrays), so it is the
 * exact mode other backward kernels are held to. Deterministic: no atomics, fixed orders. The workspace
 * (K̃ / Ṽ and their gradients, three o_c, lse_c and dL/do_c, one delta) is allocated stream-ordered and freed when
 * the work is enqueued.
 */
public final class ReferenceBackward {
    /** A branch's keys and values (or their gradients): {@code [rows, G, Dk]} and {@code [rows, G, Dv]}. */
    public record Kv(DeviceTensor k, DeviceTensor v) {
        public Kv {
            Objects.requireNonNull(k, "k");
            Objects.requireNonNull(v, "v");
        }
    }

    /**
     * The call's sizes.
     *
     * @param scale the softmax scale of every branch
     */
    public record Dims(int heads, int kvGroups, int dk, int dv, int blockLen, int stride, int selBlock, int nSel,
                       int window, float scale) {
    }

    /**
     * The inputs, fp32 contiguous: q {@code [nnz, H, Dk]}, each branch's raw k / v {@code [nnz, G, D]}, the gates the
     * forward mixed with {@code [nnz, H, 3]}, dL/do {@code [nnz, H, Dv]}, and the forward's chosen blocks
     * {@code int32 [nnz, G, n]}.
     */
    public record Inputs(DeviceTensor q, Kv cmp, Kv sel, Kv win, DeviceTensor gates, DeviceTensor gradO,
                         DeviceTensor indices) {
    }

    /** The gradients, fp32 contiguous, in the inputs' shapes: written, never accumulated into. */
    public record Grads(DeviceTensor dq, Kv cmp, Kv sel, Kv win, DeviceTensor dGates) {
    }

    /** The gradients of one compression MLP's parameters, fp32, in the weights' shapes. */
    public record MlpGrads(DeviceTensor pos, DeviceTensor w1, DeviceTensor b1, DeviceTensor w2, DeviceTensor b2) {
    }

    /** phi = mlp: K̃'s and Ṽ's MLP weights on the device and where their gradients go. */
    public record Mlp(CompressMlp.Weights k, CompressMlp.Weights v, MlpGrads dk, MlpGrads dv) {
    }

    private ReferenceBackward() {
    }

    /** {@link #run(KernelModule, CudaStream, Dims, CompressionPlan, Inputs, Grads, Mlp)} for phi = avg. */
    public static void run(KernelModule m, CudaStream stream, Dims d, CompressionPlan plan, Inputs in, Grads out) {
        run(m, stream, d, plan, in, out, null);
    }

    /**
     * Enqueues the backward on {@code stream}.
     *
     * @throws NsaArgumentException for a tensor of the wrong dtype or shape, before anything is enqueued
     */
    public static void run(KernelModule m, CudaStream stream, Dims d, CompressionPlan plan, Inputs in, Grads out,
                           Mlp mlp) {
        int nnz = plan.nnz(), nnzCmp = plan.nnzCmp(), h = d.heads(), g = d.kvGroups();
        check("q", in.q(), nnz, h, d.dk());
        checkKv("cmp", in.cmp(), nnz, g, d);
        checkKv("sel", in.sel(), nnz, g, d);
        checkKv("win", in.win(), nnz, g, d);
        check("gates", in.gates(), nnz, h, 3);
        check("grad_o", in.gradO(), nnz, h, d.dv());
        Checks.dtype("indices", in.indices().dtype(), List.of(DType.INT32), "int32");
        Checks.rank("indices", in.indices(), 3, "[nnz, G, n]");
        Checks.dim("indices", in.indices(), 0, nnz, "indices [nnz, G, n]");
        Checks.dim("indices", in.indices(), 1, g, "indices [nnz, G, n]");
        Checks.dim("indices", in.indices(), 2, d.nSel(), "indices [nnz, G, n]");
        check("dq", out.dq(), nnz, h, d.dk());
        checkKv("d_cmp", out.cmp(), nnz, g, d);
        checkKv("d_sel", out.sel(), nnz, g, d);
        checkKv("d_win", out.win(), nnz, g, d);
        check("d_gates", out.dGates(), nnz, h, 3);
        long s = stream.handle();
        List<DeviceTensor> ws = new ArrayList<>();
        try (CompressionPlan.DeviceOffsets cu = plan.upload(stream)) {
            DeviceTensor kt = alloc(ws, stream, Math.max(1, nnzCmp), g, d.dk());
            DeviceTensor vt = alloc(ws, stream, Math.max(1, nnzCmp), g, d.dv());
            DeviceTensor dkt = alloc(ws, stream, Math.max(1, nnzCmp), g, d.dk());
            DeviceTensor dvt = alloc(ws, stream, Math.max(1, nnzCmp), g, d.dv());
            DeviceTensor[] o = new DeviceTensor[3];
            DeviceTensor[] lse = new DeviceTensor[3];
            DeviceTensor[] dOc = new DeviceTensor[3];
            for (int c = 0; c < 3; c++) {
                o[c] = alloc(ws, stream, nnz, h, d.dv());
                lse[c] = alloc(ws, stream, nnz, h);
                dOc[c] = alloc(ws, stream, nnz, h, d.dv());
            }
            DeviceTensor delta = alloc(ws, stream, nnz, h);
            DeviceTensor ktv = kt.view(dev.nsa4j.tensor.Shape.of(nnzCmp, g, d.dk()));
            DeviceTensor vtv = vt.view(dev.nsa4j.tensor.Shape.of(nnzCmp, g, d.dv()));
            if (nnzCmp > 0 && mlp != null) {
                CompressMlp.run(m, stream, in.cmp().k(), cu.cu(), cu.cuCmp(), plan, mlp.k(), ktv);
                CompressMlp.run(m, stream, in.cmp().v(), cu.cu(), cu.cuCmp(), plan, mlp.v(), vtv);
            } else if (nnzCmp > 0) {
                CompressAvg.run(m, stream, in.cmp().k(), cu.cu(), cu.cuCmp(), plan, ktv);
                CompressAvg.run(m, stream, in.cmp().v(), cu.cu(), cu.cuCmp(), plan, vtv);
            }
            AttnSpec[] spec = {AttnSpec.blockCausal(d.blockLen(), d.stride()).withScale(d.scale()),
                AttnSpec.chosen(d.selBlock()).withWalk(AttnWalk.RANGES).withScale(d.scale()),
                AttnSpec.window(d.window()).withScale(d.scale())};
            DeviceTensor[] keys = {ktv, in.sel().k(), in.win().k()};
            DeviceTensor[] vals = {vtv, in.sel().v(), in.win().v()};
            DeviceTensor[] cuK = {cu.cuCmp(), cu.cu(), cu.cu()};
            DeviceTensor[] dks = {dkt, out.sel().k(), out.win().k()};
            DeviceTensor[] dvs = {dvt, out.sel().v(), out.win().v()};
            int[] nnzK = {nnzCmp, nnz, nnz};
            Attention.Launch[] fwd = new Attention.Launch[3];
            for (int c = 0; c < 3; c++) {
                fwd[c] = Attention.plan(in.q(), keys[c], vals[c], cu.cu(), cuK[c], c == 1 ? in.indices() : null,
                        spec[c], o[c], lse[c]);
                if (fwd[c].rows() > 0) {
                    m.launch(fwd[c].key(), fwd[c].grid(), Attention.BLOCK, s, fwd[c].params().toBytes());
                }
            }
            AttentionBwd.gates(m, s, new GateBwdParams(in.gates().address(), in.gradO().address(), o[0].address(),
                    o[1].address(), o[2].address(), out.dGates().address(), dOc[0].address(), dOc[1].address(),
                    dOc[2].address(), (long) nnz * h, d.dv()));
            for (int c = 0; c < 3; c++) {
                AttnBwdParams b = new AttnBwdParams(dOc[c].address(), delta.address(), out.dq().address(),
                        dks[c].address(), dvs[c].address(), c == 0 ? 0 : 1);
                AttentionBwd.dq(m, s, DType.FP32, fwd[c].params(), b);
                AttentionBwd.dkv(m, s, DType.FP32, fwd[c].params(), b, nnzK[c]);
            }
            if (mlp != null) {
                mlpBackward(m, stream, ws, plan, cu, g, d, in.cmp().k(), dkt, mlp.k(), out.cmp().k(), mlp.dk());
                mlpBackward(m, stream, ws, plan, cu, g, d, in.cmp().v(), dvt, mlp.v(), out.cmp().v(), mlp.dv());
            } else {
                AttentionBwd.compressAvg(m, s, new CompressAvgBwdParams(dkt.address(), out.cmp().k().address(),
                        cu.cu().address(), cu.cuCmp().address(), nnz, plan.batch(), g, d.dk(), d.blockLen(), d.stride()));
                AttentionBwd.compressAvg(m, s, new CompressAvgBwdParams(dvt.address(), out.cmp().v().address(),
                        cu.cu().address(), cu.cuCmp().address(), nnz, plan.batch(), g, d.dv(), d.blockLen(), d.stride()));
            }
        } finally {
            for (int i = ws.size() - 1; i >= 0; i--) {
                ws.get(i).close();
            }
        }
    }

    /** One side (K̃ or Ṽ) of phi = mlp's backward: raw k (or v), dL/dK̃ and the weights, into dRaw and the grads. */
    private static void mlpBackward(KernelModule m, CudaStream stream, List<DeviceTensor> ws, CompressionPlan plan,
                                    CompressionPlan.DeviceOffsets cu, int g, Dims d, DeviceTensor raw,
                                    DeviceTensor dCmp, CompressMlp.Weights w, DeviceTensor dRaw, MlpGrads grads) {
        int dim = raw.dim(2), in = d.blockLen() * dim, hidden = w.hidden(), cells = Math.max(1, plan.nnzCmp());
        DeviceTensor x = alloc(ws, stream, cells, g, in);
        DeviceTensor a = alloc(ws, stream, cells, g, hidden);
        DeviceTensor dz = alloc(ws, stream, cells, g, hidden);
        DeviceTensor dx = alloc(ws, stream, cells, g, in);
        AttentionBwd.compressMlp(m, stream.handle(), new CompressMlpBwdParams(raw.address(), dCmp.address(),
                cu.cu().address(), cu.cuCmp().address(), w.pos().address(), w.w1().address(), w.b1().address(),
                w.w2().address(), new CompressMlpBwdParams.Workspace(x.address(), a.address(), dz.address(),
                        dx.address()),
                new CompressMlpBwdParams.Grads(dRaw.address(), grads.pos().address(), grads.w1().address(),
                        grads.b1().address(), grads.w2().address(), grads.b2().address()),
                plan.nnz(), plan.nnzCmp(), plan.batch(), g, dim, d.blockLen(), d.stride(), hidden));
    }

    private static DeviceTensor alloc(List<DeviceTensor> ws, CudaStream stream, int... dims) {
        DeviceTensor t = DeviceTensor.allocate(stream, DType.FP32, dims);
        ws.add(t);
        return t;
    }

    private static void check(String name, DeviceTensor t, int rows, int mid, int last) {
        Objects.requireNonNull(t, name);
        Checks.dtype(name, t.dtype(), List.of(DType.FP32), "fp32 (the reference backward computes in fp32)");
        Checks.rank(name, t, 3, "[nnz, " + mid + ", " + last + "]");
        Checks.dim(name, t, 0, rows, name + " [nnz, .., ..] with the plan's nnz");
        Checks.dim(name, t, 1, mid, name + " [nnz, " + mid + ", " + last + "]");
        Checks.dim(name, t, 2, last, name + " [nnz, " + mid + ", " + last + "]");
        Checks.contiguous(name, t.shape());
    }

    private static void checkKv(String branch, Kv kv, int rows, int g, Dims d) {
        Objects.requireNonNull(kv, branch);
        check("k_" + branch, kv.k(), rows, g, d.dk());
        check("v_" + branch, kv.v(), rows, g, d.dv());
    }
}
