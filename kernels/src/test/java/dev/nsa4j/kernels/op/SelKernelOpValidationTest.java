package dev.nsa4j.kernels.op;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.internal.AttnMask;
import dev.nsa4j.kernels.internal.AttnParams;
import dev.nsa4j.kernels.internal.TcGeometry;
import dev.nsa4j.kernels.internal.TcModule;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.Shape;

/**
 * sel-kernel's host-side checks without a GPU (fake device addresses: every check runs before a launch): the
 * plan-time rules, a call whose tensors the kernel's vector accesses cannot follow refused with the rule named (the op
 * then runs its fallback), and shapes or dtypes no path can serve an {@link NsaArgumentException} naming the tensor.
 */
class SelKernelOpValidationTest {
    static final long BASE = 0x7f0000000000L;
    static final int NNZ = 100, H = 8, G = 2, DK = 128, DV = 128, N = 4, LP = 64;
    static final DeviceInfo H200 = new DeviceInfo(0, "NVIDIA H200", 9, 0, 132, 141L << 30, 232448);
    static final DeviceInfo A100 = new DeviceInfo(0, "NVIDIA A100", 8, 0, 108, 80L << 30, 166912);
    static final SelKernelOp.Spec SPEC = new SelKernelOp.Spec(DType.BF16, H, G, DK, DV, LP, N, 0.125f, true);
    static final Sequences SEQ = new Sequences(new int[] {0, 37, NNZ}, t(BASE + 0x900000, DType.INT32, 3));

    static DeviceTensor t(long addr, DType d, int... dims) {
        return DeviceTensor.wrap(addr, d, Shape.of(dims));
    }

    /** Valid arguments, each replaceable. */
    static final class Args {
        DeviceTensor q = t(BASE, DType.BF16, NNZ, H, DK);
        DeviceTensor k = t(BASE + 0x100000, DType.BF16, NNZ, G, DK);
        DeviceTensor v = t(BASE + 0x200000, DType.BF16, NNZ, G, DV);
        DeviceTensor out = t(BASE + 0x300000, DType.FP32, NNZ, H, DV);
        DeviceTensor lse = t(BASE + 0x400000, DType.FP32, NNZ, H);
        DeviceTensor blocks = t(BASE + 0x500000, DType.INT32, NNZ, G, N);
        SelKernelOp.Spec spec = SPEC;

        SelKernelOp.Prepared prepare() {
            return SelKernelOp.prepare(spec, SEQ, SEQ, new AttentionArgs(q, k, v, out, lse, blocks));
        }
    }

    static NsaArgumentException fails(Args a) {
        return assertThrows(NsaArgumentException.class, a::prepare);
    }

    static String refused(Args a) {
        SelKernelOp.Prepared p = a.prepare();
        assertFalse(p.launchable());
        return Refusal.reason(p.refusals());
    }

    @Test
    void aValidCallIsLaunchableWithTheReferenceLayout() {
        SelKernelOp.Prepared p = new Args().prepare();
        assertTrue(p.launchable(), p.refusals().toString());
        AttnParams ap = p.params();
        assertEquals(BASE, ap.q());
        assertEquals(AttnMask.CHOSEN.code(), ap.mask());
        assertEquals(LP, ap.selBlock());
        assertEquals(N, ap.nSel());
        assertEquals(1, ap.outFp32());
        assertEquals(0.125f, ap.scale());
        assertEquals((long) G * N, ap.blocksTokStride());
        assertEquals("nsa_sel_kernel_bf16_dk128_dv128_exact", SPEC.symbol(SelLayout.TOKEN));
        assertEquals("nsa_sel_union_bf16_dk128_dv128_exact", SPEC.symbol(SelLayout.UNION));
        assertEquals("sel-kernel exact-P union bf16 dk128 dv128", SPEC.describe(SelLayout.UNION));
        assertEquals("sel-kernel token fp16 dk64 dv64",
                new SelKernelOp.Spec(DType.FP16, 4, 4, 64, 64, 64, 16, 0.1f, false).describe(SelLayout.TOKEN));
        assertEquals(4 * 16 * 256 * 2 + 2 * 64 * 512 * 2, TcGeometry.selUnionSmemBytes(256, 256));   // Q in shared memory
        assertEquals(3, TcGeometry.selUnionGridX(9));
        assertEquals((16 * DK + 64 * (DK + DV) + 2 * 16 * 64) * 2, SPEC.smemBytes(SelLayout.TOKEN));
        assertEquals(2 * 64 * (DK + DV) * 2, SPEC.smemBytes(SelLayout.UNION));   // Q in registers
        // half-precision output and no lse are fine too
        Args half = new Args();
        half.out = t(BASE + 0x300000, DType.BF16, NNZ, H, DV);
        half.lse = null;
        assertTrue(half.prepare().launchable());
        assertEquals(0, half.prepare().params().outFp32());
    }

    @Test
    void theLayoutFollowsTheKeysLengthAgainstNTimesLPrime() {
        // n·l' = 1024: the union layout up to 32·1024 keys, the token layout beyond
        assertEquals(SelLayout.UNION, SelLayout.choose(16, 64, 4096, false));
        assertEquals(SelLayout.UNION, SelLayout.choose(16, 64, 32768, false));
        assertEquals(SelLayout.TOKEN, SelLayout.choose(16, 64, 32769, false));
        assertEquals(SelLayout.UNION, SelLayout.choose(16, 64, 8192, true));
        assertEquals(SelLayout.TOKEN, SelLayout.choose(16, 64, 8193, true));
        assertEquals("union layout (keys 4096 <= 32·n·l')", SelLayout.why(16, 64, 4096, false));
        assertEquals("token layout (keys 65536 > 32·n·l')", SelLayout.why(16, 64, 65536, false));
        assertEquals("token layout (keys 16384 > 8·n·l')", SelLayout.why(16, 64, 16384, true));
    }

    @Test
    void misalignedOrStridedTensorsAreRefusedNamingTheRule() {
        Args q8 = new Args();
        q8.q = t(BASE + 8, DType.BF16, NNZ, H, DK);   // a foreign pointer, 8-byte aligned only
        assertEquals("alignment: q at 0x" + Long.toHexString(BASE + 8) + " is not 16-byte aligned (16-byte loads)",
                refused(q8));
        assertEquals(Refusal.ALIGNMENT, q8.prepare().refusals().get(0).rule());

        Args padded = new Args();   // q in a buffer with 4 elements of padding per head: head stride 132
        padded.q = DeviceTensor.wrap(BASE, DType.BF16, Shape.strided(new int[] {NNZ, H, DK},
                new long[] {(long) H * (DK + 4), DK + 4, 1}));
        assertEquals("strides: q head stride 132 is not multiples of 8 elements (16-byte loads)", refused(padded));

        Args kv = new Args();
        kv.k = t(BASE + 0x100000 + 16 + 8, DType.BF16, NNZ, G, DK);
        kv.v = DeviceTensor.wrap(BASE + 0x200000, DType.BF16, Shape.strided(new int[] {NNZ, G, DV},
                new long[] {(long) G * DV + 4, DV, 1}));
        List<Refusal> r = kv.prepare().refusals();
        assertEquals(List.of(Refusal.ALIGNMENT, Refusal.STRIDES), r.stream().map(Refusal::rule).toList());
        assertTrue(r.get(0).detail().startsWith("k at "), r.toString());
        assertEquals("v token stride 260 is not multiples of 8 elements (16-byte loads)", r.get(1).detail());
        assertEquals("alignment,strides", Refusal.rules(r));

        Args out = new Args();
        out.out = t(BASE + 0x300000 + 4, DType.FP32, NNZ, H, DV);
        assertEquals("alignment: out at 0x" + Long.toHexString(BASE + 0x300004)
                + " is not 8-byte aligned (stores of 2 elements)", refused(out));
        Args odd = new Args();
        odd.out = DeviceTensor.wrap(BASE + 0x300000, DType.FP32, Shape.strided(new int[] {NNZ, H, DV},
                new long[] {(long) H * (DV + 1), DV + 1, 1}));
        assertEquals("strides: out head stride 129 is not even (stores of 2 elements)", refused(odd),
                "the token stride 8·129 = 1032 is even");
    }

    @Test
    void shapesAndDtypesNoPathServesThrowNamingTheTensor() {
        Args k16 = new Args();
        k16.k = t(BASE + 0x100000, DType.FP16, NNZ, G, DK);
        assertEquals("k", fails(k16).subject());

        Args fp32 = new Args();   // consistent fp32 tensors, but the op was planned for bf16
        fp32.q = t(BASE, DType.FP32, NNZ, H, DK);
        fp32.k = t(BASE + 0x100000, DType.FP32, NNZ, G, DK);
        fp32.v = t(BASE + 0x200000, DType.FP32, NNZ, G, DV);
        NsaArgumentException e = fails(fp32);
        assertEquals("q", e.subject());
        assertEquals("q in the planned dtype BF16", e.rule());

        Args heads = new Args();
        heads.q = t(BASE, DType.BF16, NNZ, 4, DK);
        heads.out = t(BASE + 0x300000, DType.FP32, NNZ, 4, DV);
        heads.lse = t(BASE + 0x400000, DType.FP32, NNZ, 4);
        assertEquals("q [nnz_q, H, Dk] with the planned H", fails(heads).rule());

        Args n = new Args();
        n.blocks = t(BASE + 0x500000, DType.INT32, NNZ, G, N + 1);
        assertEquals("blocks", fails(n).subject());

        Args none = new Args();
        none.blocks = null;
        assertEquals("blocks", fails(none).subject());

        Args outShape = new Args();
        outShape.out = t(BASE + 0x300000, DType.FP32, NNZ, H, 64);
        assertEquals("out", fails(outShape).subject());

        Args lastAxis = new Args();   // no kernel reads a strided last axis: an error, not a fallback
        lastAxis.q = DeviceTensor.wrap(BASE, DType.BF16, Shape.strided(new int[] {NNZ, H, DK},
                new long[] {(long) H * DK * 2, DK * 2, 2}));
        assertEquals("q", fails(lastAxis).subject());

        Args oddAddress = new Args();
        oddAddress.q = t(BASE + 1, DType.BF16, NNZ, H, DK);
        assertEquals("q", fails(oddAddress).subject(), "not even element-aligned: refused by every path");
    }

    @Test
    void anEmptyCallNeedsNoAddresses() {
        Sequences empty = new Sequences(new int[] {0, 0}, t(BASE + 0x900000, DType.INT32, 2));
        SelKernelOp.Prepared p = SelKernelOp.prepare(SPEC, empty, empty, new AttentionArgs(t(0, DType.BF16, 0, H, DK),
                t(0, DType.BF16, 0, G, DK), t(0, DType.BF16, 0, G, DV), t(0, DType.FP32, 0, H, DV), null,
                t(0, DType.INT32, 0, G, N)));
        assertTrue(p.launchable());
        assertEquals(0, p.params().nnzQ());
    }

    @Test
    void planTimeRulesNameEveryBrokenRule() {
        assertNull(SelKernelOp.unsupported(H200, SPEC));
        assertNull(SelKernelOp.unsupported(A100, new SelKernelOp.Spec(DType.FP16, 64, 2, 192, 128, 128, 64, 0.1f, true)),
                "h = 32, (192, 128), l' = 128, n = 64 on an A100");
        SelKernelOp.Spec fp32 = new SelKernelOp.Spec(DType.FP32, H, G, DK, DV, LP, N, 0.125f, true);
        assertEquals("dtype: q, k and v are fp32; sel-kernel takes fp16 or bf16", SelKernelOp.unsupported(H200, fp32));
        SelKernelOp.Spec many = new SelKernelOp.Spec(DType.BF16, H, G, 96, 96, 48, 65, 0.1f, true);
        assertEquals(List.of(Refusal.HEAD_DIM, Refusal.SEL_BLOCK, Refusal.N),
                SelKernelOp.refusals(H200, many).stream().map(Refusal::rule).toList());
        SelKernelOp.Spec d256 = new SelKernelOp.Spec(DType.BF16, H, G, 256, 256, LP, N, 0.1f, true);
        assertNull(SelKernelOp.unsupported(H200, d256));
        assertEquals("head_dim: (Dk, Dv) = (256, 256) runs on SM 9.x only; this device is 8.0",
                SelKernelOp.unsupported(A100, d256));
        DeviceInfo turing = new DeviceInfo(0, "T4", 7, 5, 40, 16L << 30, 65536);
        assertTrue(SelKernelOp.unsupported(turing, SPEC).startsWith("device: compute capability 7.5 of T4 is below 8.0"),
                SelKernelOp.unsupported(turing, SPEC));
        DeviceInfo unknown = new DeviceInfo(0, "GPU", 9, 0, 132, 80L << 30);   // opt-in limit unknown: 48 KiB
        // 128/128: the union layout's 64 KiB exceed the default 48 KiB, the token layout's 40 KiB fit and serve every
        // length
        assertNull(SelKernelOp.unsupported(unknown, SPEC));
        assertEquals(SelLayout.TOKEN, SelLayout.forDevice(unknown, SPEC, 2048, false));
        assertEquals(SelLayout.UNION, SelLayout.forDevice(H200, SPEC, 2048, false));
        assertEquals(SelLayout.UNION, SelLayout.forDevice(A100, SPEC, 2048, true), "no TMA on SM 8.0");
        assertEquals("token layout (the union layout's 65536 bytes of shared memory exceed the device's "
                + (48 * 1024 - 4132) + "; NSA_USE_TMA=0)", SelLayout.why(unknown, SPEC, 2048, false));
        assertEquals("union layout (keys 2048 <= 8·n·l'; NSA_USE_TMA=0)", SelLayout.why(H200, SPEC, 2048, false));
        assertEquals("union layout (keys 2048 <= 8·n·l')", SelLayout.why(A100, SPEC, 2048, true));
        assertEquals("token layout (keys 4096 > 8·n·l'; NSA_USE_TMA=0)", SelLayout.why(unknown, SPEC, 4096, false));
        SelKernelOp.Spec d192 = new SelKernelOp.Spec(DType.BF16, H, G, 192, 128, LP, N, 0.1f, true);
        assertEquals("shared_memory: the token layout needs 51200 bytes of dynamic shared memory per block, the device "
                + "allows " + (48 * 1024 - 1792) + "; shared_memory: the union layout needs 81920 bytes of dynamic shared "
                + "memory per block, the device allows " + (48 * 1024 - 4132), SelKernelOp.unsupported(unknown, d192));
        assertEquals("sel_block: n·l'/64 = 320 key tiles per row exceed 256 (the kernel's tile list)",
                SelKernelOp.unsupported(H200, new SelKernelOp.Spec(DType.BF16, H, G, DK, DV, 320, 64, 0.1f, true)));
        assertNull(SelKernelOp.unsupported(unknown, new SelKernelOp.Spec(DType.BF16, H, G, 64, 64, LP, N, 0.1f, true)),
                "(64, 64) fits the default 48 KiB");
        assertEquals("q", assertThrows(NsaArgumentException.class,
                () -> new SelKernelOp.Spec(DType.BF16, 6, 4, DK, DV, LP, N, 0.1f, true)).subject());
    }

    @Test
    void tmaLayoutOnSm90ForItsHeadDims() {
        DeviceInfo unknown = new DeviceInfo(0, "GPU", 9, 0, 132, 80L << 30);   // opt-in limit unknown: 48 KiB
        for (DeviceInfo d : List.of(H200, unknown)) {
            for (long keys : List.of(1L, 4096L, 65536L)) {
                assertEquals(SelLayout.TMA, SelLayout.forDevice(d, SPEC, keys, true), d + ", keys " + keys);
                assertEquals("tma layout (SM 9.0)", SelLayout.why(d, SPEC, keys, true));
            }
        }
        assertEquals("sm_80 is not SM 9.0", SelLayout.whyNotTma(A100, SPEC));
        SelKernelOp.Spec d256 = new SelKernelOp.Spec(DType.BF16, H, G, 256, 256, LP, N, 0.1f, true);
        assertEquals("(Dk, Dv) = (256, 256) is not one of [(64, 64), (128, 128), (192, 128)]",
                SelLayout.whyNotTma(H200, d256));
        assertEquals(SelLayout.UNION, SelLayout.forDevice(H200, d256, 2048, true));
        assertEquals("union layout (keys 2048 <= 8·n·l'; no TMA: (Dk, Dv) = (256, 256) is not one of [(64, 64), "
                + "(128, 128), (192, 128)])", SelLayout.why(H200, d256, 2048, true));
        assertEquals("nsa_sel_tma_bf16_dk128_dv128_exact", SPEC.symbol(SelLayout.TMA));
        assertEquals("sel-kernel exact-P tma bf16 dk128 dv128", SPEC.describe(SelLayout.TMA));
        assertEquals(1024 + 2 * 32 * (DK + DV) * 2, SPEC.smemBytes(SelLayout.TMA));
        assertEquals(1024 + 2 * 32 * (192 + 128) * 2, TcGeometry.selTmaSmemBytes(192, 128));
        assertTrue(TcModule.symbols().contains("nsa_sel_tma_fp16_dk192_dv128"));
        assertFalse(TcModule.symbols().contains("nsa_sel_tma_bf16_dk256_dv256"));
    }
}
