package dev.nsa4j.oracle;

/**
 * The keys and values of one sequence for positions [first, end), all KV groups, growing at the end and
 * forgetting at the front. Keys are dim-major ({@code [G][Dk][capacity]}) and values token-major
 * ({@code [capacity][G][Dv]}), the layouts {@link KvView} describes, so decode reads them with the very
 * loops prefill uses. Appends are amortised O(1): the front is compacted away only when space runs out.
 */
final class TokenCache {
    private final int groups;
    private final int dk;
    private final int dv;
    private double[] kT;
    private double[] v;
    private int capacity;
    /** Position stored in slot 0. */
    private int base;
    private int first;
    private int end;

    TokenCache(int groups, int dk, int dv, int startPosition, int initialCapacity) {
        this.groups = groups;
        this.dk = dk;
        this.dv = dv;
        this.capacity = Math.max(initialCapacity, 16);
        this.kT = new double[groups * dk * capacity];
        this.v = new double[capacity * groups * dv];
        this.base = startPosition;
        this.first = startPosition;
        this.end = startPosition;
    }

    int first() {
        return first;
    }

    int end() {
        return end;
    }

    int size() {
        return end - first;
    }

    /** Appends the token at position {@link #end()}: keys {@code k[ko..ko+G·Dk)}, values {@code vv[vo..vo+G·Dv)}. */
    void append(double[] k, int ko, double[] vv, int vo) {
        if (end - base == capacity) {
            makeRoom();
        }
        int slot = end - base;
        for (int gc = 0; gc < groups * dk; gc++) {
            kT[gc * capacity + slot] = k[ko + gc];
        }
        System.arraycopy(vv, vo, v, slot * groups * dv, groups * dv);
        end++;
    }

    /** Appends a token whose keys are given dim-major: element (g, c) at {@code kSrc[ko + (g*Dk + c)*kRow]}. */
    void appendDimMajor(double[] kSrc, int ko, int kRow, double[] vv, int vo) {
        if (end - base == capacity) {
            makeRoom();
        }
        int slot = end - base;
        for (int gc = 0; gc < groups * dk; gc++) {
            kT[gc * capacity + slot] = kSrc[ko + gc * kRow];
        }
        System.arraycopy(vv, vo, v, slot * groups * dv, groups * dv);
        end++;
    }

    /** Positions before {@code position} are no longer needed. */
    void dropBefore(int position) {
        first = Math.max(first, Math.min(position, end));
    }

    /** The view of group g; addresses positions [first, end). */
    KvView view(int g) {
        return new KvView(kT, g * dk * capacity - base, capacity, v, g * dv - base * groups * dv, groups * dv);
    }

    private void makeRoom() {
        int live = end - first;
        int newCap = live * 2 > capacity ? capacity * 2 : capacity;
        double[] nk = newCap == capacity ? kT : new double[groups * dk * newCap];
        double[] nv = newCap == capacity ? v : new double[newCap * groups * dv];
        int from = first - base;
        for (int gc = 0; gc < groups * dk; gc++) {
            System.arraycopy(kT, gc * capacity + from, nk, gc * newCap, live);
        }
        System.arraycopy(v, from * groups * dv, nv, 0, live * groups * dv);
        kT = nk;
        v = nv;
        capacity = newCap;
        base = first;
    }
}
