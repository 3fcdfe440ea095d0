package dev.nsa4j.nsa;

import java.util.List;
import java.util.Objects;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.internal.DecodeParams;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.Shape;

/**
 * A GPU decode step's device tensors, checked against the decoder's plan and viewed in the kernels' layouts: q
 * {@code [B,1,H,Dk]}, k_c {@code [B,1,G,Dk]}, v_c {@code [B,1,G,Dv]} in the cache dtype, gates {@code [B,1,H,3]}
 * (fp32 or that dtype), o {@code [B,1,H,Dv]} (fp32 or that dtype), all contiguous. Every rule is checked before
 * anything is enqueued, and a broken one names its tensor.
 *
 * @param step  the kernels' step pointers
 * @param gates {@code [B, H, 3]}
 * @param o     {@code [B, H, Dv]}
 */
record DecodeStepInputs(DecodeParams.Step step, DeviceTensor gates, DeviceTensor o) {
    private static final String[] KV = {"k_cmp", "v_cmp", "k_sel", "v_sel", "k_win", "v_win"};

    /** {@code in} and {@code o} checked for a decoder of {@code plan}. */
    static DecodeStepInputs of(DecodeCachePlan plan, NsaDeviceInputs in, DeviceTensor o) {
        Objects.requireNonNull(in, "in");
        Objects.requireNonNull(o, "o");
        requireOneTokenPerSequence(in.isVarlen(), in.indices() != null);
        NsaConfig cfg = plan.cfg();
        DType dt = plan.dtype();
        int b = plan.batch();
        DeviceTensor q = tensor(b, "q", in.q(), List.of(dt), cfg.heads(), cfg.headDimQk());
        DeviceTensor[] kv = {in.kCmp(), in.vCmp(), in.kSel(), in.vSel(), in.kWin(), in.vWin()};
        long[] addr = new long[kv.length];
        for (int i = 0; i < kv.length; i++) {
            addr[i] = tensor(b, KV[i], kv[i], List.of(dt), cfg.kvGroups(),
                    i % 2 == 0 ? cfg.headDimQk() : cfg.headDimV()).address();
        }
        DeviceTensor gates = tensor(b, "gates", in.gates(), List.of(DType.FP32, dt), cfg.heads(), 3);
        DeviceTensor out = tensor(b, "o", o, List.of(DType.FP32, dt), cfg.heads(), cfg.headDimV());
        return new DecodeStepInputs(new DecodeParams.Step(q.address(), addr[0], addr[1], addr[2], addr[3], addr[4],
                addr[5], 0), gates, out);
    }

    /** A step takes one token per sequence ({@code [B,1,...]}, no cu_seqlens) and scores its blocks itself. */
    static void requireOneTokenPerSequence(boolean varlen, boolean indices) {
        if (varlen) {
            throw new NsaArgumentException("cu_seqlens", "absent in a decode step",
                    "a step takes one token per sequence as [B,1,...] tensors");
        }
        if (indices) {
            throw new NsaArgumentException("indices", "absent on the GPU decoder (its step scores the blocks)",
                    "caller-chosen blocks in a step decode on the CPU oracle (NsaDecoder) for now");
        }
    }

    /** {@code t} as {@code [B, heads, dim]}: contiguous, B·heads·dim elements ({@code [B,1,heads,dim]} or that). */
    private static DeviceTensor tensor(int batch, String name, DeviceTensor t, List<DType> dtypes, int heads,
                                       int dim) {
        Objects.requireNonNull(t, name);
        long want = (long) batch * heads * dim;
        if (!t.shape().isContiguous() || t.shape().numel() != want) {
            throw new NsaArgumentException(name, "contiguous [B,1," + heads + "," + dim + "] with B = " + batch,
                    "got " + t.shape());
        }
        if (!dtypes.contains(t.dtype())) {
            throw new NsaArgumentException(name, "dtype " + dtypes, "got " + t.dtype());
        }
        return t.view(Shape.of(batch, heads, dim));
    }
}
