package dev.nsa4j.bench.report;

import java.util.Objects;

/**
 * The shape of one NSA bench measurement: what is the same between two rows whose times may be compared
 * (a {@link NsaBenchConfig} plus the batch and the sequence length). Every system gets q {@code [B,S,Hq,Dk]},
 * k {@code [B,S,Hkv,Dk]}, v {@code [B,S,Hkv,Dv]} and, for NSA, gates {@code [B,S,Hq]}, in its own layout.
 *
 * @param batch  B >= 1, sequences
 * @param seqlen S >= 1, tokens per sequence (queries = keys)
 * @param config dtype, heads, dims and the NSA config
 */
public record NsaBenchShape(int batch, int seqlen, NsaBenchConfig config) {
    public NsaBenchShape {
        Objects.requireNonNull(config, "config");
        NsaBenchConfig.positive("batch", batch);
        NsaBenchConfig.positive("seqlen", seqlen);
    }

    /** {@code bf16 B=4 S=4096 Hq/Hkv=64/4 Dk/Dv=128/128 l/d/l'/n/w=64/64/64/16/512}. */
    public String label() {
        String c = config.label();
        int sp = c.indexOf(' ');
        return c.substring(0, sp) + " B=" + batch + " S=" + seqlen + c.substring(sp);
    }
}
