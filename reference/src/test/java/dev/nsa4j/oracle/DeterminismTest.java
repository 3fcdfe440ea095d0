package dev.nsa4j.oracle;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.nsa4j.attention.NsaResult;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.testutil.Close;
import dev.nsa4j.testutil.Configs;
import dev.nsa4j.testutil.NsaCase;
import dev.nsa4j.tensor.DType;
import java.util.concurrent.ForkJoinPool;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** the NSA spec (docs/nsa-spec.md) "Numerics": the same inputs give bitwise identical outputs and chosen blocks, whatever the threads. */
class DeterminismTest {
    private static ForkJoinPool one;
    private static ForkJoinPool four;

    @BeforeAll
    static void pools() {
        one = new ForkJoinPool(1);
        four = new ForkJoinPool(4);
    }

    @AfterAll
    static void shutdown() {
        one.shutdown();
        four.shutdown();
    }

    private static void assertSame(NsaResult a, NsaResult b, String what) {
        for (NsaResult.Output out : NsaResult.Output.values()) {
            Close.assertBitwise(a.fp64(out), b.fp64(out), what + ": " + out);
        }
        assertArrayEquals(a.indexArray(), b.indexArray(), what + ": chosen blocks");
    }

    @Test
    void repeatedRunsAreBitwiseIdentical() {
        NsaConfig cfg = Configs.of(4, 2, 16, 8, 8, 4, 16, 4, 20);
        NsaCase cs = NsaCase.randomDense(cfg, DType.FP32, 99, 2, 150);
        NsaOracle oracle = new NsaOracle(cfg, null, four);
        NsaResult first = oracle.forward(cs.inputs());
        for (int i = 0; i < 3; i++) {
            assertSame(first, oracle.forward(cs.inputs()), "run " + (i + 2));
        }
    }

    @Test
    void parallelismOneAndFourAgreeBitwise() {
        NsaConfig cfg = Configs.of(4, 2, 16, 8, 8, 4, 16, 4, 20);
        NsaCase cs = NsaCase.randomVarlen(cfg, DType.FP32, 100, 0, 300, 33, 1, 64);
        NsaResult a = new NsaOracle(cfg, null, one).forward(cs.inputs());
        NsaResult b = new NsaOracle(cfg, null, four).forward(cs.inputs());
        NsaResult c = new NsaOracle(cfg).forward(cs.inputs());
        assertSame(a, b, "parallelism 1 vs 4");
        assertSame(a, c, "parallelism 1 vs common pool");
    }

    @Test
    void halfPrecisionRunsAreRepeatable() {
        NsaConfig cfg = Configs.of(2, 1, 8, 8, 4, 2, 8, 3, 5);
        NsaCase cs = NsaCase.randomDense(cfg, DType.BF16, 5, 1, 70);
        NsaResult a = new NsaOracle(cfg, null, one).forward(cs.inputs());
        NsaResult b = new NsaOracle(cfg, null, four).forward(cs.inputs());
        assertSame(a, b, "bf16, parallelism 1 vs 4");
        assertArrayEquals(a.o().toFloatArray(), b.o().toFloatArray(), "bf16 output tensors");
    }
}
