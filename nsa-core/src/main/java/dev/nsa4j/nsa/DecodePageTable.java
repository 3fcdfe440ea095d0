package dev.nsa4j.nsa;

import java.util.Arrays;

import dev.nsa4j.NsaArgumentException;

/**
 * The host mirror of a GPU decoder's block table: for sequence b and selection block j (tokens j·l' ..
 * (j+1)·l' - 1) the page of the selection pool that holds them, or -1. The kernels read the device copy; the host
 * decides and checks placements, so a step never reads device memory back.
 *
 * <p>Two pools. The decoder's own ({@link #owned}: B · ceil(capacity / l') pages) hands a block the next free page
 * the first time a token enters it. A caller's ({@link #callerOwned}: a paged-KV manager's pool of any size) is
 * placed by the caller with {@link #assign}; the decoder never picks a page there, and {@link #require} names the
 * block that has none. Either way a block keeps its page until its sequence is released: growth writes one table
 * entry and never copies a page.
 */
final class DecodePageTable {
    private final int batch;
    private final int stride;
    private final int pages;
    private final boolean callerOwned;
    /** [batch · stride]: the page of (b, j), or -1. */
    private final int[] table;
    /** [pages]: the entry b · stride + j holding the page, or -1. */
    private final int[] owner;
    /** The own pool's next page never handed out (pages are not recycled there). */
    private int next;
    private boolean dirty = true;

    private DecodePageTable(int batch, int stride, int pages, boolean callerOwned) {
        this.batch = batch;
        this.stride = stride;
        this.pages = pages;
        this.callerOwned = callerOwned;
        this.table = new int[batch * stride];
        this.owner = new int[pages];
        Arrays.fill(table, -1);
        Arrays.fill(owner, -1);
    }

    /** The decoder's own pool: {@code batch · stride} pages, handed out in order. */
    static DecodePageTable owned(int batch, int stride) {
        return new DecodePageTable(batch, stride, Math.multiplyExact(batch, stride), false);
    }

    /** A caller's pool of {@code pages} pages, placed by {@link #assign}. */
    static DecodePageTable callerOwned(int batch, int stride, int pages) {
        if (pages < 1) {
            throw new NsaArgumentException("pages", "a pool of at least one page", "got " + pages + " pages");
        }
        return new DecodePageTable(batch, stride, pages, true);
    }

    boolean isCallerOwned() {
        return callerOwned;
    }

    /** Pages in the pool. */
    int pages() {
        return pages;
    }

    /** The page of block {@code j} of sequence {@code b}, or -1. */
    int page(int b, int j) {
        checkEntry(b, j);
        return table[b * stride + j];
    }

    /**
     * The block {@code j} of sequence {@code b} is about to receive a token ({@code when} says which call): the own
     * pool gives it the next page if it has none; a caller's pool must already hold one.
     *
     * @throws NsaArgumentException naming the sequence and block without a page, before anything changes
     */
    void require(int b, int j, String when) {
        checkEntry(b, j);
        if (table[b * stride + j] >= 0) {
            return;
        }
        if (callerOwned) {
            throw new NsaArgumentException("decode.pages", "a page for every selection block a token enters "
                    + "(NsaGpuDecoder.assignPage before the " + when + ")",
                    "block " + j + " of sequence " + b + " has no page");
        }
        if (next >= pages) {
            throw new IllegalStateException("the decoder's own pool is exhausted (" + pages + " pages): the capacity "
                    + "rule should have refused this token first");
        }
        place(b, j, next++);
    }

    /**
     * A caller's placement: block {@code j} of sequence {@code b} lives in page {@code page} of the caller's pool.
     *
     * @throws NsaArgumentException when the decoder owns its pool, an index is out of range, the page holds another
     *                              block, or the block already has another page (pages are never copied)
     */
    void assign(int b, int j, int page) {
        if (!callerOwned) {
            throw new NsaArgumentException("decode.pages", "assignPage on a decoder opened with caller-owned pages",
                    "this decoder owns its pool and places its blocks itself");
        }
        checkEntry(b, j);
        if (page < 0 || page >= pages) {
            throw new NsaArgumentException("decode.pages", "0 <= page < " + pages + " (the pool's pages)",
                    "page " + page);
        }
        int at = b * stride + j;
        if (table[at] == page) {
            return;
        }
        if (table[at] >= 0) {
            throw new NsaArgumentException("decode.pages", "a block keeps its page until its sequence ends (pages "
                    + "are never copied)", "block " + j + " of sequence " + b + " is in page " + table[at]
                    + ", asked to move to page " + page);
        }
        if (owner[page] >= 0) {
            throw new NsaArgumentException("decode.pages", "one block per page", "page " + page + " holds block "
                    + owner[page] % stride + " of sequence " + owner[page] / stride);
        }
        place(b, j, page);
    }

    /** Sequence {@code b}'s entries cleared: a caller's pages are free for other blocks; the own pool keeps them. */
    void release(int b) {
        checkEntry(b, 0);
        if (!callerOwned) {
            return;   // the sequence regrows into the pages its entries still name
        }
        for (int j = 0; j < stride; j++) {
            int at = b * stride + j;
            if (table[at] >= 0) {
                owner[table[at]] = -1;
                table[at] = -1;
                dirty = true;
            }
        }
    }

    /** The own pool emptied (a prefill places every block again); a caller's placements stay. */
    void resetOwned() {
        if (callerOwned) {
            return;
        }
        Arrays.fill(table, -1);
        Arrays.fill(owner, -1);
        next = 0;
        dirty = true;
    }

    /** The table to upload ({@code [B, stride]}), or null when the device copy is current; clears the mark. */
    int[] takeChanges() {
        if (!dirty) {
            return null;
        }
        dirty = false;
        return table.clone();
    }

    /** A copy of sequence {@code b}'s entries. */
    int[] row(int b) {
        checkEntry(b, 0);
        return Arrays.copyOfRange(table, b * stride, (b + 1) * stride);
    }

    private void place(int b, int j, int page) {
        table[b * stride + j] = page;
        owner[page] = b * stride + j;
        dirty = true;
    }

    private void checkEntry(int b, int j) {
        if (b < 0 || b >= batch) {
            throw new NsaArgumentException("decode.pages", "0 <= sequence < " + batch + " (the decoder's batch)",
                    "sequence " + b);
        }
        if (j < 0 || j >= stride) {
            throw new NsaArgumentException("decode.pages", "0 <= block < " + stride
                    + " (ceil(capacity / l'): the decoder's capacity)", "block " + j);
        }
    }
}
