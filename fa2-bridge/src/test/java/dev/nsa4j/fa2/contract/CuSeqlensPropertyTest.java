package dev.nsa4j.fa2.contract;

import static dev.nsa4j.fa2.contract.Fixtures.SM90;
import static dev.nsa4j.fa2.contract.Fixtures.check;
import static dev.nsa4j.fa2.contract.Fixtures.kvPackedVarlen;
import static dev.nsa4j.fa2.contract.Fixtures.varlen;
import static dev.nsa4j.fa2.contract.Fixtures.withCu;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;
import java.util.Random;

import dev.nsa4j.tensor.DType;
import org.junit.jupiter.api.Test;

/**
 * Random cu_seqlens: every valid pair (zero-length and length-1 sequences included) passes; every pair with
 * one array broken in one of five ways gives a fatal cu_seqlens violation naming that array.
 */
class CuSeqlensPropertyTest {
    private enum Break { LENGTH, FIRST, DECREASE, LAST, NEGATIVE }

    private static final int DRAWS = 600;

    /** B+1 offsets of sequences mostly 0, 1 or short, now and then long. */
    private static int[] valid(Random rnd, int b) {
        int[] cu = new int[b + 1];
        for (int i = 1; i <= b; i++) {
            int len = switch (rnd.nextInt(4)) {
                case 0 -> 0;
                case 1 -> 1;
                case 2 -> rnd.nextInt(8);
                default -> rnd.nextInt(300);
            };
            cu[i] = cu[i - 1] + len;
        }
        return cu;
    }

    private static Fa2Request request(Random rnd, int[] cuQ, int[] cuK) {
        return rnd.nextBoolean()
                ? varlen(SM90, DType.BF16, cuQ, cuK, 4, 2, 64, 64)
                : kvPackedVarlen(SM90, DType.BF16, cuQ, cuK, 4, 2, 64);
    }

    @Test
    void randomValidOffsetsPass() {
        Random rnd = new Random(20240611L);
        for (int draw = 0; draw < DRAWS; draw++) {
            int b = rnd.nextInt(6) == 0 ? rnd.nextInt(2) : rnd.nextInt(40);
            int[] cuQ = valid(rnd, b);
            int[] cuK = valid(rnd, b);
            Fa2Verdict v = check(request(rnd, cuQ, cuK));
            assertTrue(v.ok(), () -> "cu_q " + Arrays.toString(cuQ) + " cu_k " + Arrays.toString(cuK) + ": " + v);
        }
    }

    @Test
    void randomInvalidOffsetsAreFatalAndNameTheArray() {
        Random rnd = new Random(7_777L);
        Map<Break, Integer> seen = new EnumMap<>(Break.class);
        for (int draw = 0; draw < DRAWS; draw++) {
            int b = 1 + rnd.nextInt(20);
            int[] cuQ = valid(rnd, b);
            int[] cuK = valid(rnd, b);
            Fa2Request base = request(rnd, cuQ, cuK); // tensors sized from the valid arrays
            boolean onQ = rnd.nextBoolean();
            Break kind = Break.values()[rnd.nextInt(Break.values().length)];
            int[] bad = corrupt(rnd, onQ ? cuQ : cuK, onQ, kind);
            String name = onQ ? "cu_seqlens_q" : "cu_seqlens_k";
            Fa2Verdict v = check(onQ ? withCu(base, bad, cuK) : withCu(base, cuQ, bad));
            String what = kind + " " + name + " " + Arrays.toString(bad) + " (valid " + Arrays.toString(onQ ? cuQ : cuK)
                    + "): " + v;
            assertTrue(v.fatal(), what);
            assertTrue(v.violations().stream().anyMatch(x -> x.rule() == Fa2Rule.CU_SEQLENS && x.tensor().equals(name)
                    && x.detail().startsWith(name)), what);
            assertEquals(name, v.toException().subject(), what);
            assertEquals("cu_seqlens", v.toException().rule(), what);
            boolean lengthOfQ = onQ && kind == Break.LENGTH; // B comes from cu_seqlens_q, so cu_seqlens_k then mismatches
            if (!lengthOfQ) {
                String other = onQ ? "cu_seqlens_k" : "cu_seqlens_q";
                assertFalse(v.violations().stream().anyMatch(x -> x.tensor().equals(other)), what);
            }
            seen.merge(kind, 1, Integer::sum);
        }
        for (Break k : Break.values()) {
            assertTrue(seen.getOrDefault(k, 0) > 50, "too few draws of " + k + ": " + seen);
        }
    }

    /** A copy of the valid {@code cu} broken one way; {@code cu[B]} is the tensor's nnz. */
    private static int[] corrupt(Random rnd, int[] cu, boolean onQ, Break kind) {
        int b = cu.length - 1;
        int nnz = cu[b];
        int[] c = cu.clone();
        return switch (kind) {
            case LENGTH -> {
                if (!onQ) {
                    // any other length than B+1, including none
                    yield rnd.nextBoolean() ? Arrays.copyOf(c, rnd.nextInt(b + 1)) : append(c, nnz + rnd.nextInt(3));
                }
                // cu_seqlens_q defines B: a wrong length shows as an empty array or a wrong last offset
                int choice = rnd.nextInt(3);
                if (choice == 0 || (choice == 1 && cu[b - 1] == nnz)) {
                    yield new int[0];
                }
                if (choice == 1) {
                    yield Arrays.copyOf(c, b); // drops the last, non-empty sequence's end
                }
                int x;
                do {
                    x = rnd.nextInt(nnz + 10) - 3;
                } while (x == nnz);
                yield append(c, x);
            }
            case FIRST -> {
                c[0] = rnd.nextBoolean() ? 1 + rnd.nextInt(10) : -1 - rnd.nextInt(10);
                yield c;
            }
            case DECREASE -> {
                int i = 1 + rnd.nextInt(b);
                c[i] = c[i - 1] - 1 - rnd.nextInt(3);
                yield c;
            }
            case LAST -> {
                int delta = 1 + rnd.nextInt(5);
                c[b] = rnd.nextBoolean() ? nnz + delta : nnz - delta;
                yield c;
            }
            case NEGATIVE -> {
                c[rnd.nextInt(b + 1)] = -1 - rnd.nextInt(10);
                yield c;
            }
        };
    }

    private static int[] append(int[] c, int x) {
        int[] a = Arrays.copyOf(c, c.length + 1);
        a[c.length] = x;
        return a;
    }
}
