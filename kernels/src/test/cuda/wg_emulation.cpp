// Host checks of the experimental Hopper kernels' index logic (no GPU): (1) the 128-byte-swizzled tile storage of
// wg_layout.h against the PTX ISA's canonical wgmma layouts decoded from the descriptors it builds (every element
// of every k-step, K-major and MN-major); (2) fa_tiles.h: every key a query may see lies in its CTA's key range, a
// warp tile that is not live holds no visible pair, a full one only visible pairs. Run: scripts/emulate-kernels.sh
#include "cuda_keywords_shim.h"
#include "wg_layout.h"
#include "fa_tiles.h"

#include <cstdio>
#include <random>

static int fails = 0;
#define CHECK(c, ...) do { if (!(c)) { if (fails++ < 10) { printf(__VA_ARGS__); printf("\n"); } } } while (0)

// Byte address of logical element (row, col) of a ROWS x 128 tile at base as the kernels store it.
template <int ROWS>
static uint32_t stored(uint32_t base, int row, int col) {
    return base + nsa::wg::swizzled_chunk<ROWS>(row, col / 8) + (col % 8) * 2;
}
// The 128-byte swizzle of an absolute shared-memory byte address (Swizzle<3,4,3>).
static uint32_t swz(uint32_t a) { return a ^ (((a >> 7) & 7u) << 4); }
struct Desc { uint32_t start, lbo, sbo, mode; };
static Desc decode(uint64_t d) {
    return {static_cast<uint32_t>(d & 0x3FFF) << 4, static_cast<uint32_t>((d >> 16) & 0x3FFF) << 4,
            static_cast<uint32_t>((d >> 32) & 0x3FFF) << 4, static_cast<uint32_t>(d >> 62)};
}

static void check_layouts() {
    const uint32_t base = 3 * 1024;   // any 1024-aligned start
    // K-major, 64 rows (M or N) x 16 columns of k-step ks: ((8,m),(T,2k)):((8T,SBO),(1,T)), T = 8 elements
    for (int ks = 0; ks < 8; ++ks) {
        const Desc d = decode(nsa::wg::desc_k_major<64>(base, ks));
        CHECK(d.mode == 1 && d.sbo == 1024, "K-major ks %d: mode %u sbo %u", ks, d.mode, d.sbo);
        for (int row = 0; row < 64; ++row) {
            for (int k = 0; k < 16; ++k) {
                const uint32_t off = ((row % 8) * 64 + (k % 8) + (k / 8) * 8) * 2 + (row / 8) * d.sbo;
                const uint32_t got = swz(d.start + off), want = stored<64>(base, row, ks * 16 + k);
                CHECK(got == want, "K-major ks %d (%d, %d): descriptor %u, stored %u", ks, row, k, got, want);
            }
        }
    }
    // MN-major, 16 rows (K) of k-step kk x 128 columns (N): ((T,8,m),(8,k)):((1,T,LBO),(8T,SBO))
    for (int kk = 0; kk < 4; ++kk) {
        const Desc d = decode(nsa::wg::desc_mn_major<64>(base, kk));
        CHECK(d.mode == 1 && d.lbo == 64 * 128 && d.sbo == 1024, "MN-major kk %d: lbo %u sbo %u", kk, d.lbo, d.sbo);
        for (int k = 0; k < 16; ++k) {
            for (int n = 0; n < 128; ++n) {
                const uint32_t off = ((n % 8) + (n / 8 % 8) * 8 + (k % 8) * 64) * 2 + (n / 64) * d.lbo + (k / 8) * d.sbo;
                const uint32_t got = swz(d.start + off), want = stored<64>(base, kk * 16 + k, n);
                CHECK(got == want, "MN-major kk %d (%d, %d): descriptor %u, stored %u", kk, k, n, got, want);
            }
        }
    }
}

static void check_tiles() {
    std::mt19937 rng(7);
    long pairs = 0;
    for (int mask : {nsa::kMaskWindow, nsa::kMaskBlockCausal, nsa::kMaskCausal}) {
        for (int trial = 0; trial < 300; ++trial) {
            nsa::AttnParams p{};
            p.mask = mask;
            p.window = 1 + static_cast<int>(rng() % 200);
            p.cmp_stride = 1 + static_cast<int>(rng() % 32);
            p.cmp_len = p.cmp_stride * (1 + static_cast<int>(rng() % 3));
            const int nq = 1 + static_cast<int>(rng() % 400);
            const int nk = mask == nsa::kMaskBlockCausal ? (nq < p.cmp_len ? 0 : (nq - p.cmp_len) / p.cmp_stride + 1)
                                                         : nq;
            for (int t0 = 0; t0 < nq; t0 += 64) {
                const int t1 = t0 + 64 < nq ? t0 + 64 : nq;
                int klo, khi;
                nsa::faw::row_keys(p, t0, t1, nk, klo, khi);
                for (int t = t0; t < t1; ++t) {
                    for (int s = 0; s < nk; ++s) {
                        if (!nsa::faw::visible(p, t, s)) continue;
                        ++pairs;
                        CHECK(s >= klo && s < khi, "mask %d t %d s %d outside [%d, %d)", mask, t, s, klo, khi);
                    }
                }
                for (int base = klo; base < khi; base += 64) {
                    for (int w = 0; w < 4; ++w) {
                        const int wlo = t0 + 16 * w, whi = wlo + 16 < t1 ? wlo + 16 : t1;
                        const nsa::faw::WarpTile wt = nsa::faw::warp_tile(p, wlo, whi, 16, base, 64, khi, nk);
                        bool any = false, all = true;
                        for (int t = wlo; t < whi; ++t) {
                            for (int s = base; s < base + 64; ++s) {
                                const bool v = s < khi && nsa::faw::visible(p, t, s);
                                any = any || v;
                                all = all && v;
                            }
                        }
                        CHECK(wt.live || !any, "mask %d rows [%d, %d) tile %d: visible pairs but not live", mask, wlo,
                              whi, base);
                        CHECK(!wt.full || all, "mask %d rows [%d, %d) tile %d: full but a pair is masked", mask, wlo,
                              whi, base);
                    }
                }
            }
        }
    }
    printf("wg emulation: %ld visible pairs checked\n", pairs);
}

int main() {
    check_layouts();
    check_tiles();
    if (fails) {
        printf("wg emulation: %d FAILED\n", fails);
        return 1;
    }
    printf("wg emulation: OK\n");
    return 0;
}
