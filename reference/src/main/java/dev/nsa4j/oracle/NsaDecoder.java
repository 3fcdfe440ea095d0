package dev.nsa4j.oracle;

import dev.nsa4j.attention.BatchLayout;
import dev.nsa4j.attention.GateOverride;
import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.attention.NsaResult;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.config.Phi;
import dev.nsa4j.tensor.DType;
import java.util.Objects;
import java.util.concurrent.ForkJoinPool;

/**
 * Decode on the CPU oracle (the NSA spec (docs/nsa-spec.md) "Decode"): a prefill fills a {@link DecodeCache}, then each
 * {@link #step} appends one token per sequence, emits a compressed token when a compression block
 * completes, and computes the three branches for that query exactly as prefill does (the same loops, so
 * prefill(S) + k steps equals rows S..S+k−1 of prefill(S + k) bitwise, chosen blocks included).
 *
 * <p>Step inputs are an {@link NsaInputs} of one token per sequence: q {@code [B,1,H,Dk]}, k_c
 * {@code [B,1,G,Dk]}, v_c {@code [B,1,G,Dv]}, gates {@code [B,1,H,3]}, optional indices
 * {@code [B,1,G,n]} (each in [−1, ⌈(t+1)/l'⌉)); no cu_seqlens. Outputs follow the same layout.
 */
public final class NsaDecoder {
    private final NsaConfig cfg;
    private final NsaOracle oracle;
    private final CompressionMlp mlpK;
    private final CompressionMlp mlpV;

    public NsaDecoder(NsaConfig cfg) {
        this(cfg, null, Parallel.shared());
    }

    public NsaDecoder(NsaConfig cfg, PhiWeights phi, ForkJoinPool pool) {
        this.cfg = Objects.requireNonNull(cfg, "cfg");
        this.oracle = new NsaOracle(cfg, phi, pool);
        boolean mlp = cfg.phi() == Phi.MLP;
        this.mlpK = mlp && phi != null ? phi.k() : null;
        this.mlpV = mlp && phi != null ? phi.v() : null;
    }

    /** Outputs of a prefill and the cache it filled. */
    public record Prefill(NsaResult result, DecodeCache cache) {}

    /** Outputs of one step and the reads of each sequence. */
    public record Step(NsaResult result, DecodeReads[] reads) {
        public DecodeReads totalReads() {
            DecodeReads r = DecodeReads.ZERO;
            for (DecodeReads x : reads) {
                r = r.plus(x);
            }
            return r;
        }
    }

    /** Prefill of a dense or varlen batch: the oracle's forward, plus the cache it leaves. */
    public Prefill prefill(NsaInputs in) {
        return prefill(in, null, GateOverride.NONE);
    }

    public Prefill prefill(NsaInputs in, DType outType, GateOverride override) {
        BatchLayout layout = InputCheck.check(cfg, oracle.phiWeights(), in);
        OracleCore.Batch batch = NsaOracle.toBatch(layout, in);
        OracleCore.Result raw = oracle.forwardRaw(batch, override);
        return new Prefill(oracle.wrap(raw, layout, outType), fill(batch, raw));
    }

    /** Prefill from fp64 activations already in this module (the layer). */
    DecodeCache fill(OracleCore.Batch batch, OracleCore.Result raw) {
        int g = cfg.kvGroups();
        int dk = cfg.headDimQk();
        int dv = cfg.headDimV();
        int[] cu = batch.cu();
        DecodeCache.Sequence[] seqs = new DecodeCache.Sequence[batch.sequences()];
        for (int b = 0; b < seqs.length; b++) {
            int len = cu[b + 1] - cu[b];
            int ncmp = raw.cmpCu()[b + 1] - raw.cmpCu()[b];
            int rawStart = ncmp * cfg.stride();
            int winStart = Math.max(0, len - cfg.window());
            DecodeCache.Sequence s = new DecodeCache.Sequence(cfg, winStart, rawStart, Math.max(len * 2, 64));
            for (int t = 0; t < len; t++) {
                int k = (cu[b] + t) * g * dk;
                int v = (cu[b] + t) * g * dv;
                s.sel.append(batch.kSel(), k, batch.vSel(), v);
                if (t >= winStart) {
                    s.win.append(batch.kWin(), k, batch.vWin(), v);
                }
                if (t >= rawStart) {
                    s.raw.append(batch.kCmp(), k, batch.vCmp(), v);
                }
            }
            int segment = OracleCore.segment(raw.cmpCu()[b], ncmp, 0, g, dk);
            for (int i = 0; i < ncmp; i++) {
                s.cmp.appendDimMajor(raw.kCmpT(), segment + i, ncmp, raw.vCmpC(), (raw.cmpCu()[b] + i) * g * dv);
            }
            s.length = len;
            seqs[b] = s;
        }
        return new DecodeCache(cfg, seqs);
    }

    /**
     * One decode step for every sequence of the cache.
     *
     * @throws NsaArgumentException for inputs that break a rule, before the cache changes
     */
    public Step step(DecodeCache cache, NsaInputs in) {
        return step(cache, in, null, GateOverride.NONE);
    }

    public Step step(DecodeCache cache, NsaInputs in, DType outType, GateOverride override) {
        if (cache.cfg != cfg && !cache.cfg.equals(cfg)) {
            throw new NsaArgumentException("cache", "made by a decoder of the same config",
                    "cache config " + cache.cfg + " differs from " + cfg);
        }
        if (in.isVarlen()) {
            throw new NsaArgumentException("cu_seqlens", "absent in a decode step",
                    "a step takes one token per sequence as [B,1,...] tensors");
        }
        NsaInputs noIdx = new NsaInputs(in.q(), in.kCmp(), in.vCmp(), in.kSel(), in.vSel(), in.kWin(), in.vWin(),
                in.gates(), null, null);
        BatchLayout layout = InputCheck.check(cfg, oracle.phiWeights(), noIdx);
        if (layout.seqLen() != 1 || layout.batch() != cache.batch()) {
            throw new NsaArgumentException("q", "shape [B,1,H,Dk] with B = cache batch",
                    "got " + in.q().shape() + " for a cache of " + cache.batch() + " sequences");
        }
        int[] given = null;
        if (in.indices() != null) {
            int[] blocks = new int[cache.batch()];
            for (int b = 0; b < blocks.length; b++) {
                blocks[b] = cfg.selBlocks(cache.length(b) + 1);
            }
            given = InputCheck.checkIndices(cfg, in.indices(), layout, blocks);
        }
        OracleCore.Batch batch = NsaOracle.toBatch(layout, noIdx);
        StepOutputs out = new StepOutputs(cfg, cache.batch());
        DecodeReads[] reads = stepRaw(cache, batch, given, override, out);
        return new Step(oracle.wrap(out.asResult(), layout, outType), reads);
    }

    /** A step on fp64 one-token-per-sequence activations ({@code batch.cu} = 0, 1, .., B); inputs already checked. */
    DecodeReads[] stepRaw(DecodeCache cache, OracleCore.Batch batch, int[] given, GateOverride override,
                          StepOutputs out) {
        DecodeReads[] reads = new DecodeReads[cache.batch()];
        for (int b = 0; b < cache.batch(); b++) {
            reads[b] = stepOne(cache.seqs[b], b, batch, given, override, out);
        }
        return reads;
    }

    /** fp64 outputs of one step, {@code [B,H,Dv]}, {@code [B,H]}, {@code [B,G,n]}. */
    static final class StepOutputs {
        final double[] o, oCmp, oSel, oWin, lseCmp, lseSel, lseWin;
        final int[] indices;

        StepOutputs(NsaConfig c, int b) {
            int n = b * c.heads() * c.headDimV();
            o = new double[n];
            oCmp = new double[n];
            oSel = new double[n];
            oWin = new double[n];
            lseCmp = new double[b * c.heads()];
            lseSel = new double[b * c.heads()];
            lseWin = new double[b * c.heads()];
            indices = new int[b * c.kvGroups() * c.nSel()];
        }

        OracleCore.Result asResult() {
            return new OracleCore.Result(o, oCmp, oSel, oWin, lseCmp, lseSel, lseWin, indices, null, null, null);
        }
    }

    private DecodeReads stepOne(DecodeCache.Sequence s, int b, OracleCore.Batch in, int[] given,
                                GateOverride override, StepOutputs out) {
        int g = cfg.kvGroups();
        int h = cfg.headsPerGroup();
        int dk = cfg.headDimQk();
        int dv = cfg.headDimV();
        int t = s.length;
        int k = b * g * dk;
        int v = b * g * dv;

        // append the token to every cache, emit a compressed token when a block completes
        s.sel.append(in.kSel(), k, in.vSel(), v);
        s.win.append(in.kWin(), k, in.vWin(), v);
        s.win.dropBefore(t - cfg.window() + 1);
        s.raw.append(in.kCmp(), k, in.vCmp(), v);
        int l = cfg.blockLen();
        if (t + 1 >= l && (t + 1 - l) % cfg.stride() == 0) {
            int start = t + 1 - l;
            double[] kc = new double[g * dk];
            double[] vc = new double[g * dv];
            for (int gg = 0; gg < g; gg++) {
                KvView raw = s.raw.view(gg);
                Compressor.compress(raw.kT(), raw.kOff() + start, 1, raw.kRow(), l, dk, mlpK, kc, gg * dk, 1);
                Compressor.compress(raw.v(), raw.vOff() + start * raw.vStride(), raw.vStride(), 1, l, dv, mlpV,
                        vc, gg * dv, 1);
            }
            s.cmp.append(kc, 0, vc, 0);
        }
        s.raw.dropBefore(s.cmp.size() * cfg.stride());
        s.length = t + 1;

        QueryKernel kernel = new QueryKernel(cfg, t + 1);
        QueryKernel.Io io = new QueryKernel.Io();
        io.q = in.q();
        io.given = given;
        io.gates = in.gates();
        io.override = override;
        io.oCmp = out.oCmp;
        io.oSel = out.oSel;
        io.oWin = out.oWin;
        io.o = out.o;
        io.lseCmp = out.lseCmp;
        io.lseSel = out.lseSel;
        io.lseWin = out.lseWin;
        io.indices = out.indices;
        int ncmp = cfg.visibleCompressed(t);
        long selected = 0;
        for (int gg = 0; gg < g; gg++) {
            int head0 = b * cfg.heads() + gg * h;
            io.cmp = s.cmp.view(gg);
            io.ncmp = ncmp;
            io.sel = s.sel.view(gg);
            io.win = s.win.view(gg);
            io.qOff = head0 * dk;
            io.givenOff = (b * g + gg) * cfg.nSel();
            io.gatesOff = head0 * 3;
            io.oOff = head0 * dv;
            io.lseOff = head0;
            io.indicesOff = (b * g + gg) * cfg.nSel();
            selected += kernel.compute(t, io);
        }
        return new DecodeReads((long) ncmp * g, selected, (long) Math.min(cfg.window(), t + 1) * g);
    }
}
