package dev.nsa4j.fa2.contract;

import java.util.Objects;
import java.util.Set;

import dev.nsa4j.kernels.Mask;
import dev.nsa4j.tensor.DType;

/**
 * One attention call as the FA-2 contract sees it. Build it with {@link #dense}, {@link #varlen},
 * {@link #kvPacked} or {@link #kvPackedVarlen}, then {@link #withMask}, {@link #withKeys}, {@link #withLse};
 * the factories give an NSA prefill call ({@link Mask#CAUSAL}, {@link KeyExtent#FULL}, no lse,
 * {@link Fa2Contract#COMPILED_DIMS}). Layouts are described in {@link Layout}.
 *
 * <p>A per-call, allocation-light description: arrays (cu_seqlens, tensor dims) are read by
 * {@link Fa2Contract#check}, never copied. Tensors that the layout needs but that are {@code null}, and
 * tensors or offsets the layout does not read but that are given, are {@link Fa2Rule#SHAPE} violations.
 *
 * @param device       compute capability and kernel image
 * @param layout       dense, varlen or kv-packed
 * @param q            queries
 * @param k            keys ({@code null} with {@link Layout#KV_PACKED})
 * @param v            values ({@code null} with {@link Layout#KV_PACKED})
 * @param kv           packed keys and values (only with {@link Layout#KV_PACKED})
 * @param out          output
 * @param lse          log-sum-exp output, fp32, or {@code null}
 * @param cuSeqlensQ   host copy of the query offsets, int32 {@code [B+1]} (varlen), else {@code null}
 * @param cuSeqlensK   host copy of the key offsets, int32 {@code [B+1]} (varlen), else {@code null}
 * @param mask         which keys each query sees
 * @param keys         how the keys relate to the queries' positions
 * @param compiledDims the (Dk, Dv) pairs the kernel image was compiled for
 */
public record Fa2Request(Fa2Device device, Layout layout, TensorView q, TensorView k, TensorView v, TensorView kv,
                         TensorView out, TensorView lse, int[] cuSeqlensQ, int[] cuSeqlensK, Mask mask,
                         KeyExtent keys, Set<HeadDims> compiledDims) {
    public Fa2Request {
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(layout, "layout");
        Objects.requireNonNull(mask, "mask");
        Objects.requireNonNull(keys, "keys");
        Objects.requireNonNull(compiledDims, "compiledDims");
    }

    /** {@code q [B, Sq, H, Dk]}, {@code k [B, Sk, Hkv, Dk]}, {@code v [B, Sk, Hkv, Dv]}, {@code out [B, Sq, H, Dv]}. */
    public static Fa2Request dense(Fa2Device device, TensorView q, TensorView k, TensorView v, TensorView out) {
        return new Fa2Request(device, Layout.DENSE, q, k, v, null, out, null, null, null, Mask.CAUSAL,
                KeyExtent.FULL, Fa2Contract.COMPILED_DIMS);
    }

    /** {@code q [nnz_q, H, Dk]}, {@code k [nnz_k, Hkv, Dk]}, {@code v [nnz_k, Hkv, Dv]}, {@code out [nnz_q, H, Dv]}. */
    public static Fa2Request varlen(Fa2Device device, TensorView q, TensorView k, TensorView v, TensorView out,
                                    int[] cuSeqlensQ, int[] cuSeqlensK) {
        return new Fa2Request(device, Layout.VARLEN, q, k, v, null, out, null, cuSeqlensQ, cuSeqlensK,
                Mask.CAUSAL, KeyExtent.FULL, Fa2Contract.COMPILED_DIMS);
    }

    /** {@code q [B, Sq, H, D]}, {@code kv [B, Sk, 2, Hkv, D]}, {@code out [B, Sq, H, D]}. */
    public static Fa2Request kvPacked(Fa2Device device, TensorView q, TensorView kv, TensorView out) {
        return new Fa2Request(device, Layout.KV_PACKED, q, null, null, kv, out, null, null, null, Mask.CAUSAL,
                KeyExtent.FULL, Fa2Contract.COMPILED_DIMS);
    }

    /** {@code q [nnz_q, H, D]}, {@code kv [nnz_k, 2, Hkv, D]}, {@code out [nnz_q, H, D]}; cu_seqlens_k may differ from cu_seqlens_q. */
    public static Fa2Request kvPackedVarlen(Fa2Device device, TensorView q, TensorView kv, TensorView out,
                                            int[] cuSeqlensQ, int[] cuSeqlensK) {
        return new Fa2Request(device, Layout.KV_PACKED, q, null, null, kv, out, null, cuSeqlensQ, cuSeqlensK,
                Mask.CAUSAL, KeyExtent.FULL, Fa2Contract.COMPILED_DIMS);
    }

    public Fa2Request withMask(Mask m) {
        return new Fa2Request(device, layout, q, k, v, kv, out, lse, cuSeqlensQ, cuSeqlensK, m, keys, compiledDims);
    }

    public Fa2Request withKeys(KeyExtent e) {
        return new Fa2Request(device, layout, q, k, v, kv, out, lse, cuSeqlensQ, cuSeqlensK, mask, e, compiledDims);
    }

    /** With an fp32 log-sum-exp output: {@code [B, Sq, H]} dense, {@code [nnz_q, H]} varlen. */
    public Fa2Request withLse(TensorView l) {
        return new Fa2Request(device, layout, q, k, v, kv, out, l, cuSeqlensQ, cuSeqlensK, mask, keys, compiledDims);
    }

    public Fa2Request withCompiledDims(Set<HeadDims> dims) {
        return new Fa2Request(device, layout, q, k, v, kv, out, lse, cuSeqlensQ, cuSeqlensK, mask, keys, dims);
    }

    /** True for {@link Layout#VARLEN}, and for {@link Layout#KV_PACKED} when cu_seqlens are given. */
    public boolean varlen() {
        return layout == Layout.VARLEN || (layout == Layout.KV_PACKED && (cuSeqlensQ != null || cuSeqlensK != null));
    }

    /** The dtype of q (the contract checks that k and v share it), or {@code null} without q. */
    public DType dtype() {
        return q == null ? null : q.dtype();
    }

    /** The tensor holding the keys: {@link #kv()} when packed, else {@link #k()}. */
    public TensorView keyTensor() {
        return layout == Layout.KV_PACKED ? kv : k;
    }

    /** The tensor holding the values: {@link #kv()} when packed, else {@link #v()}. */
    public TensorView valueTensor() {
        return layout == Layout.KV_PACKED ? kv : v;
    }
}
