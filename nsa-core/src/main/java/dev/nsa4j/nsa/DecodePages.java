package dev.nsa4j.nsa;

import java.util.Objects;

import dev.nsa4j.kernels.DeviceTensor;

/**
 * Caller-owned selection pages for a GPU decoder ({@link NsaGpuDecoder#open(NsaAttention, int, int,
 * dev.nsa4j.tensor.DType, DecodePages)}), as a paged-KV manager keeps them: a K pool {@code [P, l', G, Dk]} and a V
 * pool {@code [P, l', G, Dv]} in the decoder's cache dtype, contiguous, on the attention's GPU. Page p holds l'
 * consecutive tokens of one selection block of one sequence; the caller places blocks with
 * {@link NsaGpuDecoder#assignPage}. The decoder reads and writes the pools, never picks a page itself and never frees
 * them: they outlive it.
 *
 * @param k the K pool
 * @param v the V pool
 */
public record DecodePages(DeviceTensor k, DeviceTensor v) {
    public DecodePages {
        Objects.requireNonNull(k, "pages.k");
        Objects.requireNonNull(v, "pages.v");
    }
}
