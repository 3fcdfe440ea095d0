package dev.nsa4j.nsa;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.config.Phi;
import dev.nsa4j.kernels.internal.Attention;
import dev.nsa4j.kernels.internal.BlockSelect;
import dev.nsa4j.kernels.internal.CompressMlp;
import dev.nsa4j.oracle.CompressionMlp;
import dev.nsa4j.oracle.PhiWeights;

/** What of a config the GPU kernels can serve, checked without a CUDA call. */
final class GpuSupport {
    private GpuSupport() {
    }

    /** Why the GPU paths cannot serve this config (with these phi weights), or null when they can. */
    static String whyNot(NsaConfig config, PhiWeights phi) {
        if (config.phi() == Phi.MLP) {
            try {
                checkPhi(config, phi);
            } catch (NsaArgumentException e) {
                return "phi = mlp weights do not fit the GPU kernel: " + e.getMessage();
            }
        }
        if (config.nSel() > BlockSelect.MAX_N) {
            return "n = " + config.nSel() + " exceeds the GPU selection kernel's limit " + BlockSelect.MAX_N;
        }
        if (Math.max(config.headDimQk(), config.headDimV()) > Attention.MAX_HEAD_DIM) {
            return "head dim above " + Attention.MAX_HEAD_DIM + " has no GPU kernel";
        }
        return null;
    }

    /** phi = mlp weights that fit the config and the GPU kernel (no CUDA call). */
    static void checkPhi(NsaConfig cfg, PhiWeights phi) {
        if (phi == null) {
            throw new NsaArgumentException("phi", "phi = mlp needs phi_k/phi_v weights",
                    "config says phi=MLP but no PhiWeights were given");
        }
        checkMlp("phi_k", phi.k(), cfg.blockLen(), cfg.headDimQk());
        checkMlp("phi_v", phi.v(), cfg.blockLen(), cfg.headDimV());
    }

    private static void checkMlp(String name, CompressionMlp m, int blockLen, int dim) {
        if (m.blockLen() != blockLen || m.dim() != dim) {
            throw new NsaArgumentException(name, "weights for [l, D] = [" + blockLen + ", " + dim + "]",
                    "weights are for [l, D] = [" + m.blockLen() + ", " + m.dim() + "]");
        }
        CompressMlp.checkLimits(name, blockLen, dim, m.hidden());
    }
}
