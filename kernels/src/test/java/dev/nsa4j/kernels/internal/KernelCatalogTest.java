package dev.nsa4j.kernels.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.kernels.GpuFixture;
import dev.nsa4j.tensor.DType;

/** The function table's keys, its errors, and the built image's symbols (CPU only). */
class KernelCatalogTest {

    @Test
    void symbolsFollowTheNamingScheme() {
        assertEquals("nsa_gate_combine_bf16_gfp32_obf16_v16",
                KernelCatalog.gateCombine(DType.BF16, DType.FP32, DType.BF16, KernelCatalog.VEC16).symbol());
        assertEquals("nsa_compress_avg_fp16_ofp32_v1",
                KernelCatalog.compressAvg(DType.FP16, DType.FP32, KernelCatalog.SCALAR).symbol());
        assertEquals("nsa_x_fp32", new KernelKey("x", DType.FP32, "").symbol());
        assertEquals("nsa_attention_bf16_d4", KernelCatalog.attention(DType.BF16, 4).symbol());
        assertEquals("nsa_compress_mlp_fp16", KernelCatalog.compressMlp(DType.FP16).symbol());
    }

    @Test
    void catalogHoldsEveryInstantiation() {
        // gate combine: fp32 (gates fp32 x out fp32/fp16/bf16 = 3 combos) + fp16/bf16 (gates x out = 4 combos each),
        // x 2 access widths
        // compress avg: fp32 (1) + fp16/bf16 (2 each), x 2 access widths
        // attention: 3 dtypes x 4 head-dim classes (the output dtype is a params flag); block select: one per dtype
        // compress mlp and the packed-selection gather: one per dtype each; casts fp16/bf16 <-> fp32
        // decode: per dtype append, fill, fill_cmp, select and 4 head-dim classes of attend; one advance; the
        // tensor-core step's select_scores and 7 (gates, out) dtype pairs of finish
        // reference backward: dq and dk/dv per dtype and head-dim class, gate_bwd per head-dim class, compress_avg_bwd,
        // compress_mlp_bwd's act, weights and raw
        assertEquals(11 * 2 + 5 * 2 + 3 * 4 + 3 + 3 + 3 + 4 + 3 * (6 + 4) + 1 + 1 + 7 + 2 * 3 * 4 + 4 + 1 + 3,
                KernelCatalog.all().size());
        assertEquals("nsa_compress_mlp_bwd_fp32_weights", new KernelKey(KernelCatalog.COMPRESS_MLP_BWD, DType.FP32,
                "weights").symbol());
        assertEquals("nsa_attention_bwd_dkv_bf16_d4", new KernelKey(KernelCatalog.ATTENTION_BWD_DKV, DType.BF16, "d4")
                .symbol());
        assertEquals("nsa_compress_avg_bwd_fp32", new KernelKey(KernelCatalog.COMPRESS_AVG_BWD, DType.FP32, "")
                .symbol());
        assertEquals("nsa_decode_fp32_select_scores", KernelCatalog.decode(DType.FP32, "select_scores").symbol());
        assertEquals("nsa_decode_bf16_attend_d4", KernelCatalog.decodeAttend(DType.BF16, 4).symbol());
        assertEquals("nsa_decode_fp16_fill_cmp", KernelCatalog.decode(DType.FP16, "fill_cmp").symbol());
        assertEquals("nsa_decode_int32_advance", KernelCatalog.decodeAdvance().symbol());
        assertEquals("nsa_cast_bf16_ofp32", KernelCatalog.cast(DType.BF16, DType.FP32).symbol());
        assertEquals("nsa_sel_gather_bf16", KernelCatalog.selGather(DType.BF16).symbol());
        assertEquals(KernelCatalog.all().size() + 1, KernelCatalog.symbols().size());
    }

    @Test
    void requireReturnsSupportedKeys() {
        KernelKey k = KernelCatalog.gateCombine(DType.FP16, DType.FP16, DType.FP32, KernelCatalog.SCALAR);
        assertSame(k, KernelCatalog.require(k));
    }

    @Test
    void unsupportedKeyFailsFastListingTheFamily() {
        KernelKey bad = KernelCatalog.gateCombine(DType.FP32, DType.BF16, DType.FP32, KernelCatalog.VEC16);
        NsaArgumentException e = assertThrows(NsaArgumentException.class, () -> KernelCatalog.require(bad));
        assertEquals("supported kernel combination", e.rule());
        assertTrue(e.getMessage().contains("nsa_gate_combine_fp32_gbf16_ofp32_v16"), e.getMessage());
        assertTrue(e.getMessage().contains("(gate_combine, bf16, gfp32_obf16_v16)"), e.getMessage());
        assertTrue(!e.getMessage().contains("compress_avg"), e.getMessage());

        NsaArgumentException f = assertThrows(NsaArgumentException.class,
                () -> KernelCatalog.require(new KernelKey("softmax", DType.FP32, "")));
        assertTrue(f.getMessage().contains("no such family; families: "), f.getMessage());
        assertTrue(f.getMessage().contains("attention, attention_bwd_dkv, attention_bwd_dq, block_select, cast, compress_avg, "
                + "compress_avg_bwd, compress_mlp, compress_mlp_bwd, decode, gate_bwd, gate_combine"), f.getMessage());

        assertThrows(NsaArgumentException.class,
                () -> KernelCatalog.require(KernelCatalog.compressAvg(DType.INT32, DType.INT32, KernelCatalog.SCALAR)));
    }

    @Test
    void fatbinIsAClasspathResourceWhenNvccExists() {
        assumeTrue(GpuFixture.nvccPresent(), "nvcc not installed: kernels are not expected");
        assertTrue(KernelImage.isBuilt(), "nvcc is installed but " + KernelImage.RESOURCE + " is not on the classpath");
        assertTrue(KernelImage.bytes().orElseThrow().length > 1024);
    }

    @Test
    void imageHoldsExactlyTheCatalogsKernels() {
        assumeTrue(KernelImage.isBuilt(), KernelImage.NOT_BUILT);
        String text = new String(KernelImage.bytes().orElseThrow(), StandardCharsets.ISO_8859_1);
        for (String s : KernelCatalog.symbols()) {
            assertTrue(text.contains(s), "kernel image lacks " + s);
        }
        Set<String> found = new TreeSet<>();
        Matcher m = Pattern.compile("nsa_(?:gate_combine|compress_avg|attention|compress_mlp|gate_bwd)_[a-z0-9_]+").matcher(text);
        while (m.find()) {
            found.add(m.group().replaceFirst("_param_[0-9]+$", ""));   // PTX names parameters after the kernel
        }
        found.removeAll(KernelCatalog.symbols());
        assertTrue(found.isEmpty(), "kernels in the image but not in KernelCatalog: " + found);
    }
}
