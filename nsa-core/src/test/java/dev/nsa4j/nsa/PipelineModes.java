package dev.nsa4j.nsa;

import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.kernels.GpuFixture;
import dev.nsa4j.oracle.NsaOracle;
import dev.nsa4j.oracle.PhiWeights;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;

/**
 * The routing modes the GPU parity suites run the device pipeline in, each with the oracle it is judged
 * against: the parity mode (every branch on {@code sdpa}, K̃ in fp32) against the plain oracle; the others
 * (K̃ in the input dtype) against the oracle with K̃ rounded the same way. Every mode but {@link #SEL_KERNEL} scores
 * blocks on the fp32 reference scorer ({@code NSA_EXACT_SCORES=1}, implied by the parity mode), so a forward with
 * the GPU's own selection chooses the oracle's blocks; {@link #SEL_KERNEL} uses the tensor-core scorer, which may
 * choose differently at near ties, so its oracle is given the GPU's chosen blocks ({@link #ownSelection}).
 */
enum PipelineModes {
    /** NSA_FORCE_PARITY=1: sdpa everywhere, fp32 K̃. */
    PARITY("NSA_FORCE_PARITY", "1"),
    /** sdpa-masked everywhere (FA-2 and sel-kernel off, selection unpacked). */
    MASKED("NSA_USE_FA2", "0", "NSA_USE_SEL_PACK", "0", "NSA_USE_SEL_KERNEL", "0", "NSA_EXACT_SCORES", "1"),
    /** sdpa-masked for cmp and win, sdpa-packed for sel. */
    PACKED("NSA_USE_FA2", "0", "NSA_USE_SEL_PACK", "1", "NSA_USE_SEL_KERNEL", "0", "NSA_EXACT_SCORES", "1"),
    /** FA-2 for cmp and win wherever the contract allows (from length 1), sel per the profile. */
    FA2("NSA_USE_FA2", "1", "NSA_USE_FA2_CMP", "1", "NSA_USE_FA2_WIN", "1", "NSA_FA2_MIN_LEN_CMP", "0",
            "NSA_FA2_MIN_LEN_WIN", "0", "NSA_EXACT_SCORES", "1"),
    /**
     * Every fast path: FA-2 as in {@link #FA2}, sel-kernel wherever it serves the shape (any n·l', SM 8.9 too) and
     * the tensor-core scorer.
     */
    SEL_KERNEL("NSA_USE_FA2", "1", "NSA_USE_FA2_CMP", "1", "NSA_USE_FA2_WIN", "1", "NSA_FA2_MIN_LEN_CMP", "0",
            "NSA_FA2_MIN_LEN_WIN", "0", "NSA_USE_SEL_KERNEL", "1", "NSA_SEL_KERNEL_MIN_L", "0",
            "NSA_SEL_KERNEL_FORCE", "1");

    private final String[] env;

    PipelineModes(String... env) {
        this.env = env;
    }

    /** The mode's flags, then the name/value pairs of {@code extra}. */
    FlagSnapshot flags(String... extra) {
        Map<String, String> e = new HashMap<>();
        e.put("NSA_LOG_LIMIT", "1");
        for (String[] kv : new String[][] {env, extra}) {
            for (int i = 0; i < kv.length; i += 2) {
                e.put(kv[i], kv[i + 1]);
            }
        }
        return Flags.of(Map.of(), e, Map.of());
    }

    /** The GPU instance of this mode, with the flags of {@code extra} (name/value pairs) on top. */
    NsaAttention open(NsaConfig cfg, PhiWeights phi, String... extra) {
        return NsaAttention.builder(cfg).phi(phi).flags(flags(extra)).device("0").build();
    }

    /** The oracle this mode is judged against for inputs of {@code dtype}. */
    NsaOracle oracle(NsaConfig cfg, PhiWeights phi, DType dtype) {
        NsaOracle o = new NsaOracle(cfg, phi, NsaOracle.defaultPool());
        return this == PARITY ? o : o.withCompressedRoundedTo(dtype);
    }

    /**
     * True where the mode's own block selection may differ from the oracle's (the tensor-core scorer): its
     * forwards are judged against the oracle given the GPU's chosen blocks.
     */
    boolean ownSelection() {
        return this == SEL_KERNEL;
    }

    /** Dense [1,S,...] for one length, varlen [nnz,...] with cu_seqlens otherwise; values rounded to dt. */
    static NsaInputs inputs(NsaConfig c, DType dt, int[] lens, Random rnd) {
        boolean varlen = lens.length > 1;
        int nnz = 0;
        for (int l : lens) {
            nnz += l;
        }
        int[] cu = new int[lens.length + 1];
        for (int b = 0; b < lens.length; b++) {
            cu[b + 1] = cu[b] + lens[b];
        }
        HostTensor q = t(rnd, dt, varlen, nnz, c.heads(), c.headDimQk(), -1, 1);
        HostTensor[] kv = new HostTensor[6];
        for (int i = 0; i < 6; i++) {
            kv[i] = t(rnd, dt, varlen, nnz, c.kvGroups(), i % 2 == 0 ? c.headDimQk() : c.headDimV(), -1, 1);
        }
        HostTensor gates = t(rnd, DType.FP32, varlen, nnz, c.heads(), 3, 0, 1);
        NsaInputs.Builder b = NsaInputs.builder().q(q).cmp(kv[0], kv[1]).sel(kv[2], kv[3]).win(kv[4], kv[5])
                .gates(gates);
        if (varlen) {
            b.cuSeqlens(HostTensor.ofInts(cu, cu.length));
        }
        return b.build();
    }

    /** {@code in} with the caller's chosen blocks {@code indices}. */
    static NsaInputs withIndices(NsaInputs in, HostTensor indices) {
        return new NsaInputs(in.q(), in.kCmp(), in.vCmp(), in.kSel(), in.vSel(), in.kWin(), in.vWin(), in.gates(),
                in.cuSeqlens(), indices);
    }

    private static HostTensor t(Random rnd, DType dt, boolean varlen, int nnz, int heads, int dim, double lo, double hi) {
        return varlen ? GpuFixture.random(rnd, dt, lo, hi, nnz, heads, dim)
                : GpuFixture.random(rnd, dt, lo, hi, 1, nnz, heads, dim);
    }
}
