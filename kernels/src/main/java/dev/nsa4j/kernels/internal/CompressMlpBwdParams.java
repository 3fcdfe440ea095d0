package dev.nsa4j.kernels.internal;

/**
 * Mirror of {@code nsa::CompressMlpBwdParams} (nsa_params.h): phi = mlp's reference backward (compress_mlp_bwd.cu,
 * decisions D43). Raw device pointers, fp32 contiguous: the raw {@code k [nnz, groups, dim]}, {@code d_out [nnz_cmp,
 * groups, dim]} (dL/dK̃ or dL/dṼ), cu arrays, the MLP's weights (P, W1, b1, W2; b2 is not needed); workspace {@code x},
 * {@code dx [nnz_cmp, groups, block_len·dim]} and {@code a}, {@code dz [nnz_cmp, groups, hidden]}; out {@code d_raw
 * [nnz, groups, dim]} and the weights' gradients in their shapes.
 */
public record CompressMlpBwdParams(long k, long dOut, long cuSeqlens, long cuSeqlensCmp, long pos, long w1, long b1,
                                   long w2, Workspace ws, Grads grads, int nnz, int nnzCmp, int batch, int groups,
                                   int dim, int blockLen, int blockStride, int hidden) {
    /** The act kernel's outputs, read by the weights and raw kernels. */
    public record Workspace(long x, long a, long dz, long dx) {
    }

    /** The gradients: the raw tokens' and each parameter's. */
    public record Grads(long dRaw, long dPos, long dW1, long dB1, long dW2, long dB2) {
    }

    public static final StructLayout LAYOUT = StructLayout.builder("CompressMlpBwdParams")
            .pointer("k").pointer("d_out").pointer("cu_seqlens").pointer("cu_seqlens_cmp")
            .pointer("pos").pointer("w1").pointer("b1").pointer("w2")
            .pointer("x").pointer("a").pointer("dz").pointer("dx")
            .pointer("d_raw").pointer("d_pos").pointer("d_w1").pointer("d_b1").pointer("d_w2").pointer("d_b2")
            .i32("nnz", "nnz_cmp", "batch", "groups", "dim", "block_len", "block_stride", "hidden")
            .build();

    /** The struct's bytes, little-endian, in {@link #LAYOUT}. */
    public byte[] toBytes() {
        return LAYOUT.writer()
                .pointer(k).pointer(dOut).pointer(cuSeqlens).pointer(cuSeqlensCmp)
                .pointer(pos).pointer(w1).pointer(b1).pointer(w2)
                .pointer(ws.x()).pointer(ws.a()).pointer(ws.dz()).pointer(ws.dx())
                .pointer(grads.dRaw()).pointer(grads.dPos()).pointer(grads.dW1()).pointer(grads.dB1())
                .pointer(grads.dW2()).pointer(grads.dB2())
                .i32(nnz).i32(nnzCmp).i32(batch).i32(groups).i32(dim).i32(blockLen).i32(blockStride).i32(hidden)
                .bytes();
    }
}
