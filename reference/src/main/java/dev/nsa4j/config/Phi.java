package dev.nsa4j.config;

/** The compression function of the compressed branch (the NSA spec (docs/nsa-spec.md) "Compression branch"). */
public enum Phi {
    /** Mean of the block's keys (values). */
    AVG,
    /** {@code W2·SiLU(W1·vec(block + P) + b1) + b2}, with learned weights. */
    MLP;

    public static Phi parse(String s) {
        return switch (s.toLowerCase(java.util.Locale.ROOT)) {
            case "avg", "mean" -> AVG;
            case "mlp" -> MLP;
            default -> throw new IllegalArgumentException("unknown phi '" + s + "': expected avg or mlp");
        };
    }
}
