package dev.nsa4j.bench;

import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.oracle.CompressionMlp;
import dev.nsa4j.oracle.PhiWeights;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import java.util.Random;

/**
 * Seeded random inputs and phi = mlp weights for {@code nsa run}. q, k and v are standard normal (rounded
 * to the dtype), gates uniform in [0, 1] (fp32), each branch with its own keys and values. The same seed
 * gives the same tensors on every machine ({@link Random} is specified).
 */
final class RandomInputs {
    private RandomInputs() {}

    static NsaInputs draw(ShapeSpec s, DType dtype, long seed) {
        Random r = new Random(seed);
        int b = s.batch();
        int n = s.seqLen();
        HostTensor q = normal(r, dtype, b, n, s.heads(), s.dk());
        HostTensor[] kv = new HostTensor[6];
        for (int i = 0; i < 6; i++) {
            kv[i] = normal(r, dtype, b, n, s.groups(), i % 2 == 0 ? s.dk() : s.dv());
        }
        double[] g = new double[Math.multiplyExact(Math.multiplyExact(b * n, s.heads()), 3)];
        for (int i = 0; i < g.length; i++) {
            g[i] = r.nextDouble();
        }
        return NsaInputs.builder().q(q).cmp(kv[0], kv[1]).sel(kv[2], kv[3]).win(kv[4], kv[5])
                .gates(HostTensor.of(DType.FP32, g, b, n, s.heads(), 3)).build();
    }

    /**
     * Random compression MLPs (hidden = D) from {@code seed}: P ~ N(0, 0.02²), W1 ~ N(0, 1/(l·D)),
     * W2 ~ N(0, 1/hidden), biases 0 (the initialisation scale of {@code torch.nn.Linear}).
     */
    static PhiWeights mlp(NsaConfig cfg, long seed) {
        Random r = new Random(seed ^ 0x6d6c70L);
        return new PhiWeights(mlp(r, cfg.blockLen(), cfg.headDimQk()), mlp(r, cfg.blockLen(), cfg.headDimV()));
    }

    private static CompressionMlp mlp(Random r, int l, int d) {
        int in = l * d;
        return CompressionMlp.ofArrays(l, d, d, gaussian(r, in, 0.02), gaussian(r, d * in, 1 / Math.sqrt(in)),
                new double[d], gaussian(r, d * d, 1 / Math.sqrt(d)), new double[d]);
    }

    private static double[] gaussian(Random r, int n, double sd) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = r.nextGaussian() * sd;
        }
        return v;
    }

    private static HostTensor normal(Random r, DType dtype, int... dims) {
        long n = 1;
        for (int d : dims) {
            n = Math.multiplyExact(n, d);
        }
        return HostTensor.of(dtype, gaussian(r, Math.toIntExact(n), 1), dims);
    }
}
