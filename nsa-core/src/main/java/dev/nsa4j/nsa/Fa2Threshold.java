package dev.nsa4j.nsa;

/**
 * The per-call length threshold of FA-2 (docs/routing.md "Profiles and thresholds"): FA-2 is tried for a branch
 * only when the call's key length reaches the branch's minimum, {@code NSA_FA2_MIN_LEN_WIN} for the window
 * branch (length: the window w) or {@code NSA_FA2_MIN_LEN_CMP} for the compressed branch (length: the
 * longest compressed sequence of the call, {@code max_b cu_cmp[b+1] - cu_cmp[b]}); {@code -1} disables FA-2.
 * Pure functions, no device.
 */
final class Fa2Threshold {
    private Fa2Threshold() {}

    /**
     * One call's decision.
     *
     * @param fa2    true when FA-2 is to be tried (the contract may still refuse it)
     * @param length the call's key length
     * @param min    the minimum length in force ({@code -1}: off)
     * @param reason why: {@code "window 512 >= 128"}, {@code "below NSA_FA2_MIN_LEN_WIN (64 < 128)"} or
     *               {@code "FA-2 off: NSA_FA2_MIN_LEN_WIN=-1"}
     */
    record Decision(boolean fa2, int length, int min, String reason) {}

    /** The flag holding a branch's minimum length. */
    static Flag minLenFlag(Branch br) {
        return switch (br) {
            case WIN -> Flag.NSA_FA2_MIN_LEN_WIN;
            case CMP -> Flag.NSA_FA2_MIN_LEN_CMP;
            case SEL -> throw new IllegalArgumentException("FA-2 serves the cmp and win branches, not sel");
        };
    }

    /**
     * The key length a call's threshold is judged on: the window {@code w} for win; the longest compressed
     * sequence of {@code cuCmp} (compressed prefix sums, {@code [B + 1]}) for cmp.
     */
    static int callLength(Branch br, int window, int[] cuCmp) {
        return switch (br) {
            case WIN -> window;
            case CMP -> longest(cuCmp);
            case SEL -> throw new IllegalArgumentException("FA-2 serves the cmp and win branches, not sel");
        };
    }

    /** {@code max_b cu[b+1] - cu[b]}, 0 for no sequence. */
    static int longest(int[] cu) {
        int m = 0;
        for (int b = 0; b + 1 < cu.length; b++) {
            m = Math.max(m, cu[b + 1] - cu[b]);
        }
        return m;
    }

    /** FA-2 when {@code min != -1} and {@code length >= min}. */
    static Decision decide(Branch br, int length, int min) {
        Flag flag = minLenFlag(br);
        if (min < 0) {
            return new Decision(false, length, min, "FA-2 off: " + flag.envName() + "=" + min);
        }
        if (length < min) {
            return new Decision(false, length, min, "below " + flag.envName() + " (" + length + " < " + min + ")");
        }
        String what = br == Branch.WIN ? "window " : "compressed length ";
        return new Decision(true, length, min, what + length + " >= " + min);
    }
}
