package dev.nsa4j.kernels.op;

import java.util.Objects;

import dev.nsa4j.kernels.internal.BlockSelect;
import dev.nsa4j.kernels.internal.Cast;
import dev.nsa4j.kernels.internal.CompressAvg;
import dev.nsa4j.kernels.internal.CompressMlp;
import dev.nsa4j.kernels.internal.CompressionPlan;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.internal.GateCombine;
import dev.nsa4j.kernels.internal.KernelModule;
import dev.nsa4j.tensor.DType;

/**
 * The ops of a forward that are not routed (one kernel each, or two for phi = mlp in half precision):
 * compression, block scoring + top-n, the gate combine and casts, each planned for one shape.
 */
public final class KernelOps {
    private KernelOps() {
    }

    /** Launches one op's kernels; the checks are the kernel entry points' own. */
    @FunctionalInterface
    public interface Launcher<A> {
        void launch(CudaStream stream, A args, Workspace workspace);
    }

    /** An op of {@code kind} ({@link OpRun#path()}) described as {@code describe}. */
    public static <A> DeviceOp<A> of(String kind, String describe, long workspaceBytes, Launcher<A> launcher) {
        Objects.requireNonNull(launcher, "launcher");
        return new DeviceOp<>() {
            @Override
            public String describe() {
                return describe;
            }

            @Override
            public long workspaceBytes() {
                return workspaceBytes;
            }

            @Override
            public OpRun launch(CudaStream stream, A args, Workspace workspace) {
                launcher.launch(stream, args, workspace);
                return OpRun.ran(kind);
            }

            @Override
            public String toString() {
                return describe;
            }
        };
    }

    /**
     * phi = avg over the plan's sequences: {@code out} in the input dtype or fp32 (the kernel sums in fp32 and
     * rounds once).
     */
    public static DeviceOp<CompressArgs> compressAvg(KernelModule module, CompressionPlan plan, Sequences raw,
                                                     Sequences compressed, DType in, DType out) {
        return of("compress", "compress avg " + name(in) + " -> " + name(out), 0,
                (s, a, ws) -> CompressAvg.run(module, s, a.k(), raw.device(), compressed.device(), plan, a.out()));
    }

    /**
     * phi = mlp: the kernel writes fp32; for a half-precision {@code out} it writes into scratch and one cast
     * rounds it.
     *
     * @param groups, dim the compressed tensor's {@code [nnz_cmp, G, D]} (for the scratch)
     */
    public static DeviceOp<CompressArgs> compressMlp(KernelModule module, CompressionPlan plan, Sequences raw,
                                                     Sequences compressed, CompressMlp.Weights weights, DType in,
                                                     DType out, int groups, int dim) {
        Objects.requireNonNull(weights, "weights");
        boolean cast = out != DType.FP32;
        long scratch = cast ? Workspace.aligned((long) plan.nnzCmp() * groups * dim * 4L) : 0;
        return of("compress", "compress mlp " + name(in) + " -> fp32" + (cast ? " -> " + name(out) : ""), scratch,
                (s, a, ws) -> {
                    if (!cast) {
                        CompressMlp.run(module, s, a.k(), raw.device(), compressed.device(), plan, weights, a.out());
                        return;
                    }
                    DeviceTensor f32 = ws.tensor(DType.FP32, a.out().shape().dims());
                    CompressMlp.run(module, s, a.k(), raw.device(), compressed.device(), plan, weights, f32);
                    Cast.run(module, s, f32, a.out());
                });
    }

    /** Block scoring, group sum and top-n with the forced blocks ({@link BlockSelect}). */
    public static DeviceOp<SelectArgs> blockSelect(KernelModule module, CompressionPlan plan, Sequences raw,
                                                   Sequences compressed, int selBlock, int nSel, float scale, DType in) {
        return of("select", "block scores + top-" + nSel + " " + name(in), 0,
                (s, a, ws) -> BlockSelect.run(module, s, a.q(), a.kCmp(), a.lse(), raw.device(), compressed.device(),
                        plan, selBlock, nSel, scale, a.indices(), null));
    }

    /** The gate combine ({@link GateCombine}). */
    public static DeviceOp<CombineArgs> combine(KernelModule module, DType branches, DType gates, DType out) {
        return of("combine", "gate combine " + name(branches) + " (gates " + name(gates) + ") -> " + name(out), 0,
                (s, a, ws) -> GateCombine.run(module, s, a.oCmp(), a.oSel(), a.oWin(), a.gates(), a.out()));
    }

    /** A dtype cast ({@link Cast}). */
    public static DeviceOp<CastArgs> cast(KernelModule module, DType from, DType to) {
        return of("cast", "cast " + name(from) + " -> " + name(to), 0,
                (s, a, ws) -> Cast.run(module, s, a.in(), a.out()));
    }

    private static String name(DType d) {
        return d.name().toLowerCase(java.util.Locale.ROOT);
    }
}
