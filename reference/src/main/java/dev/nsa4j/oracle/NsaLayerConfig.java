package dev.nsa4j.oracle;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.config.NsaConfig;
import java.util.Objects;

/**
 * The NSA layer around the attention (the NSA spec (docs/nsa-spec.md) "The NSA layer"): model width, rotary base and the optional
 * hidden layer of the gate MLP.
 *
 * @param modelDim   dim of x and of the output
 * @param attention  the attention config (its Dk must be even: rotary embedding rotates pairs)
 * @param ropeBase   rotary base, 10000 by default
 * @param gateHidden width of the gate MLP's SiLU hidden layer; 0 for a single linear layer + sigmoid
 */
public record NsaLayerConfig(int modelDim, NsaConfig attention, double ropeBase, int gateHidden) {
    public NsaLayerConfig {
        Objects.requireNonNull(attention, "attention");
        if (modelDim <= 0) {
            throw new NsaArgumentException("layer.modelDim", "dim > 0", "modelDim=" + modelDim);
        }
        if (attention.headDimQk() % 2 != 0) {
            throw new NsaArgumentException("config.headDimQk", "Dk even for rotary embedding",
                    "Dk=" + attention.headDimQk());
        }
        if (!(ropeBase > 1) || Double.isInfinite(ropeBase)) {
            throw new NsaArgumentException("layer.ropeBase", "rope base finite and > 1", "ropeBase=" + ropeBase);
        }
        if (gateHidden < 0) {
            throw new NsaArgumentException("layer.gateHidden", "gate hidden >= 0", "gateHidden=" + gateHidden);
        }
    }

    /** No gate hidden layer, rope base 10000. */
    public static NsaLayerConfig of(int modelDim, NsaConfig attention) {
        return new NsaLayerConfig(modelDim, attention, 10000.0, 0);
    }
}
