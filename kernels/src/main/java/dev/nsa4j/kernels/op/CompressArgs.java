package dev.nsa4j.kernels.op;

import dev.nsa4j.kernels.DeviceTensor;

/** Compression of one of k_cmp / v_cmp: {@code k [nnz, G, D]} in, {@code out [nnz_cmp, G, D]} out. */
public record CompressArgs(DeviceTensor k, DeviceTensor out) {
}
