package dev.nsa4j.nsa;

import dev.nsa4j.kernels.internal.AttnWalk;

/**
 * The planned GPU path of each branch from the flags (docs/routing.md), when a GPU serves the call.
 * <ul>
 * <li>{@code NSA_FORCE_PARITY=1}: every branch on {@code sdpa}.</li>
 * <li>cmp, win: where FA-2 is wished ({@code NSA_USE_FA2} and the branch's switch, from a property, the
 *     environment or the GPU profile) and its minimum length is not -1, the plan is {@link Path#FA2} with the
 *     {@link Fa2Wish} the forward needs: whether FA-2 really runs is decided per call ({@link Fa2Threshold},
 *     the FA-2 contract), and the route of that call says which path ran. Otherwise the reference path.</li>
 * <li>sel: {@code sdpa-packed}, or {@code sdpa-masked} with {@code NSA_USE_SEL_PACK=0} (the GPU profile sets it
 *     from measurement); {@code sel-kernel} is not in
 *     this build: a wish for it from a property or the environment is a counted fallback, one from the
 *     profile is not.</li>
 * </ul>
 * The reference path of cmp and win is {@code sdpa-masked}, or {@code sdpa} when its mask flag is 0.
 */
final class GpuRoutes {
    private GpuRoutes() {}

    /**
     * A branch's planned route, the walk its reference kernel takes, the fallback tag when a flag's wish
     * cannot be met at all, and, for a planned FA-2 route, what the per-call decision needs. For
     * {@link Path#SDPA_PACKED} the walk is RANGES (what the packed path agrees with bitwise).
     *
     * @param fa2 null unless {@code route.path()} is {@link Path#FA2}
     */
    record Plan(Route route, AttnWalk walk, String fallbackTag, Fa2Wish fa2) {}

    /**
     * FA-2 wished for a branch.
     *
     * @param reference   the route a call takes when FA-2 does not run it (path and the mask reason)
     * @param minLenFlag  {@code NSA_FA2_MIN_LEN_WIN} or {@code NSA_FA2_MIN_LEN_CMP}
     * @param minLen      its value, {@code >= 0}
     * @param wishedBy    who asked: {@code "profile sm90 d128"} or {@code "requested by NSA_USE_FA2 and
     *                    NSA_USE_FA2_WIN"}
     * @param byUser      true when the wish came from a property or the environment (not only the profile)
     */
    record Fa2Wish(Route reference, Flag minLenFlag, int minLen, String wishedBy, boolean byUser) {}

    /** {@link #plan(Branch, FlagSnapshot, String)} without a profile label. */
    static Plan plan(Branch br, FlagSnapshot f) {
        return plan(br, f, null);
    }

    /**
     * @param profileLabel the profile bucket the flags came from, e.g. {@code "sm90 d128"}, for reasons;
     *                     null: "GPU profile"
     */
    static Plan plan(Branch br, FlagSnapshot f, String profileLabel) {
        if (f.bool(Flag.NSA_FORCE_PARITY)) {
            return new Plan(new Route(br, Path.SDPA, "NSA_FORCE_PARITY=1"), AttnWalk.ALL, null, null);
        }
        Flag maskFlag = switch (br) {
            case CMP -> Flag.NSA_USE_CMP_MASK;
            case SEL -> Flag.NSA_USE_SEL_PACK;
            case WIN -> Flag.NSA_USE_WIN_MASK;
        };
        boolean masked = f.bool(maskFlag);
        String why;
        if (br == Branch.SEL) {
            // the selection branch's reference paths: packed (gather, then dense) or the chosen blocks walked in
            // place (sdpa-masked); plain sdpa only in the parity mode
            why = masked ? "chosen blocks gathered and packed (" + source(f, maskFlag) + ")"
                    : "chosen blocks walked in place (" + source(f, maskFlag) + ")";
        } else if (!masked) {
            why = maskFlag.envName() + "=0";
        } else {
            why = (br == Branch.CMP ? "block-causal" : "band") + " mask (" + maskFlag.envName() + "=1)";
        }
        Path path = br == Branch.SEL ? (masked ? Path.SDPA_PACKED : Path.SDPA_MASKED)
                : !masked ? Path.SDPA : Path.SDPA_MASKED;
        AttnWalk walk = masked || br == Branch.SEL ? AttnWalk.RANGES : AttnWalk.ALL;
        if (br == Branch.SEL) {
            if (f.bool(Flag.NSA_USE_SEL_KERNEL)) {
                String unmet = "sel-kernel " + wishedBy(f, Flag.NSA_USE_SEL_KERNEL) + " is not in this build";
                String tag = byUser(f, Flag.NSA_USE_SEL_KERNEL) ? "sel.kernel.fallback" : null;
                return new Plan(new Route(br, path, unmet + "; " + why), walk, tag, null);
            }
            return new Plan(new Route(br, path, why), walk, null, null);
        }
        Flag branchFlag = br == Branch.CMP ? Flag.NSA_USE_FA2_CMP : Flag.NSA_USE_FA2_WIN;
        if (!f.bool(Flag.NSA_USE_FA2) || !f.bool(branchFlag)) {
            return new Plan(new Route(br, path, why), walk, null, null);
        }
        Flag minFlag = Fa2Threshold.minLenFlag(br);
        int min = f.integer(minFlag);
        boolean user = byUser(f, Flag.NSA_USE_FA2, branchFlag);
        String by = user ? "requested by NSA_USE_FA2 and " + branchFlag.envName()
                : profileLabel != null ? "profile " + profileLabel : "GPU profile";
        if (min < 0) {
            // -1 disables FA-2 for the branch: a configuration, not a fallback
            return new Plan(new Route(br, path, "fa2 " + by + " but " + minFlag.envName() + "=-1 disables it; " + why),
                    walk, null, null);
        }
        Route fa2 = new Route(br, Path.FA2, by + "; min len " + min);
        return new Plan(fa2, walk, null, new Fa2Wish(new Route(br, path, why), minFlag, min, by, user));
    }

    /** {@code NSA_USE_SEL_PACK=0}, or {@code profile: NSA_USE_SEL_PACK=0} when the profile set it. */
    private static String source(FlagSnapshot f, Flag flag) {
        String v = flag.envName() + "=" + (f.bool(flag) ? "1" : "0");
        return f.source(flag) == FlagSource.PROFILE ? "profile: " + v : v;
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

    /** {@code requested by NSA_USE_SEL_KERNEL}, or {@code enabled by the GPU profile (NSA_USE_SEL_KERNEL)}. */
    private static String wishedBy(FlagSnapshot f, Flag... flags) {
        String names = String.join(" and ", java.util.Arrays.stream(flags).map(Flag::envName).toList());
        return byUser(f, flags) ? "requested by " + names : "enabled by the GPU profile (" + names + ")";
    }
}
