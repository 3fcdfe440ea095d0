package dev.nsa4j.kernels.internal;

import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceTensor;
import java.util.Arrays;
import java.util.List;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.tensor.DType;

/**
 * Host-side plan of a varlen compression: the raw {@code cu_seqlens} and the compressed ones the kernel
 * writes to, for block length {@code l} and stride {@code d} (the NSA spec (docs/nsa-spec.md) "Compression branch"):
 * {@code S_cmp(len) = 0 if len < l, else (len - l)/d + 1} per sequence.
 *
 * @param cuSeqlens    int32 {@code [B + 1]}: cu[0] = 0, non-decreasing
 * @param cuSeqlensCmp the compressed prefix sums, {@code [B + 1]}
 * @param blockLen     l >= 1
 * @param blockStride  d >= 1
 */
public record CompressionPlan(int[] cuSeqlens, int[] cuSeqlensCmp, int blockLen, int blockStride) {

    public CompressionPlan {
        cuSeqlens = cuSeqlens.clone();
        cuSeqlensCmp = cuSeqlensCmp.clone();
    }

    /**
     * Validates {@code cuSeqlens} and computes the compressed prefix sums.
     *
     * @throws NsaArgumentException naming {@code cu_seqlens}, {@code l} or {@code d} and the rule
     */
    public static CompressionPlan of(int[] cuSeqlens, int blockLen, int blockStride) {
        if (blockLen < 1) {
            throw new NsaArgumentException("l", "l >= 1", "compression block length is " + blockLen);
        }
        if (blockStride < 1) {
            throw new NsaArgumentException("d", "d >= 1", "compression stride is " + blockStride);
        }
        if (cuSeqlens == null || cuSeqlens.length < 1) {
            throw new NsaArgumentException("cu_seqlens", "length B+1 >= 1", "cu_seqlens is empty");
        }
        if (cuSeqlens[0] != 0) {
            throw new NsaArgumentException("cu_seqlens", "cu[0] = 0", "cu[0] is " + cuSeqlens[0]);
        }
        int[] cmp = new int[cuSeqlens.length];
        for (int b = 0; b + 1 < cuSeqlens.length; b++) {
            int len = cuSeqlens[b + 1] - cuSeqlens[b];
            if (len < 0) {
                throw new NsaArgumentException("cu_seqlens", "non-decreasing", "cu[" + (b + 1) + "] = "
                        + cuSeqlens[b + 1] + " < cu[" + b + "] = " + cuSeqlens[b]);
            }
            cmp[b + 1] = cmp[b] + compressedCount(len, blockLen, blockStride);
        }
        return new CompressionPlan(cuSeqlens, cmp, blockLen, blockStride);
    }

    /** S_cmp(len) = 0 if len &lt; l, else floor((len − l)/d) + 1. */
    public static int compressedCount(int len, int blockLen, int blockStride) {
        return len < blockLen ? 0 : (len - blockLen) / blockStride + 1;
    }

    /**
     * Checks the device tensors of a compression launch against this plan (no CUDA call): {@code k [nnz, G, D]}
     * and {@code out [nnz_cmp, G, D]} with the plan's row counts, {@code cu_seqlens} and {@code cu_seqlens_cmp}
     * int32 contiguous {@code [B + 1]}, k and out contiguous along D.
     */
    void checkTensors(DeviceTensor k, DeviceTensor cuSeqlens, DeviceTensor cuSeqlensCmp, DeviceTensor out) {
        Checks.rank("k", k, 3, "[nnz, G, D]");
        Checks.rank("out", out, 3, "[nnz_cmp, G, D]");
        Checks.rank("cu_seqlens", cuSeqlens, 1, "[B + 1]");
        Checks.rank("cu_seqlens_cmp", cuSeqlensCmp, 1, "[B + 1]");
        Checks.dim("k", k, 0, nnz(), "k has cu_seqlens[B] rows");
        Checks.dim("out", out, 0, nnzCmp(), "out has cu_seqlens_cmp[B] rows (S_cmp summed over sequences)");
        Checks.dim("out", out, 1, k.dim(1), "out has the G of k");
        Checks.dim("out", out, 2, k.dim(2), "out has the D of k");
        Checks.dim("cu_seqlens", cuSeqlens, 0, batch() + 1, "cu_seqlens has B + 1 entries of the plan");
        Checks.dim("cu_seqlens_cmp", cuSeqlensCmp, 0, batch() + 1, "cu_seqlens_cmp has B + 1 entries of the plan");
        Checks.dtype("cu_seqlens", cuSeqlens.dtype(), List.of(DType.INT32), "int32");
        Checks.dtype("cu_seqlens_cmp", cuSeqlensCmp.dtype(), List.of(DType.INT32), "int32");
        Checks.contiguous("cu_seqlens", cuSeqlens.shape());
        Checks.contiguous("cu_seqlens_cmp", cuSeqlensCmp.shape());
        Checks.lastAxisContiguous("k", k.shape());
        Checks.lastAxisContiguous("out", out.shape());
    }

    public int batch() {
        return cuSeqlens.length - 1;
    }

    /** Raw tokens, cu_seqlens[B]. */
    public int nnz() {
        return cuSeqlens[cuSeqlens.length - 1];
    }

    /** Compressed tokens, cu_seqlens_cmp[B]. */
    public int nnzCmp() {
        return cuSeqlensCmp[cuSeqlensCmp.length - 1];
    }

    @Override
    public int[] cuSeqlens() {
        return cuSeqlens.clone();
    }

    @Override
    public int[] cuSeqlensCmp() {
        return cuSeqlensCmp.clone();
    }

    /**
     * A stand-in for the plan's offsets on the device ({@code int32 [B + 1]} at a dummy aligned address), so a
     * launch can be validated before anything is uploaded. Never dereferenced.
     */
    DeviceTensor offsetsPlaceholder() {
        return DeviceTensor.wrap(16, dev.nsa4j.tensor.DType.INT32, dev.nsa4j.tensor.Shape.of(batch() + 1));
    }

    /** The plan's cu_seqlens and cu_seqlens_cmp on the device, uploaded on {@code stream}; freed by close. */
    record DeviceOffsets(DeviceTensor cu, DeviceTensor cuCmp) implements AutoCloseable {
        @Override
        public void close() {
            try (cu) {
                cuCmp.close();
            }
        }
    }

    DeviceOffsets upload(CudaStream stream) {
        int b1 = batch() + 1;
        DeviceTensor cu = DeviceTensor.upload(stream, dev.nsa4j.tensor.HostTensor.ofInts(cuSeqlens, b1));
        try {
            return new DeviceOffsets(cu, DeviceTensor.upload(stream,
                    dev.nsa4j.tensor.HostTensor.ofInts(cuSeqlensCmp, b1)));
        } catch (RuntimeException e) {
            cu.close();
            throw e;
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CompressionPlan p && Arrays.equals(cuSeqlens, p.cuSeqlens)
                && Arrays.equals(cuSeqlensCmp, p.cuSeqlensCmp) && blockLen == p.blockLen && blockStride == p.blockStride;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(cuSeqlens) * 31 + Arrays.hashCode(cuSeqlensCmp) + blockLen * 7 + blockStride;
    }

    @Override
    public String toString() {
        return "CompressionPlan[l=" + blockLen + ", d=" + blockStride + ", cu=" + Arrays.toString(cuSeqlens)
                + ", cu_cmp=" + Arrays.toString(cuSeqlensCmp) + "]";
    }
}
