package dev.nsa4j.oracle;

import dev.nsa4j.attention.GateOverride;
import dev.nsa4j.attention.NsaInputs;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.nsa4j.attention.NsaResult;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.testutil.Close;
import dev.nsa4j.testutil.Configs;
import dev.nsa4j.testutil.NsaCase;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import dev.nsa4j.tensor.Shape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** the NSA spec (docs/nsa-spec.md) "Numerics": outputs in the input dtype or fp32 on request; fp64 accumulation on rounded inputs. */
class DTypeTest {
    private static final NsaConfig CFG = Configs.of(4, 2, 8, 6, 4, 2, 8, 3, 5);

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = DType.class, names = {"FP32", "FP16", "BF16"})
    void outputsComeInTheInputDtypeByDefault(DType dt) {
        NsaCase cs = NsaCase.randomDense(CFG, dt, 3, 1, 21);
        NsaResult r = new NsaOracle(CFG).forward(cs.inputs());
        assertEquals(dt, r.outputDType(), "default output dtype is q's");
        for (HostTensor t : new HostTensor[] {r.o(), r.oCmp(), r.oSel(), r.oWin()}) {
            assertEquals(dt, t.dtype(), "branch outputs in q's dtype");
            assertArrayEquals(new int[] {1, 21, 4, 6}, t.shape().dims(), "outputs are [B,S,H,Dv]");
        }
        assertEquals(DType.FP32, r.lseCmp().dtype(), "lse is fp32");
        assertEquals(DType.INT32, r.indices().dtype(), "indices are int32");
        double[] exact = r.fp64(NsaResult.Output.O);
        double[] stored = r.o().toDoubleArray();
        for (int i = 0; i < exact.length; i++) {
            assertEquals(dt.roundTrip(exact[i]), stored[i], 0.0, "o() is the fp64 value rounded to " + dt);
        }
    }

    @ParameterizedTest(name = "{0} in, fp32 out")
    @EnumSource(value = DType.class, names = {"FP16", "BF16"})
    void fp32OutputOnRequest(DType dt) {
        NsaCase cs = NsaCase.randomDense(CFG, dt, 4, 1, 21);
        NsaResult r = new NsaOracle(CFG).forward(cs.inputs(), DType.FP32, GateOverride.NONE);
        assertEquals(DType.FP32, r.o().dtype(), "fp32 on request");
        double[] exact = r.fp64(NsaResult.Output.O_SEL);
        double[] stored = r.oSel().toDoubleArray();
        for (int i = 0; i < exact.length; i++) {
            assertEquals((float) exact[i], stored[i], 0.0, "oSel() is the fp64 value rounded to fp32");
        }
    }

    /** The same rounded values given as fp16/bf16 or as fp32 produce bitwise the same fp64 results. */
    @ParameterizedTest(name = "{0} vs fp32 holding the same values")
    @EnumSource(value = DType.class, names = {"FP16", "BF16"})
    void halfInputsComputeLikeFp32OnTheSameValues(DType dt) {
        NsaCase half = NsaCase.randomVarlen(CFG, dt, 5, 17, 0, 40);
        NsaCase wide = NsaCase.zerosVarlen(CFG, DType.FP32, 17, 0, 40);
        for (double[][] pair : new double[][][] {{half.q, wide.q}, {half.kCmp, wide.kCmp}, {half.vCmp, wide.vCmp},
                {half.kSel, wide.kSel}, {half.vSel, wide.vSel}, {half.kWin, wide.kWin}, {half.vWin, wide.vWin},
                {half.gates, wide.gates}}) {
            System.arraycopy(pair[0], 0, pair[1], 0, pair[0].length);
        }
        NsaResult a = new NsaOracle(CFG).forward(half.inputs());
        NsaResult b = new NsaOracle(CFG).forward(wide.inputs());
        for (NsaResult.Output out : NsaResult.Output.values()) {
            Close.assertBitwise(b.fp64(out), a.fp64(out), dt + " vs fp32: " + out);
        }
        assertArrayEquals(b.indexArray(), a.indexArray(), "chosen blocks");
    }

    /** Gates may be fp32 with half-precision q. */
    @Test
    void fp32GatesWithBf16Inputs() {
        NsaCase cs = NsaCase.randomDense(CFG, DType.BF16, 6, 1, 12);
        NsaInputs in = cs.inputs();
        NsaInputs mixed = NsaInputs.builder().q(in.q()).cmp(in.kCmp(), in.vCmp()).sel(in.kSel(), in.vSel())
                .win(in.kWin(), in.vWin()).gates(in.gates().to(DType.FP32)).build();
        Close.assertBitwise(new NsaOracle(CFG).forward(in).fp64(NsaResult.Output.O),
                new NsaOracle(CFG).forward(mixed).fp64(NsaResult.Output.O), "fp32 gates holding the same values");
    }

    /** Any strides are accepted: a strided view of q reads the same values as a contiguous copy. */
    @Test
    void stridedInputsReadLikeContiguousOnes() {
        NsaCase cs = NsaCase.randomDense(CFG, DType.FP32, 7, 2, 15);
        NsaInputs in = cs.inputs();
        // q lives in every other slot of the last axis of a [2,15,4,16] buffer
        HostTensor wide = HostTensor.zeros(DType.FP32, 2, 15, 4, 16);
        HostTensor view = wide.view(Shape.strided(new int[] {2, 15, 4, 8}, new long[] {15 * 4 * 16, 4 * 16, 16, 2}));
        view.copyFrom(cs.q);
        NsaInputs strided = NsaInputs.builder().q(view).cmp(in.kCmp(), in.vCmp()).sel(in.kSel(), in.vSel())
                .win(in.kWin(), in.vWin()).gates(in.gates()).build();
        NsaResult a = new NsaOracle(CFG).forward(in);
        NsaResult b = new NsaOracle(CFG).forward(strided);
        for (NsaResult.Output out : NsaResult.Output.values()) {
            Close.assertBitwise(a.fp64(out), b.fp64(out), "strided q: " + out);
        }
    }
}
