package dev.nsa4j.kernels.op;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;

import dev.nsa4j.kernels.GpuFixture;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;

/**
 * {@link SelKernelGpuTest}'s inputs: dtype-rounded q/k/v of a varlen batch, the chosen blocks of every (token, group)
 * in the scorer's encoding (sorted, −1 padded) and in a caller's (the same sets unsorted, duplicated, with negative
 * entries and blocks after the query), and an fp64 oracle over the chosen keys.
 */
record SelInputs(DType dt, int h, int dk, int dv, int[] lens, int[] cu, HostTensor q, HostTensor k, HostTensor v,
                 int[][] sets, HostTensor sorted, HostTensor messy) {
    static final int G = 2, LP = 64, N = 4;

    int heads() {
        return G * h;
    }

    int nnz() {
        return cu[cu.length - 1];
    }

    static SelInputs make(DType dt, int h, int dk, int dv, int[] lens, long seed) {
        Random rnd = new Random(seed);
        int[] cu = new int[lens.length + 1];
        for (int b = 0; b < lens.length; b++) {
            cu[b + 1] = cu[b] + lens[b];
        }
        int nnz = cu[lens.length];
        HostTensor q = GpuFixture.random(rnd, dt, -1, 1, nnz, G * h, dk);
        HostTensor k = GpuFixture.random(rnd, dt, -1, 1, nnz, G, dk);
        HostTensor v = GpuFixture.random(rnd, dt, -1, 1, nnz, G, dv);
        int[][] sets = new int[nnz * G][];
        int[] sorted = new int[nnz * G * N];
        int[] messy = new int[nnz * G * N];
        for (int b = 0; b < lens.length; b++) {
            int nb = (lens[b] + LP - 1) / LP;
            for (int t = 0; t < lens[b]; t++) {
                for (int g = 0; g < G; g++) {
                    int row = (cu[b] + t) * G + g;
                    int[] set = chosen(rnd, t / LP, nb);
                    sets[row] = set;
                    encode(rnd, set, t / LP, sorted, messy, row * N);
                }
            }
        }
        return new SelInputs(dt, h, dk, dv, lens, cu, q, k, v, sets, HostTensor.ofInts(sorted, nnz, G, N),
                HostTensor.ofInts(messy, nnz, G, N));
    }

    /** 0 to n distinct blocks of 0..cur (sometimes none: a row without a visible key), ascending. */
    static int[] chosen(Random rnd, int cur, int nb) {
        int m = rnd.nextInt(10) == 0 ? 0 : 1 + rnd.nextInt(Math.min(N, cur + 1));
        List<Integer> all = new ArrayList<>();
        for (int j = 0; j <= cur; j++) {
            all.add(j);
        }
        java.util.Collections.shuffle(all, rnd);
        if (m > 0 && rnd.nextBoolean()) {   // often the query's own block, partly in the future
            all.remove(Integer.valueOf(cur));
            all.add(0, cur);
        }
        return all.subList(0, m).stream().mapToInt(Integer::intValue).sorted().toArray();
    }

    /**
     * The set sorted and −1 padded (as the scorer writes it), and the same set as a caller might give it: any
     * order, a member twice, −1 or −7, blocks after the query (cur + 1, or far past the sequence).
     */
    static void encode(Random rnd, int[] set, int cur, int[] sorted, int[] messy, int at) {
        Arrays.fill(sorted, at, at + N, -1);
        System.arraycopy(set, 0, sorted, at, set.length);
        int[] m = new int[N];
        System.arraycopy(set, 0, m, 0, set.length);
        for (int e = set.length; e < N; e++) {
            m[e] = switch (rnd.nextInt(4)) {
                case 0 -> set.length > 0 ? set[rnd.nextInt(set.length)] : -1;
                case 1 -> rnd.nextBoolean() ? -1 : -7;
                case 2 -> cur + 1;
                default -> 1 << 24;
            };
        }
        for (int e = N - 1; e > 0; e--) {
            int s = rnd.nextInt(e + 1);
            int x = m[e];
            m[e] = m[s];
            m[s] = x;
        }
        System.arraycopy(m, 0, messy, at, N);
    }

    /**
     * fp64 attention over each row's chosen keys: {exact, with P = exp(s − max) rounded to the input dtype before
     * P·V (the row sum unrounded, as the kernel's)}. Rows without a visible key are 0.
     */
    double[][] oracle(double scale) {
        double[] q = q().toDoubleArray(), k = k().toDoubleArray(), v = v().toDoubleArray();
        int heads = heads(), dk = dk(), dv = dv(), h = h();
        double[] exact = new double[nnz() * heads * dv];
        double[] rounded = new double[exact.length];
        IntStream.range(0, lens().length).forEach(b -> IntStream.range(0, lens()[b]).parallel().forEach(t -> {
            int tok = cu()[b] + t;
            for (int g = 0; g < G; g++) {
                List<Integer> keys = new ArrayList<>();
                for (int j : sets()[tok * G + g]) {
                    for (int s = j * LP; s < (j + 1) * LP && s <= t; s++) {
                        keys.add(cu()[b] + s);
                    }
                }
                if (keys.isEmpty()) {
                    continue;
                }
                double[] sc = new double[keys.size()];
                for (int hh = g * h; hh < (g + 1) * h; hh++) {
                    double m = Double.NEGATIVE_INFINITY;
                    for (int i = 0; i < sc.length; i++) {
                        double dot = 0;
                        int kr = keys.get(i);
                        for (int e = 0; e < dk; e++) {
                            dot += q[(tok * heads + hh) * dk + e] * k[(kr * G + g) * dk + e];
                        }
                        sc[i] = dot * scale;
                        m = Math.max(m, sc[i]);
                    }
                    double sum = 0;
                    int row = (tok * heads + hh) * dv;
                    for (int i = 0; i < sc.length; i++) {
                        double p = Math.exp(sc[i] - m);
                        double pr = dt().roundTrip(p);
                        sum += p;
                        int vr = (keys.get(i) * G + g) * dv;
                        for (int e = 0; e < dv; e++) {
                            exact[row + e] += p * v[vr + e];
                            rounded[row + e] += pr * v[vr + e];
                        }
                    }
                    for (int e = 0; e < dv; e++) {
                        exact[row + e] /= sum;
                        rounded[row + e] /= sum;
                    }
                }
            }
        }));
        return new double[][] {exact, rounded};
    }

    /**
     * FlashAttention's {@code fwd_atol} in {@code out}'s format: twice the largest rounding noise at the reference's
     * magnitude, {@code 2 · max |fl(fl(x + 0.3) − 0.3) − x|}.
     */
    static double roundingFloor(double[] reference, DType out) {
        double max = 0;
        for (double r : reference) {
            double x = out.roundTrip(r);
            double y = out.roundTrip(out.roundTrip(x + 0.3) - 0.3);
            max = Math.max(max, Math.abs(y - x));
        }
        return 2 * max;
    }
}
