package dev.nsa4j.kernels.internal;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.tensor.DType;

/**
 * Every kernel the image holds, as {@link KernelKey}s: the Java side of the instantiation lists at the
 * bottom of each .cu file. A CPU test checks that each symbol is present in the built image and that the
 * image holds no {@code nsa_} kernel missing here.
 */
public final class KernelCatalog {
    public static final String GATE_COMBINE = "gate_combine";
    public static final String COMPRESS_AVG = "compress_avg";
    public static final String ATTENTION = "attention";
    /** Head-dim classes of the attention kernels: variant {@code d<n>} serves Dk and Dv up to 32·n. */
    public static final List<Integer> ATTENTION_DIM_CLASSES = List.of(1, 2, 4, 8);
    /** Block scores, group sum and top-n (block_select.cu); variant "", one kernel per q/K̃ dtype. */
    public static final String BLOCK_SELECT = "block_select";
    /** phi = mlp compression (compress_mlp.cu); variant "", one kernel per input dtype, fp32 weights and output. */
    public static final String COMPRESS_MLP = "compress_mlp";
    /** Packed selection, gather step (sel_gather.cu): variant "", one kernel per k/v dtype (a bit copy). */
    public static final String SEL_GATHER = "sel_gather";
    /** Dtype casts of contiguous tensors (cast.cu): variant {@code o<to>}, half precision to and from fp32. */
    public static final String CAST = "cast";
    /**
     * GPU decode (decode.cu): variants {@code append}, {@code fill}, {@code fill_cmp}, {@code select},
     * {@code mlp_emit}, {@code mlp_fill} (phi = mlp) and
     * {@code attend_d<n>} per k/v dtype; {@code (decode, int32, advance)}; the tensor-core step's dtype-free kernels
     * {@code (decode, fp32, select_scores)} and {@code (decode, fp32, finish_g<gates>_o<out>)}.
     */
    public static final String DECODE = "decode";
    /**
     * The reference backward (attention_bwd.cu): {@code attention_bwd_dq} and {@code attention_bwd_dkv} per q/k/v
     * dtype and head-dim class ({@code d<n>}), {@code gate_bwd} (fp32, {@code d<n>} over Dv) and
     * {@code compress_avg_bwd} (fp32, variant "").
     */
    public static final String ATTENTION_BWD_DQ = "attention_bwd_dq";
    public static final String ATTENTION_BWD_DKV = "attention_bwd_dkv";
    public static final String GATE_BWD = "gate_bwd";
    public static final String COMPRESS_AVG_BWD = "compress_avg_bwd";
    /** phi = mlp's reference backward (compress_mlp_bwd.cu): fp32, variants {@link #COMPRESS_MLP_BWD_STEPS}. */
    public static final String COMPRESS_MLP_BWD = "compress_mlp_bwd";
    /** Its kernels in launch order. */
    public static final List<String> COMPRESS_MLP_BWD_STEPS = List.of("act", "weights", "raw");
    /** The params layout probe (no dtype; looked up by symbol). */
    public static final String LAYOUT_PROBE_SYMBOL = "nsa_params_layout";

    /** 16-byte accesses (needs 16-byte aligned pointers and strides) or one element per access. */
    public static final String VEC16 = "v16";
    public static final String SCALAR = "v1";

    /** The decode kernels that are not attention rows, in launch order. */
    public static final List<String> DECODE_STEPS = List.of("append", "fill", "fill_cmp", "select", "mlp_emit",
            "mlp_fill");
    /** The tensor-core step's scorer (fp32 scores in, chosen blocks out), keyed with dtype fp32. */
    public static final String DECODE_SELECT_SCORES = "select_scores";
    private static final List<DType> FLOATS = List.of(DType.FP32, DType.FP16, DType.BF16);
    private static final Set<KernelKey> ALL = build();

    private KernelCatalog() {
    }

    private static Set<KernelKey> build() {
        Set<KernelKey> s = new LinkedHashSet<>();
        for (DType in : FLOATS) {
            for (DType gate : outputs(in)) {
                for (DType out : combineOutputs(in)) {
                    for (String vec : List.of(VEC16, SCALAR)) {
                        s.add(gateCombine(in, gate, out, vec));
                    }
                }
            }
            for (DType out : outputs(in)) {
                for (String vec : List.of(VEC16, SCALAR)) {
                    s.add(compressAvg(in, out, vec));
                }
            }
            for (int d : ATTENTION_DIM_CLASSES) {
                s.add(attention(in, d));
            }
            s.add(blockSelect(in));
            s.add(compressMlp(in));
            s.add(selGather(in));
            for (String step : DECODE_STEPS) {
                s.add(decode(in, step));
            }
            for (int d : ATTENTION_DIM_CLASSES) {
                s.add(decodeAttend(in, d));
                s.add(new KernelKey(ATTENTION_BWD_DQ, in, "d" + d));
                s.add(new KernelKey(ATTENTION_BWD_DKV, in, "d" + d));
            }
        }
        for (int d : ATTENTION_DIM_CLASSES) {
            s.add(new KernelKey(GATE_BWD, DType.FP32, "d" + d));
        }
        s.add(new KernelKey(COMPRESS_AVG_BWD, DType.FP32, ""));
        for (String step : COMPRESS_MLP_BWD_STEPS) {
            s.add(new KernelKey(COMPRESS_MLP_BWD, DType.FP32, step));
        }
        s.add(decodeAdvance());
        s.add(decode(DType.FP32, DECODE_SELECT_SCORES));
        for (DType half : List.of(DType.FP16, DType.BF16)) {
            for (DType g : List.of(DType.FP32, half)) {
                for (DType o : List.of(DType.FP32, half)) {
                    s.add(decodeFinish(g, o));
                }
            }
        }
        for (DType half : List.of(DType.FP16, DType.BF16)) {
            s.add(cast(half, DType.FP32));
            s.add(cast(DType.FP32, half));
        }
        return Set.copyOf(s);
    }

    /** The dtypes an fp32/fp16/bf16 kernel may write (and gate dtypes it may read): its own, or fp32. */
    static List<DType> outputs(DType in) {
        return in == DType.FP32 ? List.of(DType.FP32) : List.of(in, DType.FP32);
    }

    /** The dtypes the gate combine may write: {@link #outputs}, and fp16 / bf16 from fp32 branch outputs. */
    public static List<DType> combineOutputs(DType in) {
        return in == DType.FP32 ? FLOATS : outputs(in);
    }

    public static KernelKey gateCombine(DType in, DType gates, DType out, String vec) {
        return new KernelKey(GATE_COMBINE, in, "g" + KernelKey.dtypeName(gates) + "_o" + KernelKey.dtypeName(out) + "_" + vec);
    }

    public static KernelKey compressAvg(DType in, DType out, String vec) {
        return new KernelKey(COMPRESS_AVG, in, "o" + KernelKey.dtypeName(out) + "_" + vec);
    }

    /** {@code nsa_attention_<dtype>_d<dimClass>}: Dk and Dv up to 32·dimClass; the output dtype is a params flag. */
    public static KernelKey attention(DType in, int dimClass) {
        return new KernelKey(ATTENTION, in, "d" + dimClass);
    }

    /** {@code nsa_block_select_<dtype>}: q and K̃ in that dtype, lse fp32. */
    public static KernelKey blockSelect(DType in) {
        return new KernelKey(BLOCK_SELECT, in, "");
    }

    /** {@code nsa_compress_mlp_<dtype>}: k in that dtype, weights and output fp32. */
    public static KernelKey compressMlp(DType in) {
        return new KernelKey(COMPRESS_MLP, in, "");
    }

    /** {@code nsa_sel_gather_<dtype>}: gathers the chosen blocks' k/v rows ({@link SelPacked}). */
    public static KernelKey selGather(DType in) {
        return new KernelKey(SEL_GATHER, in, "");
    }

    /** {@code nsa_decode_<dtype>_<step>}: a decode kernel other than the attention rows ({@link #DECODE_STEPS}). */
    public static KernelKey decode(DType in, String step) {
        return new KernelKey(DECODE, in, step);
    }

    /** {@code nsa_decode_<dtype>_attend_d<dimClass>}: one branch of a decode step, head dims up to 32·dimClass. */
    public static KernelKey decodeAttend(DType in, int dimClass) {
        return new KernelKey(DECODE, in, "attend_d" + dimClass);
    }

    /**
     * {@code nsa_decode_fp32_finish_g<gates>_o<out>}: the tensor-core step's last kernel (the splits merged, the gate
     * combine, the lengths advanced) for gates and output of these dtypes.
     */
    public static KernelKey decodeFinish(DType gates, DType out) {
        return new KernelKey(DECODE, DType.FP32, "finish_g" + KernelKey.dtypeName(gates) + "_o" + KernelKey.dtypeName(out));
    }

    /** {@code nsa_decode_int32_advance}: every cache length + 1. */
    public static KernelKey decodeAdvance() {
        return new KernelKey(DECODE, DType.INT32, "advance");
    }

    /** {@code nsa_cast_<from>_o<to>}: fp16/bf16 to fp32 and back. */
    public static KernelKey cast(DType from, DType to) {
        return new KernelKey(CAST, from, "o" + KernelKey.dtypeName(to));
    }

    /** Every key, in no particular order. */
    public static Set<KernelKey> all() {
        return ALL;
    }

    /** Every compiled symbol, the layout probe included. */
    public static List<String> symbols() {
        List<String> s = new ArrayList<>(ALL.stream().map(KernelKey::symbol).sorted().toList());
        s.add(LAYOUT_PROBE_SYMBOL);
        return s;
    }

    /**
     * Returns {@code key} when the image holds it.
     *
     * @throws NsaArgumentException naming the key and listing what the family supports
     */
    public static KernelKey require(KernelKey key) {
        if (ALL.contains(key)) {
            return key;
        }
        String supported = ALL.stream().filter(k -> k.family().equals(key.family())).map(KernelKey::toString)
                .sorted().collect(Collectors.joining(", "));
        if (supported.isEmpty()) {
            supported = "no such family; families: " + ALL.stream().map(KernelKey::family).distinct().sorted()
                    .collect(Collectors.joining(", "));
        }
        throw new NsaArgumentException("kernel " + key, "supported kernel combination",
                "no kernel " + key.symbol() + "; supported: " + supported);
    }
}
