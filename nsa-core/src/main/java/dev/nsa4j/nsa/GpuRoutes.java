package dev.nsa4j.nsa;

import dev.nsa4j.kernels.AttnWalk;

/**
 * The GPU path of each branch from the flags (ROUTING.md), when a GPU serves the call. Fast paths not in
 * this build (fa2, sel-kernel) fall to the reference paths with the reason said; what was
 * asked for by a flag and could not be served is a counted fallback, what the defaults prefer is not.
 */
final class GpuRoutes {
    private GpuRoutes() {}

    /**
     * A branch's route, the walk its kernel takes, and the fallback tag when a flag's wish was not met. For
     * {@link Path#SDPA_PACKED} the walk is RANGES (what the packed path agrees with bitwise).
     */
    record Plan(Route route, AttnWalk walk, String fallbackTag) {}

    static Plan plan(Branch br, FlagSnapshot f) {
        if (f.bool(Flag.NSA_FORCE_PARITY)) {
            return new Plan(new Route(br, Path.SDPA, "NSA_FORCE_PARITY=1"), AttnWalk.ALL, null);
        }
        String unmet = null;
        String tag = null;
        if (br == Branch.SEL && f.bool(Flag.NSA_USE_SEL_KERNEL)) {
            unmet = "sel-kernel requested by NSA_USE_SEL_KERNEL is not in this build";
            tag = "sel.kernel.fallback";
        } else if (br != Branch.SEL && f.bool(Flag.NSA_USE_FA2)
                && f.bool(br == Branch.CMP ? Flag.NSA_USE_FA2_CMP : Flag.NSA_USE_FA2_WIN)) {
            unmet = "fa2 requested by NSA_USE_FA2 and " + (br == Branch.CMP ? "NSA_USE_FA2_CMP" : "NSA_USE_FA2_WIN")
                    + " is not in this build";
            tag = "fa2.fallback";
        }
        Flag maskFlag = switch (br) {
            case CMP -> Flag.NSA_USE_CMP_MASK;
            case SEL -> Flag.NSA_USE_SEL_PACK;
            case WIN -> Flag.NSA_USE_WIN_MASK;
        };
        boolean masked = f.bool(maskFlag);
        String why;
        if (!masked) {
            why = maskFlag.envName() + "=0";
        } else if (br == Branch.SEL) {
            why = "chosen blocks gathered and packed (NSA_USE_SEL_PACK=1)";
        } else {
            why = (br == Branch.CMP ? "block-causal" : "band") + " mask (" + maskFlag.envName() + "=1)";
        }
        String reason = unmet == null ? why : unmet + "; " + why;
        Path path = !masked ? Path.SDPA : br == Branch.SEL ? Path.SDPA_PACKED : Path.SDPA_MASKED;
        return new Plan(new Route(br, path, reason),
                masked ? AttnWalk.RANGES : AttnWalk.ALL, tag);
    }
}
