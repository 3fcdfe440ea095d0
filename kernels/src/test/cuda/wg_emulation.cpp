// Host checks of the experimental Hopper kernels (no GPU): (1) the 128-byte-swizzled tile storage of wg_layout.h
// against the PTX ISA's canonical wgmma layouts decoded from the descriptors it builds (every element of every
// k-step, K-major and MN-major); (2) fa_tiles.h: every key a query may see lies in its CTA's key range, a warp tile
// that is not live holds no visible pair, a full one only visible pairs; (3) both kernels run whole, a block's 128
// threads as coroutines (block_shim.h), with wgmma emulated per thread from the shared memory its descriptors
// describe and mma.sync's fragment layouts (the model the kernels assume; the GPU is the judge of that model),
// against an fp64 computation: sel_union_wgmma.cuh on varlen batches with caller indices in any order, duplicated,
// negative and in the future; fa_wgmma.cuh for the window and compressed branches. Run: scripts/emulate-kernels.sh
#define NSA_HOST_EMULATION
#include "warp_shim.h"
#include "block_shim.h"

#include <climits>
#include <cstdio>
#include <random>

#include "emu_device.h"
#include "wg_layout.h"
#include "fa_tiles.h"
#include "emu_reference.h"


// Byte address of logical element (row, col) of a ROWS x 128 tile at base as the kernels store it.
template <int ROWS>
static uint32_t stored(uint32_t base, int row, int col) {
    return base + nsa::wg::swizzled_chunk<ROWS>(row, col / 8) + (col % 8) * 2;
}
#include "wg_emu.h"

#include "sel_union_wgmma.cuh"
#include "fa_wgmma.cuh"

static void check_layouts() {
    const uint32_t base = 3 * 1024;   // any 1024-aligned start
    // K-major, 64 rows (M or N) x 16 columns of k-step ks: ((8,m),(T,2k)):((8T,SBO),(1,T)), T = 8 elements
    for (int ks = 0; ks < 8; ++ks) {
        const Desc d = decode(nsa::wg::desc_k_major<64>(base, ks));
        CHECK(d.mode == 1 && d.sbo == 1024, "K-major ks %d: mode %u sbo %u", ks, d.mode, d.sbo);
        for (int row = 0; row < 64; ++row) {
            for (int k = 0; k < 16; ++k) {
                const uint32_t got = swz(d.start + k_major_off(row, k, d.sbo)), want = stored<64>(base, row, ks * 16 + k);
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
                const uint32_t got = swz(d.start + mn_major_off(k, n, d.lbo, d.sbo)), want = stored<64>(base, kk * 16 + k, n);
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

// sel_union_wgmma.cuh: varlen (an empty sequence included), G groups of 16 heads, l' = 64 or 128, indices in any
// order with duplicates, negatives and future blocks.
static void check_sel(int lsel, bool exact) {
    std::mt19937 rng(11 + lsel);
    const std::vector<int> lens{90, 0, 45};
    const int G = 2, h = 16, H = G * h, n = 5;
    std::vector<int> cu{0};
    for (int x : lens) cu.push_back(cu.back() + x);
    const int nnz = cu.back();
    Bf16Buf q((size_t)nnz * H * 128, rng), k((size_t)nnz * G * 128, rng), v((size_t)nnz * G * 128, rng);
    std::vector<int> idx((size_t)nnz * G * n);
    for (int b = 0; b < 3; ++b) {
        for (int t = 0; t < lens[b]; ++t) {
            for (int g = 0; g < G; ++g) {
                int* r = &idx[((size_t)(cu[b] + t) * G + g) * n];
                for (int e = 0; e < n; ++e) r[e] = static_cast<int>(rng() % (t / lsel + 3)) - 1;   // -1 .. beyond t
                if (rng() % 3 == 0) r[n - 1] = r[0];                                               // a duplicate
            }
        }
    }
    std::vector<float> o((size_t)nnz * H * 128, 7.f), lse((size_t)nnz * H, 7.f);
    nsa::AttnParams p{};
    p.q = q.v.data(); p.k = k.v.data(); p.v = v.v.data(); p.o = o.data(); p.lse = lse.data();
    p.cu_q = cu.data(); p.cu_k = cu.data(); p.blocks = idx.data();
    p.q_tok_stride = (int64_t)H * 128; p.q_head_stride = 128;
    p.k_tok_stride = (int64_t)G * 128; p.k_head_stride = 128;
    p.v_tok_stride = (int64_t)G * 128; p.v_head_stride = 128;
    p.o_tok_stride = (int64_t)H * 128; p.o_head_stride = 128; p.lse_tok_stride = H;
    p.blocks_tok_stride = (int64_t)G * n; p.blocks_head_stride = n;
    p.nnz_q = nnz; p.batch = 3; p.heads = H; p.kv_heads = G; p.dk = 128; p.dv = 128;
    p.mask = nsa::kMaskChosen; p.walk = nsa::kWalkRanges; p.sel_block = lsel; p.n_sel = n; p.out_fp32 = 1;
    p.scale = 0.0883883f;
    launch_blocks([&] {
        if (exact) nsa_sel_wgmma_bf16_dk128_dv128_exact(p); else nsa_sel_wgmma_bf16_dk128_dv128(p);
    }, (nnz + 3) / 4, G, 1, 128);
    std::vector<double> ro(o.size()), rl(lse.size());
    for (int b = 0; b < 3; ++b) {
        for (int t = 0; t < lens[b]; ++t) {
            const int tok = cu[b] + t;
            for (int hq = 0; hq < H; ++hq) {
                const int g = hq / h;
                const int* r = &idx[((size_t)tok * G + g) * n];
                auto keep = [&](int s) {
                    if (s > t) return false;
                    for (int e = 0; e < n; ++e) if (r[e] >= 0 && s / lsel == r[e]) return true;
                    return false;
                };
                std::vector<float> kg((size_t)lens[b] * 128), vg((size_t)lens[b] * 128);
                for (int s2 = 0; s2 < lens[b]; ++s2) {
                    for (int c = 0; c < 128; ++c) {
                        kg[(size_t)s2 * 128 + c] = k.f[((size_t)(cu[b] + s2) * G + g) * 128 + c];
                        vg[(size_t)s2 * 128 + c] = v.f[((size_t)(cu[b] + s2) * G + g) * 128 + c];
                    }
                }
                rl[(size_t)tok * H + hq] = ref_row(&q.f[((size_t)tok * H + hq) * 128], kg, vg, 128, lens[b], keep, p.scale,
                                                   &ro[((size_t)tok * H + hq) * 128]);
            }
        }
    }
    char what[64];
    snprintf(what, sizeof what, "sel wgmma l'=%d %s", lsel, exact ? "exact P" : "fast P");
    compare(what, o, lse, ro, rl, exact ? 1e-4 : 2e-2);
}

// fa_wgmma.cuh: the window branch over k, v and the compressed branch over K̃, Ṽ (block-causal, l, d), varlen.
static void check_fa(int mask, bool exact) {
    std::mt19937 rng(23 + mask);
    const std::vector<int> lens{200, 0, 70};
    const int Hq = 4, G = 2, w = 100, l = 32, d = 16;
    std::vector<int> cu{0}, cuk{0};
    for (int x : lens) {
        cu.push_back(cu.back() + x);
        cuk.push_back(cuk.back() + (mask == nsa::kMaskBlockCausal ? (x < l ? 0 : (x - l) / d + 1) : x));
    }
    const int nnz = cu.back(), nnzk = cuk.back();
    Bf16Buf q((size_t)nnz * Hq * 128, rng), k((size_t)nnzk * G * 128, rng), v((size_t)nnzk * G * 128, rng);
    std::vector<float> o((size_t)nnz * Hq * 128, 7.f), lse((size_t)nnz * Hq, 7.f);
    nsa::AttnParams p{};
    p.q = q.v.data(); p.k = k.v.data(); p.v = v.v.data(); p.o = o.data(); p.lse = lse.data();
    p.cu_q = cu.data(); p.cu_k = cuk.data();
    p.q_tok_stride = (int64_t)Hq * 128; p.q_head_stride = 128;
    p.k_tok_stride = (int64_t)G * 128; p.k_head_stride = 128;
    p.v_tok_stride = (int64_t)G * 128; p.v_head_stride = 128;
    p.o_tok_stride = (int64_t)Hq * 128; p.o_head_stride = 128; p.lse_tok_stride = Hq;
    p.nnz_q = nnz; p.batch = 3; p.heads = Hq; p.kv_heads = G; p.dk = 128; p.dv = 128;
    p.mask = mask; p.walk = nsa::kWalkRanges; p.window = w; p.cmp_len = l; p.cmp_stride = d; p.out_fp32 = 1;
    p.scale = 0.0883883f;
    launch_blocks([&] { if (exact) nsa_fa_wgmma_bf16_d128_exact(p); else nsa_fa_wgmma_bf16_d128(p); },
                  (200 + 63) / 64, Hq, 3, 128);
    std::vector<double> ro(o.size()), rl(lse.size());
    for (int b = 0; b < 3; ++b) {
        const int nk = cuk[b + 1] - cuk[b];
        for (int t = 0; t < lens[b]; ++t) {
            for (int hq = 0; hq < Hq; ++hq) {
                const int g = hq / (Hq / G);
                std::vector<float> kg((size_t)nk * 128 + 1), vg((size_t)nk * 128 + 1);
                for (int s2 = 0; s2 < nk; ++s2) {
                    for (int c = 0; c < 128; ++c) {
                        kg[(size_t)s2 * 128 + c] = k.f[((size_t)(cuk[b] + s2) * G + g) * 128 + c];
                        vg[(size_t)s2 * 128 + c] = v.f[((size_t)(cuk[b] + s2) * G + g) * 128 + c];
                    }
                }
                const size_t row = (size_t)(cu[b] + t) * Hq + hq;
                rl[row] = ref_row(&q.f[row * 128], kg, vg, 128, nk, [&](int s2) { return nsa::faw::visible(p, t, s2); },
                                  p.scale, &ro[row * 128]);
            }
        }
    }
    char what[64];
    snprintf(what, sizeof what, "fa wgmma %s %s", mask == nsa::kMaskWindow ? "window" : "block-causal",
             exact ? "exact P" : "fast P");
    compare(what, o, lse, ro, rl, exact ? 1e-4 : 2e-2);
}

int main() {
    check_layouts();
    check_tiles();
    for (bool exact : {true, false}) {
        check_sel(64, exact);
        check_fa(nsa::kMaskWindow, exact);
        check_fa(nsa::kMaskBlockCausal, exact);
    }
    check_sel(128, true);
    if (fails) {
        printf("wg emulation: %d FAILED\n", fails);
        return 1;
    }
    printf("wg emulation: OK\n");
    return 0;
}
