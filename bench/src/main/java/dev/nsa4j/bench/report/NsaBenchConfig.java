package dev.nsa4j.bench.report;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.config.NsaConfig;
import java.util.Set;

/**
 * What stays fixed along one NSA bench sweep over lengths: the dtype, the head counts and dims and the NSA
 * config (l, d, l', n, w). Rows of one config whose (batch, seqlen) differ form one line of a plot
 * ({@link NsaBenchPlot}); a {@link NsaBenchShape} adds the batch and the length.
 *
 * <p>Checked on construction, with an {@link NsaArgumentException} whose subject is the CSV column: dtype one
 * of {@link #DTYPES}; every size {@code >= 1}; {@code heads % kv_heads == 0}. Nothing more: rows may record
 * configs that nsa4j itself would refuse (fla's rows, say), so the NSA spec (docs/nsa-spec.md)'s rules between l, d and l' are not
 * checked here.
 *
 * @param dtype    {@code fp16}, {@code bf16} or {@code fp32}: the dtype of q, k, v
 * @param heads    Hq, query heads
 * @param kvHeads  Hkv, key/value heads (GQA)
 * @param dk       query/key head dim
 * @param dv       value head dim
 * @param blockLen l, compression block length
 * @param stride   d, compression stride
 * @param selBlock l', selection block length
 * @param nSel     n, selected blocks per query
 * @param window   w, sliding-window length
 */
public record NsaBenchConfig(String dtype, int heads, int kvHeads, int dk, int dv, int blockLen, int stride,
                             int selBlock, int nSel, int window) {
    public static final Set<String> DTYPES = Set.of("fp16", "bf16", "fp32");
    /** The rule broken by a size below 1. */
    public static final String RULE_POSITIVE = "sizes >= 1";

    public NsaBenchConfig {
        if (!DTYPES.contains(dtype)) {
            throw new NsaArgumentException("dtype", "dtype is fp16, bf16 or fp32", "dtype='" + dtype + "'");
        }
        positive("heads", heads);
        positive("kv_heads", kvHeads);
        positive("dk", dk);
        positive("dv", dv);
        positive("block_len", blockLen);
        positive("stride", stride);
        positive("sel_block", selBlock);
        positive("n_sel", nSel);
        positive("window", window);
        if (heads % kvHeads != 0) {
            throw new NsaArgumentException("kv_heads", "heads % kv_heads == 0",
                    "heads=" + heads + " is not a multiple of kv_heads=" + kvHeads);
        }
    }

    /** The bench config of an nsa4j {@link NsaConfig} (G, its key/value heads, as {@code kv_heads}) in {@code dtype}. */
    public static NsaBenchConfig of(String dtype, NsaConfig c) {
        return new NsaBenchConfig(dtype, c.heads(), c.kvGroups(), c.headDimQk(), c.headDimV(), c.blockLen(), c.stride(),
                c.selBlock(), c.nSel(), c.window());
    }

    static void positive(String column, int v) {
        if (v < 1) {
            throw new NsaArgumentException(column, RULE_POSITIVE, column + "=" + v);
        }
    }

    /** {@code bf16 Hq/Hkv=64/4 Dk/Dv=128/128 l/d/l'/n/w=64/64/64/16/512}. */
    public String label() {
        return dtype + " Hq/Hkv=" + heads + "/" + kvHeads + " Dk/Dv=" + dk + "/" + dv + " l/d/l'/n/w=" + blockLen
                + "/" + stride + "/" + selBlock + "/" + nSel + "/" + window;
    }

    /**
     * A file-name part naming the config, letters, digits, {@code -} and {@code _} only:
     * {@code bf16_h64-4_d128-128_l64_d64_s64_n16_w512} (l', the selection block, as {@code s}).
     */
    public String fileSuffix() {
        return dtype + "_h" + heads + "-" + kvHeads + "_d" + dk + "-" + dv + "_l" + blockLen + "_d" + stride + "_s"
                + selBlock + "_n" + nSel + "_w" + window;
    }
}
