package dev.nsa4j.fa2;

import dev.nsa4j.kernels.Mask;

/** The FA-2 kernels' mask policies ({@code nsa::Fa2Mask}), each a template parameter compiled into its own kernel. */
public enum Fa2Mask {
    NONE(0, "none"),
    CAUSAL(1, "causal"),
    WINDOW(2, "window"),
    BLOCK_CAUSAL(3, "blockcausal");

    private final int code;
    private final String symbolPart;

    Fa2Mask(int code, String symbolPart) {
        this.code = code;
        this.symbolPart = symbolPart;
    }

    /** The value of the C enum. */
    public int code() {
        return code;
    }

    /** How the mask appears in kernel symbols. */
    public String symbolPart() {
        return symbolPart;
    }

    /**
     * The kernel policy of a mask.
     *
     * @throws IllegalArgumentException for the chosen-block mask, which no FA-2 kernel has (the contract refuses it)
     */
    public static Fa2Mask of(Mask m) {
        return switch (m) {
            case Mask.None n -> NONE;
            case Mask.Causal c -> CAUSAL;
            case Mask.Window w -> WINDOW;
            case Mask.BlockCausal b -> BLOCK_CAUSAL;
            case Mask.Chosen c -> throw new IllegalArgumentException("FA-2 has no chosen-block mask: " + m);
        };
    }
}
