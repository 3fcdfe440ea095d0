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
 * <li>sel: where {@code NSA_USE_SEL_KERNEL} wishes it (property, environment or GPU profile) and
 *     {@code NSA_SEL_KERNEL_MIN_L} is not -1, the plan is {@link Path#SEL_KERNEL} with the {@link SelWish} the
 *     shape's plan needs (the minimum length and the kernel's preconditions are decided per shape, by
 *     {@link BranchPlanner}); on SM 8.9 only with {@code NSA_SEL_KERNEL_FORCE=1} (a route reason otherwise). Else the
 *     reference path: {@code sdpa-packed}, or {@code sdpa-masked} with {@code NSA_USE_SEL_PACK=0} (the GPU profile
 *     sets it from measurement).</li>
 * </ul>
 * The reference path of cmp and win is {@code sdpa-masked}, or {@code sdpa} when its mask flag is 0.
 */
final class GpuRoutes {
    private GpuRoutes() {}

    /**
     * A branch's planned route, the walk its reference kernel takes, and, for a planned FA-2 or sel-kernel route,
     * what the shape's plan needs to decide it. For {@link Path#SDPA_PACKED} the walk is RANGES (what the packed path
     * agrees with bitwise).
     *
     * @param fa2 null unless {@code route.path()} is {@link Path#FA2}
     * @param sel null unless {@code route.path()} is {@link Path#SEL_KERNEL}
     */
    record Plan(Route route, AttnWalk walk, Fa2Wish fa2, SelWish sel) {
        Plan(Route route, AttnWalk walk) {
            this(route, walk, null, null);
        }
    }

    /**
     * {@code sel-kernel} wished for the selection branch.
     *
     * @param reference the route a shape takes when sel-kernel does not run it (sdpa-packed or sdpa-masked, and why)
     * @param minL      {@code NSA_SEL_KERNEL_MIN_L}, {@code >= 0}: the fewest selected tokens per row (n·l')
     * @param wishedBy  who asked: {@code "profile sm90 d128"} or {@code "requested by NSA_USE_SEL_KERNEL"}
     * @param byUser    true when the wish came from a property or the environment (not only the profile)
     * @param exactP    P·V with P split into a high and a low term (the default); false under {@code NSA_FAST_P=1}
     */
    record SelWish(Route reference, int minL, String wishedBy, boolean byUser, boolean exactP) {
        /** {@code exact P}, or {@code fast P (NSA_FAST_P=1)}: for route reasons. */
        String precision() {
            return GpuRoutes.precision(exactP);
        }
    }

    /**
     * FA-2 wished for a branch.
     *
     * @param reference   the route a call takes when FA-2 does not run it (path and the mask reason)
     * @param minLenFlag  {@code NSA_FA2_MIN_LEN_WIN} or {@code NSA_FA2_MIN_LEN_CMP}
     * @param minLen      its value, {@code >= 0}
     * @param wishedBy    who asked: {@code "profile sm90 d128"} or {@code "requested by NSA_USE_FA2 and
     *                    NSA_USE_FA2_WIN"}
     * @param byUser      true when the wish came from a property or the environment (not only the profile)
     * @param exactP      P·V with P split into a high and a low term (the default); false under {@code NSA_FAST_P=1}
     */
    record Fa2Wish(Route reference, Flag minLenFlag, int minLen, String wishedBy, boolean byUser, boolean exactP) {
        /** {@code exact P}, or {@code fast P (NSA_FAST_P=1)}: for route reasons. */
        String precision() {
            return GpuRoutes.precision(exactP);
        }
    }

    static String precision(boolean exactP) {
        return exactP ? "exact P" : "fast P (NSA_FAST_P=1)";
    }

    /** {@link #plan(Branch, FlagSnapshot, String)} without a profile label. */
    static Plan plan(Branch br, FlagSnapshot f) {
        return plan(br, f, null);
    }

    /** {@link #plan(Branch, FlagSnapshot, String, int)} on a device of unknown compute capability. */
    static Plan plan(Branch br, FlagSnapshot f, String profileLabel) {
        return plan(br, f, profileLabel, 0);
    }

    /**
     * @param profileLabel the profile bucket the flags came from, e.g. {@code "sm90 d128"}, for reasons;
     *                     null: "GPU profile"
     * @param sm           the device's compute capability as {@code 10·major + minor} (89 keeps sel-kernel off
     *                     without {@code NSA_SEL_KERNEL_FORCE}); 0 when unknown
     */
    static Plan plan(Branch br, FlagSnapshot f, String profileLabel, int sm) {
        if (f.bool(Flag.NSA_FORCE_PARITY)) {
            return new Plan(new Route(br, Path.SDPA, "NSA_FORCE_PARITY=1"), AttnWalk.ALL);
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
            return selection(f, profileLabel, sm, new Route(br, path, why), walk);
        }
        Flag branchFlag = br == Branch.CMP ? Flag.NSA_USE_FA2_CMP : Flag.NSA_USE_FA2_WIN;
        if (!f.bool(Flag.NSA_USE_FA2) || !f.bool(branchFlag)) {
            return new Plan(new Route(br, path, why), walk);
        }
        Flag minFlag = Fa2Threshold.minLenFlag(br);
        int min = f.integer(minFlag);
        boolean user = byUser(f, Flag.NSA_USE_FA2, branchFlag);
        String by = user ? "requested by NSA_USE_FA2 and " + branchFlag.envName()
                : profileLabel != null ? "profile " + profileLabel : "GPU profile";
        if (min < 0) {
            // -1 disables FA-2 for the branch: a configuration, not a fallback
            return new Plan(new Route(br, path, "fa2 " + by + " but " + minFlag.envName() + "=-1 disables it; " + why),
                    walk);
        }
        Route fa2 = new Route(br, Path.FA2, by + "; min len " + min);
        return new Plan(fa2, walk, new Fa2Wish(new Route(br, path, why), minFlag, min, by, user,
                !f.bool(Flag.NSA_FAST_P)), null);
    }

    /** The selection branch: sel-kernel where wished and allowed, else the reference route {@code ref}. */
    private static Plan selection(FlagSnapshot f, String profileLabel, int sm, Route ref, AttnWalk walk) {
        if (!f.bool(Flag.NSA_USE_SEL_KERNEL)) {
            return new Plan(ref, walk);
        }
        boolean user = byUser(f, Flag.NSA_USE_SEL_KERNEL);
        String by = user ? "requested by NSA_USE_SEL_KERNEL"
                : profileLabel != null ? "profile " + profileLabel : "GPU profile";
        if (sm == 89 && !f.bool(Flag.NSA_SEL_KERNEL_FORCE)) {
            // the device policy of docs/routing.md: a configuration, not a fallback
            return new Plan(new Route(Branch.SEL, ref.path(), "sel-kernel " + by
                    + " but SM 8.9 keeps it off (NSA_SEL_KERNEL_FORCE=1 allows it); " + ref.reason()), walk);
        }
        int minL = f.integer(Flag.NSA_SEL_KERNEL_MIN_L);
        if (minL < 0) {
            return new Plan(new Route(Branch.SEL, ref.path(), "sel-kernel " + by
                    + " but NSA_SEL_KERNEL_MIN_L=-1 disables it; " + ref.reason()), walk);
        }
        Route kernel = new Route(Branch.SEL, Path.SEL_KERNEL, by + "; min L " + minL);
        return new Plan(kernel, walk, null, new SelWish(ref, minL, by, user, !f.bool(Flag.NSA_FAST_P)));
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
}
