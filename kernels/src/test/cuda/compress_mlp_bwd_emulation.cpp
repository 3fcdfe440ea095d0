// Host emulation of phi = mlp's reference backward (compress_mlp_bwd.cu), no GPU: the act kernel with a whole 256-thread
// block as coroutines (block_shim.h), the weights and raw kernels thread by thread over grids smaller than the work
// (grid-stride). Against the fp64 chain rule through W2, SiLU, W1 and P: the raw tokens' gradient (tokens in several
// blocks, tokens in none, sequences shorter than l, an empty sequence) and every parameter's, summed over all
// compressed tokens and groups. Run: scripts/emulate-kernels.sh
#include "warp_shim.h"
#include <cstdio>
#include <random>
#include <vector>

#include "block_shim.h"
#include "compress_mlp_bwd.cu"

static int fails = 0;
#define CHECK(c, ...) do { if (!(c)) { if (fails++ < 10) { printf(__VA_ARGS__); printf("\n"); } } } while (0)

template <typename K>
static void grid_stride(K kernel, const nsa::CompressMlpBwdParams& p, int grid) {
    emu_gridDim = {(unsigned)grid, 1, 1};
    emu_blockDim = {256, 1, 1};
    for (int bx = 0; bx < grid; ++bx) for (int tx = 0; tx < 256; ++tx) {
        emu_blockIdx = {(unsigned)bx, 0, 0};
        emu_threadIdx = {(unsigned)tx, 0, 0};
        kernel(p);
    }
}

// max |got - want| over max(1, max |want|): the error relative to the gradient's scale
static double rel_err(const std::vector<float>& got, const std::vector<double>& want, size_t n) {
    double mx = 0, scale = 1;
    for (size_t i = 0; i < n; ++i) scale = std::max(scale, std::fabs(want[i]));
    for (size_t i = 0; i < n; ++i) {
        if (!std::isfinite(got[i])) return INFINITY;
        mx = std::max(mx, std::fabs(got[i] - want[i]));
    }
    return mx / scale;
}

static void test(std::vector<int> lens, int G, int D, int l, int d, int hidden) {
    std::mt19937 rng(lens.size() * 37 + D * 5 + l * 3 + d + hidden);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    std::vector<int> cu(1, 0), cc(1, 0);
    for (int s : lens) { cu.push_back(cu.back() + s); cc.push_back(cc.back() + (s < l ? 0 : (s - l) / d + 1)); }
    const int nnz = cu.back(), ncmp = cc.back(), in = l * D, B = lens.size();
    auto vec = [&](size_t n, float sc) { std::vector<float> x(n); for (auto& y : x) y = sc * u(rng); return x; };
    std::vector<float> k = vec((size_t)std::max(1, nnz) * G * D, 1.f), dout = vec((size_t)std::max(1, ncmp) * G * D, 1.f);
    std::vector<float> pos = vec(in, 0.5f), w1 = vec((size_t)hidden * in, 1.7f / std::sqrt((float)in)),
        b1 = vec(hidden, 0.5f), w2 = vec((size_t)D * hidden, 1.7f / std::sqrt((float)hidden));
    const size_t cells = (size_t)std::max(1, ncmp) * G;
    std::vector<float> x(cells * in), a(cells * hidden), dz(cells * hidden), dx(cells * in);
    std::vector<float> draw((size_t)nnz * G * D + 1, -999.f), dpos(in + 1, -999.f), dw1((size_t)hidden * in + 1, -999.f),
        db1(hidden + 1, -999.f), dw2((size_t)D * hidden + 1, -999.f), db2(D + 1, -999.f);
    nsa::CompressMlpBwdParams p{k.data(), dout.data(), cu.data(), cc.data(), pos.data(), w1.data(), b1.data(), w2.data(),
        x.data(), a.data(), dz.data(), dx.data(), draw.data(), dpos.data(), dw1.data(), db1.data(), dw2.data(),
        db2.data(), nnz, ncmp, B, G, D, l, d, hidden};
    if (ncmp > 0) launch_blocks([&] { nsa_compress_mlp_bwd_fp32_act(p); }, ncmp, G, 1, 256);
    grid_stride(nsa_compress_mlp_bwd_fp32_weights, p, 3);
    grid_stride(nsa_compress_mlp_bwd_fp32_raw, p, 2);
    CHECK(draw.back() == -999.f && dpos.back() == -999.f && dw1.back() == -999.f && db1.back() == -999.f
          && dw2.back() == -999.f && db2.back() == -999.f, "mlp bwd D=%d l=%d: wrote past an end", D, l);

    std::vector<double> rraw((size_t)nnz * G * D, 0.0), rpos(in, 0.0), rw1((size_t)hidden * in, 0.0), rb1(hidden, 0.0),
        rw2((size_t)D * hidden, 0.0), rb2(D, 0.0);
    for (int b = 0; b < B; ++b) for (int i = 0; i < cc[b + 1] - cc[b]; ++i) for (int g = 0; g < G; ++g) {
        const int64_t first = cu[b] + (int64_t)i * d;
        const float* go = &dout[((size_t)(cc[b] + i) * G + g) * D];
        std::vector<double> xd(in), z(hidden), ad(hidden), dzd(hidden);
        for (int e = 0; e < in; ++e) xd[e] = (double)k[((first + e / D) * G + g) * D + e % D] + pos[e];
        for (int j = 0; j < hidden; ++j) {
            double s = b1[j];
            for (int e = 0; e < in; ++e) s += (double)w1[(size_t)j * in + e] * xd[e];
            z[j] = s;
            const double sg = 1 / (1 + std::exp(-s));
            ad[j] = s * sg;
            double da = 0;
            for (int c = 0; c < D; ++c) da += (double)w2[(size_t)c * hidden + j] * go[c];
            dzd[j] = da * sg * (1 + s * (1 - sg));
            rb1[j] += dzd[j];
            for (int e = 0; e < in; ++e) rw1[(size_t)j * in + e] += dzd[j] * xd[e];
        }
        for (int c = 0; c < D; ++c) {
            rb2[c] += go[c];
            for (int j = 0; j < hidden; ++j) rw2[(size_t)c * hidden + j] += go[c] * ad[j];
        }
        for (int e = 0; e < in; ++e) {
            double s = 0;
            for (int j = 0; j < hidden; ++j) s += (double)w1[(size_t)j * in + e] * dzd[j];
            rpos[e] += s;
            rraw[((first + e / D) * G + g) * D + e % D] += s;
        }
    }
    const double er = rel_err(draw, rraw, rraw.size()), ep = rel_err(dpos, rpos, in), e1 = rel_err(dw1, rw1, rw1.size()),
        eb1 = rel_err(db1, rb1, hidden), e2 = rel_err(dw2, rw2, rw2.size()), eb2 = rel_err(db2, rb2, D);
    const double worst = std::max({er, ep, e1, eb1, e2, eb2});
    CHECK(worst < 1e-5, "mlp bwd lens %zu D=%d l=%d d=%d hidden=%d: relative errors raw %.3g pos %.3g w1 %.3g b1 %.3g "
          "w2 %.3g b2 %.3g", lens.size(), D, l, d, hidden, er, ep, e1, eb1, e2, eb2);
    // a raw token in no block (past the last block start, or in a sequence shorter than l) gets exactly 0
    for (int b = 0; b < B; ++b) for (int t = 0; t < lens[b]; ++t) {
        const int nb = cc[b + 1] - cc[b];
        const bool covered = nb > 0 && t < (nb - 1) * d + l;
        if (covered) continue;
        for (int g = 0; g < G; ++g) for (int c = 0; c < D; ++c) {
            CHECK(draw[((size_t)(cu[b] + t) * G + g) * D + c] == 0.f, "mlp bwd: uncovered token %d of sequence %d", t, b);
        }
    }
    printf("emulation: compress_mlp bwd lens %zu D=%d l=%d d=%d hidden=%d: worst relative error %.3g\n", lens.size(), D,
           l, d, hidden, worst);
}

int main() {
    test({0, 9, 3, 20}, 2, 8, 4, 2, 16);
    test({40}, 1, 16, 8, 8, 32);
    test({37, 5}, 2, 24, 7, 3, 40);   // D, hidden not multiples of 32; tokens in up to three blocks
    if (fails) {
        printf("compress_mlp bwd emulation: %d FAILED\n", fails);
        return 1;
    }
    printf("compress_mlp bwd emulation: OK\n");
    return 0;
}
