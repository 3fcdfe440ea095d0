package dev.nsa4j.nsa;

import java.util.Objects;

import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.Shape;

/**
 * The device tensors of one forward, in the NSA spec (docs/nsa-spec.md) layouts (token-major, as FlashAttention), in the caller's
 * memory:
 * <pre>
 *   dense                      varlen (cuSeqlens given, a host copy)
 *   q       [B,S,H,Dk]         [nnz,H,Dk]
 *   k_c     [B,S,G,Dk]         [nnz,G,Dk]     c in {cmp, sel, win}
 *   v_c     [B,S,G,Dv]         [nnz,G,Dv]
 *   gates   [B,S,H,3]          [nnz,H,3]      order (cmp, sel, win); q's dtype or fp32
 *   indices [B,S,G,n] int32    [nnz,G,n]      optional caller-chosen blocks, -1 padded
 * </pre>
 * q and every k/v share one dtype (fp32, fp16 or bf16). Strides: the last axis contiguous; a dense tensor's
 * batch stride is S times its token stride (so it can be viewed as {@code [B·S, ...]}). Device pointers must be
 * aligned to their element size; FA-2 paths also want 16 bytes (a call whose pointers are not runs that branch
 * on the reference path, with the reason in its route). The values of device tensors cannot be checked without
 * a synchronisation, so gates are used as given and caller indices are range-safe by construction of the
 * kernels (an index outside the sequence selects nothing).
 *
 * <p>{@code cuSeqlens} is the host copy of the varlen offsets (int32 {@code [B + 1]} values): the plan
 * uploads its own device copy once per shape class, so it and the kernels always agree.
 */
public record NsaDeviceInputs(DeviceTensor q, DeviceTensor kCmp, DeviceTensor vCmp, DeviceTensor kSel,
                              DeviceTensor vSel, DeviceTensor kWin, DeviceTensor vWin, DeviceTensor gates,
                              DeviceTensor indices, int[] cuSeqlens) {
    public NsaDeviceInputs {
        cuSeqlens = cuSeqlens == null ? null : cuSeqlens.clone();
    }

    @Override
    public int[] cuSeqlens() {
        return cuSeqlens == null ? null : cuSeqlens.clone();
    }

    public boolean isVarlen() {
        return cuSeqlens != null;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Builder; {@link #build()} requires q, the three branches' k/v and the gates. */
    public static final class Builder {
        private DeviceTensor q, kCmp, vCmp, kSel, vSel, kWin, vWin, gates, indices;
        private int[] cu;

        private Builder() {}

        public Builder q(DeviceTensor v) { q = v; return this; }
        public Builder cmp(DeviceTensor k, DeviceTensor v) { kCmp = k; vCmp = v; return this; }
        public Builder sel(DeviceTensor k, DeviceTensor v) { kSel = k; vSel = v; return this; }
        public Builder win(DeviceTensor k, DeviceTensor v) { kWin = k; vWin = v; return this; }
        /** The same keys and values for all three branches. */
        public Builder sharedKv(DeviceTensor k, DeviceTensor v) { return cmp(k, v).sel(k, v).win(k, v); }
        public Builder gates(DeviceTensor v) { gates = v; return this; }
        public Builder indices(DeviceTensor v) { indices = v; return this; }
        /** Varlen: the host copy of cu_seqlens. */
        public Builder cuSeqlens(int[] v) { cu = v; return this; }

        /**
         * A raw device pointer as a tensor of contiguous {@code dims} (for callers that own CUDA memory: TornadoVM's
         * CUDA backend, other JCuda code); nsa4j never frees it.
         */
        public static DeviceTensor raw(long pointer, DType dtype, int... dims) {
            return DeviceTensor.wrap(pointer, dtype, Shape.of(dims));
        }

        public NsaDeviceInputs build() {
            Objects.requireNonNull(q, "q");
            Objects.requireNonNull(kCmp, "k_cmp");
            Objects.requireNonNull(vCmp, "v_cmp");
            Objects.requireNonNull(kSel, "k_sel");
            Objects.requireNonNull(vSel, "v_sel");
            Objects.requireNonNull(kWin, "k_win");
            Objects.requireNonNull(vWin, "v_win");
            Objects.requireNonNull(gates, "gates");
            return new NsaDeviceInputs(q, kCmp, vCmp, kSel, vSel, kWin, vWin, gates, indices, cu);
        }
    }
}
