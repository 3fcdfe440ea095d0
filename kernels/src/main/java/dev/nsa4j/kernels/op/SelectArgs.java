package dev.nsa4j.kernels.op;

import dev.nsa4j.kernels.DeviceTensor;

/**
 * Block scoring + top-n: {@code q [nnz, H, Dk]} and {@code kCmp [nnz_cmp, G, Dk]} in one dtype, {@code lse}
 * fp32 {@code [nnz, H]} (the compressed branch's), {@code indices} int32 {@code [nnz, G, n]} out.
 */
public record SelectArgs(DeviceTensor q, DeviceTensor kCmp, DeviceTensor lse, DeviceTensor indices) {
}
