// Host emulation of block_select.cu with real warps (warp_shim.h): 32 std::threads per warp, lock-step
// at the warp intrinsics. Checks, on a machine without a GPU: scores bitwise equal to a CPU computation in
// the kernel's fixed order, within 1e-5 of fp64, −inf past the candidates; indices exactly the top-n of
// those scores (forced blocks, ties to the lower index); all-equal scores; 1500 blocks with n = 64;
// grid-stride over rows; nothing written out of bounds; inconsistent device cu -> −1 and NaN.
// Run: scripts/emulate-kernels.sh
#include "warp_shim.h"
#include "block_select.cu"
#include <cstdio>
#include <random>
using nsa::Elem;

static int fails = 0;
#define CHECK(c, ...) do { if (!(c)) { if (fails++ < 10) { printf(__VA_ARGS__); printf("\n"); } } } while (0)

struct Cfg { int l, d, lp, n; };

template <typename T> T cvt(float x);
template <> float cvt<float>(float x) { return x; }
template <> __half cvt<__half>(float x) { return __float2half_rn(x); }
template <> __nv_bfloat16 cvt<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }

static std::vector<int> choose(int t, const float* s, Cfg c) {
    int n = c.n, cur = t / c.lp;
    std::vector<int> out(n);
    if (cur + 1 <= n) { for (int j = 0; j < n; ++j) out[j] = j <= cur ? j : -1; return out; }
    std::vector<long long> keys;
    for (int j = 1; j < cur - 1; ++j) {
        int bits = std::max(0, __float_as_int(s[j]));
        keys.push_back(((long long)(INT32_MAX - bits) << 32) | j);
    }
    std::sort(keys.begin(), keys.end());
    out[0] = 0;
    for (int k = 0; k < n - 3; ++k) out[1 + k] = (int)keys[k];
    out[n - 2] = cur - 1; out[n - 1] = cur;
    std::sort(out.begin(), out.end());
    return out;
}

template <typename T>
void run(const char* name, void (*kernel)(nsa::BlockSelectParams), std::vector<int> lens, int H, int Gn, int dk, Cfg c,
         int grid, bool zeroQ, bool withScores, bool corruptCu = false, float lseValue = NAN) {
    std::vector<int> cu(1, 0), cc(1, 0);
    int nb = 0;
    for (int L : lens) {
        cu.push_back(cu.back() + L);
        cc.push_back(cc.back() + (L < c.l ? 0 : (L - c.l) / c.d + 1));
        nb = std::max(nb, (L + c.lp - 1) / c.lp);
    }
    int nnz = cu.back(), ncmpAll = cc.back(), B = lens.size(), h = H / Gn;
    std::mt19937 rng(nnz * 31 + dk + H);
    std::uniform_real_distribution<float> U(-1, 1);
    std::vector<T> q((size_t)nnz * H * dk), k((size_t)ncmpAll * Gn * dk);
    for (auto& x : q) x = cvt<T>(zeroQ ? 0.f : U(rng));
    for (auto& x : k) x = cvt<T>(U(rng));
    float scale = 1.f / std::sqrt((float)dk);
    // lse: the true log-sum-exp of the visible compressed tokens (fp32), or a given constant
    std::vector<float> lse((size_t)nnz * H, -INFINITY);
    for (int b = 0; b < B; ++b) for (int t = 0; t < lens[b]; ++t) for (int hd = 0; hd < H; ++hd) {
        int ncmp = t + 1 < c.l ? 0 : (t + 1 - c.l) / c.d + 1, g = hd / h;
        double m = -INFINITY, s = 0;
        std::vector<double> x(ncmp);
        for (int i = 0; i < ncmp; ++i) {
            double dot = 0;
            for (int e = 0; e < dk; ++e)
                dot += (double)Elem<T>::to_float(q[((size_t)(cu[b] + t) * H + hd) * dk + e])
                       * (double)Elem<T>::to_float(k[((size_t)(cc[b] + i) * Gn + g) * dk + e]);
            x[i] = scale * dot; m = std::max(m, x[i]);
        }
        for (int i = 0; i < ncmp; ++i) s += std::exp(x[i] - m);
        if (ncmp > 0) lse[(size_t)(cu[b] + t) * H + hd] = std::isnan(lseValue) ? (float)(m + std::log(s)) : lseValue;
    }
    int n = c.n;
    std::vector<int32_t> idx((size_t)nnz * Gn * n + 1, 12345);
    std::vector<float> sc((size_t)nnz * Gn * nb + 1, 777.f);
    std::vector<int> devcu = cu;
    if (corruptCu) devcu[B] = nnz + 5;   // the last sequence claims rows past nnz
    nsa::BlockSelectParams p{q.data(), k.data(), lse.data(), devcu.data(), cc.data(), idx.data(),
        withScores ? sc.data() : nullptr,
        (int64_t)H * dk, dk, (int64_t)Gn * dk, dk, H, 1, (int64_t)Gn * n, n, (int64_t)Gn * nb, nb,
        nnz, ncmpAll, B, H, Gn, dk, c.l, c.d, c.lp, n, nb, scale};
    launch_warps(kernel, p, grid);
    CHECK(idx.back() == 12345 && sc.back() == 777.f, "%s: wrote past the end", name);
    int scored = 0;
    for (int b = 0; b < B; ++b) for (int t = 0; t < lens[b]; ++t) for (int g = 0; g < Gn; ++g) {
        size_t row = (size_t)(cu[b] + t) * Gn + g;
        int cur = t / c.lp, ncmp = t + 1 < c.l ? 0 : (t + 1 - c.l) / c.d + 1;
        const int32_t* got = &idx[row * n];
        if (corruptCu && b == B - 1) {
            for (int j = 0; j < n; ++j) CHECK(got[j] == -1, "%s: corrupt cu row t=%d idx %d", name, t, got[j]);
            if (withScores) for (int j = 0; j < nb; ++j) CHECK(std::isnan(sc[row * nb + j]), "%s: corrupt cu row not NaN", name);
            continue;
        }
        // fp32 in the kernel's order, and fp64
        std::vector<float> s32(nb, -INFINITY);
        std::vector<double> s64(cur + 1, 0.0);
        for (int j = 0; j <= cur; ++j) {
            float acc = 0.f;
            for (int hh = 0; hh < h; ++hh) {
                int hd = g * h + hh;
                float l32 = lse[(size_t)(cu[b] + t) * H + hd];
                int64_t ilo = std::max<int64_t>(0, ((int64_t)j * c.lp - c.l + c.d) / c.d);
                int64_t ihi = std::min<int64_t>(ncmp, ((int64_t)(j + 1) * c.lp - 1) / c.d + 1);
                for (int64_t i = ilo; i < ihi; ++i) {
                    int64_t st = (int64_t)i * c.d, en = st + c.l, bs = (int64_t)j * c.lp, be = bs + c.lp;
                    int64_t ov = std::min(en, be) - std::max(st, bs);
                    if (ov <= 0) continue;
                    float dot = 0.f; double dot64 = 0;
                    for (int e = 0; e < dk; ++e) {
                        float a = Elem<T>::to_float(q[((size_t)(cu[b] + t) * H + hd) * dk + e]);
                        float kk = Elem<T>::to_float(k[((size_t)(cc[b] + i) * Gn + g) * dk + e]);
                        dot = std::fma(a, kk, dot); dot64 += (double)a * kk;
                    }
                    float pr = expf(__fsub_rn(__fmul_rn(scale, dot), l32));
                    acc = std::fma(pr, __fdiv_rn((float)ov, (float)c.l), acc);
                    s64[j] += std::exp((double)scale * dot64 - l32) * (double)ov / c.l;
                }
            }
            s32[j] = acc;
        }
        if (withScores) {
            for (int j = 0; j < nb; ++j) {
                float gs = sc[row * nb + j];
                CHECK(__float_as_int(gs) == __float_as_int(s32[j]), "%s: score t=%d g=%d j=%d got %g want %g", name, t, g, j, gs, s32[j]);
                if (j <= cur) CHECK(std::fabs(gs - s64[j]) <= 1e-5 * h + 1e-30, "%s: score vs fp64 t=%d j=%d %g %g", name, t, j, gs, s64[j]);
            }
        }
        std::vector<int> want = choose(t, s32.data(), c);
        for (int j = 0; j < n; ++j) CHECK(got[j] == want[j], "%s: t=%d g=%d idx[%d] got %d want %d", name, t, g, j, got[j], want[j]);
        if (zeroQ && cur + 1 > n)
            for (int j = 0; j < n; ++j) CHECK(got[j] == (j < n - 2 ? j : cur - (n - 1 - j)), "%s: all-equal t=%d idx[%d]=%d", name, t, j, got[j]);
        scored += cur + 1 > n;
    }
    printf("%-44s rows %7d scored %7d\n", name, nnz * Gn, scored);
}

int main() {
    setvbuf(stdout, nullptr, _IONBF, 0);
    Cfg SHORT{16, 8, 32, 4}, FINE{8, 4, 8, 5}, PAPER{32, 16, 64, 16}, FORCED{16, 8, 16, 3};
    run<float>("fp32 short varlen", nsa_block_select_fp32, {0, 1, 65, 0, 300, 1}, 8, 2, 16, SHORT, 2, false, true);
    run<__half>("fp16 fine 63/64/65", nsa_block_select_fp16, {63, 64, 65}, 4, 2, 64, FINE, 1, false, true);
    run<__nv_bfloat16>("bf16 paper 1100 GQA16", nsa_block_select_bf16, {1100, 0, 130}, 16, 1, 32, PAPER, 3, false, true);
    run<__nv_bfloat16>("bf16 paper no scores", nsa_block_select_bf16, {1100}, 4, 2, 16, PAPER, 2, false, false);
    run<float>("fp32 n=3 only forced", nsa_block_select_fp32, {200, 17}, 2, 2, 16, FORCED, 1, false, true);
    for (auto c : {SHORT, PAPER, FINE}) {
        run<float>("fp32 q=0", nsa_block_select_fp32, {0, 1, 1100, 0, 300}, 4, 2, 16, c, 2, true, true);
        run<__half>("fp16 q=0", nsa_block_select_fp16, {1100}, 4, 2, 16, c, 2, true, true);
        run<__nv_bfloat16>("bf16 q=0", nsa_block_select_bf16, {1100}, 4, 2, 16, c, 2, true, false);
    }
    run<float>("fp32 1500 blocks n=64 (lse 0)", nsa_block_select_fp32, {5, 1500, 0}, 1, 1, 8, Cfg{1, 1, 1, 64}, 4, false, true, false, 0.f);
    run<float>("fp32 corrupt device cu", nsa_block_select_fp32, {170, 40}, 2, 2, 16, SHORT, 1, false, true, true);
    printf("%s (%d failures)\n", fails ? "FAIL" : "OK", fails);
    return fails != 0;
}
