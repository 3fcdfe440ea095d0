package dev.nsa4j.bench;

import java.util.List;

/** Freeing what a bench step allocated. */
final class Closeables {
    private Closeables() {
    }

    /**
     * Closes {@code owned} last to first, ignoring failures: used in a {@code finally} after a step that may have
     * failed, where the first error is the one to report.
     */
    static void closeAllQuietly(List<? extends AutoCloseable> owned) {
        for (int i = owned.size() - 1; i >= 0; i--) {
            try {
                owned.get(i).close();
            } catch (Exception ignored) {
                // freeing after a failure: the first error is the one reported
            }
        }
    }
}
