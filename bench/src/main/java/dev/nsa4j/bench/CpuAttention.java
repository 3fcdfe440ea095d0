package dev.nsa4j.bench;

import dev.nsa4j.bench.report.MaskText;
import dev.nsa4j.kernels.Mask;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import java.util.stream.IntStream;

/**
 * Path {@code cpu} of {@code nsa attend}: masked softmax attention in fp64, two passes per (query, head) over
 * the query's visible key range ({@link MaskText#visibleFrom}, {@link MaskText#visibleTo}), in ascending key
 * order. Query head {@code h} reads KV head {@code h / (H / Hkv)}. Rows with no visible key give 0 and
 * {@code lse = -inf}. Parallel over query tokens; each row's arithmetic is sequential, so results do not
 * depend on the parallelism.
 */
final class CpuAttention {
    private CpuAttention() {}

    static AttendOutput run(AttendInputs in, Mask mask, double scale) {
        int h = in.heads(), dk = in.dk(), dv = in.dv(), hkv = in.kvHeads(), nnz = in.nnzQ();
        int perGroup = h / hkv;
        double[] q = in.q().toDoubleArray();
        double[] k = in.k().toDoubleArray();
        double[] v = in.v().toDoubleArray();
        int[] seqOf = new int[nnz];
        int[] cuQ = in.cuQ();
        int[] cuK = in.cuK();
        for (int b = 0; b < in.batch(); b++) {
            for (int r = cuQ[b]; r < cuQ[b + 1]; r++) {
                seqOf[r] = b;
            }
        }
        double[] o = new double[Math.multiplyExact(Math.multiplyExact(nnz, h), dv)];
        double[] lse = new double[nnz * h];
        IntStream.range(0, nnz).parallel().forEach(row -> {
            int b = seqOf[row];
            int t = row - cuQ[b];
            int sk = cuK[b + 1] - cuK[b];
            int from = Math.min(MaskText.visibleFrom(mask, t), sk);
            int to = Math.min(MaskText.visibleTo(mask, t, sk), sk);
            double[] score = new double[Math.max(0, to - from)];
            for (int head = 0; head < h; head++) {
                int qo = (row * h + head) * dk;
                int g = head / perGroup;
                double max = Double.NEGATIVE_INFINITY;
                for (int s = from; s < to; s++) {
                    int ko = ((cuK[b] + s) * hkv + g) * dk;
                    double dot = 0;
                    for (int e = 0; e < dk; e++) {
                        dot += q[qo + e] * k[ko + e];
                    }
                    score[s - from] = dot * scale;
                    max = Math.max(max, score[s - from]);
                }
                if (to <= from) {
                    lse[row * h + head] = Double.NEGATIVE_INFINITY;
                    continue;
                }
                double sum = 0;
                int oo = (row * h + head) * dv;
                for (int s = from; s < to; s++) {
                    double p = Math.exp(score[s - from] - max);
                    sum += p;
                    int vo = ((cuK[b] + s) * hkv + g) * dv;
                    for (int e = 0; e < dv; e++) {
                        o[oo + e] += p * v[vo + e];
                    }
                }
                for (int e = 0; e < dv; e++) {
                    o[oo + e] /= sum;
                }
                lse[row * h + head] = max + Math.log(sum);
            }
        });
        return new AttendOutput(HostTensor.of(DType.FP32, o, nnz, h, dv), HostTensor.of(DType.FP32, lse, nnz, h));
    }
}
