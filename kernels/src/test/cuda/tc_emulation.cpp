// Host emulation of the tensor-core image (cuda-tc): sel-kernel in the token layout (sel_attention.cu) and the union
// layout (sel_union.cu), and the block scorer + top-n (block_score.cu), no GPU. A block's 128 threads run as
// coroutines (block_shim.h); ldmatrix, mma.sync m16n8k16, shuffles and ballots are emulated per warp from the PTX
// ISA's fragment layouts (every lane publishes its part, the warp meets, each lane computes its own); cp.async copies
// at once. sel-kernel: both layouts against fp64 on varlen batches (an empty and a length-1 sequence, caller indices
// unsorted, duplicated, negative and in the future), every (Dk, Dv), fp16 / bf16, exact and fast P. Scorer: chosen
// sets against fp64 scores and NSA-SPEC's rule for (l, d) = (64, 64) and (32, 16), near ties counted. Proves the
// kernels' index logic under that model (the GPU suites prove the model). Run: scripts/emulate-kernels.sh
#define NSA_HOST_EMULATION
#define NSA_SCORE_WG_TUNE   // the pipelined Hopper scorer (harness only) is emulated too
#include "cuda_keywords_shim.h"
#include "block_shim.h"

#include <algorithm>
#undef __shared__
#define __shared__ static
using std::max;
using std::min;
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }

#include <climits>
#include <cstdio>
#include <random>

#include "emu_device.h"

#include "tc_warp_emu.h"

#include "sel_attention.cu"
#include "sel_union.cu"
#include "block_score.cu"
#include "wg_emu.h"
#include "block_score_wg.cu"
#include "emu_reference.h"

using Kernel = void (*)(const nsa::AttnParams);

template <typename T>
static Kernel token_kernel(int dk, int dv, bool exact);
template <typename T>
static Kernel union_kernel(int dk, int dv, bool exact);
#define EMU_SYMS(T, SUF)                                                                                             \
    template <> Kernel token_kernel<T>(int dk, int dv, bool exact) {                                               \
        if (dk == 64) return exact ? nsa_sel_kernel_##SUF##_dk64_dv64_exact : nsa_sel_kernel_##SUF##_dk64_dv64;     \
        if (dk == 128) return exact ? nsa_sel_kernel_##SUF##_dk128_dv128_exact : nsa_sel_kernel_##SUF##_dk128_dv128; \
        if (dk == 192) return exact ? nsa_sel_kernel_##SUF##_dk192_dv128_exact : nsa_sel_kernel_##SUF##_dk192_dv128; \
        return exact ? nsa_sel_kernel_##SUF##_dk256_dv256_exact : nsa_sel_kernel_##SUF##_dk256_dv256;               \
    }                                                                                                              \
    template <> Kernel union_kernel<T>(int dk, int dv, bool exact) {                                               \
        if (dk == 64) return exact ? nsa_sel_union_##SUF##_dk64_dv64_exact : nsa_sel_union_##SUF##_dk64_dv64;       \
        if (dk == 128) return exact ? nsa_sel_union_##SUF##_dk128_dv128_exact : nsa_sel_union_##SUF##_dk128_dv128;   \
        if (dk == 192) return exact ? nsa_sel_union_##SUF##_dk192_dv128_exact : nsa_sel_union_##SUF##_dk192_dv128;   \
        return exact ? nsa_sel_union_##SUF##_dk256_dv256_exact : nsa_sel_union_##SUF##_dk256_dv256;                 \
    }
EMU_SYMS(__nv_bfloat16, bf16)
EMU_SYMS(__half, fp16)

// Both layouts on one varlen batch of G groups of h heads: each against fp64, and against each other.
template <typename T>
static void check_sel(const char* dt, int dk, int dv, int h, int lsel, bool exact) {
    std::mt19937 rng(static_cast<uint32_t>(dk * 7 + h * 3 + lsel + exact));
    const std::vector<int> lens{70, 0, 1, 40};
    const int G = 2, H = G * h, n = 5, batch = static_cast<int>(lens.size());
    std::vector<int> cu{0};
    for (int x : lens) cu.push_back(cu.back() + x);
    const int nnz = cu.back();
    HalfBuf<T> q((size_t)nnz * H * dk, rng), k((size_t)nnz * G * dk, rng), v((size_t)nnz * G * dv, rng);
    std::vector<int> idx((size_t)nnz * G * n);
    for (int b = 0; b < batch; ++b) {
        for (int t = 0; t < lens[b]; ++t) {
            for (int g = 0; g < G; ++g) {
                int* r = &idx[((size_t)(cu[b] + t) * G + g) * n];
                for (int e = 0; e < n; ++e) r[e] = static_cast<int>(rng() % (t / lsel + 3)) - 1;
                if (rng() % 3 == 0) r[n - 1] = r[0];
            }
        }
    }
    nsa::AttnParams p{};
    p.q = q.v.data(); p.k = k.v.data(); p.v = v.v.data();
    p.cu_q = cu.data(); p.cu_k = cu.data(); p.blocks = idx.data();
    p.q_tok_stride = (int64_t)H * dk; p.q_head_stride = dk;
    p.k_tok_stride = (int64_t)G * dk; p.k_head_stride = dk;
    p.v_tok_stride = (int64_t)G * dv; p.v_head_stride = dv;
    p.o_tok_stride = (int64_t)H * dv; p.o_head_stride = dv; p.lse_tok_stride = H;
    p.blocks_tok_stride = (int64_t)G * n; p.blocks_head_stride = n;
    p.nnz_q = nnz; p.batch = batch; p.heads = H; p.kv_heads = G; p.dk = dk; p.dv = dv;
    p.mask = nsa::kMaskChosen; p.walk = nsa::kWalkRanges; p.sel_block = lsel; p.n_sel = n; p.out_fp32 = 1;
    p.scale = 1.f / std::sqrt(static_cast<float>(dk));
    const int chunks = (h + 15) / 16;
    std::vector<float> o_tok((size_t)nnz * H * dv, 7.f), l_tok((size_t)nnz * H, 7.f);
    std::vector<float> o_uni(o_tok), l_uni(l_tok);
    p.o = o_tok.data(); p.lse = l_tok.data();
    Kernel kt = token_kernel<T>(dk, dv, exact), ku = union_kernel<T>(dk, dv, exact);
    launch_blocks([&] { kt(p); }, nnz, G * chunks, 1, 128);
    p.o = o_uni.data(); p.lse = l_uni.data();
    launch_blocks([&] { ku(p); }, (nnz + 3) / 4, G * chunks, 1, 128);

    std::vector<double> ro(o_tok.size()), rl(l_tok.size());
    for (int b = 0; b < batch; ++b) {
        std::vector<float> kg((size_t)lens[b] * dk + 1), vg((size_t)lens[b] * dv + 1);
        for (int t = 0; t < lens[b]; ++t) {
            const int tok = cu[b] + t;
            for (int hq = 0; hq < H; ++hq) {
                const int g = hq / h;
                for (int s2 = 0; s2 < lens[b]; ++s2) {
                    for (int c = 0; c < dk; ++c) kg[(size_t)s2 * dk + c] = k.f[((size_t)(cu[b] + s2) * G + g) * dk + c];
                    for (int c = 0; c < dv; ++c) vg[(size_t)s2 * dv + c] = v.f[((size_t)(cu[b] + s2) * G + g) * dv + c];
                }
                const int* r = &idx[((size_t)tok * G + g) * n];
                auto keep = [&](int s) {
                    if (s > t) return false;
                    for (int e = 0; e < n; ++e) if (r[e] >= 0 && s / lsel == r[e]) return true;
                    return false;
                };
                rl[(size_t)tok * H + hq] = ref_row(&q.f[((size_t)tok * H + hq) * dk], kg, vg, dk, lens[b], keep, p.scale,
                                                   &ro[((size_t)tok * H + hq) * dv], dk, dv, dv);
            }
        }
    }
    char what[96];
    const double bound = exact ? 1e-4 : 2e-2;
    snprintf(what, sizeof what, "token %s %d/%d h=%d l'=%d %s", dt, dk, dv, h, lsel, exact ? "exact P" : "fast P");
    compare(what, o_tok, l_tok, ro, rl, bound);
    snprintf(what, sizeof what, "union %s %d/%d h=%d l'=%d %s", dt, dk, dv, h, lsel, exact ? "exact P" : "fast P");
    compare(what, o_uni, l_uni, ro, rl, bound);
}

// A tensor-core scorer (block_score.cu, or block_score_wg.cu with wgmma emulated per thread) on a varlen batch
// against fp64 scores and NSA-SPEC's choice (forced 0, cur - 1, cur; the best of the rest by max(P, 0), lower index
// first): the chosen sets must be equal, or differ only where the swapped blocks' fp64 scores are within 1e-4
// relative (a near tie), counted.
using ScoreKernel = void (*)(const nsa::BlockSelectParams);
static void check_score(const char* which, ScoreKernel kernel, int l, int d) {
    std::mt19937 rng(static_cast<uint32_t>(97 + l + d));
    const std::vector<int> lens{600, 0, 1, 300};
    const int G = 2, h = 16, H = G * h, dk = 128, lsel = 64, n = 5, batch = static_cast<int>(lens.size());
    std::vector<int> cu{0}, cuc{0};
    for (int x : lens) {
        cu.push_back(cu.back() + x);
        cuc.push_back(cuc.back() + (x < l ? 0 : (x - l) / d + 1));
    }
    const int nnz = cu.back(), nnzc = cuc.back();
    HalfBuf<__nv_bfloat16> q((size_t)nnz * H * dk, rng), kc((size_t)nnzc * G * dk, rng);
    std::vector<float> lse((size_t)nnz * H);
    std::uniform_real_distribution<float> u(0.f, 2.f);
    for (float& x : lse) x = u(rng);
    std::vector<int> idx((size_t)nnz * G * n, 12345);
    nsa::BlockSelectParams p{};
    p.q = q.v.data(); p.k_cmp = kc.v.data(); p.lse = lse.data(); p.cu_seqlens = cu.data(); p.cu_seqlens_cmp = cuc.data();
    p.indices = idx.data();
    p.q_tok_stride = (int64_t)H * dk; p.q_head_stride = dk;
    p.k_tok_stride = (int64_t)G * dk; p.k_group_stride = dk;
    p.lse_tok_stride = H; p.lse_head_stride = 1;
    p.idx_tok_stride = (int64_t)G * n; p.idx_group_stride = n;
    p.nnz = nnz; p.nnz_cmp = nnzc; p.batch = batch; p.heads = H; p.kv_heads = G; p.dk = dk;
    p.block_len = l; p.block_stride = d; p.sel_block = lsel; p.n_sel = n;
    p.scale = 1.f / std::sqrt(static_cast<float>(dk));
    const int maxlen = *std::max_element(lens.begin(), lens.end());
    launch_blocks([&] { kernel(p); }, (maxlen + 3) / 4, batch, G, 128);
    long rows = 0, differ = 0, bad = 0;
    for (int b = 0; b < batch; ++b) {
        for (int t = 0; t < lens[b]; ++t) {
            const int tok = cu[b] + t, cur = t / lsel;
            const int ncmp = t < l - 1 ? 0 : std::min((t - l + 1) / d + 1, cuc[b + 1] - cuc[b]);
            for (int g = 0; g < G; ++g) {
                std::vector<double> c(ncmp, 0.0), P(cur + 1, 0.0);
                for (int i = 0; i < ncmp; ++i) {
                    for (int hh = 0; hh < h; ++hh) {
                        const int hq = g * h + hh;
                        double dot = 0;
                        for (int e = 0; e < dk; ++e) {
                            dot += (double)q.f[((size_t)tok * H + hq) * dk + e] * kc.f[((size_t)(cuc[b] + i) * G + g) * dk + e];
                        }
                        c[i] += std::exp(dot * p.scale - lse[(size_t)tok * H + hq]);
                    }
                }
                for (int j = 0; j <= cur; ++j) {
                    for (int i = 0; i < ncmp; ++i) {
                        const long ov = std::min<long>((long)i * d + l, (long)(j + 1) * lsel) - std::max<long>((long)i * d, (long)j * lsel);
                        if (ov > 0) P[j] += c[i] * (double)ov / l;
                    }
                }
                std::vector<int> want;
                if (cur + 1 <= n) {
                    for (int j = 0; j <= cur; ++j) want.push_back(j);
                } else {
                    want = {0, cur - 1, cur};
                    std::vector<int> rest;
                    for (int j = 1; j <= cur - 2; ++j) rest.push_back(j);
                    std::stable_sort(rest.begin(), rest.end(), [&](int x, int y) {
                        return std::max(P[x], 0.0) > std::max(P[y], 0.0);
                    });
                    for (int k2 = 0; k2 < n - 3 && k2 < (int)rest.size(); ++k2) want.push_back(rest[k2]);
                }
                std::sort(want.begin(), want.end());
                std::vector<int> got;
                const int* r = &idx[((size_t)tok * G + g) * n];
                for (int e = 0; e < n; ++e) if (r[e] >= 0) got.push_back(r[e]);
                bool sorted_padded = std::is_sorted(got.begin(), got.end());
                for (int e = (int)got.size(); e < n; ++e) sorted_padded = sorted_padded && r[e] == -1;
                CHECK(sorted_padded, "score l=%d d=%d row (%d, %d): not sorted ascending and -1 padded", l, d, tok, g);
                ++rows;
                if (got == want) continue;
                ++differ;
                double lo_got = INFINITY, hi_miss = -INFINITY;
                for (int j : got) if (!std::binary_search(want.begin(), want.end(), j)) lo_got = std::min(lo_got, P[j]);
                for (int j : want) if (!std::binary_search(got.begin(), got.end(), j)) hi_miss = std::max(hi_miss, P[j]);
                if (!(std::fabs(hi_miss - lo_got) <= 1e-4 * std::fabs(hi_miss))) ++bad;
            }
        }
    }
    CHECK(bad == 0, "%s l=%d d=%d: %ld of %ld rows chose other blocks beyond a near tie", which, l, d, bad, rows);
    printf("emulation: %s bf16 dk128 l=%d d=%d: %ld rows, %ld chose other blocks (%ld beyond a near tie)\n", which, l,
           d, rows, differ, bad);
}

int main() {
    check_score("tc scorer", nsa_block_score_bf16_dk128, 64, 64);
    check_score("tc scorer", nsa_block_score_bf16_dk128, 32, 16);
    check_score("wgmma scorer", nsa_block_score_wg_bf16_dk128, 64, 64);
    check_score("wgmma scorer", nsa_block_score_wg_bf16_dk128, 32, 16);
    check_score("pipelined wgmma scorer", nsa_block_score_wg_pipe_bf16_dk128, 64, 64);
    check_score("pipelined wgmma scorer", nsa_block_score_wg_pipe_bf16_dk128, 32, 16);
    check_sel<__nv_bfloat16>("bf16", 128, 128, 16, 64, true);
    check_sel<__nv_bfloat16>("bf16", 128, 128, 16, 64, false);
    check_sel<__half>("fp16", 64, 64, 4, 64, true);
    check_sel<__nv_bfloat16>("bf16", 192, 128, 32, 128, true);
    check_sel<__half>("fp16", 256, 256, 16, 64, true);
    if (fails) {
        printf("tc emulation: %d FAILED\n", fails);
        return 1;
    }
    printf("tc emulation: OK\n");
    return 0;
}
