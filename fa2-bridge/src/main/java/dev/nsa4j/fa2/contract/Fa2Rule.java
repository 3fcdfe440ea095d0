package dev.nsa4j.fa2.contract;

/**
 * One FA-2 precondition of docs/routing.md. {@link #id()} is the short name logs and tests match on;
 * {@link #text()} says the rule in one line; {@link #fatal()} says whether breaking it leaves any path able to
 * serve the call.
 *
 * <p>Fatal rules ({@link #SHAPE}, {@link #CU_SEQLENS}) describe input that is wrong for every path: the
 * reference paths index with the same shapes and offsets, so falling back would compute garbage or read out
 * of bounds. The others only exclude FA-2: the reference paths take any dtype of fp32/fp16/bf16, any head
 * dim up to 256 (the CPU oracle any), strided and 8-byte aligned tensors, any batch and any device.
 * {@link #CAUSALITY} is not fatal either: it forbids running the FA-2 kernel <i>unmasked</i> where keys
 * after the query could be seen; the reference paths mask by absolute position from the branch rule, so they
 * still compute the NSA function.
 */
public enum Fa2Rule {
    /** Compute capability 8.0, 8.6, 8.9 (only with {@code NSA_FA2_FORCE=1}) or 9.0, and SASS in the image that runs there. */
    DEVICE("device", "compute capability 8.0, 8.6, 8.9 (with NSA_FA2_FORCE) or 9.0, with SASS for it in the kernel image", false),
    /** q, k, v one dtype, fp16 or bf16 (fp32 through a cast with {@code NSA_FA2_ALLOW_FP32=1}); out that dtype or fp32; lse fp32. */
    DTYPE("dtype", "q, k, v one of fp16/bf16 (fp32 cast with NSA_FA2_ALLOW_FP32); out that dtype or fp32; lse fp32", false),
    /** Dk and Dv multiples of 8, at most 128 on SM 8.x (256 with {@code NSA_FA2_ALLOW_D_GT_128=1}) and 256 on SM 9.x, and a compiled pair. */
    HEAD_DIM("head_dim", "Dk, Dv multiples of 8; <= 128 on SM 8.x (256 with NSA_FA2_ALLOW_D_GT_128), <= 256 on SM 9.x; a compiled (Dk, Dv) pair", false),
    /** Row-major in (heads, head_dim) and along the token (and K/V pair) axis: no padding between tokens or heads. */
    CONTIGUITY("contiguity", "contiguous in the last two dims (heads, head_dim) and along the token / K-V pair dims", false),
    /** Every device pointer and every row stride in bytes a multiple of 16 (FA-2 loads 16 bytes at a time). */
    ALIGNMENT("alignment", "device pointers 16-byte aligned; row strides in bytes multiples of 16", false),
    /** Varlen offsets: length B+1, {@code cu[0] = 0}, non-decreasing, {@code cu[B] = nnz}. */
    CU_SEQLENS("cu_seqlens", "cu_seqlens of length B+1 with cu[0] = 0, non-decreasing, cu[B] = nnz", true),
    /** Full-length keys need a causal-type mask; unmasked attention over sliced keys needs every slice to end at its query. */
    CAUSALITY("causality", "full-length keys need a causal mask; non-causal over sliced keys only if each slice ends at its query", false),
    /** At most 1024 sequences unless {@code NSA_FA2_ALLOW_LARGE_BATCH=1}. */
    BATCH("batch", "effective batch <= 1024 unless NSA_FA2_ALLOW_LARGE_BATCH", false),
    /** Tensors present, ranks and dims consistent (shared B, H % Hkv == 0, k and v token counts, out as q and v), mask parameters >= 1. */
    SHAPE("shape", "tensors present with consistent ranks and dims (B, H % Hkv == 0, token counts, out as q and v); mask parameters >= 1", true);

    private final String id;
    private final String text;
    private final boolean fatal;

    Fa2Rule(String id, String text, boolean fatal) {
        this.id = id;
        this.text = text;
        this.fatal = fatal;
    }

    /** Short name, e.g. {@code head_dim}. */
    public String id() {
        return id;
    }

    /** The rule in one line. */
    public String text() {
        return text;
    }

    /** True when no path can serve input that breaks this rule (throw), false when only FA-2 is excluded (fall back). */
    public boolean fatal() {
        return fatal;
    }
}
