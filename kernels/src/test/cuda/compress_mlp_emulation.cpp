// Host emulation of compress_mlp.cu with a whole thread block as coroutines: the 256 threads of a block
// run round-robin, one step per sync point (__shfl_xor_sync, __syncthreads), so the warp butterflies and the
// block barriers run as written. Checks, on a machine without a GPU: results bitwise equal to a CPU
// computation in the kernel's fixed order, within a rounding bound of fp64, for fp32/fp16/bf16 inputs,
// varlen with zero-length sequences, strided k, several (l, d, D, hidden), grids smaller than the work
// (grid-stride over items), and NaN rows where the device cu disagrees with the plan.
// Run (about two minutes; scripts/emulate-kernels.sh runs it with the others):
//   g++ -std=c++20 -O2 -ffp-contract=off -w -I$CUDA_HOME/include -Ikernels/src/main/cuda -Ikernels/src/test/cuda \
//       kernels/src/test/cuda/compress_mlp_emulation.cpp -o /tmp/emu_mlp && /tmp/emu_mlp
#include "warp_shim.h"
#include <cstdio>
#include <random>
#include <vector>

#include "block_shim.h"
#include "compress_mlp.cu"

static int fails = 0;
#define CHECK(c, ...) do { if (!(c)) { if (fails++ < 10) { printf(__VA_ARGS__); printf("\n"); } } } while (0)

template <typename T> T cvt(float x);
template <> float cvt<float>(float x) { return x; }
template <> __half cvt<__half>(float x) { return __float2half_rn(x); }
template <> __nv_bfloat16 cvt<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }

static float warp_dot(const float* w, const float* x, int n) {   // the kernel's order
    float lane[32];
    for (int t = 0; t < 32; ++t) {
        float a = 0.f;
        for (int e = t; e < n; e += 32) a = std::fma(w[e], x[e], a);
        lane[t] = a;
    }
    for (int off = 16; off > 0; off >>= 1) {
        float nx[32];
        for (int t = 0; t < 32; ++t) nx[t] = __fadd_rn(lane[t], lane[t ^ off]);
        for (int t = 0; t < 32; ++t) lane[t] = nx[t];
    }
    return lane[0];
}

template <typename T>
void test(void (*kernel)(nsa::CompressMlpParams), std::vector<int> lens, int G, int D, int l, int d, int hidden,
          int grid, int pad, bool corrupt = false) {
    std::mt19937 rng(lens.size() * 131 + D * 7 + l + hidden);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    std::vector<int> cu(lens.size() + 1, 0), cc(lens.size() + 1, 0);
    for (size_t b = 0; b < lens.size(); ++b) {
        cu[b + 1] = cu[b] + lens[b];
        cc[b + 1] = cc[b] + (lens[b] < l ? 0 : (lens[b] - l) / d + 1);
    }
    const int nnz = cu.back(), ncmp = cc.back(), in = l * D;
    const int64_t ts = (int64_t)G * (D + pad);   // strided k: pad features between groups
    std::vector<T> k((size_t)std::max(1, nnz) * ts);
    for (auto& v : k) v = cvt<T>(2 * u(rng));
    std::vector<float> pos(in), w1((size_t)hidden * in), b1(hidden), w2((size_t)D * hidden), b2(D);
    for (auto& v : pos) v = 0.5f * u(rng);
    for (auto& v : w1) v = 1.7f / std::sqrt((float)in) * u(rng);
    for (auto& v : b1) v = 0.5f * u(rng);
    for (auto& v : w2) v = 1.7f / std::sqrt((float)hidden) * u(rng);
    for (auto& v : b2) v = 0.5f * u(rng);
    std::vector<float> out((size_t)std::max(1, ncmp) * G * D, 12345.f);
    std::vector<int> devcu = cu;
    if (corrupt) devcu.back() = cu.back() - 24;
    nsa::CompressMlpParams p{k.data(), out.data(), devcu.data(), cc.data(), pos.data(), w1.data(), b1.data(),
                             w2.data(), b2.data(), ts, D + pad, (int64_t)G * D, D,
                             nnz, ncmp, (int)lens.size(), G, D, l, d, hidden};
    launch_block(kernel, p, grid);
    std::vector<float> x(in), h(hidden);
    for (size_t b = 0; b < lens.size(); ++b) for (int i = 0; i < cc[b + 1] - cc[b]; ++i) for (int g = 0; g < G; ++g) {
        const int64_t first = cu[b] + (int64_t)i * d;
        const bool ok = first + l <= devcu[b + 1];
        std::vector<double> xd(in);
        for (int e = 0; e < in; ++e) {
            const float kv = nsa::Elem<T>::to_float(k[(first + e / D) * ts + g * (D + pad) + e % D]);
            x[e] = __fadd_rn(kv, pos[e]);
            xd[e] = (double)kv + pos[e];
        }
        std::vector<double> hd(hidden), hm(hidden);
        for (int j = 0; j < hidden; ++j) {
            const float a = __fadd_rn(warp_dot(&w1[(size_t)j * in], x.data(), in), b1[j]);
            h[j] = __fdiv_rn(a, __fadd_rn(1.f, expf(-a)));
            double s = b1[j], m = std::fabs(b1[j]);
            for (int e = 0; e < in; ++e) { s += (double)w1[(size_t)j * in + e] * xd[e]; m += std::fabs(w1[(size_t)j * in + e] * xd[e]); }
            hd[j] = s / (1 + std::exp(-s));
            hm[j] = std::fabs(hd[j]) + 1.1 * m;
        }
        for (int c = 0; c < D; ++c) {
            const float got = out[((size_t)(cc[b] + i) * G + g) * D + c];
            if (!ok) { CHECK(std::isnan(got), "expected NaN b=%zu i=%d", b, i); continue; }
            const float want = __fadd_rn(warp_dot(&w2[(size_t)c * hidden], h.data(), hidden), b2[c]);
            CHECK(std::memcmp(&got, &want, 4) == 0, "bitwise D=%d l=%d hidden=%d b=%zu i=%d g=%d c=%d: got %.9g want %.9g",
                  D, l, hidden, b, i, g, c, got, want);
            double o = b2[c], m = std::fabs(b2[c]);
            for (int j = 0; j < hidden; ++j) { o += (double)w2[(size_t)c * hidden + j] * hd[j]; m += std::fabs(w2[(size_t)c * hidden + j]) * hm[j]; }
            const double n = std::max(in, hidden) / 32.0 + 12, gamma = n * 0x1p-24 / (1 - n * 0x1p-24);
            CHECK(std::fabs(got - o) <= 2 * gamma * m, "fp64 D=%d l=%d hidden=%d: got %.9g ref %.9g bound %.3g", D, l,
                  hidden, got, o, 2 * gamma * m);
        }
    }
}

int main() {
    std::vector<std::vector<int>> batches = {{1}, {63}, {64}, {65}, {0, 63, 1, 0, 200, 64, 65, 0}};
    int cases = 0;
    for (auto& lens : batches) for (int D : {16, 64}) for (auto ld : std::vector<std::pair<int,int>>{{32,16},{16,16},{8,4}})
        for (int hidden : {D, 2 * D}) {
            if (D == 64 && lens.size() == 1 && lens[0] != 65) continue;   // keep the run short
            test<float>(nsa_compress_mlp_fp32, lens, 2, D, ld.first, ld.second, hidden, 3, 0);
            test<__half>(nsa_compress_mlp_fp16, lens, 2, D, ld.first, ld.second, hidden, 1000, 8);
            test<__nv_bfloat16>(nsa_compress_mlp_bf16, lens, 2, D, ld.first, ld.second, hidden, 5, 0);
            cases += 3;
        }
    test<float>(nsa_compress_mlp_fp32, {300}, 1, 128, 32, 16, 256, 4, 0);
    test<__nv_bfloat16>(nsa_compress_mlp_bf16, {100}, 2, 24, 7, 3, 40, 2, 4);   // D, hidden not multiples of 32
    test<float>(nsa_compress_mlp_fp32, {64}, 2, 16, 32, 16, 32, 2, 0, true);     // device cu says 40 tokens
    printf("compress_mlp emulation: %d cases, %s (%d failures)\n", cases + 3, fails ? "FAIL" : "OK", fails);
    return fails != 0;
}
