package dev.nsa4j.parity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import dev.nsa4j.tensor.Shape;
import java.util.List;
import org.junit.jupiter.api.Test;

class ParityHarnessTest {
    static final double NEG_INF = Double.NEGATIVE_INFINITY;
    final ParityHarness outputs = ParityHarness.outputs();
    final ParityHarness lse = ParityHarness.lse();

    @Test
    void statisticsOfKnownArrays() {
        double[] a = {1.0, 2.0, 3.0, 1e-7};
        double[] b = {1.0, 2.5, 2.0, 0.0};
        ParityReport r = outputs.compare("o", "gpu", a, "cpu", b);
        assertEquals(4, r.n());
        assertEquals((0.5 + 1.0 + 1e-7) / 4, r.mae(), 0);
        assertEquals(1.0, r.maxAbs(), 0);
        assertEquals(2, r.argMaxAbs());
        assertEquals(0.5, r.maxRel(), 0);     // 1.0 / |2.0|; the 1e-7 over b = 0 is 1e-7 / floor 1e-6 = 0.1
        assertEquals(0, r.nonFinite());
        assertFalse(r.pass());
        assertNull(r.baseline());
        assertEquals("gpu", r.pathA());
        assertEquals("cpu", r.pathB());
    }

    @Test
    void relativeErrorUsesTheFloorNearZero() {
        ParityReport r = outputs.compare("o", "a", new double[] {1e-7, 2e-12}, "b", new double[] {0.0, 1e-12});
        assertEquals(0.1, r.maxRel(), 1e-15);
        assertEquals(0, r.argMaxAbs());
        ParityReport floorBig = new ParityHarness(1e-5, false, 1e-3).compare("o", "a", new double[] {1e-7},
                "b", new double[] {0.0});
        assertEquals(1e-4, floorBig.maxRel(), 1e-18);
    }

    @Test
    void passRuleIsStrictMaeBelowTolerance() {
        assertTrue(outputs.compare("o", "a", new double[] {0.5 + 0.99e-5, 1}, "b", new double[] {0.5, 1 + 0.99e-5})
                .pass());
        assertFalse(outputs.compare("o", "a", new double[] {0.25 + 2e-5}, "b", new double[] {0.25}).pass());
        ParityReport exact = outputs.withTolerance(0.5).compare("o", "a", new double[] {1.0}, "b", new double[] {0.5});
        assertFalse(exact.pass(), "mae == tolerance is not below it");
        assertTrue(outputs.withTolerance(0.5).compare("o", "a", new double[] {0.99}, "b", new double[] {0.5}).pass());
        assertTrue(outputs.compare("empty", "a", new double[0], "b", new double[0]).pass());
        assertEquals(-1, outputs.compare("empty", "a", new double[0], "b", new double[0]).argMaxAbs());
    }

    @Test
    void identicalOutputsPassWithZeroErrorAndArgMaxAtTheFirstElement() {
        ParityReport r = outputs.compare("o", "a", new float[] {1f, -2f, 3f}, "b", new float[] {1f, -2f, 3f});
        assertTrue(r.pass());
        assertEquals(0, r.mae());
        assertEquals(0, r.maxAbs());
        assertEquals(0, r.argMaxAbs());
    }

    @Test
    void nanAndInfAreCountedPerSideLeftOutOfTheStatisticsAndFail() {
        double[] a = {Double.NaN, Double.POSITIVE_INFINITY, 1, NEG_INF, 5};
        double[] b = {1, 1, Double.NaN, 2, 5};
        ParityReport r = outputs.compare("o", "a", a, "b", b);
        assertEquals(1, r.nanA());
        assertEquals(2, r.infA());
        assertEquals(1, r.nanB());
        assertEquals(0, r.infB());
        assertEquals(0, r.mae());
        assertEquals(4, r.argMaxAbs());
        assertFalse(r.pass());
        assertTrue(r.line().contains("nan=1/1 inf=2/0"), r.line());
    }

    @Test
    void lseRuleMatchesNegativeInfinityOnBothSidesOnly() {
        double[] a = {NEG_INF, 0.5, NEG_INF, 1.0};
        double[] b = {NEG_INF, 0.5, 0.2, NEG_INF};
        ParityReport r = lse.compare("lse", "gpu", a, "cpu", b);
        assertEquals(1, r.infA());
        assertEquals(1, r.infB());
        assertEquals(0, r.mae());
        assertFalse(r.pass());

        ParityReport matched = lse.compare("lse", "gpu", new double[] {NEG_INF, 0.5, 0.75}, "cpu",
                new double[] {NEG_INF, 0.5, 0.75 + 3e-5});
        assertTrue(matched.pass(), matched.line());
        assertEquals(1e-5, matched.mae(), 1e-12);  // the matched pair counts as a difference of 0 over 3 elements
        assertEquals(0, matched.nonFinite());

        ParityReport plain = outputs.compare("lse", "gpu", new double[] {NEG_INF}, "cpu", new double[] {NEG_INF});
        assertEquals(1, plain.infA());
        assertEquals(1, plain.infB());
        assertFalse(plain.pass(), "the outputs rule allows no -inf at all");

        assertFalse(lse.compare("lse", "gpu", new double[] {Double.POSITIVE_INFINITY}, "cpu",
                new double[] {Double.POSITIVE_INFINITY}).pass(), "only -inf pairs match");
    }

    @Test
    void halfPrecisionTensorsAreReadExactly() {
        double[] v = {0.1, -0.2, 0.3, 1.7, 2.9, -3.1};
        HostTensor ref = HostTensor.of(DType.FP32, v, 2, 3);
        for (DType d : List.of(DType.FP16, DType.BF16)) {
            HostTensor half = HostTensor.of(d, v, 2, 3);
            double sum = 0;
            double max = 0;
            for (double x : v) {
                double e = Math.abs(d.roundTrip(x) - (float) x);
                sum += e;
                max = Math.max(max, e);
            }
            ParityReport r = outputs.compare("o", d.name(), half, "fp32", ref);
            assertEquals(sum / v.length, r.mae(), 0, d.name());
            assertEquals(max, r.maxAbs(), 0, d.name());
            assertTrue(r.mae() > 0, d.name());
        }
        HostTensor ints = HostTensor.ofInts(new int[] {1, 2, 3, 4, 5, 6}, 2, 3);
        assertEquals(0.5, outputs.compare("i", "a", ints, "b",
                HostTensor.of(DType.FP32, new double[] {1.5, 2.5, 3.5, 4.5, 5.5, 6.5}, 2, 3)).mae(), 0);
    }

    @Test
    void tensorsCompareInLogicalOrderWhateverTheirStrides() {
        HostTensor t = HostTensor.of(DType.FP32, new double[] {1, 2, 3, 4, 5, 6}, 2, 3);
        HostTensor transposed = t.view(Shape.strided(new int[] {3, 2}, new long[] {1, 3}));
        HostTensor same = HostTensor.of(DType.FP32, new double[] {1, 4, 2, 5, 3, 6}, 3, 2);
        assertEquals(0, outputs.compare("o", "view", transposed, "copy", same).mae());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> outputs.compare("o", "a", t, "b", same));
        assertTrue(e.getMessage().contains("[2, 3]") && e.getMessage().contains("[3, 2]"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> outputs.compare("o", "a", new double[2], "b", new double[3]));
    }

    @Test
    void oracleRuleAllowsTwiceTheBaselineError() {
        double[] oracle = {0, 0, 0, 0};
        double[] baseline = {1e-3, -1e-3, 1e-3, -1e-3};
        ParityReport ok = outputs.againstOracle("o", "oracle", oracle, "fa2-fast", new double[] {2e-3, -2e-3, 2e-3, 2e-3},
                "cpu-fp16", baseline, ParityHarness.ORACLE_FACTOR);
        assertTrue(ok.pass(), ok.line());
        assertEquals(2e-3, ok.mae(), 0);
        assertEquals(2e-3, ok.tolerance(), 0);
        assertEquals(1e-3, ok.baseline().mae(), 0);
        assertEquals("cpu-fp16", ok.baseline().path());
        assertEquals("fa2-fast", ok.pathA());
        assertEquals("oracle", ok.pathB());
        assertTrue(ok.line().contains("mae <= 2 x 0.001 (cpu-fp16 vs oracle) = 0.002, no NaN/Inf"), ok.line());

        ParityReport over = outputs.againstOracle("o", "oracle", oracle, "fa2-fast", new double[] {2.1e-3, 0, 0, 6e-3},
                "cpu-fp16", baseline, 2);
        assertFalse(over.pass());

        ParityReport nan = outputs.againstOracle("o", "oracle", oracle, "fa2-fast", new double[] {0, 0, 0, Double.NaN},
                "cpu-fp16", baseline, 2);
        assertFalse(nan.pass(), "NaN fails even below the bound");
        ParityReport badBase = outputs.againstOracle("o", "oracle", oracle, "fa2-fast", new double[4], "cpu-fp16",
                new double[] {0, 0, 0, Double.POSITIVE_INFINITY}, 2);
        assertFalse(badBase.pass());
        assertEquals(1, badBase.baseline().nonFinite());
        assertThrows(IllegalArgumentException.class, () -> outputs.againstOracle("o", "oracle", oracle, "f",
                new double[4], "b", baseline, 0));
    }

    @Test
    void oracleRuleOnTensorsAndWithLseInfinities() {
        HostTensor oracle = HostTensor.of(DType.FP32, new double[] {NEG_INF, 1.0}, 2);
        HostTensor fast = HostTensor.of(DType.FP32, new double[] {NEG_INF, 1.001}, 2);
        HostTensor base = HostTensor.of(DType.FP32, new double[] {NEG_INF, 1.0006}, 2);
        ParityReport r = lse.againstOracle("lse", "oracle", oracle, "fast", fast, "base", base, 2);
        assertTrue(r.pass(), r.line());
        assertFalse(outputs.againstOracle("lse", "oracle", oracle, "fast", fast, "base", base, 2).pass());
    }

    @Test
    void reportRendersOneLineAndAMarkdownRowOfTheHeadersWidth() {
        ParityReport r = outputs.compare("o_win", "sdpa-masked", new double[] {1, 2}, "cpu", new double[] {1, 2 + 1e-6});
        assertTrue(r.pass());
        String line = r.line();
        assertTrue(line.startsWith("PASS o_win: sdpa-masked vs cpu  n=2 mae=5e-7"), line);
        assertTrue(line.endsWith("[mae < 1e-5, no NaN/Inf]"), line);
        assertFalse(line.contains("\n"));
        String header = ParityReport.MARKDOWN_HEADER.lines().findFirst().orElseThrow();
        assertEquals(columns(header), columns(r.markdownRow()));
        assertEquals(columns(header), columns(ParityReport.MARKDOWN_HEADER.lines().skip(1).findFirst().orElseThrow()));
        assertTrue(r.markdownRow().startsWith("| o_win | sdpa-masked | cpu | 2 |"), r.markdownRow());
    }

    @Test
    void numbersPrintWithThreeSignificantDigits() {
        assertEquals("1.23e-8", ParityReport.num(1.2345e-8));
        assertEquals("1e-5", ParityReport.num(1e-5));
        assertEquals("0.5", ParityReport.num(0.5));
        assertEquals("-12.3", ParityReport.num(-12.34));
        assertEquals("1.23e5", ParityReport.num(123456.0));
        assertEquals("0", ParityReport.num(0));
        assertEquals("NaN", ParityReport.num(Double.NaN));
    }

    static long columns(String row) {
        return row.chars().filter(c -> c == '|').count();
    }

    @Test
    void assertParityThrowsTheLineOfAFailedReport() {
        ParityReport good = outputs.compare("o", "a", new double[] {1}, "b", new double[] {1});
        assertSame(good, ParityAssert.assertParity(good));
        ParityReport bad = outputs.compare("o", "a", new double[] {1}, "b", new double[] {2});
        AssertionError e = assertThrows(AssertionError.class, () -> ParityAssert.assertParity(bad));
        assertEquals(bad.line(), e.getMessage());
        AssertionError all = assertThrows(AssertionError.class, () -> ParityAssert.assertParity(List.of(good, bad, bad)));
        assertTrue(all.getMessage().startsWith("2 of 3 comparisons failed"), all.getMessage());
    }

    @Test
    void harnessRejectsNonsenseTolerances() {
        assertThrows(IllegalArgumentException.class, () -> outputs.withTolerance(0));
        assertThrows(IllegalArgumentException.class, () -> outputs.withTolerance(Double.NaN));
        assertThrows(IllegalArgumentException.class, () -> new ParityHarness(1e-5, false, 0));
    }

    @Test
    void oracleRuleWithARoundingFloorToleratesAnExactBaseline() {
        double[] oracle = {0.5, -0.25, 1.0, 0.75};
        double[] oneUlp = {0.5 + 0x1p-24, -0.25, 1.0 - 0x1p-24, 0.75};
        double floor = ParityHarness.roundingFloor(oracle);
        assertTrue(floor > 0 && floor < 3e-7, "floor " + floor);
        ParityReport strict = outputs.againstOracle("o", "fp64", oracle, "fa2-fast", oneUlp, "fp32", oracle, 2);
        assertFalse(strict.pass(), strict.line());
        ParityReport floored = outputs.againstOracle("o", "fp64", oracle, "fa2-fast", oneUlp, "fp32", oracle, 2, floor);
        assertTrue(floored.pass(), floored.line());
        assertTrue(floored.line().contains("fp32 rounding floor"), floored.line());
        assertThrows(IllegalArgumentException.class,
                () -> outputs.againstOracle("o", "fp64", oracle, "f", oracle, "b", oracle, 2, -1));
    }
}
