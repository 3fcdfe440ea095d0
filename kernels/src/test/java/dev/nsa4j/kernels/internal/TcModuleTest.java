package dev.nsa4j.kernels.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.kernels.GpuFixture;
import dev.nsa4j.tensor.DType;

/** The tensor-core image: its symbols, the devices it runs on and the launch geometry (CPU only). */
class TcModuleTest {

    @Test
    void symbolsFollowTheNamingScheme() {
        assertEquals("nsa_sel_kernel_fp16_dk192_dv128_exact", TcModule.selKernelSymbol(DType.FP16, 192, 128, true));
        assertEquals("nsa_sel_kernel_bf16_dk64_dv64", TcModule.selKernelSymbol(DType.BF16, 64, 64, false));
        assertEquals("nsa_block_score_bf16_dk256", TcModule.blockScoreSymbol(DType.BF16, 256));
        assertEquals("nsa_block_score_wg_fp16_dk64", TcModule.blockScoreWgSymbol(DType.FP16, 64));
        assertEquals("nsa_sel_union_fp16_dk256_dv256_exact", TcModule.selUnionSymbol(DType.FP16, 256, 256, true));
        assertEquals("nsa_sel_tma_bf16_dk192_dv128_exact", TcModule.selTmaSymbol(DType.BF16, 192, 128, true));
        assertEquals("nsa_block_score_kr_bf16_dk128_h8", TcModule.blockScoreKrSymbol(DType.BF16, 128, 8));
        // 2 dtypes x (4 head-dim pairs x 2 layouts x fast/exact + 3 TMA head-dim pairs x fast/exact
        //             + 4 scorer head dims x 2 scorer layouts + the key-row scorer's Dk 128 x 3 head counts
        //             + the decode split's 3 head-dim pairs x fast/exact)
        assertEquals(2 * (4 * 2 * 2 + 3 * 2 + 4 * 2 + 3 + 3 * 2), TcModule.symbols().size());
        assertEquals("nsa_decode_split_bf16_dk128_dv128_exact", TcModule.decodeSplitSymbol(DType.BF16, 128, 128, true));
        assertEquals(TcModule.symbols().size(), Set.copyOf(TcModule.symbols()).size());
    }

    @Test
    void imageIsAClasspathResourceWhenNvccExists() {
        assumeTrue(GpuFixture.nvccPresent(), "nvcc not installed: the tensor-core image is not expected");
        assertTrue(TcModule.isBuilt(), "nvcc is installed but " + TcModule.RESOURCE + " is not on the classpath");
        assertTrue(TcModule.image().orElseThrow().length > 1024);
    }

    @Test
    void imageHoldsEverySymbolLaunchedAndNoOther() {
        assumeTrue(TcModule.isBuilt(), TcModule.NOT_BUILT);
        String text = new String(TcModule.image().orElseThrow(), StandardCharsets.ISO_8859_1);
        for (String s : TcModule.symbols()) {
            assertTrue(text.contains(s), "tensor-core image lacks " + s);
        }
        Set<String> found = new TreeSet<>();
        Matcher m = Pattern.compile("nsa_(?:sel_kernel|sel_union|sel_tma|block_score)_[a-z0-9_]+").matcher(text);
        while (m.find()) {
            found.add(m.group().replaceFirst("_param_[0-9]+$", ""));
        }
        found.removeAll(TcModule.symbols());
        assertTrue(found.isEmpty(), "kernels in the tensor-core image that nothing launches: " + found);
    }

    @Test
    void theImageRunsOnEvery8xAnd90() {
        for (int[] cc : new int[][] {{8, 0}, {8, 6}, {8, 7}, {8, 9}, {9, 0}}) {
            assertNull(TcModule.unsupportedReason(new DeviceInfo(0, "g", cc[0], cc[1], 1, 1)), cc[0] + "." + cc[1]);
        }
        assertTrue(TcModule.unsupportedReason(new DeviceInfo(0, "T4", 7, 5, 1, 1)).endsWith("is below 8.0, the "
                + "tensor-core kernels' minimum"));
        assertTrue(TcModule.unsupportedReason(new DeviceInfo(0, "B200", 10, 0, 1, 1)).endsWith("holds SASS for sm_80 "
                + "(8.x) and sm_90a (9.0) only"));
    }

    @Test
    void launchGeometryIsTheKernelsFormula() {
        assertEquals((16 * 64 + 64 * 128 + 2 * 16 * 64) * 2, TcGeometry.selSmemBytes(64, 64));
        assertEquals((16 * 256 + 64 * 512 + 2 * 16 * 64) * 2, TcGeometry.selSmemBytes(256, 256));
        assertEquals(2, TcGeometry.selGridY(2, 16));
        assertEquals(4, TcGeometry.selGridY(2, 17));
        assertEquals(1, TcGeometry.selGridY(1, 1));
        assertEquals(256, TcGeometry.selTiles(64, 256));
        assertEquals(64 * 4 + 256 * 4 + 2 * 4 * 16 * 4, TcGeometry.SEL_STATIC_SMEM_BYTES);
        assertEquals(0, TcGeometry.compressedTokens(31, 32, 16));
        assertEquals(1, TcGeometry.compressedTokens(32, 32, 16));
        assertEquals(61, TcGeometry.compressedTokens(1000, 32, 16));
        assertEquals(4, TcGeometry.SCORE_TOKENS);
        assertEquals((2 * 64 + 4 * 16 * 2) * 64 * 2 + 4 * 128 * 4, TcGeometry.scoreSmemBytes(64, 32));
        assertEquals((2 * 64 + 4 * 16) * 128 * 2 + 4 * 128 * 4, TcGeometry.scoreSmemBytes(128, 1));
        // block_score_wg.cu's wg_smem_bytes: 1024 + (64 + 2·64)·Dk·2 + 4·128·4
        assertEquals(1024 + (64 + 2 * 64) * 128 * 2 + 4 * 128 * 4, TcGeometry.scoreWgSmemBytes(128));
        assertEquals(4 * 128 * 8, TcGeometry.SCORE_STATIC_SMEM_BYTES);
        assertEquals(1024 + (64 + 2 * 64) * 256 * 2 + 4 * 128 * 4, TcGeometry.scoreWgSmemBytes(256));
        assertEquals(0, TcGeometry.scoreGridX(0));
        assertEquals(1, TcGeometry.scoreGridX(1));
        assertEquals(3, TcGeometry.scoreGridX(9));
        assertEquals(6, TcGeometry.scoreBlockSpan(32, 16, 64));
        assertEquals(2, TcGeometry.scoreBlockSpan(64, 64, 64));
        // block_score_kr.cu: fixed_bytes = 1024 + 2·(H/4)·64·Dk·2 + 2·16·260·4 + H·32·4, then as many 64·Dk·2-byte
        // stages (4 down to 2) as fit 227 KiB with the counted static 32·64·8 + 2·64·4 + 8·9 bytes
        assertEquals(4, TcGeometry.scoreKrHeads(1));
        assertEquals(8, TcGeometry.scoreKrHeads(6));
        assertEquals(16, TcGeometry.scoreKrHeads(16));
        assertEquals(-1, TcGeometry.scoreKrHeads(17));
        assertEquals(2, TcGeometry.scoreKrStages(128, 16));
        assertEquals(1024 + 131072 + 33280 + 2048 + 2 * 16384, TcGeometry.scoreKrSmemBytes(128, 16));
        assertEquals(4, TcGeometry.scoreKrStages(128, 8));
        assertEquals(1024 + 65536 + 33280 + 1024 + 4 * 16384, TcGeometry.scoreKrSmemBytes(128, 8));
        assertEquals(1024 + 32768 + 33280 + 512 + 4 * 16384, TcGeometry.scoreKrSmemBytes(128, 4));
        assertEquals(1, TcGeometry.scoreKrGridX(32));
        assertEquals(2, TcGeometry.scoreKrGridX(33));
    }
}
