package dev.nsa4j.nsa;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.attention.BatchLayout;
import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.internal.CompressMlp;
import dev.nsa4j.kernels.internal.CompressionPlan;
import dev.nsa4j.kernels.internal.KernelModule;
import dev.nsa4j.kernels.internal.ReferenceBackward;
import dev.nsa4j.oracle.InputCheck;
import dev.nsa4j.oracle.NsaBackward;
import dev.nsa4j.oracle.PhiWeights;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import java.util.ArrayList;
import java.util.List;

/**
 * The host variant of the reference GPU backward (decisions D43), phi = avg and mlp: the inputs made fp32, contiguous and
 * token-major ({@code [nnz, ..]}; a dense batch is already in that order), uploaded, {@link ReferenceBackward} on one
 * stream, the gradients downloaded as fp64 arrays in {@link NsaBackward.Gradients}' layouts. Every device buffer is
 * freed before it returns. Not yet a route of {@link NsaAttention#backward}: its GPU suite runs first.
 */
final class GpuReferenceBackward {
    private GpuReferenceBackward() {
    }

    /** {@link NsaGradients.Engine} on {@code gpu}'s reference backward: the inputs and the indices checked first. */
    static NsaGradients.Engine engine(NsaConfig cfg, PhiWeights phi, GpuBackend gpu) {
        return (mixed, indices, gradO) -> {
            BatchLayout layout = InputCheck.check(cfg, phi, mixed);
            long want = (long) layout.nnz() * cfg.kvGroups() * cfg.nSel();
            if (indices.numel() != want) {
                throw new NsaArgumentException("indices", "[nnz, G, n] = " + want + " block indices",
                        "got " + indices.shape());
            }
            return gpu.backwardReference(mixed, layout, indices, gradO);
        };
    }

    /**
     * @param mixed   the inputs with the gates the forward mixed with (an override's applied)
     * @param layout  their checked layout
     * @param indices the forward's chosen blocks, {@code [nnz, G, n]} int32 in any layout
     * @param gradO   dL/do in o's shape, any float dtype
     */
    static NsaBackward.Gradients run(KernelModule m, CudaStream s, NsaConfig cfg, NsaInputs mixed, BatchLayout layout,
                                     HostTensor indices, HostTensor gradO, CompressMlp.Weights phiK,
                                     CompressMlp.Weights phiV) {
        int nnz = layout.nnz(), h = cfg.heads(), g = cfg.kvGroups(), dk = cfg.headDimQk(), dv = cfg.headDimV();
        CompressionPlan plan = CompressionPlan.of(layout.cu(), cfg.blockLen(), cfg.stride());
        ReferenceBackward.Dims dims = new ReferenceBackward.Dims(h, g, dk, dv, cfg.blockLen(), cfg.stride(),
                cfg.selBlock(), cfg.nSel(), cfg.window(), (float) cfg.scale());
        List<DeviceTensor> all = new ArrayList<>();
        try {
            ReferenceBackward.Inputs in = new ReferenceBackward.Inputs(up(all, s, mixed.q(), nnz, h, dk),
                    new ReferenceBackward.Kv(up(all, s, mixed.kCmp(), nnz, g, dk), up(all, s, mixed.vCmp(), nnz, g, dv)),
                    new ReferenceBackward.Kv(up(all, s, mixed.kSel(), nnz, g, dk), up(all, s, mixed.vSel(), nnz, g, dv)),
                    new ReferenceBackward.Kv(up(all, s, mixed.kWin(), nnz, g, dk), up(all, s, mixed.vWin(), nnz, g, dv)),
                    up(all, s, mixed.gates(), nnz, h, 3), up(all, s, gradO, nnz, h, dv),
                    keep(all, DeviceTensor.upload(s, HostTensor.ofInts(indices.toIntArray(), nnz, g, cfg.nSel()))));
            ReferenceBackward.Grads out = new ReferenceBackward.Grads(alloc(all, s, nnz, h, dk),
                    new ReferenceBackward.Kv(alloc(all, s, nnz, g, dk), alloc(all, s, nnz, g, dv)),
                    new ReferenceBackward.Kv(alloc(all, s, nnz, g, dk), alloc(all, s, nnz, g, dv)),
                    new ReferenceBackward.Kv(alloc(all, s, nnz, g, dk), alloc(all, s, nnz, g, dv)),
                    alloc(all, s, nnz, h, 3));
            ReferenceBackward.Mlp mlp = phiK == null ? null
                    : new ReferenceBackward.Mlp(phiK, phiV, grads(all, s, phiK), grads(all, s, phiV));
            ReferenceBackward.run(m, s, dims, plan, in, out, mlp);
            return new NsaBackward.Gradients(down(s, out.dq()), down(s, out.cmp().k()), down(s, out.cmp().v()),
                    down(s, out.sel().k()), down(s, out.sel().v()), down(s, out.win().k()), down(s, out.win().v()),
                    down(s, out.dGates()), mlp == null ? null : down(s, mlp.dk()), mlp == null ? null : down(s, mlp.dv()));
        } finally {
            for (DeviceTensor t : all.reversed()) {
                t.close();   // stream-ordered frees: after the work enqueued before them
            }
        }
    }

    /** {@code t} as fp32 {@code [nnz, mid, last]}, contiguous, on the device. */
    private static DeviceTensor up(List<DeviceTensor> all, CudaStream s, HostTensor t, int nnz, int mid, int last) {
        return keep(all, DeviceTensor.upload(s, HostTensor.of(DType.FP32, t.toDoubleArray(), nnz, mid, last)));
    }

    private static DeviceTensor alloc(List<DeviceTensor> all, CudaStream s, int... dims) {
        return keep(all, DeviceTensor.allocate(s, DType.FP32, dims));
    }

    private static DeviceTensor keep(List<DeviceTensor> all, DeviceTensor t) {
        all.add(t);
        return t;
    }

    /** Gradient tensors shaped like {@code w}'s weights. */
    private static ReferenceBackward.MlpGrads grads(List<DeviceTensor> all, CudaStream s, CompressMlp.Weights w) {
        return new ReferenceBackward.MlpGrads(like(all, s, w.pos()), like(all, s, w.w1()), like(all, s, w.b1()),
                like(all, s, w.w2()), like(all, s, w.b2()));
    }

    private static DeviceTensor like(List<DeviceTensor> all, CudaStream s, DeviceTensor t) {
        return alloc(all, s, t.shape().dims());
    }

    private static NsaBackward.MlpGrads down(CudaStream s, ReferenceBackward.MlpGrads g) {
        return new NsaBackward.MlpGrads(down(s, g.pos()), down(s, g.w1()), down(s, g.b1()), down(s, g.w2()),
                down(s, g.b2()));
    }

    private static double[] down(CudaStream s, DeviceTensor t) {
        return t.toHost(s).toDoubleArray();
    }
}
