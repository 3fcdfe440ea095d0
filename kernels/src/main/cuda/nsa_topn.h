// The top-n of block selection (the NSA spec (docs/nsa-spec.md) "Selection branch"), one warp per row, shared by
// the reference scorer (block_select.cu) and the tensor-core scorer (cuda-tc/block_score.cu).
//
// Chosen set: cur + 1 <= n: blocks 0..cur. Else {0, cur - 1, cur} plus the n - 3 best of 1..cur-2 by the key
// (fp32 bits of max(P, 0) descending, block index ascending), the CPU oracle's order; written sorted ascending,
// -1 padded. The running top-(n-3) is a TopList in the warp's registers: entry i in lane i (`a`) and entry
// 32 + i in lane i (`b`), sorted by key descending, 0 = empty. A chunk of 32 candidates (one per lane) costs
// one ballot against the current worst entry; each candidate that beats it is inserted by one ballot-rank and
// one register shift (no shared memory, no sort of the chunk). For random scores a row of B blocks inserts
// about (n-3)·ln(B/(n-3)) candidates in all. Unique keys (the index is in the key) make the result the same
// set whatever the order candidates arrive in.
#pragma once

#include <cstdint>

#define NSA_SELECT_MAX_N 64

namespace nsa {

constexpr unsigned kTopFullMask = 0xffffffffu;

// The sequence b with cu[b] <= r < cu[b + 1] (the last b with cu[b] <= r).
__device__ __forceinline__ int select_find_sequence(const int32_t* cu, int batch, int64_t r) {
    int lo = 0, hi = batch;
    while (hi - lo > 1) {
        const int mid = (lo + hi) >> 1;
        if (cu[mid] <= r) lo = mid; else hi = mid;
    }
    return lo;
}

// Larger key = better: fp32 bits of max(P, 0) (non-negative floats order like their bits), then the
// lower index. Never 0 for a real block (the low word is 0xffffffff - j > 0), so 0 means "empty".
__device__ __forceinline__ unsigned long long select_key(float score, int j) {
    const int bits = max(0, __float_as_int(score));
    return (static_cast<unsigned long long>(static_cast<unsigned>(bits)) << 32)
           | static_cast<unsigned long long>(0xffffffffu - static_cast<unsigned>(j));
}

__device__ __forceinline__ int select_key_index(unsigned long long key) {
    return static_cast<int>(0xffffffffu - static_cast<unsigned>(key & 0xffffffffull));
}

// The warp's running top list (see above). Warp-uniform use only.
struct TopList {
    unsigned long long a = 0ull;   // entry lane
    unsigned long long b = 0ull;   // entry 32 + lane
};

// Entry e of the list (every lane gets it).
__device__ __forceinline__ unsigned long long topn_entry(const TopList& L, int e) {
    const unsigned long long a = __shfl_sync(kTopFullMask, L.a, e & 31);
    const unsigned long long b = __shfl_sync(kTopFullMask, L.b, e & 31);
    return e < 32 ? a : b;
}

// Inserts key x (> the list's entry keep - 1) at its rank; entries pushed past keep - 1 drop out.
__device__ __forceinline__ void topn_insert(TopList& L, int keep, unsigned long long x, int lane) {
    const int pos = __popc(__ballot_sync(kTopFullMask, L.a > x)) + __popc(__ballot_sync(kTopFullMask, L.b > x));
    const unsigned long long a_prev = __shfl_sync(kTopFullMask, L.a, (lane + 31) & 31);   // entry lane - 1
    const unsigned long long b_prev = __shfl_sync(kTopFullMask, L.b, (lane + 31) & 31);   // entry 31 + lane
    const unsigned long long a31 = __shfl_sync(kTopFullMask, L.a, 31);
    const int ea = lane, eb = 32 + lane;
    const unsigned long long na = ea < pos ? L.a : ea == pos ? x : a_prev;
    const unsigned long long nb = eb < pos ? L.b : eb == pos ? x : (lane == 0 ? a31 : b_prev);
    L.a = ea < keep ? na : 0ull;
    L.b = eb < keep ? nb : 0ull;
}

// Offers this lane's candidate (key 0: none) to the top-`keep` list; keep in 1..61.
__device__ __forceinline__ void topn_offer(TopList& L, int keep, unsigned long long key, int lane) {
    unsigned long long worst = topn_entry(L, keep - 1);
    unsigned m = __ballot_sync(kTopFullMask, key > worst);
    while (m != 0u) {   // warp-uniform
        const int src = __ffs(m) - 1;
        m &= m - 1u;
        const unsigned long long x = __shfl_sync(kTopFullMask, key, src);
        if (x > worst) {
            topn_insert(L, keep, x, lane);
            worst = topn_entry(L, keep - 1);
        }
    }
}

// The key of candidate j of a row with current block cur: only 1..cur-2 compete (0, cur-1, cur are forced).
__device__ __forceinline__ unsigned long long topn_candidate(float score, int j, int cur) {
    return (j >= 1 && j <= cur - 2) ? select_key(score, j) : 0ull;
}

// Writes the row's chosen set sorted ascending, -1 padded, into out[0..n). `all`: cur + 1 <= n.
__device__ __forceinline__ void topn_write(int32_t* out, const TopList& L, int n, int cur, bool all, int lane) {
    const int keep = n - 3;
    if (all) {
        for (int k = lane; k < n; k += 32) out[k] = k <= cur ? k : -1;
    } else {
        // cur >= n, so 1..cur-2 holds at least n - 2 > keep blocks: every entry < keep is filled.
        const int big = 0x7fffffff;
        const int ia = lane < keep ? select_key_index(L.a) : big;
        const int ib = lane + 32 < keep ? select_key_index(L.b) : big;
        int pa = 0, pb = 0;
        for (int o = 0; o < 32; ++o) {
            const int x = __shfl_sync(kTopFullMask, ia, o);
            const int y = __shfl_sync(kTopFullMask, ib, o);
            pa += (x < ia) + (y < ia);
            pb += (x < ib) + (y < ib);
        }
        if (lane < keep) out[1 + pa] = ia;
        if (lane + 32 < keep) out[1 + pb] = ib;
        if (lane == 0) {
            out[0] = 0;
            out[n - 2] = cur - 1;
            out[n - 1] = cur;
        }
    }
    __syncwarp();
}

// ncmp(t) = S_cmp(t + 1): compressed tokens visible to position t (int64 so t near INT32_MAX cannot wrap).
__device__ __forceinline__ int select_visible_cmp(int64_t t, int l, int d) {
    const int64_t span = t + 1 - l;
    return span < 0 ? 0 : static_cast<int>(span / d + 1);
}

// Compressed tokens [lo, hi) overlapping selection block j, and their overlap with it: ω(i, j) = ov / l.
__device__ __forceinline__ void select_overlap_range(int64_t j, int l, int d, int lsel, int ncmp, int64_t& lo,
                                                     int64_t& hi) {
    const int64_t bs = j * lsel;
    const int64_t be = bs + lsel;
    const int64_t first = bs - l + 1;   // i·d >= first  <=>  i·d + l > bs
    lo = first <= 0 ? 0 : (first + d - 1) / d;
    hi = min(static_cast<int64_t>(ncmp), (be - 1) / d + 1);   // exclusive
}

}  // namespace nsa
