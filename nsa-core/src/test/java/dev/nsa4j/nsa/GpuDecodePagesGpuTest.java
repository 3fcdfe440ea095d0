package dev.nsa4j.nsa;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.kernels.GpuSuite;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import dev.nsa4j.tensor.Shape;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Caller-owned selection pages ({@link DecodePages}, a paged-KV manager's pools): a decoder over a caller's pool,
 * its blocks placed in scrambled pages just before the prefill or step that fills them, gives bitwise the steps of
 * a decoder over its own pool (reference and tensor-core step); a block without a page is refused before anything
 * changes; pools of the wrong shape or dtype are refused at open; an ended sequence decodes again from token 0 as a
 * fresh one does; closing the decoder leaves the caller's pools alone. The pools start uninitialised, so
 * compute-sanitizer initcheck over this suite shows that no kernel reads a token it has not written.
 */
@Tag("gpu")
class GpuDecodePagesGpuTest extends GpuSuite {
    private static final NsaConfig CFG = NsaConfig.builder().heads(4).kvGroups(2).headDims(64, 64).blockLen(8)
            .stride(4).selBlock(16).nSel(4).window(32).build();

    static Stream<Arguments> modes() {
        return Stream.of(Arguments.of(PipelineModes.MASKED, DType.FP32), Arguments.of(PipelineModes.SEL_KERNEL,
                DType.BF16));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("modes")
    void callerPagesInScrambledOrderGiveTheOwnPoolsStepsBitwise(PipelineModes mode, DType dt) {
        int[] lens = {0, 21, 40};
        int steps = 30;
        int cap = 80;
        DecodeBatch all = DecodeBatch.random(CFG, dt, DecodeBatch.grown(lens, steps), new Random(3));
        int stride = (cap + CFG.selBlock() - 1) / CFG.selBlock();
        int pool = lens.length * stride + 7;
        int[] free = scrambled(pool, new Random(5));
        int[] used = {0};
        int page;
        try (NsaAttention nsa = mode.open(CFG, null);
             CudaStream s = CudaStream.create(nsa.context());
             DeviceTensor pk = DeviceTensor.allocate(s, dt, pool, CFG.selBlock(), CFG.kvGroups(), CFG.headDimQk());
             DeviceTensor pv = DeviceTensor.allocate(s, dt, pool, CFG.selBlock(), CFG.kvGroups(), CFG.headDimV())) {
            try (NsaGpuDecoder own = NsaGpuDecoder.open(nsa, lens.length, cap, dt);
                 NsaGpuDecoder theirs = NsaGpuDecoder.open(nsa, lens.length, cap, dt, new DecodePages(pk, pv))) {
                assertEquals(own.route(), theirs.route());
                for (int b = 0; b < lens.length; b++) {
                    for (int j = 0; j * CFG.selBlock() < lens[b]; j++) {
                        theirs.assignPage(b, j, free[used[0]++]);
                    }
                }
                own.prefill(all.prefix(lens).inputs());
                theirs.prefill(all.prefix(lens).inputs());
                for (int st = 0; st < steps; st++) {
                    for (int b = 0; b < lens.length; b++) {
                        int j = (lens[b] + st) / CFG.selBlock();
                        if (theirs.pageTable(b)[j] < 0) {
                            theirs.assignPage(b, j, free[used[0]++]);
                        }
                    }
                    NsaGpuDecoder.Step a = own.step(all.step(lens, st));
                    NsaGpuDecoder.Step c = theirs.step(all.step(lens, st));
                    String at = mode + " " + dt + " step " + st;
                    assertBitwise(a.o(), c.o(), at + ": o");
                    assertBitwise(a.oSel(), c.oSel(), at + ": o_sel");
                    assertBitwise(a.indices(), c.indices(), at + ": indices");
                    assertArrayEquals(a.reads(), c.reads(), at + ": reads");
                }
                assertTrue(theirs.deviceBytes() < own.deviceBytes(), "the caller's pool is not the decoder's");
                page = theirs.pageTable(2)[0];
            }
            // the pool outlives the decoder and holds what it wrote: block 0 of sequence 2 (a whole page from the
            // prefill) is its first l' k_sel rows; only written memory is read back (initcheck watches the rest)
            long pageBytes = (long) CFG.selBlock() * CFG.kvGroups() * CFG.headDimQk() * dt.byteSize();
            HostTensor got = DeviceTensor.wrap(pk.address() + page * pageBytes, dt,
                    Shape.of(CFG.selBlock(), CFG.kvGroups(), CFG.headDimQk())).toHost(s);
            MemorySegment want = all.t()[3].segment().asSlice(
                    (long) all.cu()[2] * CFG.kvGroups() * CFG.headDimQk() * dt.byteSize(), pageBytes);
            assertEquals(-1, want.mismatch(got.segment()), "page " + page + " of the caller's pool after close");
        }
    }

    @Test
    void aBlockWithoutAPageOrAPoolThatDoesNotFitIsRefusedBeforeAnythingChanges() {
        int cap = 40;
        DecodeBatch all = DecodeBatch.random(CFG, DType.FP32, new int[] {17}, new Random(9));
        try (NsaAttention nsa = PipelineModes.MASKED.open(CFG, null);
             CudaStream s = CudaStream.create(nsa.context());
             DeviceTensor pk = DeviceTensor.allocate(s, DType.FP32, 4, CFG.selBlock(), CFG.kvGroups(), 64);
             DeviceTensor pv = DeviceTensor.allocate(s, DType.FP32, 4, CFG.selBlock(), CFG.kvGroups(), 64);
             DeviceTensor half = DeviceTensor.allocate(s, DType.BF16, 4, CFG.selBlock(), CFG.kvGroups(), 64);
             DeviceTensor three = DeviceTensor.allocate(s, DType.FP32, 3, CFG.selBlock(), CFG.kvGroups(), 64)) {
            assertEquals("pages.v", assertThrows(NsaArgumentException.class,
                    () -> NsaGpuDecoder.open(nsa, 1, cap, DType.FP32, new DecodePages(pk, three))).subject());
            assertEquals("pages.k", assertThrows(NsaArgumentException.class,
                    () -> NsaGpuDecoder.open(nsa, 1, cap, DType.FP32, new DecodePages(half, pv))).subject());
            try (NsaGpuDecoder dec = NsaGpuDecoder.open(nsa, 1, cap, DType.FP32, new DecodePages(pk, pv))) {
                NsaArgumentException e = assertThrows(NsaArgumentException.class,
                        () -> dec.prefill(all.prefix(new int[] {16}).inputs()));
                assertTrue(e.getMessage().contains("block 0 of sequence 0 has no page"), e.getMessage());
                assertEquals(0, dec.length(0));
                dec.assignPage(0, 0, 3);
                dec.prefill(all.prefix(new int[] {16}).inputs());
                e = assertThrows(NsaArgumentException.class, () -> dec.step(all.step(new int[] {16}, 0)));
                assertTrue(e.getMessage().contains("decode.pages") && e.getMessage().contains("block 1"),
                        e.getMessage());
                assertEquals(16, dec.length(0));
                assertThrows(NsaArgumentException.class, () -> dec.assignPage(0, 1, 3));   // page 3 holds block 0
                assertThrows(NsaArgumentException.class, () -> dec.assignPage(0, 0, 1));   // block 0 is in page 3
                dec.assignPage(0, 1, 0);
                dec.step(all.step(new int[] {16}, 0));
                assertEquals(17, dec.length(0));
                assertArrayEquals(new int[] {3, 0, -1}, dec.pageTable(0));
            }
        }
    }

    @Test
    void anEndedSequenceDecodesAgainAsAFreshOne() {
        int steps = 20;
        DecodeBatch before = DecodeBatch.random(CFG, DType.FP32, new int[] {33 + 9}, new Random(21));
        DecodeBatch after = DecodeBatch.random(CFG, DType.FP32, new int[] {steps}, new Random(22));
        int[] zero = {0};
        try (NsaAttention nsa = PipelineModes.MASKED.open(CFG, null);
             CudaStream s = CudaStream.create(nsa.context());
             DeviceTensor pk = DeviceTensor.allocate(s, DType.FP32, 8, CFG.selBlock(), CFG.kvGroups(), 64);
             DeviceTensor pv = DeviceTensor.allocate(s, DType.FP32, 8, CFG.selBlock(), CFG.kvGroups(), 64);
             NsaGpuDecoder fresh = NsaGpuDecoder.open(nsa, 1, 64, DType.FP32);
             NsaGpuDecoder reused = NsaGpuDecoder.open(nsa, 1, 64, DType.FP32);
             NsaGpuDecoder paged = NsaGpuDecoder.open(nsa, 1, 64, DType.FP32, new DecodePages(pk, pv))) {
            for (int j = 0; j < 3; j++) {
                paged.assignPage(0, j, 7 - j);
            }
            reused.prefill(before.prefix(new int[] {33}).inputs());
            paged.prefill(before.prefix(new int[] {33}).inputs());
            for (int st = 0; st < 9; st++) {
                reused.step(before.step(new int[] {33}, st));
                paged.step(before.step(new int[] {33}, st));
            }
            reused.endSequence(0);
            paged.endSequence(0);
            assertEquals(0, reused.length(0));
            assertArrayEquals(new int[] {-1, -1, -1, -1}, paged.pageTable(0));
            fresh.prefill(after.prefix(zero).inputs());
            for (int st = 0; st < steps; st++) {
                if (paged.pageTable(0)[st / CFG.selBlock()] < 0) {
                    paged.assignPage(0, st / CFG.selBlock(), st / CFG.selBlock() + 2);
                }
                NsaGpuDecoder.Step want = fresh.step(after.step(zero, st));
                String at = "step " + st + " after the end";
                assertBitwise(want.o(), reused.step(after.step(zero, st)).o(), at + " (own pool)");
                assertBitwise(want.o(), paged.step(after.step(zero, st)).o(), at + " (caller's pool)");
            }
        }
    }

    private static void assertBitwise(HostTensor want, HostTensor got, String at) {
        assertEquals(-1, want.segment().mismatch(got.segment()), at + " differs");
    }

    private static int[] scrambled(int n, Random rnd) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = n - 1 - i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }
}
