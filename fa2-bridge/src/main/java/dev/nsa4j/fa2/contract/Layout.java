package dev.nsa4j.fa2.contract;

/**
 * How q, k, v and out are laid out (FlashAttention's layouts; element strides, row-major in the last dims).
 * <ul>
 * <li>{@link #DENSE}: {@code q [B, Sq, H, Dk]}, {@code k [B, Sk, Hkv, Dk]}, {@code v [B, Sk, Hkv, Dv]},
 *     {@code out [B, Sq, H, Dv]}, optional {@code lse} fp32 {@code [B, Sq, H]}.</li>
 * <li>{@link #VARLEN}: sequences packed along the token dim: {@code q [nnz_q, H, Dk]},
 *     {@code k [nnz_k, Hkv, Dk]}, {@code v [nnz_k, Hkv, Dv]}, {@code out [nnz_q, H, Dv]}, optional
 *     {@code lse [nnz_q, H]}, with host copies of {@code cu_seqlens_q} and {@code cu_seqlens_k} (int32, B+1).</li>
 * <li>{@link #KV_PACKED}: K and V in one tensor {@code kv [B, Sk, 2, Hkv, D]} (dense) or
 *     {@code kv [nnz_k, 2, Hkv, D]} (varlen, when cu_seqlens are given); Dk == Dv == D.</li>
 * </ul>
 */
public enum Layout {
    DENSE, VARLEN, KV_PACKED
}
