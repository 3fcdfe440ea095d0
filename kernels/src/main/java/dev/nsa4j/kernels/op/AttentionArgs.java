package dev.nsa4j.kernels.op;

import dev.nsa4j.kernels.DeviceTensor;

/**
 * The tensors of one branch attention, varlen layout: {@code q [nnz_q, H, Dk]}, {@code k [nnz_k, G, Dk]},
 * {@code v [nnz_k, G, Dv]}, {@code out [nnz_q, H, Dv]} (the input dtype or fp32), {@code lse} fp32
 * {@code [nnz_q, H]} or null; {@code blocks} int32 {@code [nnz_q, G, n]} for the selection branch, else null.
 */
public record AttentionArgs(DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor out, DeviceTensor lse,
                            DeviceTensor blocks) {
}
