package dev.nsa4j.nsa;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The README's library example, kept compiling and true. */
class ReadmeExampleTest {
    private static HostTensor random(DType dt, SplittableRandom r, boolean unit, int... dims) {
        int n = 1;
        for (int d : dims) {
            n *= d;
        }
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = unit ? r.nextDouble() : r.nextDouble() * 2 - 1;
        }
        return HostTensor.of(dt, v, dims);
    }

    @Test
    void readmeExampleRuns() {
        SplittableRandom r = new SplittableRandom(1);
        int b = 1, s = 200, h = 16, g = 4, d = 64;
        HostTensor q = random(DType.BF16, r, false, b, s, h, d);
        HostTensor kCmp = random(DType.BF16, r, false, b, s, g, d), vCmp = random(DType.BF16, r, false, b, s, g, d);
        HostTensor kSel = random(DType.BF16, r, false, b, s, g, d), vSel = random(DType.BF16, r, false, b, s, g, d);
        HostTensor kWin = random(DType.BF16, r, false, b, s, g, d), vWin = random(DType.BF16, r, false, b, s, g, d);
        HostTensor gates = random(DType.BF16, r, true, b, s, h, 3);

        NsaConfig cfg = NsaConfig.builder()
                .heads(16).kvGroups(4).headDim(64)
                .blockLen(32).stride(16).selBlock(64).nSel(16).window(512)
                .build();
        // the README writes NsaAttention.builder(cfg).build(), which reads the real flags; the test pins them
        NsaAttention nsa = NsaAttention.builder(cfg).flags(Flags.defaults()).build();

        NsaInputs in = NsaInputs.builder()
                .q(q)
                .cmp(kCmp, vCmp).sel(kSel, vSel).win(kWin, vWin)
                .gates(gates)
                .build();
        NsaOutput out = nsa.forward(in);
        HostTensor o = out.result().o();
        HostTensor chosen = out.result().indices();

        assertArrayEquals(new int[] {b, s, h, d}, o.shape().dims());
        assertEquals(DType.BF16, o.dtype());
        assertArrayEquals(new int[] {b, s, g, 16}, chosen.shape().dims());
        assertEquals(3, out.routes().size());
        out.routes().forEach(route -> assertEquals(Path.CPU, route.path()));
    }
}
