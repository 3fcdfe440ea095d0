package dev.nsa4j.fa2.contract;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.List;

import dev.nsa4j.tensor.DType;

/** Valid requests of every layout (contiguous, 16-byte aligned) and ways to break one piece of them. */
final class Fixtures {
    static final Fa2Device SM80 = Fa2Device.of(8, 0);
    static final Fa2Device SM90 = Fa2Device.of(9, 0);
    static final Fa2Options DEFAULTS = Fa2Options.defaults();

    private Fixtures() {
    }

    /** A contiguous view at an address that is a multiple of 1 MiB (distinct per name). */
    static TensorView view(String name, DType dtype, int... shape) {
        long base = switch (name) {
            case "q" -> 1;
            case "k" -> 2;
            case "v" -> 3;
            case "kv" -> 4;
            case "out" -> 5;
            default -> 6;
        };
        return TensorView.contiguous(name, dtype, base << 20, shape);
    }

    static Fa2Request dense(Fa2Device dev, DType dt, int b, int sq, int sk, int h, int hkv, int dk, int dv) {
        return Fa2Request.dense(dev, view("q", dt, b, sq, h, dk), view("k", dt, b, sk, hkv, dk),
                view("v", dt, b, sk, hkv, dv), view("out", dt, b, sq, h, dv));
    }

    static Fa2Request dense(Fa2Device dev, DType dt, int dk, int dv) {
        return dense(dev, dt, 2, 64, 64, 8, 2, dk, dv);
    }

    static Fa2Request varlen(Fa2Device dev, DType dt, int[] cuQ, int[] cuK, int h, int hkv, int dk, int dv) {
        int nq = cuQ[cuQ.length - 1];
        int nk = cuK[cuK.length - 1];
        return Fa2Request.varlen(dev, view("q", dt, nq, h, dk), view("k", dt, nk, hkv, dk), view("v", dt, nk, hkv, dv),
                view("out", dt, nq, h, dv), cuQ, cuK);
    }

    static Fa2Request varlen(Fa2Device dev, DType dt) {
        return varlen(dev, dt, new int[] {0, 5, 5, 17}, new int[] {0, 5, 5, 17}, 8, 2, 128, 128);
    }

    static Fa2Request kvPacked(Fa2Device dev, DType dt, int b, int sq, int sk, int h, int hkv, int d) {
        return Fa2Request.kvPacked(dev, view("q", dt, b, sq, h, d), view("kv", dt, b, sk, 2, hkv, d),
                view("out", dt, b, sq, h, d));
    }

    static Fa2Request kvPackedVarlen(Fa2Device dev, DType dt, int[] cuQ, int[] cuK, int h, int hkv, int d) {
        int nq = cuQ[cuQ.length - 1];
        int nk = cuK[cuK.length - 1];
        return Fa2Request.kvPackedVarlen(dev, view("q", dt, nq, h, d), view("kv", dt, nk, 2, hkv, d),
                view("out", dt, nq, h, d), cuQ, cuK);
    }

    static TensorView strides(TensorView t, long... strides) {
        return new TensorView(t.name(), t.dtype(), t.shape(), strides, t.address());
    }

    static TensorView at(TensorView t, long address) {
        return new TensorView(t.name(), t.dtype(), t.shape(), t.strides(), address);
    }

    static TensorView dtype(TensorView t, DType dtype) {
        return new TensorView(t.name(), dtype, t.shape(), t.strides(), t.address());
    }

    static TensorView dims(TensorView t, int... shape) {
        return TensorView.contiguous(t.name(), t.dtype(), t.address(), shape);
    }

    /** The request with the tensor in {@code role} (q, k, v, kv, out, lse) replaced. */
    static Fa2Request with(Fa2Request r, String role, TensorView t) {
        return new Fa2Request(r.device(), r.layout(), role.equals("q") ? t : r.q(), role.equals("k") ? t : r.k(),
                role.equals("v") ? t : r.v(), role.equals("kv") ? t : r.kv(), role.equals("out") ? t : r.out(),
                role.equals("lse") ? t : r.lse(), r.cuSeqlensQ(), r.cuSeqlensK(), r.mask(), r.keys(), r.compiledDims());
    }

    static Fa2Request withDevice(Fa2Request r, Fa2Device d) {
        return new Fa2Request(d, r.layout(), r.q(), r.k(), r.v(), r.kv(), r.out(), r.lse(), r.cuSeqlensQ(),
                r.cuSeqlensK(), r.mask(), r.keys(), r.compiledDims());
    }

    static Fa2Request withCu(Fa2Request r, int[] cuQ, int[] cuK) {
        return new Fa2Request(r.device(), r.layout(), r.q(), r.k(), r.v(), r.kv(), r.out(), r.lse(), cuQ, cuK,
                r.mask(), r.keys(), r.compiledDims());
    }

    static Fa2Verdict check(Fa2Request r) {
        return Fa2Contract.check(r, DEFAULTS);
    }

    static void assertOk(Fa2Verdict v) {
        assertTrue(v.ok(), () -> "expected ok, got " + v);
        assertFalse(v.fatal());
        assertEquals("", v.reason());
    }

    /**
     * Asserts that the verdict holds a violation of {@code rule} naming {@code tensor} whose detail contains
     * every fragment, and that the verdict's fatality is the rule's; returns that violation.
     */
    static Fa2Violation assertBroke(Fa2Verdict v, Fa2Rule rule, String tensor, String... fragments) {
        assertFalse(v.ok(), "expected a " + rule.id() + " violation, verdict ok");
        List<Fa2Violation> matches = v.violations().stream().filter(x -> x.rule() == rule && x.tensor().equals(tensor))
                .toList();
        if (matches.isEmpty()) {
            fail("no " + rule.id() + " violation naming " + tensor + " in: " + v.violations());
        }
        for (Fa2Violation m : matches) {
            boolean all = true;
            for (String f : fragments) {
                all &= m.detail().contains(f);
            }
            if (all) {
                assertTrue(v.broke(rule));
                if (rule.fatal()) {
                    assertTrue(v.fatal(), v.toString());
                }
                assertTrue(v.reason().contains(rule.id() + ": " + m.detail()), v.reason());
                return m;
            }
        }
        fail("no " + rule.id() + " violation naming " + tensor + " with " + List.of(fragments) + " in: " + matches);
        return null;
    }

    /** Asserts exactly one violation, of {@code rule}, naming {@code tensor}, with the fragments. */
    static Fa2Violation assertOnly(Fa2Verdict v, Fa2Rule rule, String tensor, String... fragments) {
        Fa2Violation m = assertBroke(v, rule, tensor, fragments);
        assertEquals(1, v.violations().size(), () -> "expected only " + rule.id() + ", got " + v.violations());
        assertEquals(rule.fatal(), v.fatal());
        return m;
    }
}
