// Host emulation of the reference backward (attention_bwd.cu), no GPU: the forward (attention.cu) writes o and lse,
// then attention_bwd_dq and attention_bwd_dkv run with a warp's lanes as coroutines (host_shim.h), for every mask
// (none, causal, window, block-causal over compressed keys, chosen blocks with duplicates, -1 and future blocks), both
// walks, varlen with empty and length-1 sequences, GQA, Dk != Dv, fp32 and bf16. dq, dk and dv against the fp64
// backward of the masked dense formulation (dS = P (dO·v - D), D = dO·o); dq accumulated into a second time doubles;
// nothing written past the ends. gate_bwd against its formulas, compress_avg_bwd bitwise against the CPU in its
// order. Run: scripts/emulate-kernels.sh
#include "host_shim.h"
#include "attention.cu"
#include "attention_bwd.cu"
#include <algorithm>
#include <cstdio>
#include <random>
#include <vector>

static int fails = 0;
#define CHECK(c, ...) do { if (!(c)) { if (fails++ < 10) { printf(__VA_ARGS__); printf("\n"); } } } while (0)

template <typename T> T to_t(float x);
template <> float to_t<float>(float x) { return x; }
template <> __nv_bfloat16 to_t<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }

template <typename F>
static void run_grid(F&& call, int64_t rows) {
    const int grid = static_cast<int>((rows + nsa::kBwdWarps - 1) / nsa::kBwdWarps);
    emu_gridDim = {(unsigned)grid, 1, 1};
    emu_blockDim = {32u * nsa::kBwdWarps, 1, 1};
    for (int bx = 0; bx < grid; ++bx) for (int w = 0; w < nsa::kBwdWarps; ++w) {
        emu_blockIdx = {(unsigned)bx, 0, 0};
        emu_run_warp(w, [&] { call(); });
    }
}

template <typename P>
static void run_rows(void (*kern)(P), const P& p, int64_t rows) {
    run_grid([&] { kern(p); }, rows);
}

struct Kernels {
    void (*fwd)(const nsa::AttnParams);
    void (*dq)(const nsa::AttnParams, const nsa::AttnBwdParams);
    void (*dkv)(const nsa::AttnParams, const nsa::AttnBwdParams);
};

template <typename T>
static void test_branch(const Kernels& kn, const char* name, std::vector<int> lens, int H, int G, int dk, int dv,
                        int mask, int walk, int window, int l, int d, int lp, int nsel) {
    const int B = lens.size();
    std::vector<int> lensK(lens);
    if (mask == nsa::kMaskBlockCausal) for (auto& s : lensK) s = s < l ? 0 : (s - l) / d + 1;
    std::vector<int> cu(1, 0), ck(1, 0);
    for (int b = 0; b < B; ++b) { cu.push_back(cu.back() + lens[b]); ck.push_back(ck.back() + lensK[b]); }
    const int nnz = cu.back(), nnzk = ck.back();
    std::mt19937 rng(nnz * 17 + dk * 5 + mask * 3 + walk);
    std::uniform_real_distribution<float> U(-1, 1);
    std::vector<T> q((size_t)nnz * H * dk + 1), k((size_t)nnzk * G * dk + 1), v((size_t)nnzk * G * dv + 1);
    for (auto& x : q) x = to_t<T>(U(rng));
    for (auto& x : k) x = to_t<T>(U(rng));
    for (auto& x : v) x = to_t<T>(U(rng));
    std::vector<int> blocks((size_t)nnz * G * nsel + 1, -1);
    for (int b = 0; b < B; ++b) {
        const int nb = (lens[b] + lp - 1) / lp;
        for (size_t r = (size_t)cu[b] * G * nsel; r < (size_t)cu[b + 1] * G * nsel; ++r) blocks[r] = (int)(rng() % (nb + 1)) - 1;
    }
    std::vector<float> dO((size_t)nnz * H * dv);
    for (auto& x : dO) x = U(rng);
    const float scale = 1.f / std::sqrt((float)dk);
    std::vector<float> o((size_t)nnz * H * dv + 1, -999.f), lse((size_t)nnz * H + 1, -999.f);
    nsa::AttnParams a{q.data(), k.data(), v.data(), o.data(), lse.data(), cu.data(), ck.data(), nullptr, nullptr,
        mask == nsa::kMaskChosen ? blocks.data() : nullptr, (int64_t)H * dk, dk, (int64_t)G * dk, dk, (int64_t)G * dv, dv,
        (int64_t)H * dv, dv, H, (int64_t)G * nsel, nsel, nnz, B, H, G, dk, dv, mask, walk, window, l, d, lp, nsel, 1, scale};
    run_rows(kn.fwd, a, (int64_t)nnz * H);
    std::vector<float> dq((size_t)nnz * H * dk + 1, -999.f), dK((size_t)nnzk * G * dk + 1, -999.f),
        dV((size_t)nnzk * G * dv + 1, -999.f), delta((size_t)nnz * H + 1, -999.f);
    nsa::AttnBwdParams bp{dO.data(), delta.data(), dq.data(), dK.data(), dV.data(), 0};
    run_grid([&] { kn.dq(a, bp); }, (int64_t)nnz * H);
    run_grid([&] { kn.dkv(a, bp); }, (int64_t)nnzk * G);
    CHECK(dq.back() == -999.f && dK.back() == -999.f && dV.back() == -999.f && delta.back() == -999.f,
          "%s mask %d: wrote past the end", name, mask);

    // fp64: the masked dense formulation, row by row
    auto F = [](T x) { return (double)nsa::Elem<T>::to_float(x); };
    std::vector<double> rq((size_t)nnz * H * dk, 0.0), rk((size_t)nnzk * G * dk, 0.0), rv((size_t)nnzk * G * dv, 0.0);
    for (int b = 0; b < B; ++b) for (int t = 0; t < lens[b]; ++t) for (int h = 0; h < H; ++h) {
        const int tok = cu[b] + t, g = h / (H / G);
        const size_t row = (size_t)tok * H + h;
        std::vector<double> s(lensK[b], -INFINITY);
        double m = -INFINITY;
        for (int i = 0; i < lensK[b]; ++i) {
            bool vis = true;
            if (mask == nsa::kMaskCausal) vis = i <= t;
            if (mask == nsa::kMaskWindow) vis = i <= t && i >= t - window + 1;
            if (mask == nsa::kMaskBlockCausal) vis = (long)i * d + l - 1 <= t;
            if (mask == nsa::kMaskChosen) {
                vis = false;
                for (int e = 0; e < nsel; ++e) vis |= i <= t && blocks[((size_t)tok * G + g) * nsel + e] == i / lp;
            }
            if (!vis) continue;
            double dot = 0;
            for (int e = 0; e < dk; ++e) dot += F(q[row * dk + e]) * F(k[((size_t)(ck[b] + i) * G + g) * dk + e]);
            s[i] = dot * scale;
            m = std::max(m, s[i]);
        }
        if (m == -INFINITY) continue;
        double sum = 0;
        for (double x : s) if (x != -INFINITY) sum += std::exp(x - m);
        std::vector<double> P(lensK[b], 0.0), ov(dv, 0.0);
        for (int i = 0; i < lensK[b]; ++i) {
            if (s[i] == -INFINITY) continue;
            P[i] = std::exp(s[i] - m) / sum;
            for (int e = 0; e < dv; ++e) ov[e] += P[i] * F(v[((size_t)(ck[b] + i) * G + g) * dv + e]);
        }
        double D = 0;
        for (int e = 0; e < dv; ++e) D += (double)dO[row * dv + e] * ov[e];
        for (int i = 0; i < lensK[b]; ++i) {
            if (P[i] == 0.0) continue;
            const size_t kr = (size_t)(ck[b] + i) * G + g;
            double dP = 0;
            for (int e = 0; e < dv; ++e) dP += (double)dO[row * dv + e] * F(v[kr * dv + e]);
            const double dS = P[i] * (dP - D);
            for (int e = 0; e < dk; ++e) {
                rq[row * dk + e] += scale * dS * F(k[kr * dk + e]);
                rk[kr * dk + e] += scale * dS * F(q[row * dk + e]);
            }
            for (int e = 0; e < dv; ++e) rv[kr * dv + e] += P[i] * dO[row * dv + e];
        }
    }
    auto cmp = [&](const char* what, const std::vector<float>& got, const std::vector<double>& want) {
        double mx = 0, sum = 0;
        size_t bad = 0;
        for (size_t i = 0; i < want.size(); ++i) {
            if (!std::isfinite(got[i])) { ++bad; continue; }
            const double e = std::fabs(got[i] - want[i]);
            mx = std::max(mx, e);
            sum += e;
        }
        const double mae = want.empty() ? 0 : sum / want.size();
        CHECK(bad == 0 && mx < 1e-4 && mae < 1e-5, "%s mask %d walk %d %s: max abs %.3g, MAE %.3g, %zu not finite",
              name, mask, walk, what, mx, mae, bad);
        return mx;
    };
    const double eq = cmp("dq", dq, rq), ek = cmp("dk", dK, rk), ev = cmp("dv", dV, rv);
    // a second branch adds to dq
    std::vector<float> once(dq);
    bp.accumulate = 1;
    run_grid([&] { kn.dq(a, bp); }, (int64_t)nnz * H);
    for (size_t i = 0; i + 1 < dq.size(); ++i) {
        CHECK(dq[i] == once[i] + once[i], "%s mask %d: accumulated dq[%zu] %g, not 2 x %g", name, mask, i, dq[i], once[i]);
    }
    printf("emulation: bwd %s mask %d walk %d: max abs dq %.3g dk %.3g dv %.3g\n", name, mask, walk, eq, ek, ev);
}

static void test_gate_bwd(int rows, int dv) {
    std::mt19937 rng(rows * 7 + dv);
    std::uniform_real_distribution<float> U(-1, 1);
    auto vec = [&](size_t n) { std::vector<float> x(n); for (auto& y : x) y = U(rng); return x; };
    std::vector<float> gates = vec((size_t)rows * 3), dO = vec((size_t)rows * dv), oc = vec((size_t)rows * dv),
        os = vec((size_t)rows * dv), ow = vec((size_t)rows * dv);
    std::vector<float> dg((size_t)rows * 3 + 1, -999.f), dc((size_t)rows * dv + 1, -999.f), ds(dc), dw(dc);
    nsa::GateBwdParams p{gates.data(), dO.data(), oc.data(), os.data(), ow.data(), dg.data(), dc.data(), ds.data(),
        dw.data(), rows, dv};
    run_rows(nsa_gate_bwd_fp32_d4, p, rows);
    const std::vector<float>* o3[3] = {&oc, &os, &ow};
    const std::vector<float>* d3[3] = {&dc, &ds, &dw};
    double mx = 0;
    for (int r = 0; r < rows; ++r) for (int c = 0; c < 3; ++c) {
        double dot = 0;
        for (int e = 0; e < dv; ++e) dot += (double)dO[(size_t)r * dv + e] * (*o3[c])[(size_t)r * dv + e];
        mx = std::max(mx, std::fabs(dg[(size_t)r * 3 + c] - dot));
        for (int e = 0; e < dv; ++e) {
            CHECK((*d3[c])[(size_t)r * dv + e] == gates[(size_t)r * 3 + c] * dO[(size_t)r * dv + e],
                  "gate_bwd: d_o of branch %d row %d col %d", c, r, e);
        }
    }
    CHECK(mx < 1e-5 && dg.back() == -999.f && dc.back() == -999.f, "gate_bwd rows %d dv %d: max abs %.3g", rows, dv, mx);
    printf("emulation: gate_bwd rows %d dv %d: max abs d_gates %.3g\n", rows, dv, mx);
}

static void test_compress_avg_bwd(std::vector<int> lens, int G, int D, int l, int d) {
    std::vector<int> cu(1, 0), cc(1, 0);
    for (int s : lens) { cu.push_back(cu.back() + s); cc.push_back(cc.back() + (s < l ? 0 : (s - l) / d + 1)); }
    const int nnz = cu.back(), nnzc = cc.back();
    std::mt19937 rng(nnz + l * 3 + d);
    std::uniform_real_distribution<float> U(-1, 1);
    std::vector<float> dc((size_t)nnzc * G * D);
    for (auto& x : dc) x = U(rng);
    std::vector<float> dr((size_t)nnz * G * D + 1, -999.f);
    nsa::CompressAvgBwdParams p{dc.data(), dr.data(), cu.data(), cc.data(), nnz, (int)lens.size(), G, D, l, d};
    for (int grid : {1, 5}) {
        std::fill(dr.begin(), dr.end() - 1, -999.f);
        emu_gridDim = {(unsigned)grid, 1, 1};
        emu_blockDim = {256, 1, 1};
        for (int bx = 0; bx < grid; ++bx) for (int tx = 0; tx < 256; ++tx) {
            emu_blockIdx = {(unsigned)bx, 0, 0};
            emu_threadIdx = {(unsigned)tx, 0, 0};
            nsa_compress_avg_bwd_fp32(p);
        }
        for (size_t b = 0; b < lens.size(); ++b) for (int pos = 0; pos < lens[b]; ++pos) for (int g = 0; g < G; ++g)
            for (int c = 0; c < D; ++c) {
                float sum = 0.f;
                for (int i = 0; i < cc[b + 1] - cc[b]; ++i) {
                    if (i * d <= pos && pos < i * d + l) sum += dc[((size_t)(cc[b] + i) * G + g) * D + c];
                }
                const float want = sum / (float)l;
                const float got = dr[((size_t)(cu[b] + pos) * G + g) * D + c];
                CHECK(std::memcmp(&got, &want, 4) == 0, "compress_avg_bwd l=%d d=%d seq %zu pos %d: %g, not %g", l, d, b,
                      pos, got, want);
            }
        CHECK(dr.back() == -999.f, "compress_avg_bwd: wrote past the end");
    }
    printf("emulation: compress_avg_bwd l=%d d=%d: bitwise\n", l, d);
}

int main() {
    const Kernels f32{nsa_attention_fp32_d1, nsa_attention_bwd_dq_fp32_d1, nsa_attention_bwd_dkv_fp32_d1};
    const Kernels b16{nsa_attention_bf16_d2, nsa_attention_bwd_dq_bf16_d2, nsa_attention_bwd_dkv_bf16_d2};
    for (int mask = 0; mask <= 4; ++mask) for (int walk = 0; walk < 2; ++walk) {
        test_branch<float>(f32, "fp32 D=16", {0, 23, 1, 17}, 4, 2, 16, 16, mask, walk, 7, 8, 4, 8, 3);
        test_branch<__nv_bfloat16>(b16, "bf16 Dk=40 Dv=24", {19, 0, 9}, 4, 1, 40, 24, mask, walk, 5, 4, 2, 4, 2);
    }
    test_gate_bwd(37, 128);
    test_gate_bwd(5, 16);
    test_compress_avg_bwd({0, 40, 3, 65}, 2, 8, 8, 4);
    test_compress_avg_bwd({31, 64}, 1, 4, 32, 16);
    test_compress_avg_bwd({10, 20}, 2, 4, 4, 4);
    if (fails) {
        printf("attention bwd emulation: %d FAILED\n", fails);
        return 1;
    }
    printf("attention bwd emulation: OK\n");
    return 0;
}
