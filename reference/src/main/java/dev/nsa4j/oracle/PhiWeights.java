package dev.nsa4j.oracle;

import java.util.Objects;

/** The phi = mlp parameters: separate MLPs for keys ({@code phi_k.*}, D = Dk) and values ({@code phi_v.*}, D = Dv). */
public record PhiWeights(CompressionMlp k, CompressionMlp v) {
    public PhiWeights {
        Objects.requireNonNull(k, "phi_k");
        Objects.requireNonNull(v, "phi_v");
    }
}
