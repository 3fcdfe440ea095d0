package dev.nsa4j.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import org.junit.jupiter.api.Test;

/** {@link GateStats}: entropy, shares and collapse of the normalised gate mix, against hand-computed values. */
class GateStatsTest {
    @Test
    void anEvenMixHasTheLargestEntropyAndAOneHotMixNone() {
        GateStats even = GateStats.of(new double[] {0.5, 0.5, 0.5, 0.2, 0.2, 0.2}, GateOverride.NONE);
        assertEquals(2, even.rows());
        assertEquals(Math.log(3), even.entropyMean(), 1e-15);
        assertEquals(Math.log(3), even.entropyMin(), 1e-15);
        assertEquals(0.5, even.maxGate());
        assertEquals(1.0 / 3, even.shareSel(), 1e-15);
        assertEquals(0.0, even.collapseFraction());
        GateStats hot = GateStats.of(new double[] {0, 0.9, 0, 0, 0, 1}, GateOverride.NONE);
        assertEquals(0.0, hot.entropyMean());
        assertEquals(1.0, hot.collapseFraction());
        assertEquals(0.5, hot.shareSel(), 1e-15);
        assertEquals(0.5, hot.shareWin(), 1e-15);
        assertEquals(0.0, hot.shareCmp());
    }

    @Test
    void valuesMatchAHandComputation() {
        // row 0: (0.2, 0.6, 0.2) -> p = (0.2, 0.6, 0.2); row 1: (0.99, 0.005, 0.005): collapsed; row 2: all 0
        GateStats s = GateStats.of(HostTensor.of(DType.FP32, new double[] {0.2, 0.6, 0.2, 0.99, 0.005, 0.005, 0, 0, 0},
                1, 3, 3), GateOverride.NONE);
        double e0 = -(2 * 0.2 * Math.log(0.2) + 0.6 * Math.log(0.6));
        double e1 = -(0.99 * Math.log(0.99) + 2 * 0.005 * Math.log(0.005));
        assertTrue(e1 < GateStats.COLLAPSE_ENTROPY, "row 1 is a collapse: entropy " + e1);
        assertEquals(3, s.rows());
        assertEquals(1, s.zeroRows());
        assertEquals((e0 + e1) / 2, s.entropyMean(), 1e-6);
        assertEquals(e1, s.entropyMin(), 1e-6);
        assertEquals(0.99, s.maxGate(), 1e-6);
        assertEquals((0.2 + 0.99) / 2, s.shareCmp(), 1e-6);
        assertEquals(1.0, s.shareCmp() + s.shareSel() + s.shareWin(), 1e-12);
        assertEquals(0.5, s.collapseFraction());
        assertTrue(s.toLogFields().contains("collapse_frac=0.5000"), s.toLogFields());
    }

    @Test
    void overridesAreWhatIsMixed() {
        double[] g = {0.2, 0.6, 0.2};
        GateStats sel = GateStats.of(g, GateOverride.FORCE_SEL);
        assertEquals(1.0, sel.shareSel());
        assertEquals(1.0, sel.collapseFraction());
        assertEquals(Math.log(3), GateStats.of(g, GateOverride.UNIFORM).entropyMean(), 1e-15);
    }

    @Test
    void noMixingRowsGiveNaNNotZero() {
        GateStats s = GateStats.of(new double[] {0, 0, 0}, GateOverride.NONE);
        assertEquals(1, s.zeroRows());
        assertTrue(Double.isNaN(s.entropyMean()) && Double.isNaN(s.shareCmp()) && Double.isNaN(s.collapseFraction()));
        assertTrue(Double.isNaN(GateStats.of(new double[0], GateOverride.NONE).maxGate()));
    }

    @Test
    void aLastDimensionOtherThanThreeIsNamed() {
        NsaArgumentException e = assertThrows(NsaArgumentException.class,
                () -> GateStats.of(HostTensor.zeros(DType.FP32, 2, 4), GateOverride.NONE));
        assertTrue(e.getMessage().contains("gates"), e.getMessage());
    }
}
