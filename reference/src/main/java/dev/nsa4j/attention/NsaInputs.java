package dev.nsa4j.attention;

import dev.nsa4j.tensor.HostTensor;
import java.util.Objects;

/**
 * The tensors of one NSA attention call, in the NSA spec (docs/nsa-spec.md) layouts (token-major, as FlashAttention):
 * <pre>
 *   dense                      varlen (cuSeqlens given)
 *   q       [B,S,H,Dk]         [nnz,H,Dk]
 *   k_c     [B,S,G,Dk]         [nnz,G,Dk]     c in {cmp, sel, win}
 *   v_c     [B,S,G,Dv]         [nnz,G,Dv]
 *   gates   [B,S,H,3]          [nnz,H,3]      order (cmp, sel, win), each in [0,1]
 *   indices [B,S,G,n] int32    [nnz,G,n]      optional caller-chosen blocks, -1 padded
 *   cu_seqlens                 [B+1] int32    cu[0]=0, non-decreasing, cu[B]=nnz
 * </pre>
 * q, k_c and v_c share one dtype (fp32, fp16 or bf16); gates are that dtype or fp32. Any strides are
 * accepted. Nothing is checked here: the consumer ({@link dev.nsa4j.oracle.NsaOracle}, the GPU paths) checks everything
 * before it computes.
 */
public record NsaInputs(HostTensor q, HostTensor kCmp, HostTensor vCmp, HostTensor kSel, HostTensor vSel,
                        HostTensor kWin, HostTensor vWin, HostTensor gates, HostTensor cuSeqlens,
                        HostTensor indices) {

    public boolean isVarlen() {
        return cuSeqlens != null;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Builder; {@link #build()} requires q, the three branches' k/v and the gates. */
    public static final class Builder {
        private HostTensor q, kCmp, vCmp, kSel, vSel, kWin, vWin, gates, cuSeqlens, indices;

        private Builder() {}

        public Builder q(HostTensor v) { q = v; return this; }
        public Builder cmp(HostTensor k, HostTensor v) { kCmp = k; vCmp = v; return this; }
        public Builder sel(HostTensor k, HostTensor v) { kSel = k; vSel = v; return this; }
        public Builder win(HostTensor k, HostTensor v) { kWin = k; vWin = v; return this; }
        /** The same keys and values for all three branches. */
        public Builder sharedKv(HostTensor k, HostTensor v) { return cmp(k, v).sel(k, v).win(k, v); }
        public Builder gates(HostTensor v) { gates = v; return this; }
        public Builder cuSeqlens(HostTensor v) { cuSeqlens = v; return this; }
        public Builder indices(HostTensor v) { indices = v; return this; }

        public NsaInputs build() {
            Objects.requireNonNull(q, "q");
            Objects.requireNonNull(kCmp, "k_cmp");
            Objects.requireNonNull(vCmp, "v_cmp");
            Objects.requireNonNull(kSel, "k_sel");
            Objects.requireNonNull(vSel, "v_sel");
            Objects.requireNonNull(kWin, "k_win");
            Objects.requireNonNull(vWin, "v_win");
            Objects.requireNonNull(gates, "gates");
            return new NsaInputs(q, kCmp, vCmp, kSel, vSel, kWin, vWin, gates, cuSeqlens, indices);
        }
    }
}
