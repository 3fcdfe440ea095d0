package dev.nsa4j.oracle;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.nsa4j.attention.NsaResult;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.testutil.Close;
import dev.nsa4j.testutil.Configs;
import dev.nsa4j.testutil.NsaCase;
import dev.nsa4j.tensor.DType;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** the NSA spec (docs/nsa-spec.md) varlen: each sequence is independent; positions, blocks and compression restart per sequence. */
class VarlenBatchTest {

    static Stream<Arguments> batches() {
        return Stream.of(
                Arguments.of(Configs.of(4, 2, 8, 6, 4, 2, 8, 3, 5), new int[] {0, 1, 65, 0, 37, 64, 1, 0}),
                Arguments.of(Configs.of(2, 2, 4, 4, 1, 1, 1, 3, 2), new int[] {3, 0, 1, 17}),
                Arguments.of(Configs.of(4, 1, 8, 8, 8, 4, 8, 4, 16), new int[] {1}),
                Arguments.of(Configs.of(4, 4, 4, 8, 16, 8, 32, 3, 40), new int[] {0, 0, 70, 15, 1}),
                Arguments.of(Configs.of(2, 1, 4, 4, 4, 4, 4, 5, 3), new int[] {0}));
    }

    private static final NsaResult.Output[] OUTPUTS = NsaResult.Output.values();

    /** A varlen batch equals one dense call per sequence, bitwise, for every output and the chosen blocks. */
    @ParameterizedTest(name = "lens={1}")
    @MethodSource("batches")
    void varlenEqualsPerSequenceDenseCallsBitwise(NsaConfig cfg, int[] lens) {
        NsaCase cs = NsaCase.randomVarlen(cfg, DType.FP32, Arrays.hashCode(lens), lens);
        NsaResult all = new NsaOracle(cfg).forward(cs.inputs());
        for (int b = 0; b < cs.batch(); b++) {
            if (cs.len(b) == 0) {
                continue;
            }
            NsaResult one = new NsaOracle(cfg).forward(cs.sequence(b).inputs());
            for (NsaResult.Output out : OUTPUTS) {
                int per = out.name().startsWith("LSE") ? cfg.heads() : cfg.heads() * cfg.headDimV();
                Close.assertBitwise(one.fp64(out), Arrays.copyOfRange(all.fp64(out), cs.cu[b] * per,
                        cs.cu[b + 1] * per), out + " of sequence " + b + " (len " + cs.len(b) + ")");
            }
            int per = cfg.kvGroups() * cfg.nSel();
            assertArrayEquals(one.indexArray(), Arrays.copyOfRange(all.indexArray(), cs.cu[b] * per,
                    cs.cu[b + 1] * per), "chosen blocks of sequence " + b);
        }
        assertArrayEquals(new int[] {cs.nnz(), cfg.heads(), cfg.headDimV()}, all.o().shape().dims(),
                "varlen o is [nnz,H,Dv]");
    }

    /** And the varlen batch equals the brute force directly. */
    @ParameterizedTest(name = "lens={1}")
    @MethodSource("batches")
    void varlenMatchesBruteForce(NsaConfig cfg, int[] lens) {
        NsaCase cs = NsaCase.randomVarlen(cfg, DType.FP32, 7 + lens.length, lens);
        BruteForceEquivalenceTest.assertMatchesReference(cs, new NsaOracle(cfg).forward(cs.inputs()));
    }

    static Stream<Arguments> denseBatches() {
        return Stream.of(Arguments.of(3, 20), Arguments.of(2, 65), Arguments.of(4, 1));
    }

    /** A dense batch B > 1 equals one call per batch entry, bitwise. */
    @ParameterizedTest(name = "B={0}, S={1}")
    @MethodSource("denseBatches")
    void denseBatchEqualsPerEntryCallsBitwise(int batch, int len) {
        NsaConfig cfg = Configs.of(4, 2, 8, 4, 4, 2, 4, 3, 6);
        NsaCase cs = NsaCase.randomDense(cfg, DType.FP32, batch * 31L + len, batch, len);
        NsaResult all = new NsaOracle(cfg).forward(cs.inputs());
        assertArrayEquals(new int[] {batch, len, 4, 4}, all.o().shape().dims(), "dense o is [B,S,H,Dv]");
        assertArrayEquals(new int[] {batch, len, 4}, all.lseCmp().shape().dims(), "lse is [B,S,H]");
        for (int b = 0; b < batch; b++) {
            NsaResult one = new NsaOracle(cfg).forward(cs.sequence(b).inputs());
            for (NsaResult.Output out : OUTPUTS) {
                int per = out.name().startsWith("LSE") ? cfg.heads() : cfg.heads() * cfg.headDimV();
                Close.assertBitwise(one.fp64(out), Arrays.copyOfRange(all.fp64(out), cs.cu[b] * per,
                        cs.cu[b + 1] * per), out + " of batch entry " + b);
            }
            int per = cfg.kvGroups() * cfg.nSel();
            assertArrayEquals(one.indexArray(), Arrays.copyOfRange(all.indexArray(), cs.cu[b] * per,
                    cs.cu[b + 1] * per), "chosen blocks of batch entry " + b);
        }
    }
}
