// Host emulation of path `sdpa-packed` (sel_gather.cu + attention.cu over the packed varlen view, as
// dev.nsa4j.kernels.SelPacked launches them): the packed result must equal the chosen-block RANGES walk bit
// for bit, for sorted, unsorted/duplicated and all-after-t index sets, varlen with zero-length and length-1
// sequences, GQA, chunked token ranges, and the row metadata must match. Warps run as coroutines
// (host_shim.h). Run: scripts/emulate-kernels.sh
#include "host_shim.h"
#include "attention.cu"
#include "sel_gather.cu"
#include <algorithm>
#include <cstdio>
#include <random>
#include <vector>

int fails = 0;
#define CHECK(c, ...) do { if (!(c)) { if (fails++ < 10) { printf(__VA_ARGS__); printf("\n"); } } } while (0)

template <typename T> T to_t(float x);
template <> float to_t<float>(float x) { return x; }
template <> __half to_t<__half>(float x) { return __float2half_rn(x); }
template <> __nv_bfloat16 to_t<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }
template <typename T> struct Bits;
template <> struct Bits<float> { using type = uint32_t; };
template <> struct Bits<__half> { using type = uint16_t; };
template <> struct Bits<__nv_bfloat16> { using type = uint16_t; };

template <typename Kern>
void run_attention(Kern kern, const nsa::AttnParams& p) {
    const int rows = p.nnz_q * p.heads, grid = (rows + nsa::kAttnWarps - 1) / nsa::kAttnWarps;
    emu_gridDim = {(unsigned)grid, 1, 1}; emu_blockDim = {32u * nsa::kAttnWarps, 1, 1};
    for (int bx = 0; bx < grid; ++bx) for (int w = 0; w < nsa::kAttnWarps; ++w) {
        emu_blockIdx = {(unsigned)bx, 0, 0};
        emu_run_warp(w, [&] { kern(p); });
    }
}

template <typename T, typename Kern>
void test_packed(Kern kern, const char* name, std::vector<int> lens, int H, int G, int dk, int dv, int lp, int nsel,
                 int pattern, int chunk) {
    using E = typename Bits<T>::type;
    const int B = lens.size();
    std::vector<int> cu(B + 1, 0);
    for (int b = 0; b < B; ++b) cu[b + 1] = cu[b] + lens[b];
    const int nnz = cu[B];
    std::mt19937 rng(nnz * 17 + dk + pattern);
    std::uniform_real_distribution<float> U(-1, 1);
    std::vector<T> q((size_t)nnz * H * dk + 1), k((size_t)nnz * G * dk + 1), v((size_t)nnz * G * dv + 1);
    for (auto& x : q) x = to_t<T>(U(rng));
    for (auto& x : k) x = to_t<T>(U(rng));
    for (auto& x : v) x = to_t<T>(U(rng));
    std::vector<int> blocks((size_t)nnz * G * nsel + 1, -1);
    for (int b = 0; b < B; ++b) {
        const int nb = (lens[b] + lp - 1) / lp;
        for (int t = 0; t < lens[b]; ++t) for (int g = 0; g < G; ++g) {
            int* row = &blocks[((size_t)(cu[b] + t) * G + g) * nsel];
            if (pattern == 2 || (t == 0 && g == 0)) {  // every block starts after t
                for (int e = 0; e < nsel; ++e) row[e] = t / lp + 1 + (e % 2);
            } else if (pattern == 0) {                 // sorted distinct, -1 padded
                int m = 0;
                for (int j = 0; j < nb && m < nsel; ++j) if (rng() % 2) row[m++] = j;
            } else {                                   // any order, duplicates, -1 anywhere
                for (int e = 0; e < nsel; ++e) row[e] = (int)(rng() % (nb + 1)) - 1;
            }
        }
    }
    const float scale = 1.f / std::sqrt((float)dk);
    // reference: the RANGES walk of the chosen-block mask
    std::vector<float> oR((size_t)nnz * H * dv + 1, -999.f), lR((size_t)nnz * H + 1, -999.f);
    nsa::AttnParams pr{q.data(), k.data(), v.data(), oR.data(), lR.data(), cu.data(), cu.data(), nullptr, nullptr,
        blocks.data(), (int64_t)H * dk, dk, (int64_t)G * dk, dk, (int64_t)G * dv, dv, (int64_t)H * dv, dv, H,
        (int64_t)G * nsel, nsel, nnz, B, H, G, dk, dv, nsa::kMaskChosen, nsa::kWalkRanges, 0, 0, 0, lp, nsel, 1, scale};
    run_attention(kern, pr);
    // packed, in chunks of `chunk` tokens
    std::vector<float> oP((size_t)nnz * H * dv + 1, -999.f), lP((size_t)nnz * H + 1, -999.f);
    const int cap = nsel * lp, hpg = H / G;
    for (int tok0 = 0; tok0 < nnz; tok0 += chunk) {
        const int rows = std::min(chunk, nnz - tok0), r = rows * G;
        std::vector<E> pk((size_t)r * cap * dk + 1, 0xABCD), pv((size_t)r * cap * dv + 1, 0xABCD);
        std::vector<int32_t> len(r + 1, -7), last(r + 1, -7), cq(r + 2, -7), ck(r + 2, -7);
        nsa::SelGatherParams g{k.data(), v.data(), cu.data(), cu.data(), nullptr, nullptr, blocks.data(), pk.data(),
            pv.data(), len.data(), last.data(), cq.data(), ck.data(), (int64_t)G * dk, dk, (int64_t)G * dv, dv,
            (int64_t)G * nsel, nsel, tok0, rows, B, G, dk, dv, lp, nsel, cap};
        const int grid = (r + nsa::kGatherWarps - 1) / nsa::kGatherWarps;
        emu_gridDim = {(unsigned)grid, 1, 1}; emu_blockDim = {32u * nsa::kGatherWarps, 1, 1};
        for (int bx = 0; bx < grid; ++bx) for (int t = 0; t < 32 * nsa::kGatherWarps; ++t) {
            emu_blockIdx = {(unsigned)bx, 0, 0}; emu_threadIdx = {(unsigned)t, 0, 0};
            if (sizeof(E) == 4) nsa_sel_gather_fp32(g); else nsa_sel_gather_fp16(g);
        }
        CHECK(pk.back() == (E)0xABCD && pv.back() == (E)0xABCD && len.back() == -7 && cq.back() == -7,
              "%s: gather wrote past the end", name);
        for (int i = 0; i <= r; ++i) CHECK(cq[i] == i && ck[i] == i * cap, "%s: packed cu[%d] = %d, %d", name, i, cq[i], ck[i]);
        for (int i = 0; i < r; ++i) {
            CHECK(last[i] == len[i] - 1 && len[i] >= 0 && len[i] <= cap, "%s: len[%d] = %d last %d", name, i, len[i], last[i]);
            // the count of visible keys, from the mask
            const int tok = tok0 + i / G, gg = i % G;
            int b = 0;
            while (cu[b + 1] <= tok) ++b;
            const int t = tok - cu[b];
            int want = 0;
            for (int s = 0; s <= t; ++s) {
                bool vis = false;
                for (int e = 0; e < nsel; ++e) vis |= blocks[((size_t)tok * G + gg) * nsel + e] == s / lp;
                want += vis;
            }
            CHECK(len[i] == want, "%s: row %d packs %d keys, mask says %d", name, i, len[i], want);
        }
        nsa::AttnParams pa{q.data() + (size_t)tok0 * H * dk, pk.data(), pv.data(), oP.data() + (size_t)tok0 * H * dv,
            lP.data() + (size_t)tok0 * H, cq.data(), ck.data(), last.data(), nullptr, nullptr,
            (int64_t)hpg * dk, dk, dk, 0, dv, 0, (int64_t)hpg * dv, dv, hpg, 0, 0,
            r, r, hpg, 1, dk, dv, nsa::kMaskCausal, nsa::kWalkRanges, 0, 0, 0, 0, 0, 1, scale};
        run_attention(kern, pa);
    }
    CHECK(oP.back() == -999.f && lP.back() == -999.f, "%s: packed attention wrote past the end", name);
    for (size_t i = 0; i < oR.size(); ++i)
        CHECK(std::memcmp(&oR[i], &oP[i], 4) == 0, "%s pattern %d: out[%zu] RANGES %g packed %g", name, pattern, i, oR[i], oP[i]);
    for (size_t i = 0; i < lR.size(); ++i)
        CHECK(std::memcmp(&lR[i], &lP[i], 4) == 0, "%s pattern %d: lse[%zu] RANGES %g packed %g", name, pattern, i, lR[i], lP[i]);
}

int main() {
    std::vector<std::vector<int>> batches = {{1}, {65}, {0, 40, 1, 0, 70, 1, 0}};
    for (auto& lens : batches) for (int pattern = 0; pattern < 3; ++pattern) {
        test_packed<float>(nsa_attention_fp32_d1, "fp32 d1 D=16 G=2 H=4", lens, 4, 2, 16, 16, 16, 4, pattern, 1000000);
        test_packed<__nv_bfloat16>(nsa_attention_bf16_d2, "bf16 d2 Dk=64 Dv=40 G=2 H=2", lens, 2, 2, 64, 40, 32, 3, pattern, 7);
    }
    test_packed<__half>(nsa_attention_fp16_d4, "fp16 d4 D=128 G=1 H=2", {100}, 2, 1, 128, 128, 64, 2, 1, 30);
    printf("sel packed: %s (%d failures)\n", fails ? "FAIL" : "OK", fails);
    return fails != 0;
}
