// Host emulation of the CUDA kernels: g++ compiles the kernel sources as plain C++ (host_shim.h maps
// blockIdx/threadIdx and the intrinsics), and this program runs every thread of a grid sequentially.
// It checks index math, bounds, the NaN guard and bitwise results against a CPU computation, and that
// the probe reports the layouts the Java side expects, on a machine without a GPU. It does not test
// the device compiler, JCuda or vectorised accesses: the GPU-tagged JUnit tests do.
// Run: scripts/emulate-kernels.sh
#include "host_shim.h"
#include "gate_combine.cu"
#include "compress_avg.cu"
#include "params_layout.cu"
#include "attention.cu"
#include <algorithm>
#include <limits>
#include <cstdio>
#include <vector>
#include <random>
#include <cstdlib>

template <typename P, typename F>
void launch(F f, const P& p, int grid, int block = 256) {
    emu_gridDim = {(unsigned)grid, 1, 1}; emu_blockDim = {(unsigned)block, 1, 1};
    for (unsigned b = 0; b < (unsigned)grid; ++b) for (unsigned t = 0; t < (unsigned)block; ++t) {
        emu_blockIdx = {b, 0, 0}; emu_threadIdx = {t, 0, 0}; f(p);
    }
}
int fails = 0;
#define CHECK(c, ...) do { if (!(c)) { if (fails++ < 10) { printf(__VA_ARGS__); printf("\n"); } } } while (0)

// gate combine, bf16 in, fp32 gates, fp32 out, strided o_cmp; v16 and v1
void test_gate(int nnz, int H, int dv, bool wide, int grid) {
    std::mt19937 rng(nnz * 7 + dv);
    std::uniform_real_distribution<float> U(-2, 2), G(0, 1);
    int pad = 8;
    std::vector<__nv_bfloat16> cmp((size_t)nnz * H * (dv + pad)), sel((size_t)nnz * H * dv), win((size_t)nnz * H * dv);
    std::vector<float> gates((size_t)nnz * H * 3), out((size_t)nnz * H * dv, -999.f);
    for (auto& x : cmp) x = __float2bfloat16_rn(U(rng));
    for (auto& x : sel) x = __float2bfloat16_rn(U(rng));
    for (auto& x : win) x = __float2bfloat16_rn(U(rng));
    for (auto& x : gates) x = G(rng);
    nsa::GateCombineParams p{cmp.data(), sel.data(), win.data(), gates.data(), out.data(),
        (int64_t)H * (dv + pad), dv + pad, (int64_t)H * dv, dv, (int64_t)H * dv, dv, 3L * H, 3, (int64_t)H * dv, dv, nnz, H, dv};
    if (wide) launch(nsa_gate_combine_bf16_gfp32_ofp32_v16, p, grid);
    else launch(nsa_gate_combine_bf16_gfp32_ofp32_v1, p, grid);
    for (int t = 0; t < nnz; ++t) for (int h = 0; h < H; ++h) for (int j = 0; j < dv; ++j) {
        float a = __bfloat162float(cmp[((size_t)t * H + h) * (dv + pad) + j]);
        float b = __bfloat162float(sel[((size_t)t * H + h) * dv + j]);
        float w = __bfloat162float(win[((size_t)t * H + h) * dv + j]);
        const float* g = &gates[((size_t)t * H + h) * 3];
        float ref = std::fma(g[2], w, std::fma(g[1], b, g[0] * a));
        float got = out[((size_t)t * H + h) * dv + j];
        CHECK(got == ref, "gate nnz=%d dv=%d wide=%d [%d,%d,%d] got %g ref %g", nnz, dv, wide, t, h, j, got, ref);
    }
}

void test_compress(std::vector<int> lens, int Gn, int D, int l, int d, bool wide, int grid, bool corruptCu = false) {
    std::vector<int> cu(1, 0), cc(1, 0);
    for (int L : lens) { cu.push_back(cu.back() + L); cc.push_back(cc.back() + (L < l ? 0 : (L - l) / d + 1)); }
    int nnz = cu.back(), ncmp = cc.back(), B = lens.size();
    std::mt19937 rng(nnz + D);
    std::uniform_real_distribution<float> U(-2, 2);
    std::vector<__half> k((size_t)nnz * Gn * D);
    for (auto& x : k) x = __float2half_rn(U(rng));
    std::vector<__half> out((size_t)ncmp * Gn * D + 1, __float2half_rn(-999.f));
    std::vector<int> devcu = cu;
    if (corruptCu) devcu[1] = 40;
    nsa::CompressAvgParams p{k.data(), out.data(), devcu.data(), cc.data(), (int64_t)Gn * D, D, (int64_t)Gn * D, D,
        nnz, ncmp, B, Gn, D, l, d};
    if (ncmp > 0) {
        if (wide) launch(nsa_compress_avg_fp16_ofp16_v16, p, grid); else launch(nsa_compress_avg_fp16_ofp16_v1, p, grid);
    }
    for (int b = 0; b < B; ++b) for (int i = 0; i < cc[b + 1] - cc[b]; ++i) for (int g = 0; g < Gn; ++g) for (int e = 0; e < D; ++e) {
        float s = 0;
        bool fits = !corruptCu || (i * d + l <= devcu[b + 1] - devcu[b]);
        for (int j = 0; j < l; ++j) s += __half2float(k[((size_t)(cu[b] + i * d + j) * Gn + g) * D + e]);
        float ref = __half2float(__float2half_rn(s / (float)l));
        float got = __half2float(out[((size_t)(cc[b] + i) * Gn + g) * D + e]);
        if (fits) CHECK(got == ref, "cmp b=%d i=%d g=%d e=%d got %g ref %g (l=%d d=%d D=%d wide=%d)", b, i, g, e, got, ref, l, d, D, wide);
        else CHECK(std::isnan(got), "expected NaN b=%d i=%d", b, i);
    }
    CHECK(__half2float(out.back()) == -999.f, "wrote past the end");
}


// attention: one warp per (query, head); lanes are coroutines (host_shim.h). Both walks against an fp64
// masked softmax, the two walks bitwise equal, fully masked rows 0 / -inf, nothing written past the end.
template <typename T> T to_t(float x);
template <> float to_t<float>(float x) { return x; }
template <> __half to_t<__half>(float x) { return __float2half_rn(x); }
template <> __nv_bfloat16 to_t<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }

template <typename T>
void test_attention(void (*kern)(const nsa::AttnParams), const char* name, std::vector<int> lens, int H, int Gk,
                    int dk, int dv, int mask, int window, int l, int d, int lp, int nsel) {
    const int B = lens.size();
    std::vector<int> lensK(lens);
    if (mask == nsa::kMaskBlockCausal) for (auto& s : lensK) s = s < l ? 0 : (s - l) / d + 1;
    std::vector<int> cu(1, 0), ck(1, 0);
    for (int b = 0; b < B; ++b) { cu.push_back(cu.back() + lens[b]); ck.push_back(ck.back() + lensK[b]); }
    const int nnz = cu.back(), nnzk = ck.back();
    std::mt19937 rng(nnz * 131 + dk * 7 + mask);
    std::uniform_real_distribution<float> U(-1, 1);
    std::vector<T> q((size_t)nnz * H * dk + 1), k((size_t)nnzk * Gk * dk + 1), v((size_t)nnzk * Gk * dv + 1);
    for (auto& x : q) x = to_t<T>(U(rng));
    for (auto& x : k) x = to_t<T>(U(rng));
    for (auto& x : v) x = to_t<T>(U(rng));
    std::vector<int> blocks((size_t)nnz * Gk * nsel + 1, -1);
    for (int b = 0; b < B; ++b) {
        const int nb = (lens[b] + lp - 1) / lp;
        for (int t = 0; t < lens[b]; ++t) for (int g = 0; g < Gk; ++g) {
            int* row = &blocks[((size_t)(cu[b] + t) * Gk + g) * nsel];
            if (t == 0 && g == 0) {  // every block starts after t (or none): nothing visible
                for (int e = 0; e < nsel && 1 + e < nb; ++e) row[nsel - 1 - e] = 1 + e;
            } else {
                for (int e = 0; e < nsel; ++e) row[e] = (int)(rng() % (nb + 1)) - 1;  // any order, dups, -1
            }
        }
    }
    const float scale = 1.f / std::sqrt((float)dk);
    // fp64 reference
    std::vector<double> ref((size_t)nnz * H * dv, 0.0), rlse((size_t)nnz * H);
    auto F = [](T x) { return (double)nsa::Elem<T>::to_float(x); };
    for (int b = 0; b < B; ++b) for (int t = 0; t < lens[b]; ++t) for (int h = 0; h < H; ++h) {
        const int tok = cu[b] + t, g = h / (H / Gk);
        std::vector<double> s(lensK[b], -INFINITY);
        double m = -INFINITY;
        for (int i = 0; i < lensK[b]; ++i) {
            bool vis = true;
            if (mask == nsa::kMaskCausal) vis = i <= t;
            if (mask == nsa::kMaskWindow) vis = i <= t && i >= t - window + 1;
            if (mask == nsa::kMaskBlockCausal) vis = (long)i * d + l - 1 <= t;
            if (mask == nsa::kMaskChosen) {
                vis = false;
                for (int e = 0; e < nsel; ++e) vis |= i <= t && blocks[((size_t)tok * Gk + g) * nsel + e] == i / lp;
            }
            if (!vis) continue;
            double dot = 0;
            for (int e = 0; e < dk; ++e) dot += F(q[((size_t)tok * H + h) * dk + e]) * F(k[((size_t)(ck[b] + i) * Gk + g) * dk + e]);
            s[i] = dot * scale;
            m = std::max(m, s[i]);
        }
        const size_t row = (size_t)tok * H + h;
        if (m == -INFINITY) { rlse[row] = -INFINITY; continue; }
        double sum = 0;
        for (int i = 0; i < lensK[b]; ++i) if (s[i] != -INFINITY) {
            const double p = std::exp(s[i] - m);
            sum += p;
            for (int e = 0; e < dv; ++e) ref[row * dv + e] += p * F(v[((size_t)(ck[b] + i) * Gk + g) * dv + e]);
        }
        for (int e = 0; e < dv; ++e) ref[row * dv + e] /= sum;
        rlse[row] = m + std::log(sum);
    }
    std::vector<float> out[2], lse[2];
    for (int walk = 0; walk < 2; ++walk) {
        out[walk].assign((size_t)nnz * H * dv + 1, -999.f);
        lse[walk].assign((size_t)nnz * H + 1, -999.f);
        nsa::AttnParams p{q.data(), k.data(), v.data(), out[walk].data(), lse[walk].data(), cu.data(), ck.data(),
            nullptr, nullptr, mask == nsa::kMaskChosen ? blocks.data() : nullptr,
            (int64_t)H * dk, dk, (int64_t)Gk * dk, dk, (int64_t)Gk * dv, dv, (int64_t)H * dv, dv, H,
            (int64_t)Gk * nsel, nsel,
            nnz, B, H, Gk, dk, dv, mask, walk, window, l, d, lp, nsel, 1, scale};
        const int rows = nnz * H, grid = (rows + nsa::kAttnWarps - 1) / nsa::kAttnWarps;
        emu_gridDim = {(unsigned)grid, 1, 1}; emu_blockDim = {32u * nsa::kAttnWarps, 1, 1};
        for (int bx = 0; bx < grid; ++bx) for (int w = 0; w < nsa::kAttnWarps; ++w) {
            emu_blockIdx = {(unsigned)bx, 0, 0};
            emu_run_warp(w, [&] { kern(p); });
        }
        CHECK(out[walk].back() == -999.f && lse[walk].back() == -999.f, "%s: wrote past the end", name);
    }
    double maxerr = 0;
    for (size_t i = 0; i + 1 < out[0].size(); ++i) {
        CHECK(std::memcmp(&out[0][i], &out[1][i], 4) == 0, "%s mask %d: walks differ at out[%zu]: %g vs %g", name, mask, i, out[0][i], out[1][i]);
        CHECK(std::isfinite(out[0][i]), "%s mask %d: out[%zu] = %g", name, mask, i, out[0][i]);
        maxerr = std::max(maxerr, std::fabs(out[0][i] - ref[i]));
    }
    CHECK(maxerr < 1e-5, "%s mask %d: max error %g", name, mask, maxerr);
    for (size_t r = 0; r + 1 < lse[0].size(); ++r) {
        CHECK(std::memcmp(&lse[0][r], &lse[1][r], 4) == 0, "%s mask %d: walks differ at lse[%zu]", name, mask, r);
        if (rlse[r] == -INFINITY) {
            CHECK(lse[0][r] == -INFINITY, "%s mask %d: masked row %zu lse %g", name, mask, r, lse[0][r]);
            for (int e = 0; e < dv; ++e) CHECK(out[0][r * dv + e] == 0.f && !std::signbit(out[0][r * dv + e]), "%s: masked row not 0", name);
        } else {
            CHECK(std::fabs(lse[0][r] - rlse[r]) < 1e-5, "%s mask %d: lse[%zu] %g vs %g", name, mask, r, lse[0][r], rlse[r]);
        }
    }
}

void test_attention_all() {
    std::vector<std::vector<int>> batches = {{1}, {0, 40, 1, 0, 33}};
    for (auto& lens : batches) for (int mask = 0; mask <= 4; ++mask) {
        test_attention<float>(nsa_attention_fp32_d1, "fp32 d1 D=16", lens, 4, 2, 16, 16, mask, mask == 2 ? 7 : 0, 32, 16, 16, 4);
        test_attention<__nv_bfloat16>(nsa_attention_bf16_d2, "bf16 d2 Dk=40 Dv=24", lens, 2, 2, 40, 24, mask, 1, 8, 4, 8, 3);
    }
    test_attention<__half>(nsa_attention_fp16_d4, "fp16 d4 D=128 window 20", {50}, 2, 1, 128, 128, nsa::kMaskWindow, 20, 1, 1, 1, 1);
    test_attention<float>(nsa_attention_fp32_d8, "fp32 d8 Dk=192 Dv=128 chosen", {50}, 2, 2, 192, 128, nsa::kMaskChosen, 1, 1, 1, 16, 4);
}

int main() {
    test_attention_all();
    for (int nnz : {1, 63, 64, 65, 1000, 1193}) for (int dv : {16, 64, 128}) for (int grid : {1, 7}) {
        test_gate(nnz, 3, dv, true, grid); test_gate(nnz, 3, dv, false, grid);
    }
    test_gate(5, 2, 24, false, 3);
    std::vector<std::vector<int>> batches = {{1}, {63}, {64}, {65}, {1000}, {0, 63, 1, 0, 1000, 64, 65, 0}};
    for (auto& lens : batches) for (int D : {16, 64, 128}) for (auto ld : std::vector<std::pair<int,int>>{{32,16},{16,16},{1,1},{64,32},{7,3}})
        for (bool wide : {true, false}) test_compress(lens, 2, D, ld.first, ld.second, wide, 5);
    test_compress({64}, 2, 16, 32, 16, false, 2, true);
    // probe
    int64_t buf[512] = {0};
    emu_gridDim = {1,1,1}; emu_blockDim = {1,1,1}; emu_blockIdx = {0,0,0}; emu_threadIdx = {0,0,0};
    nsa_params_layout(buf, 512);
    printf("probe:"); for (int i = 0; i < buf[0]; ++i) printf(" %ld", (long)buf[i]); printf("\n");
    // what ParamsLayouts.expectedProbe() says (StructLayoutTest pins the same numbers)
    const int64_t want[] = {265, 136, 0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120, 124, 128,
                            96, 0, 8, 16, 24, 32, 40, 48, 56, 64, 68, 72, 76, 80, 84, 88, 232, 0, 8, 16,
                            24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120, 128, 136, 144, 152, 160, 168, 172,
                            176, 180, 184, 188, 192, 196, 200, 204, 208, 212, 216, 220, 224, 184, 0, 8, 16, 24, 32, 40,
                            48, 56, 64, 72, 80, 88, 96, 104, 112, 120, 128, 136, 140, 144, 148, 152, 156, 160, 164, 168,
                            172, 176, 180, 136, 0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, // CompressMlpParams
                            104, 108, 112,
                            116, 120, 124, 128, 132, // SelGatherParams
                            192, 0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104,
                            112, 120, 128, 136, 144, 152, 156, 160, 164, 168, 172, 176, 180, 184,
                            24, 0, 8, 16,   // CastParams
                            312, 0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112,
                            120, 128, 136, 144, 152, 160, 168, 176, 184, 192, 200, 208, 212, 216, 220, 224,
                            228, 232, 236, 240, 244, 248, 252, 256, 260, 264, 268,
                            272, 280, 288, 296, 300, 304, 308,    // DecodeParams
                            48, 0, 8, 16, 24, 32, 40,             // AttnBwdParams
                            88, 0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80,   // GateBwdParams
                            56, 0, 8, 16, 24, 32, 36, 40, 44, 48, 52,       // CompressAvgBwdParams
                            176, 0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120, 128, 136,
                            144, 148, 152, 156, 160, 164, 168, 172};        // CompressMlpBwdParams
    const int nwant = sizeof(want) / sizeof(want[0]);
    CHECK(buf[0] == nwant, "probe count %ld", (long)buf[0]);
    for (int i = 0; i < nwant; ++i) CHECK(buf[i] == want[i], "probe[%d] = %ld, Java expects %ld", i, (long)buf[i], (long)want[i]);
    printf("%s (%d failures)\n", fails ? "FAIL" : "OK", fails);
    return fails != 0;
}
