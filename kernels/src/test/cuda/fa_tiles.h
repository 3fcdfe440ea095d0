// Which keys the experimental Hopper flash-attention forward (fa_wgmma.cuh) visits, and how: the masks of NSA's
// window and compressed branches over key positions (positions from 0), the key range of a block of query rows and
// the per-warp shortcuts of a key tile. No instructions, so the host emulation (wg_emulation.cpp) checks it.
#pragma once

#include "nsa_params.h"

namespace nsa {
namespace faw {

// Key s visible to query t: window t - w < s <= t; block-causal (compressed key s) s·d + l - 1 <= t; else causal.
__device__ __forceinline__ bool visible(const AttnParams& p, int t, int s) {
    if (p.mask == kMaskWindow) return s <= t && s > t - p.window;
    if (p.mask == kMaskBlockCausal) return s * p.cmp_stride + p.cmp_len - 1 <= t;
    return s <= t;
}

// Keys [lo, hi) of nk that some query of [t0, t1) (t1 > t0) may see.
__device__ __forceinline__ void row_keys(const AttnParams& p, int t0, int t1, int nk, int& lo, int& hi) {
    if (p.mask == kMaskWindow) {
        lo = t0 - p.window + 1 > 0 ? t0 - p.window + 1 : 0;
        hi = t1 < nk ? t1 : nk;
    } else if (p.mask == kMaskBlockCausal) {
        lo = 0;
        const int last = t1 - p.cmp_len;   // s·d <= t - l + 1 for t = t1 - 1
        hi = last < 0 ? 0 : (last / p.cmp_stride + 1 < nk ? last / p.cmp_stride + 1 : nk);
    } else {
        lo = 0;
        hi = t1 < nk ? t1 : nk;
    }
}

// For the rows [wlo, whi) of a warp (possibly empty) and the key tile [base, base + tile) inside the CTA's keys
// [0, khi): live when some row may see some key of the tile (the warp computes it), full when every row sees every
// key (no per-element test).
struct WarpTile {
    bool live, full;
};
__device__ __forceinline__ WarpTile warp_tile(const AttnParams& p, int wlo, int whi, int rows_per_warp, int base,
                                              int tile, int khi, int nk) {
    WarpTile r{false, false};
    if (wlo >= whi) return r;
    int lo, hi;
    row_keys(p, wlo, whi, nk, lo, hi);
    r.live = base < hi && base + tile > lo;
    if (base + tile > khi || whi - wlo != rows_per_warp) return r;
    const int s1 = base + tile - 1;
    if (p.mask == kMaskWindow) {
        r.full = s1 <= wlo && base > whi - 1 - p.window;
    } else if (p.mask == kMaskBlockCausal) {
        r.full = s1 * p.cmp_stride + p.cmp_len - 1 <= wlo;
    } else {
        r.full = s1 <= wlo;
    }
    return r;
}

}  // namespace faw
}  // namespace nsa
