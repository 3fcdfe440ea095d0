package dev.nsa4j.kernels.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.nsa4j.kernels.GpuSuite;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import dev.nsa4j.kernels.internal.AttentionGpuTest.Got;
import dev.nsa4j.kernels.internal.AttentionGpuTest.Inputs;
import dev.nsa4j.kernels.internal.AttentionGpuTest.Ref;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;

/**
 * Path {@code sdpa-packed} ({@link SelPacked}: gather + dense attention) on the device: bitwise equal to the
 * chosen-block mask's RANGES walk, and within the fp64 rule of {@link AttentionGpuTest}'s reference, for
 * sorted and unsorted/duplicated index sets (rows whose blocks all start after t included: o = 0, lse = −inf).
 * Inputs, reference and comparisons are {@link AttentionGpuTest}'s. Skips without a GPU.
 */
@Tag("gpu")
class SelPackedGpuTest extends GpuSuite {
    static final int G = AttentionGpuTest.G;
    static final int SEL_L = AttentionGpuTest.SEL_L;

    static Stream<Arguments> matrix() {
        List<Arguments> out = new ArrayList<>();
        for (DType d : List.of(DType.FP32, DType.FP16, DType.BF16)) {
            for (int dim : new int[]{16, 64, 128}) {
                for (int ratio : new int[]{1, 4}) {
                    for (int len : new int[]{1, 63, 65, 300, -1}) {
                        out.add(Arguments.of(d, dim, ratio, len));
                    }
                }
            }
        }
        return shard(out);
    }

    /** The RANGES walk ({@code packed = false}) or the packed path, with a chunk budget ({@code 0}: default). */
    static Got run(Inputs in, HostTensor blocks, boolean packed, DType outDtype, long budget, boolean withLse) {
        int nnz = in.nnz();
        try (var q = gpu.upload(in.q(), 0); var kd = gpu.upload(in.k(), 0); var vd = gpu.upload(in.v(), 0);
             var cu = gpu.upload(HostTensor.ofInts(in.cu(), in.cu().length), 0);
             var bl = gpu.upload(blocks, 0);
             var out = gpu.alloc(outDtype, 0, nnz, in.heads(), in.dv());
             var lse = gpu.alloc(DType.FP32, 0, nnz, in.heads())) {
            if (packed) {
                SelPacked.run(gpu.module, gpu.stream, q.tensor(), kd.tensor(), vd.tensor(), cu.tensor(), cu.tensor(),
                        null, null, bl.tensor(), SEL_L, Float.NaN, out.tensor(), withLse ? lse.tensor() : null,
                        budget == 0 ? SelPacked.DEFAULT_BUDGET_BYTES : budget);
            } else {
                Attention.run(gpu.module, gpu.stream, q.tensor(), kd.tensor(), vd.tensor(), cu.tensor(), cu.tensor(),
                        bl.tensor(), AttnSpec.chosen(SEL_L).withWalk(AttnWalk.RANGES), out.tensor(),
                        withLse ? lse.tensor() : null);
            }
            HostTensor o = out.tensor().toHost(gpu.stream);
            float[] of = outDtype == DType.FP32 ? o.toFloatArray() : AttentionGpuTest.toFloats(o.toDoubleArray());
            return new Got(of, withLse ? lse.tensor().toHost(gpu.stream).toFloatArray() : new float[0]);
        }
    }

    static void check(Inputs in, boolean messy, String what) {
        HostTensor blocks = messy ? in.blocksMessy() : in.blocksSorted();
        AttnSpec spec = AttnSpec.chosen(SEL_L);
        Ref ref = AttentionGpuTest.reference(in, in.k().toDoubleArray(), in.v().toDoubleArray(), in.cu(),
                AttentionGpuTest.visibility(spec, blocks.toIntArray()), spec.scaleFor(in.dk()));
        what += messy ? " unsorted/duplicated" : " sorted";
        Got ranges = run(in, blocks, false, DType.FP32, 0, true);
        Got packed = run(in, blocks, true, DType.FP32, 0, true);
        AttentionGpuTest.compare(what + " packed", packed, ref, in.dtype());
        AttentionGpuTest.assertBitwise(what + ": packed and RANGES differ", ranges, packed);
        // chunks of 1..few tokens (budget of 3 tokens' packed rows): same bits
        long three = 3 * SelPacked.bytesPerToken(G, AttentionGpuTest.N_SEL, SEL_L, in.dk(), in.dv(), in.dtype());
        AttentionGpuTest.assertBitwise(what + ": chunked packed differs", packed, run(in, blocks, true, DType.FP32, three, true));
        if (in.dtype() != DType.FP32) {
            Got halfR = run(in, blocks, false, in.dtype(), 0, false);
            Got halfP = run(in, blocks, true, in.dtype(), 0, false);
            AttentionGpuTest.assertBitwise(what + ": packed and RANGES differ in " + in.dtype() + " out", halfR, halfP);
        }
    }

    @ParameterizedTest(name = "{0} D={1} H/G={2} len={3}")
    @MethodSource("matrix")
    void packedMatchesRangesBitwiseAndTheFp64Reference(DType dtype, int dim, int ratio, int len) {
        int[] lens = len < 0 ? AttentionGpuTest.VARLEN : new int[]{len};
        Inputs in = Inputs.make(dtype, G * ratio, dim, dim, lens, 2003L * dim + 37L * len + 11L * ratio + dtype.ordinal());
        String what = dtype + " H=" + G * ratio + " D=" + dim + " len=" + len;
        check(in, false, what);
        check(in, true, what);
    }

    @Test
    void dkDifferentFromDv() {
        Inputs in = Inputs.make(DType.BF16, 8, 192, 128, AttentionGpuTest.VARLEN, 17);
        check(in, true, "bf16 Dk=192 Dv=128");
    }

    @Test
    void allAfterTRowsGiveZeroAndMinusInfinity() {
        Inputs in = Inputs.make(DType.FP32, G, 64, 64, new int[]{200}, 5);
        int nnz = in.nnz();
        int[] b = new int[nnz * G * AttentionGpuTest.N_SEL];
        for (int t = 0; t < nnz; t++) {
            for (int e = 0; e < G * AttentionGpuTest.N_SEL; e++) {
                b[t * G * AttentionGpuTest.N_SEL + e] = t / SEL_L + 1 + (e % 2);   // every block starts after t
            }
        }
        Got got = run(in, HostTensor.ofInts(b, nnz, G, AttentionGpuTest.N_SEL), true, DType.FP32, 0, true);
        for (float x : got.out()) {
            if (Float.floatToRawIntBits(x) != 0) {
                fail("a row with no key must give +0, got " + x);
            }
        }
        for (float l : got.lse()) {
            assertEquals(Float.NEGATIVE_INFINITY, l);
        }
    }
}
