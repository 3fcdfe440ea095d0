package dev.nsa4j.bench.report;

import dev.nsa4j.kernels.Mask;
import java.util.Objects;
import java.util.Set;

/**
 * The shape of one attention bench measurement: what is the same between two rows whose times may be
 * compared. Layout-free (each system uses its own: nsa4j token-major {@code [B,S,H,D]}, PyTorch SDPA
 * {@code [B,H,S,D]}).
 *
 * @param dtype   {@code fp16}, {@code bf16} or {@code fp32}
 * @param batch   B >= 1
 * @param heads   H >= 1, query heads
 * @param kvHeads Hkv >= 1 with H % Hkv == 0 (GQA)
 * @param seqlenQ Sq >= 1
 * @param seqlenK Sk >= 1 (block-causal: compressed keys)
 * @param dk      query/key head dim >= 1
 * @param dv      value head dim >= 1
 * @param mask    the visible pairs
 */
public record AttentionShape(String dtype, int batch, int heads, int kvHeads, int seqlenQ, int seqlenK, int dk, int dv,
                             Mask mask) {
    public static final Set<String> DTYPES = Set.of("fp16", "bf16", "fp32");

    public AttentionShape {
        Objects.requireNonNull(mask, "mask");
        if (!DTYPES.contains(dtype)) {
            throw new IllegalArgumentException("dtype '" + dtype + "' is not one of fp16, bf16, fp32");
        }
        positive("batch", batch);
        positive("heads", heads);
        positive("kv_heads", kvHeads);
        positive("seqlen_q", seqlenQ);
        positive("seqlen_k", seqlenK);
        positive("dk", dk);
        positive("dv", dv);
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException("heads=" + heads + " is not a multiple of kv_heads=" + kvHeads);
        }
    }

    private static void positive(String name, int v) {
        if (v < 1) {
            throw new IllegalArgumentException(name + " must be >= 1, got " + v);
        }
    }

    /** Visible (query, key) pairs summed over the batch, one head ({@link VisiblePairs}). */
    public long visiblePairs() {
        return VisiblePairs.count(mask, batch, seqlenQ, seqlenK);
    }

    /** {@code 2 · H · visiblePairs · (Dk + Dv)}. */
    public long flops() {
        return VisiblePairs.flops(visiblePairs(), heads, dk, dv);
    }

    /** {@code B=1 H=16/4 S=4096 D=64 bf16 causal}; Sq/Sk and Dk/Dv shown apart where they differ. */
    public String label() {
        String h = heads == kvHeads ? "H=" + heads : "H=" + heads + "/" + kvHeads;
        String s = seqlenQ == seqlenK ? "S=" + seqlenQ : "Sq=" + seqlenQ + " Sk=" + seqlenK;
        String d = dk == dv ? "D=" + dk : "Dk=" + dk + " Dv=" + dv;
        return "B=" + batch + " " + h + " " + s + " " + d + " " + dtype + " " + MaskText.describe(mask);
    }
}
