package dev.nsa4j.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.nsa4j.kernels.Mask;
import dev.nsa4j.kernels.GpuAvailability;
import dev.nsa4j.parity.ParityAssert;
import dev.nsa4j.parity.ParityHarness;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import dev.nsa4j.tensor.Npy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code nsa attend} on the CPU path: outputs against a brute force written here, and every input error. */
class AttendCommandTest {
    @TempDir
    Path tmp;

    /** {@code nsa attend ARGS}. */
    static RunCommandTest.Result cli(String... args) {
        return RunCommandTest.subcommand("attend", args);
    }

    /** Which mask, written out from the definitions (independent of Mask). */
    enum Rule { NONE, CAUSAL, WINDOW, BLOCK }

    /** Brute-force masked attention in fp64: o [nnz_q*H*Dv], lse [nnz_q*H]. */
    static double[][] bruteForce(double[] q, double[] k, double[] v, int[] cuQ, int[] cuK, int h, int hkv, int dk,
                                 int dv, Rule rule, int a, int b, double scale) {
        int nnz = cuQ[cuQ.length - 1];
        double[] o = new double[nnz * h * dv];
        double[] lse = new double[nnz * h];
        for (int seq = 0; seq + 1 < cuQ.length; seq++) {
            for (int t = 0; t < cuQ[seq + 1] - cuQ[seq]; t++) {
                int row = cuQ[seq] + t;
                for (int head = 0; head < h; head++) {
                    int g = head / (h / hkv);
                    List<double[]> seen = new ArrayList<>();   // {score, key row}
                    for (int s = 0; s < cuK[seq + 1] - cuK[seq]; s++) {
                        boolean vis = switch (rule) {
                            case NONE -> true;
                            case CAUSAL -> s <= t;
                            case WINDOW -> t - a + 1 <= s && s <= t;
                            case BLOCK -> s * b + a - 1 <= t;
                        };
                        if (vis) {
                            double dot = 0;
                            for (int e = 0; e < dk; e++) {
                                dot += q[(row * h + head) * dk + e] * k[((cuK[seq] + s) * hkv + g) * dk + e];
                            }
                            seen.add(new double[] {dot * scale, cuK[seq] + s});
                        }
                    }
                    if (seen.isEmpty()) {
                        lse[row * h + head] = Double.NEGATIVE_INFINITY;
                        continue;
                    }
                    double max = seen.stream().mapToDouble(x -> x[0]).max().orElseThrow();
                    double sum = seen.stream().mapToDouble(x -> Math.exp(x[0] - max)).sum();
                    for (double[] x : seen) {
                        double p = Math.exp(x[0] - max) / sum;
                        for (int e = 0; e < dv; e++) {
                            o[(row * h + head) * dv + e] += p * v[(((int) x[1]) * hkv + g) * dv + e];
                        }
                    }
                    lse[row * h + head] = max + Math.log(sum);
                }
            }
        }
        return new double[][] {o, lse};
    }

    /** Reads in/ and got/ and checks o.npy and lse.npy against the brute force on {@code dtype}-rounded inputs. */
    static void assertMatchesBruteForce(Path in, Path got, Rule rule, int a, int b, DType dtype) throws IOException {
        HostTensor q = Npy.read(in.resolve("q.npy"));
        HostTensor k = Npy.read(in.resolve("k.npy"));
        HostTensor v = Npy.read(in.resolve("v.npy"));
        boolean varlen = Files.exists(in.resolve("cu_seqlens_q.npy"));
        int[] cuQ, cuK;
        if (varlen) {
            cuQ = Npy.read(in.resolve("cu_seqlens_q.npy")).toIntArray();
            cuK = Npy.read(in.resolve("cu_seqlens_k.npy")).toIntArray();
        } else {
            cuQ = new int[q.dim(0) + 1];
            cuK = new int[q.dim(0) + 1];
            for (int i = 0; i < q.dim(0); i++) {
                cuQ[i + 1] = cuQ[i] + q.dim(1);
                cuK[i + 1] = cuK[i] + k.dim(1);
            }
        }
        int r = q.rank();
        int h = q.dim(r - 2), dk = q.dim(r - 1), hkv = k.dim(r - 2), dv = v.dim(r - 1);
        double[][] want = bruteForce(q.to(dtype).toDoubleArray(), k.to(dtype).toDoubleArray(),
                v.to(dtype).toDoubleArray(), cuQ, cuK, h, hkv, dk, dv, rule, a, b, 1 / Math.sqrt(dk));
        HostTensor o = Npy.read(got.resolve("o.npy"), DType.FP32);
        HostTensor lse = Npy.read(got.resolve("lse.npy"), DType.FP32);
        int[] lead = Arrays.copyOf(q.shape().dims(), r - 2);
        assertArrayEquals(cat(lead, h, dv), o.shape().dims());
        assertArrayEquals(cat(lead, h), lse.shape().dims());
        ParityAssert.assertParity(List.of(
                ParityHarness.outputs().withTolerance(1e-7).compare("o", "cpu", o.toDoubleArray(), "brute", want[0]),
                ParityHarness.lse().withTolerance(1e-7).compare("lse", "cpu", lse.toDoubleArray(), "brute", want[1])));
    }

    static int[] cat(int[] a, int... b) {
        int[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    @Test
    void randomInputsOnTheCpuPathMatchBruteForceForEveryMask() throws IOException {
        String[][] masks = {{}, {"--causal"}, {"--window", "3"}, {"--block-causal", "4,2"}};
        Rule[] rules = {Rule.NONE, Rule.CAUSAL, Rule.WINDOW, Rule.BLOCK};
        int[][] params = {{0, 0}, {0, 0}, {3, 0}, {4, 2}};
        for (int m = 0; m < masks.length; m++) {
            Path in = tmp.resolve("in" + m);
            Path got = tmp.resolve("got" + m);
            List<String> args = new ArrayList<>(List.of("--random", "2,13,4,2,8,6", "--seed", "7", "--inputs",
                    in.toString(), "--out", got.toString(), "--path", "cpu"));
            args.addAll(List.of(masks[m]));
            RunCommandTest.Result r = cli(args.toArray(String[]::new));
            assertEquals(0, r.code(), r.err());
            assertTrue(r.out().contains("route: attention -> cpu (requested)"), r.out());
            assertTrue(r.out().contains("wrote o.npy, lse.npy to " + got), r.out());
            assertMatchesBruteForce(in, got, rules[m], params[m][0], params[m][1], DType.FP32);
        }
        // --block-causal 4,2 on S=13: Sk = (13 - 4)/2 + 1 = 5 compressed keys; queries t < 3 see none
        assertArrayEquals(new int[] {2, 5, 2, 8}, Npy.read(tmp.resolve("in3/k.npy")).shape().dims());
        double[] lse = Npy.read(tmp.resolve("got3/lse.npy")).toDoubleArray();
        assertEquals(Double.NEGATIVE_INFINITY, lse[0]);
        assertTrue(Double.isFinite(lse[3 * 4]));
    }

    @Test
    void theSameFilesGiveTheSameOutputsAndTheRouteIsPrinted() throws IOException {
        Path in = tmp.resolve("in");
        assertEquals(0, cli("--random", "1,10,2,1,4,4", "--inputs", in.toString(), "--path", "cpu",
                "--out", tmp.resolve("a").toString(), "--window", "4").code());
        RunCommandTest.Result r = cli("--inputs", in.toString(), "--path", "cpu", "--out", tmp.resolve("b").toString(), "--window", "4");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("nsa attend: inputs from " + in + " (fp32)"), r.out());
        assertTrue(r.out().contains("shape: B=1 Sq=10 Sk=10 H=2 Hkv=1 Dk=4 Dv=4"), r.out());
        assertTrue(r.out().contains("mask: window w=4, scale=0.5, dtype fp32"), r.out());
        assertTrue(r.out().contains("34 visible pairs per head"), r.out());
        for (String f : List.of("o.npy", "lse.npy")) {
            assertArrayEquals(Files.readAllBytes(tmp.resolve("a").resolve(f)), Files.readAllBytes(tmp.resolve("b").resolve(f)));
        }
    }

    @Test
    void varlenWithEmptySequencesAndDifferentQueryAndKeyLengths() throws IOException {
        int[] cuQ = {0, 3, 3, 10, 11};
        int[] cuK = {0, 5, 7, 7, 16};
        Random rnd = new Random(5);
        Path in = Files.createDirectories(tmp.resolve("in"));
        Npy.write(in.resolve("q.npy"), HostTensor.of(DType.FP32, rnd.doubles(11 * 6 * 5, -2, 2).toArray(), 11, 6, 5));
        Npy.write(in.resolve("k.npy"), HostTensor.of(DType.FP32, rnd.doubles(16 * 3 * 5, -2, 2).toArray(), 16, 3, 5));
        Npy.write(in.resolve("v.npy"), HostTensor.of(DType.FP32, rnd.doubles(16 * 3 * 7, -2, 2).toArray(), 16, 3, 7));
        Npy.write(in.resolve("cu_seqlens_q.npy"), HostTensor.ofInts(cuQ, 5));
        Npy.write(in.resolve("cu_seqlens_k.npy"), HostTensor.ofInts(cuK, 5));
        for (String[] mask : new String[][] {{"--causal"}, {"--block-causal", "2,1"}}) {
            Path got = tmp.resolve("got" + mask.length);
            List<String> args = new ArrayList<>(List.of("--inputs", in.toString(), "--out", got.toString(), "--path", "cpu"));
            args.addAll(List.of(mask));
            RunCommandTest.Result r = cli(args.toArray(String[]::new));
            assertEquals(0, r.code(), r.err());
            assertTrue(r.out().contains("shape: varlen B=4 nnz_q=11 nnz_k=16 H=6 Hkv=3 Dk=5 Dv=7"), r.out());
            assertMatchesBruteForce(in, got, mask.length == 1 ? Rule.CAUSAL : Rule.BLOCK, 2, 1, DType.FP32);
        }
        // sequence 2 has queries but no keys: o = 0, lse = -inf
        double[] lse = Npy.read(tmp.resolve("got1/lse.npy")).toDoubleArray();
        for (int i = 3 * 6; i < 10 * 6; i++) {
            assertEquals(Double.NEGATIVE_INFINITY, lse[i]);
        }
    }

    @Test
    void halfPrecisionFilesAndDtypeRounding() throws IOException {
        Path in = Files.createDirectories(tmp.resolve("in"));
        Random rnd = new Random(9);
        for (String name : List.of("q", "k", "v")) {
            Npy.write(in.resolve(name + ".npy"), HostTensor.of(DType.FP16, rnd.doubles(2 * 7 * 2 * 8, -1, 1).toArray(),
                    2, 7, 2, 8));
        }
        RunCommandTest.Result r = cli("--inputs", in.toString(), "--out", tmp.resolve("got").toString(), "--path", "cpu", "--causal",
                "--dtype", "bf16");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("(fp16)") && r.out().contains("dtype bf16"), r.out());
        assertMatchesBruteForce(in, tmp.resolve("got"), Rule.CAUSAL, 0, 0, DType.BF16);
    }

    @Test
    void scaleIsUsed() throws IOException {
        Path in = tmp.resolve("in");
        assertEquals(0, cli("--random", "1,5,1,1,4,4", "--inputs", in.toString(), "--path", "cpu", "--scale", "0.5",
                "--out", tmp.resolve("a").toString()).code());
        assertEquals(0, cli("--inputs", in.toString(), "--path", "cpu", "--out", tmp.resolve("b").toString()).code());
        // Dk = 4: the default scale is 1/sqrt(4) = 0.5 as well
        assertArrayEquals(Files.readAllBytes(tmp.resolve("a/o.npy")), Files.readAllBytes(tmp.resolve("b/o.npy")));
        assertEquals(0, cli("--inputs", in.toString(), "--path", "cpu", "--scale", "2", "--out",
                tmp.resolve("c").toString()).code());
        assertFalse(Arrays.equals(Files.readAllBytes(tmp.resolve("a/o.npy")), Files.readAllBytes(tmp.resolve("c/o.npy"))));
    }

    @Test
    void withoutAGpuTheDefaultRouteIsCpuAndGpuPathsAreRefused() {
        GpuAvailability gpu = GpuAvailability.check();
        assumeFalse(gpu.available(), "a GPU is present: AttendGpuTest covers the GPU routes");
        RunCommandTest.Result r = cli("--random", "1,4,1,1,4,4");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("route: attention -> cpu (GPU unavailable: " + gpu.reason() + ")"), r.out());
        RunCommandTest.Result refused = cli("--random", "1,4,1,1,4,4", "--path", "sdpa-masked");
        assertEquals(2, refused.code());
        assertTrue(refused.err().contains("--path: rule 'path sdpa-masked can serve the call' broken: GPU unavailable"),
                refused.err());
    }

    @Test
    void headDimsBeyondTheGpuKernelRouteToCpuOrAreRefused() {
        RunCommandTest.Result r = cli("--random", "1,2,1,1,264,8");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("route: attention -> cpu (the GPU reference attention serves Dk and Dv <= 256, got "
                + "Dk=264 Dv=8)"), r.out());
        RunCommandTest.Result refused = cli("--random", "1,2,1,1,264,8", "--path", "sdpa");
        assertEquals(2, refused.code());
        assertTrue(refused.err().contains("Dk and Dv <= 256"), refused.err());
    }

    @Test
    void helpListsThePathsOfThisBuild() {
        RunCommandTest.Result r = cli("--help");
        assertEquals(0, r.code());
        assertTrue(r.out().contains("Implementation: cpu, sdpa, sdpa-masked, fa2"), r.out());
        assertTrue(r.out().contains("--exact-p"), r.out());
    }

    // ---------------------------------------------------------------- errors

    Path dense(String name, int... dims) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve(name));
        Random rnd = new Random(1);
        int b = dims[0], s = dims[1], h = dims[2], hkv = dims[3], d = dims[4], sk = dims.length > 5 ? dims[5] : s;
        Npy.write(dir.resolve("q.npy"), HostTensor.of(DType.FP32, rnd.doubles(b * s * h * d).toArray(), b, s, h, d));
        Npy.write(dir.resolve("k.npy"), HostTensor.of(DType.FP32, rnd.doubles(b * sk * hkv * d).toArray(), b, sk, hkv, d));
        Npy.write(dir.resolve("v.npy"), HostTensor.of(DType.FP32, rnd.doubles(b * sk * hkv * d).toArray(), b, sk, hkv, d));
        return dir;
    }

    void assertError(RunCommandTest.Result r, String... fragments) {
        assertEquals(2, r.code(), r.out() + r.err());
        for (String f : fragments) {
            assertTrue(r.err().contains(f), "'" + f + "' not in: " + r.err());
        }
        assertEquals("", r.out());
    }

    @Test
    void missingAndMalformedFilesNameTheFile() throws IOException {
        Path dir = dense("d", 1, 4, 2, 1, 4);
        Files.delete(dir.resolve("k.npy"));
        assertError(cli("--inputs", dir.toString(), "--path", "cpu"), "k.npy");
        Files.writeString(dir.resolve("k.npy"), "not numpy");
        assertError(cli("--inputs", dir.toString(), "--path", "cpu"), "k.npy", "magic");
        Npy.write(dir.resolve("k.npy"), HostTensor.ofInts(new int[8], 1, 4, 1, 2));
        assertError(cli("--inputs", dir.toString(), "--path", "cpu"), "k: rule 'dtype float32 or float16'", "int32");
        assertError(cli("--inputs", tmp.resolve("nowhere").toString()), "no such directory");
    }

    @Test
    void shapeMismatchesNameTheTensorAndTheRule() throws IOException {
        Path dir = dense("d", 2, 4, 2, 1, 4);
        Npy.write(dir.resolve("v.npy"), HostTensor.zeros(DType.FP32, 2, 5, 1, 4));
        assertError(cli("--inputs", dir.toString(), "--path", "cpu"), "v: rule 'shape [B,Sk,Hkv,Dv] with the Sk of k'");
        Npy.write(dir.resolve("v.npy"), HostTensor.zeros(DType.FP32, 4, 1, 4));
        assertError(cli("--inputs", dir.toString(), "--path", "cpu"), "v: rule 'shape [B,Sk,Hkv,Dv]'", "3-D");
        Npy.write(dir.resolve("k.npy"), HostTensor.zeros(DType.FP32, 2, 4, 1, 3));
        Npy.write(dir.resolve("v.npy"), HostTensor.zeros(DType.FP32, 2, 4, 1, 4));
        assertError(cli("--inputs", dir.toString(), "--path", "cpu"), "k: rule 'shape [B,Sk,Hkv,Dk] with the Dk of q'");
        Path gqa = dense("g", 1, 4, 3, 2, 4);
        assertError(cli("--inputs", gqa.toString(), "--path", "cpu"), "k: rule 'H % Hkv == 0", "H=3", "Hkv=2");
        Path mixed = dense("m", 1, 4, 2, 1, 4);
        Npy.write(mixed.resolve("v.npy"), HostTensor.zeros(DType.FP16, 1, 4, 1, 4));
        assertError(cli("--inputs", mixed.toString(), "--path", "cpu"), "v: rule 'dtype matches q'");
    }

    @Test
    void cuSeqlensRules() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("v"));
        Npy.write(dir.resolve("q.npy"), HostTensor.zeros(DType.FP32, 5, 2, 4));
        Npy.write(dir.resolve("k.npy"), HostTensor.zeros(DType.FP32, 6, 1, 4));
        Npy.write(dir.resolve("v.npy"), HostTensor.zeros(DType.FP32, 6, 1, 4));
        Npy.write(dir.resolve("cu_seqlens_q.npy"), HostTensor.ofInts(new int[] {0, 2, 5}, 3));
        assertError(cli("--inputs", dir.toString(), "--path", "cpu"),
                "cu_seqlens_k: rule 'cu_seqlens_q.npy and cu_seqlens_k.npy together'");
        Npy.write(dir.resolve("cu_seqlens_k.npy"), HostTensor.ofInts(new int[] {0, 4, 5}, 3));
        assertError(cli("--inputs", dir.toString(), "--path", "cpu"), "cu_seqlens_k: rule 'cu[B] == nnz'",
                "k.npy has 6 tokens");
        Npy.write(dir.resolve("cu_seqlens_k.npy"), HostTensor.ofInts(new int[] {0, 4, 3, 6}, 4));
        assertError(cli("--inputs", dir.toString(), "--path", "cpu"), "cu_seqlens_k: rule 'non-decreasing'");
        Npy.write(dir.resolve("cu_seqlens_k.npy"), HostTensor.ofInts(new int[] {0, 3, 4, 6}, 4));
        assertError(cli("--inputs", dir.toString(), "--path", "cpu"), "cu_seqlens_k: rule 'shape [B+1] with the B of cu_seqlens_q'");
        Npy.write(dir.resolve("cu_seqlens_k.npy"), HostTensor.ofInts(new int[] {1, 3, 6}, 3));
        assertError(cli("--inputs", dir.toString(), "--path", "cpu"), "cu_seqlens_k: rule 'cu[0] == 0'");
        Npy.write(dir.resolve("cu_seqlens_k.npy"), HostTensor.zeros(DType.FP32, 3));
        assertError(cli("--inputs", dir.toString(), "--path", "cpu"), "cu_seqlens_k.npy", "int32");
        Npy.write(dir.resolve("cu_seqlens_k.npy"), HostTensor.ofInts(new int[] {0, 3, 6}, 3));
        Npy.write(dir.resolve("q.npy"), HostTensor.zeros(DType.FP32, 1, 5, 2, 4));
        assertError(cli("--inputs", dir.toString(), "--path", "cpu"), "q: rule 'shape [nnz_q,H,Dk] (cu_seqlens files are present)'");
        assertError(cli("--random", "1,4,1,1,4,4", "--inputs", dir.toString()),
                "--random writes dense inputs only");
    }

    @Test
    void badOptionsAreUsageErrors() throws IOException {
        for (String bad : List.of("4", "a,b", "0,2", "4,2,1", "4,-1")) {
            assertError(cli("--random", "1,8,1,1,4,4", "--block-causal", bad), "--block-causal", "is not L,D");
        }
        assertError(cli("--random", "1,8,1,1,4,4", "--causal", "--window", "3"), "choose at most one mask");
        assertError(cli("--random", "1,8,1,1,4,4", "--window", "0"), "--window must be >= 1");
        assertError(cli("--random", "1,8,3,2,4,4"), "H = 3 is not a multiple of Hkv = 2");
        assertError(cli("--random", "1,8,1,4,4"), "B,S,H,Hkv,Dk,Dv");
        assertError(cli("--path", "cpu"), "give --inputs DIR or --random");
        assertError(cli("--random", "1,8,1,1,4,4", "--path", "sel-kernel"), "'sel-kernel' is not one of cpu, sdpa, sdpa-masked, fa2");
        assertError(cli("--random", "1,8,1,1,4,4", "--dtype", "int32"), "is not fp32, fp16 or bf16");
        assertError(cli("--random", "1,8,1,1,4,4", "--scale", "-1"), "--scale must be finite and > 0");
        Path file = Files.writeString(tmp.resolve("file"), "x");
        assertError(cli("--random", "1,8,1,1,4,4", "--out", file.toString()), "exists and is not a directory");
    }
}
