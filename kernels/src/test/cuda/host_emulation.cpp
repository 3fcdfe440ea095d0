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

int main() {
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
    const int64_t want[] = {66, 136, 0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120, 124, 128,
                            96, 0, 8, 16, 24, 32, 40, 48, 56, 64, 68, 72, 76, 80, 84, 88,
                            184, 0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120, 128,
                            136, 140, 144, 148, 152, 156, 160, 164, 168, 172, 176, 180};
    const int nwant = sizeof(want) / sizeof(want[0]);
    CHECK(buf[0] == nwant, "probe count %ld", (long)buf[0]);
    for (int i = 0; i < nwant; ++i) CHECK(buf[i] == want[i], "probe[%d] = %ld, Java expects %ld", i, (long)buf[i], (long)want[i]);
    printf("%s (%d failures)\n", fails ? "FAIL" : "OK", fails);
    return fails != 0;
}
