package dev.nsa4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.oracle.DecodeCache;
import dev.nsa4j.oracle.DecodeReads;
import dev.nsa4j.oracle.NsaDecoder;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The closed form of the decode reads against what the CPU decoder counts step by step, and fixed values. */
class DecodeStepReadsTest {
    static NsaConfig cfg(int h, int g, int dk, int dv, int l, int d, int lp, int n, int w) {
        return NsaConfig.builder().heads(h).kvGroups(g).headDims(dk, dv).blockLen(l).stride(d).selBlock(lp).nSel(n)
                .window(w).build();
    }

    @Test
    void formulaEqualsTheCpuDecodersCountsAtEveryPosition() {
        NsaConfig[] cases = {
            cfg(4, 2, 8, 6, 4, 2, 4, 3, 5),        // n = 3: only the forced blocks once cur >= 3
            cfg(4, 2, 8, 8, 8, 4, 8, 4, 16),       // l < l', w spans two blocks
            cfg(2, 1, 4, 4, 1, 1, 1, 3, 2),        // l = d = l' = 1
            cfg(4, 1, 8, 8, 16, 16, 16, 5, 3),     // l = d = l', w < l
            cfg(8, 2, 8, 8, 4, 2, 8, 6, 40)};      // d < l < l'
        for (NsaConfig c : cases) {
            int prefill = 1;
            int steps = 150;
            Random r = new Random(c.hashCode());
            NsaDecoder dec = new NsaDecoder(c);
            DecodeCache cache = dec.prefill(tokens(r, c, 2, prefill)).cache();
            for (int t = prefill; t < prefill + steps; t++) {
                NsaDecoder.Step s = dec.step(cache, tokens(r, c, 2, 1));
                DecodeReads want = DecodeStepReads.at(c, t);
                for (DecodeReads got : s.reads()) {
                    assertEquals(want, got, "t = " + t + " " + c);
                }
            }
        }
    }

    @Test
    void knownValuesAtTheBenchShape() {
        NsaConfig c = cfg(64, 4, 128, 128, 64, 64, 64, 16, 512);
        // t = 131072: ncmp = (131073 - 64) / 64 + 1 = 2048; selected 15·64 + 1 = 961; window 512; times G = 4
        assertEquals(new DecodeReads(4 * 2048, 4 * 961, 4 * 512), DecodeStepReads.at(c, 131072));
        assertEquals(4L * (2048 + 961 + 512) * 256 * 2, DecodeStepReads.kvBytes(c, 131072, 2));
        assertEquals(131073L * 4 * 256 * 2, DecodeStepReads.denseKvBytes(c, 131072, 2));
        // t = 1000 < 16 blocks of 64: every token <= t is selected
        assertEquals(1001, DecodeStepReads.selectedPerGroup(c, 1000));
        // t = 1023: cur = 15, cur + 1 = 16 = n, still all; t = 1024: cur = 16 > n - 1: 15 full blocks + 1 token
        assertEquals(1024, DecodeStepReads.selectedPerGroup(c, 1023));
        assertEquals(961, DecodeStepReads.selectedPerGroup(c, 1024));
        // the paper's l = 32, d = 16: ncmp(2048) = (2049 - 32) / 16 + 1 = 127
        NsaConfig paper = cfg(64, 4, 128, 128, 32, 16, 64, 16, 512);
        assertEquals(4 * 127, DecodeStepReads.at(paper, 2048).compressed());
        assertEquals(0, DecodeStepReads.at(paper, 30).compressed());
        assertEquals(4, DecodeStepReads.at(paper, 31).compressed());
        assertEquals(64L * (128 * 2 + 128 * 2), DecodeStepReads.qoBytes(c, 2, 2));
    }

    /** Random dense inputs of B sequences x S tokens, q/k/v in [-1, 1), gates in [0, 1). */
    static NsaInputs tokens(Random r, NsaConfig c, int b, int s) {
        HostTensor gates = RunCommandTest.random(r, DType.FP32, b, s, c.heads(), 3);
        gates.copyFrom(java.util.Arrays.stream(gates.toDoubleArray()).map(Math::abs).toArray());
        return NsaInputs.builder().q(RunCommandTest.random(r, DType.FP32, b, s, c.heads(), c.headDimQk()))
                .sharedKv(RunCommandTest.random(r, DType.FP32, b, s, c.kvGroups(), c.headDimQk()),
                        RunCommandTest.random(r, DType.FP32, b, s, c.kvGroups(), c.headDimV()))
                .gates(gates).build();
    }
}
