package dev.nsa4j.nsa;

import dev.nsa4j.kernels.AttnWalk;

/**
 * The GPU path of each branch from the flags (ROUTING.md), when a GPU serves the call. Fast paths not in
 * this build (fa2, sel-kernel) fall to the reference paths with the reason said; what was
 * asked for by a flag (property or environment) and could not be served is a counted fallback, what the
 * defaults or the GPU profile prefer is not.
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
            unmet = "sel-kernel " + wishedBy(f, Flag.NSA_USE_SEL_KERNEL) + " is not in this build";
            tag = byUser(f, Flag.NSA_USE_SEL_KERNEL) ? "sel.kernel.fallback" : null;
        } else if (br != Branch.SEL && f.bool(Flag.NSA_USE_FA2)
                && f.bool(br == Branch.CMP ? Flag.NSA_USE_FA2_CMP : Flag.NSA_USE_FA2_WIN)) {
            Flag branchFlag = br == Branch.CMP ? Flag.NSA_USE_FA2_CMP : Flag.NSA_USE_FA2_WIN;
            unmet = "fa2 " + wishedBy(f, Flag.NSA_USE_FA2, branchFlag) + " is not in this build";
            tag = byUser(f, Flag.NSA_USE_FA2, branchFlag) ? "fa2.fallback" : null;
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

    /** True when any of these flags was set by a property or an environment variable. */
    static boolean byUser(FlagSnapshot f, Flag... flags) {
        for (Flag x : flags) {
            if (f.source(x) == FlagSource.PROPERTY || f.source(x) == FlagSource.ENV) {
                return true;
            }
        }
        return false;
    }

    /** {@code requested by NSA_USE_FA2 and NSA_USE_FA2_WIN}, or {@code enabled by the GPU profile (...)}. */
    private static String wishedBy(FlagSnapshot f, Flag... flags) {
        String names = String.join(" and ", java.util.Arrays.stream(flags).map(Flag::envName).toList());
        return byUser(f, flags) ? "requested by " + names : "enabled by the GPU profile (" + names + ")";
    }
}
