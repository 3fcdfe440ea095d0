package dev.nsa4j.oracle;

import dev.nsa4j.attention.GateOverride;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.testutil.NsaCase;
import dev.nsa4j.tensor.DType;
import java.util.SplittableRandom;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Property test: random valid configs (H, G | H, Dk, Dv, d | l, d | l', l <= l', n, w, scale), random varlen
 * batches with empty and one-token sequences and random dtypes all match the brute force.
 */
class RandomConfigPropertyTest {

    static Stream<Arguments> draws() {
        return LongStream.range(0, 30).mapToObj(seed -> {
            SplittableRandom r = new SplittableRandom(0x5EED + seed);
            int g = 1 + r.nextInt(3);
            int h = g * (1 + r.nextInt(3));
            int d = 1 + r.nextInt(4);
            int l = d * (1 + r.nextInt(3));
            int lp = l + d * r.nextInt(4); // l <= l', and d | l'
            NsaConfig.Builder b = NsaConfig.builder().heads(h).kvGroups(g).headDims(1 + r.nextInt(12), 1 + r.nextInt(12))
                    .blockLen(l).stride(d).selBlock(lp).nSel(3 + r.nextInt(5)).window(1 + r.nextInt(40));
            if (r.nextBoolean()) {
                b.scale(0.05 + r.nextDouble());
            }
            NsaConfig cfg = b.build();
            int batch = 1 + r.nextInt(4);
            int[] lens = new int[batch];
            for (int i = 0; i < batch; i++) {
                int kind = r.nextInt(5);
                lens[i] = kind == 0 ? 0 : kind == 1 ? 1 : r.nextInt(2, 90);
            }
            DType dt = new DType[] {DType.FP32, DType.FP16, DType.BF16}[r.nextInt(3)];
            String name = "seed " + seed + ": H=" + h + " G=" + g + " Dk=" + cfg.headDimQk() + " Dv=" + cfg.headDimV()
                    + " l=" + l + " d=" + d + " l'=" + lp + " n=" + cfg.nSel() + " w=" + cfg.window() + " " + dt
                    + " lens=" + java.util.Arrays.toString(lens);
            return Arguments.of(Named.of(name, cfg), dt, lens, seed);
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("draws")
    void randomValidProblemMatchesBruteForce(NsaConfig cfg, DType dt, int[] lens, long seed) {
        NsaCase cs = NsaCase.randomVarlen(cfg, dt, seed, lens);
        BruteForceEquivalenceTest.assertMatchesReference(cs,
                new NsaOracle(cfg).forward(cs.inputs(), DType.FP32, GateOverride.NONE));
    }
}
