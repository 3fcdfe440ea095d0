// The top-n of block selection (the NSA spec (docs/nsa-spec.md) "Selection branch"), one warp per row, shared by
// the reference scorer (block_select.cu) and the tensor-core scorers (cuda-tc/block_score*.cu).
//
// Chosen set: cur + 1 <= n: blocks 0..cur. Else {0, cur - 1, cur} plus the n - 3 best of 1..cur-2 by the key
// (fp32 bits of max(P, 0) descending, block index ascending), the CPU oracle's order; written sorted ascending,
// -1 padded. Keys are unique (the index is in the key), so the set does not depend on the order candidates come in.
//
// The running top-keep (keep = n - 3) is a filter, not a sorted list: a threshold theta (the keep-th best key of
// the last compaction, 0 before the first) and a buffer of candidates that beat it, in shared memory. A chunk of 32
// candidates (one per lane) costs one ballot against theta; the winners are appended at their ballot rank (one
// store each, no chain of dependent shuffles per candidate). When an append would overflow the buffer, a
// compaction sorts it (a bitonic network over the warp's lanes, 32·E entries), keeps the best keep and raises theta
// to the keep-th: a candidate at or below theta can never be chosen, since keep better ones are already held. For
// random scores a row of B blocks appends about keep·(1 + ln(B / keep)) candidates, so a row costs one or two
// compactions; the insertion list this replaces spent a ballot-and-shuffle chain on every one of those appends,
// which at the paper config was most of the scorer's time (docs/decisions.md D33).

#pragma once

#include <cstdint>

#include "nsa_seq.h"

#define NSA_SELECT_MAX_N 64

namespace nsa {

constexpr unsigned kTopFullMask = 0xffffffffu;

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

// Entries of a row's candidate buffer: at least keep + 32 for every keep <= NSA_SELECT_MAX_N - 3 (a compaction
// leaves keep entries, and one chunk appends at most 32).
constexpr int kTopCap = 128;

// A row's running top-keep (see above). Warp-uniform state; buf is the row's kTopCap entries of shared memory.
struct TopList {
    unsigned long long* buf = nullptr;
    unsigned long long theta = 0ull;   // candidates must beat this key; 0: every real candidate does
    int cnt = 0;                       // entries in buf
    int lim = 0;                       // a compaction runs before cnt would pass this
};

// An empty list over buf (cap entries, cap >= keep + 32 and <= kTopCap) for the top `keep`: compactions at 64
// entries while keep + 32 fits (a 64-entry sort), else at cap.
__device__ __forceinline__ TopList topn_list(unsigned long long* buf, int keep, int cap = kTopCap) {
    TopList L;
    L.buf = buf;
    L.lim = keep + 32 <= 64 ? 64 : cap;
    return L;
}

// Sorts the warp's 32·E keys v (entry r·32 + lane in v[r]) descending: a bitonic network, partners in other lanes
// through shuffles, partners in the same lane (distance >= 32) by a register swap.
template <int E>
__device__ __forceinline__ void topn_sort_desc(unsigned long long (&v)[E], int lane) {
#pragma unroll
    for (int k = 2; k <= 32 * E; k <<= 1) {
#pragma unroll
        for (int j = k >> 1; j > 0; j >>= 1) {
            if (j >= 32) {
#pragma unroll
                for (int r = 0; r < E; ++r) {
                    const int rp = r | (j >> 5);
                    if ((r & (j >> 5)) != 0) continue;
                    const bool up = ((r * 32 + lane) & k) == 0;   // this run ends descending: the lower keeps the max
                    const unsigned long long x = v[r], y = v[rp];
                    const bool swap = up ? x < y : x > y;
                    v[r] = swap ? y : x;
                    v[rp] = swap ? x : y;
                }
            } else {
#pragma unroll
                for (int r = 0; r < E; ++r) {
                    const unsigned long long o = __shfl_sync(kTopFullMask, v[r], lane ^ j);
                    const bool lower = (lane & j) == 0;
                    const bool up = ((r * 32 + lane) & k) == 0;
                    const unsigned long long mx = v[r] > o ? v[r] : o, mn = v[r] > o ? o : v[r];
                    v[r] = lower == up ? mx : mn;
                }
            }
        }
    }
}

template <int E>
__device__ __forceinline__ void topn_compact_e(TopList& L, int keep, int lane) {
    unsigned long long v[E];
#pragma unroll
    for (int r = 0; r < E; ++r) v[r] = r * 32 + lane < L.cnt ? L.buf[r * 32 + lane] : 0ull;
    __syncwarp();
    topn_sort_desc<E>(v, lane);
    unsigned long long kth = 0ull;
#pragma unroll
    for (int r = 0; r < E; ++r) {
        if (r * 32 + lane < keep) L.buf[r * 32 + lane] = v[r];
        const unsigned long long x = __shfl_sync(kTopFullMask, v[r], (keep - 1) & 31);
        if (r == (keep - 1) >> 5) kth = x;
    }
    __syncwarp();
    L.theta = kth;
    L.cnt = keep;
}

// Keeps the best `keep` entries (sorted descending in buf[0..keep)) and raises theta to the keep-th. cnt >= keep.
// kCap: the list's buffer entries (cnt never passes it); a list of at most 64 needs no 128-entry sort.
template <int kCap = kTopCap>
__device__ __forceinline__ void topn_compact(TopList& L, int keep, int lane) {
    if (L.cnt <= 32) {
        topn_compact_e<1>(L, keep, lane);
    } else if constexpr (kCap <= 64) {
        topn_compact_e<2>(L, keep, lane);
    } else {
        if (L.cnt <= 64) topn_compact_e<2>(L, keep, lane);
        else topn_compact_e<4>(L, keep, lane);
    }
}

// Offers this lane's candidate (key 0: none) to the top-`keep` list; keep in 1..61. kCap: topn_compact's.
template <int kCap = kTopCap>
__device__ __forceinline__ void topn_offer(TopList& L, int keep, unsigned long long key, int lane) {
    unsigned m = __ballot_sync(kTopFullMask, key > L.theta);
    if (m == 0u) return;   // warp-uniform
    if (L.cnt + __popc(m) > L.lim) {
        topn_compact<kCap>(L, keep, lane);
        m = __ballot_sync(kTopFullMask, key > L.theta);
    }
    if (key > L.theta) L.buf[L.cnt + __popc(m & ((1u << lane) - 1u))] = key;
    L.cnt += __popc(m);
    __syncwarp();
}

// The key of candidate j of a row with current block cur: only 1..cur-2 compete (0, cur-1, cur are forced).
__device__ __forceinline__ unsigned long long topn_candidate(float score, int j, int cur) {
    return (j >= 1 && j <= cur - 2) ? select_key(score, j) : 0ull;
}

// The warp's 32 values v (one per lane) sorted ascending: lane i ends with the i-th smallest (a bitonic network).
__device__ __forceinline__ int topn_sort_asc32(int v, int lane) {
#pragma unroll
    for (int k = 2; k <= 32; k <<= 1) {
#pragma unroll
        for (int j = k >> 1; j > 0; j >>= 1) {
            const int o = __shfl_sync(kTopFullMask, v, lane ^ j);
            v = ((lane & j) == 0) == ((lane & k) == 0) ? min(v, o) : max(v, o);
        }
    }
    return v;
}

// Writes the row's chosen set sorted ascending, -1 padded, into out[0..n). `all`: cur + 1 <= n. kCap: topn_compact's.
template <int kCap = kTopCap>
__device__ __forceinline__ void topn_write(int32_t* out, TopList& L, int n, int cur, bool all, int lane) {
    const int keep = n - 3;
    if (all) {
        for (int k = lane; k < n; k += 32) out[k] = k <= cur ? k : -1;
    } else {
        // cur >= n, so 1..cur-2 holds at least n - 2 > keep blocks, all offered with a key above 0: cnt > keep
        if (keep > 0) topn_compact<kCap>(L, keep, lane);
        const int big = 0x7fffffff;
        const int ia = lane < keep ? select_key_index(L.buf[lane]) : big;
        if (keep <= 32) {   // one index per lane: sorted ascending across the warp, no ranking loop
            const int v = topn_sort_asc32(ia, lane);
            __syncwarp();
            if (lane < keep) out[1 + lane] = v;
            if (lane == 0) {
                out[0] = 0;
                out[n - 2] = cur - 1;
                out[n - 1] = cur;
            }
            __syncwarp();
            return;
        }
        const int ib = lane + 32 < keep ? select_key_index(L.buf[lane + 32]) : big;
        __syncwarp();
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
    if (be + d <= INT32_MAX) {          // 32-bit division (a 64-bit one is a subroutine of about 70 instructions)
        const uint32_t ud = static_cast<uint32_t>(d);
        lo = first <= 0 ? 0 : static_cast<int64_t>((static_cast<uint32_t>(first) + ud - 1u) / ud);
        hi = min(static_cast<int64_t>(ncmp), static_cast<int64_t>((static_cast<uint32_t>(be) - 1u) / ud + 1u));
        return;
    }
    lo = first <= 0 ? 0 : (first + d - 1) / d;
    hi = min(static_cast<int64_t>(ncmp), (be - 1) / d + 1);   // exclusive
}

}  // namespace nsa
