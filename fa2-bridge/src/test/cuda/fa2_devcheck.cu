// Kernel developer's check for the FA-2 kernels, runnable on a bare GPU host with nvcc and no Java:
//
//   nvcc -std=c++17 -O3 -gencode arch=compute_90a,code=sm_90a -I fa2-bridge/src/main/cuda \
//        -DNSA_FA2_ONLY_DIMS=128 fa2-bridge/src/test/cuda/fa2_devcheck.cu -o fa2_devcheck && ./fa2_devcheck
//
// It compares the kernels (fast and exact-P) with a plain fp32 attention kernel on small shapes (every
// mask, GQA, a ragged length, split-KV) and times the causal forward at long lengths. The shipped
// verification is the Java parity suites (parity-tests, fa2-bridge GPU tests); this exists to iterate on
// the kernels without building the distribution.
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <vector>
#include <random>
#include <algorithm>

#include "fa2_fwd.cu"

#ifndef NSA_FA2_ONLY_DIMS
#error "build with -DNSA_FA2_ONLY_DIMS=<head dim>"
#endif
constexpr int D = NSA_FA2_ONLY_DIMS;

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { \
    std::printf("CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__); std::exit(1); } } while (0)

using bf16 = __nv_bfloat16;
using KernelFn = void (*)(nsa::Fa2Params);

// Plain attention: one thread per (row, head), fp32, mask per key. Dense layout, positions 0.
__global__ void naive_attention(const bf16* q, const bf16* k, const bf16* v, float* o, float* lse, int B, int S, int Sk,
                                int H, int Hkv, int mask, int window, int l, int d, float scale) {
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= B * S * H) return;
    int h = idx % H, t = (idx / H) % S, b = idx / (H * S);
    int kvh = h / (H / Hkv);
    const bf16* qp = q + ((int64_t)(b * S + t) * H + h) * D;
    float m = -INFINITY, sum = 0.f;
    float acc[D];
    for (int c = 0; c < D; ++c) acc[c] = 0.f;
    for (int s = 0; s < Sk; ++s) {
        bool vis = mask == 0 || (mask == 1 && s <= t) || (mask == 2 && s <= t && s > t - window) ||
                   (mask == 3 && (int64_t)s * d + l - 1 <= t);
        if (!vis) continue;
        const bf16* kp = k + ((int64_t)(b * Sk + s) * Hkv + kvh) * D;
        float dot = 0.f;
        for (int c = 0; c < D; ++c) dot += __bfloat162float(qp[c]) * __bfloat162float(kp[c]);
        dot *= scale;
        float mn = fmaxf(m, dot);
        float corr = m == -INFINITY ? 0.f : expf(m - mn);
        float w = expf(dot - mn);
        const bf16* vp = v + ((int64_t)(b * Sk + s) * Hkv + kvh) * D;
        for (int c = 0; c < D; ++c) acc[c] = acc[c] * corr + w * __bfloat162float(vp[c]);
        sum = sum * corr + w;
        m = mn;
    }
    for (int c = 0; c < D; ++c) o[(int64_t)idx * D + c] = sum > 0 ? acc[c] / sum : 0.f;
    lse[idx] = sum > 0 ? m + logf(sum) : -INFINITY;
}

#define NSA_SYM_(MN, DIM, SUF) nsa_fa2_fwd_##MN##_bf16_dk##DIM##_dv##DIM##SUF
#define NSA_SYM(MN, DIM, SUF) NSA_SYM_(MN, DIM, SUF)
#define NSA_PICK(MN) (exact ? (KernelFn)NSA_SYM(MN, NSA_FA2_ONLY_DIMS, _exact) : (KernelFn)NSA_SYM(MN, NSA_FA2_ONLY_DIMS, ))

static KernelFn pick(int mask, bool exact) {
    switch (mask) {
        case 0: return NSA_PICK(none);
        case 1: return NSA_PICK(causal);
        case 2: return NSA_PICK(window);
        default: return NSA_PICK(blockcausal);
    }
}

struct Case { int B, S, Sk, H, Hkv, mask, window, l, d, splits; };

static nsa::Fa2Params make_params(const Case& c, void* q, void* k, void* v, void* o, float* lse, float* oacc, float* lacc) {
    nsa::Fa2Params p{};
    p.q = q; p.k = k; p.v = v; p.o = o; p.lse = lse; p.o_accum = oacc; p.lse_accum = lacc;
    p.q_tok_stride = (int64_t)c.H * D; p.q_head_stride = D; p.q_batch_stride = (int64_t)c.S * c.H * D;
    p.k_tok_stride = (int64_t)c.Hkv * D; p.k_head_stride = D; p.k_batch_stride = (int64_t)c.Sk * c.Hkv * D;
    p.v_tok_stride = p.k_tok_stride; p.v_head_stride = D; p.v_batch_stride = p.k_batch_stride;
    p.o_tok_stride = p.q_tok_stride; p.o_head_stride = D; p.o_batch_stride = p.q_batch_stride;
    p.lse_tok_stride = c.H; p.lse_batch_stride = (int64_t)c.S * c.H;
    p.batch = c.B; p.heads = c.H; p.kv_heads = c.Hkv; p.seqlen_q = c.S; p.seqlen_k = c.Sk; p.rows = c.B * c.S;
    p.dk = D; p.dv = D; p.mask = c.mask; p.window = c.window; p.cmp_len = c.l; p.cmp_stride = c.d;
    p.out_fp32 = 1; p.num_splits = c.splits;
    p.scale = 1.f / std::sqrt((float)D); p.scale_log2 = p.scale * 1.4426950408889634f;
    return p;
}

static void launch(KernelFn f, const nsa::Fa2Params& p, cudaStream_t st = 0) {
    using Tl = nsa::fa2::Tile<D, D>;
    int smem = Tl::kSmemElems * 2;
    CK(cudaFuncSetAttribute((const void*)f, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    dim3 grid((p.seqlen_q + Tl::kBM - 1) / Tl::kBM, p.heads, p.batch * p.num_splits);
    f<<<grid, nsa::fa2::kThreads, smem, st>>>(p);
    if (p.num_splits > 1) {
        int items = p.rows * p.heads;
        nsa_fa2_combine_bf16<<<(items + 3) / 4, nsa::fa2::kThreads, 0, st>>>(p);
    }
}

static std::vector<bf16> random_bf16(size_t n, std::mt19937& g, float a) {
    std::uniform_real_distribution<float> u(-a, a);
    std::vector<bf16> v(n);
    for (auto& x : v) x = __float2bfloat16(u(g));
    return v;
}

int main() {
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    std::printf("device %s (sm_%d%d, %d SMs), head dim %d\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount, D);
    std::mt19937 g(7);
    int failures = 0;
    std::vector<Case> cases = {
        {2, 1000, 1000, 4, 4, 0, 0, 0, 0, 1}, {2, 1000, 1000, 4, 1, 1, 0, 0, 0, 1}, {1, 1000, 1000, 8, 2, 2, 64, 0, 0, 1},
        {1, 777, 777, 4, 4, 2, 512, 0, 0, 1}, {1, 1000, 61, 4, 4, 3, 0, 32, 16, 1}, {1, 1000, 15, 4, 4, 3, 0, 64, 64, 1},
        {2, 17, 17, 16, 1, 1, 0, 0, 0, 1}, {1, 1, 1, 4, 4, 1, 0, 0, 0, 1}, {1, 64, 64, 4, 4, 2, 1, 0, 0, 1},
        {2, 4, 3000, 8, 2, 0, 0, 0, 0, 4}, {1, 1000, 1000, 4, 4, 1, 0, 0, 0, 3}};
    for (const Case& c : cases) {
        size_t nq = (size_t)c.B * c.S * c.H * D, nk = (size_t)c.B * c.Sk * c.Hkv * D;
        auto hq = random_bf16(nq, g, 2.f), hk = random_bf16(nk, g, 2.f), hv = random_bf16(nk, g, 1.f);
        bf16 *q, *k, *v; float *o, *lse, *ro, *rlse, *oacc = nullptr, *lacc = nullptr;
        CK(cudaMalloc(&q, nq * 2)); CK(cudaMalloc(&k, nk * 2)); CK(cudaMalloc(&v, nk * 2));
        CK(cudaMalloc(&o, nq * 4)); CK(cudaMalloc(&ro, nq * 4));
        CK(cudaMalloc(&lse, nq / D * 4)); CK(cudaMalloc(&rlse, nq / D * 4));
        if (c.splits > 1) { CK(cudaMalloc(&oacc, nq * 4 * c.splits)); CK(cudaMalloc(&lacc, nq / D * 4 * c.splits)); }
        CK(cudaMemcpy(q, hq.data(), nq * 2, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(k, hk.data(), nk * 2, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(v, hv.data(), nk * 2, cudaMemcpyHostToDevice));
        int rows = c.B * c.S * c.H;
        naive_attention<<<(rows + 127) / 128, 128>>>(q, k, v, ro, rlse, c.B, c.S, c.Sk, c.H, c.Hkv, c.mask, c.window, c.l, c.d,
                                                    1.f / std::sqrt((float)D));
        CK(cudaGetLastError());
        std::vector<float> r(nq), rl(nq / D), x(nq), xl(nq / D);
        CK(cudaMemcpy(r.data(), ro, nq * 4, cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(rl.data(), rlse, nq / D * 4, cudaMemcpyDeviceToHost));
        for (int exact = 0; exact < 2; ++exact) {
            CK(cudaMemset(o, 0xff, nq * 4));
            launch(pick(c.mask, exact), make_params(c, q, k, v, o, lse, oacc, lacc));
            CK(cudaDeviceSynchronize());
            CK(cudaMemcpy(x.data(), o, nq * 4, cudaMemcpyDeviceToHost));
            CK(cudaMemcpy(xl.data(), lse, nq / D * 4, cudaMemcpyDeviceToHost));
            double mae = 0, mx = 0, lmx = 0; long bad = 0;
            for (size_t i = 0; i < nq; ++i) {
                if (!std::isfinite(x[i])) { ++bad; continue; }
                double e = std::fabs((double)x[i] - r[i]); mae += e; mx = std::max(mx, e);
            }
            for (size_t i = 0; i < nq / D; ++i) {
                if (std::isinf(rl[i]) && std::isinf(xl[i])) continue;
                if (!std::isfinite(xl[i])) { ++bad; continue; }
                lmx = std::max(lmx, (double)std::fabs(xl[i] - rl[i]));
            }
            mae /= nq;
            bool ok = bad == 0 && (exact ? mae < 1e-5 : mae < 2e-3) && lmx < 1e-3;
            failures += !ok;
            std::printf("%s B=%d S=%d Sk=%d H=%d Hkv=%d mask=%d w=%d l=%d d=%d splits=%d %s: MAE %.3e max %.3e lse max %.3e nonfinite %ld\n",
                        ok ? "PASS" : "FAIL", c.B, c.S, c.Sk, c.H, c.Hkv, c.mask, c.window, c.l, c.d, c.splits,
                        exact ? "exact" : "fast ", mae, mx, lmx, bad);
        }
        cudaFree(q); cudaFree(k); cudaFree(v); cudaFree(o); cudaFree(ro); cudaFree(lse); cudaFree(rlse);
        if (oacc) { cudaFree(oacc); cudaFree(lacc); }
    }

    // Timing: causal (and window 512) forward, bf16, B·S = 16k tokens, H = 2048 / D, 3 rotating input sets.
    int H = 2048 / D;
    for (int mask : {1, 0, 2}) {
        for (int S : {1024, 4096, 16384}) {
            int B = std::max(1, 16384 / S);
            Case c{B, S, S, H, H, mask, 512, 0, 0, 1};
            size_t n = (size_t)B * S * H * D;
            bf16 *q[3], *k[3], *v[3]; bf16* o;
            for (int i = 0; i < 3; ++i) {
                CK(cudaMalloc(&q[i], n * 2)); CK(cudaMalloc(&k[i], n * 2)); CK(cudaMalloc(&v[i], n * 2));
                auto h = random_bf16(n, g, 1.f);
                CK(cudaMemcpy(q[i], h.data(), n * 2, cudaMemcpyHostToDevice));
                CK(cudaMemcpy(k[i], h.data(), n * 2, cudaMemcpyHostToDevice));
                CK(cudaMemcpy(v[i], h.data(), n * 2, cudaMemcpyHostToDevice));
            }
            CK(cudaMalloc(&o, n * 2));
            float* lse; CK(cudaMalloc(&lse, n / D * 4));
            KernelFn f = pick(mask, false);
            std::vector<float> ms;
            cudaEvent_t e0, e1; cudaEventCreate(&e0); cudaEventCreate(&e1);
            for (int it = 0; it < 25; ++it) {
                nsa::Fa2Params p = make_params(c, q[it % 3], k[it % 3], v[it % 3], o, lse, nullptr, nullptr);
                p.out_fp32 = 0;
                cudaEventRecord(e0);
                launch(f, p);
                cudaEventRecord(e1);
                CK(cudaEventSynchronize(e1));
                float t; cudaEventElapsedTime(&t, e0, e1);
                if (it >= 5) ms.push_back(t);
            }
            std::sort(ms.begin(), ms.end());
            double med = ms[ms.size() / 2];
            double pairs = mask == 0 ? (double)S * S : mask == 1 ? (double)S * (S + 1) / 2
                         : (double)512 * S - 512.0 * 511 / 2;
            double tflops = 4.0 * B * H * pairs * D / (med * 1e-3) / 1e12;
            std::printf("TIME mask=%d B=%d S=%d H=%d D=%d: median %.3f ms, %.1f TFLOP/s\n", mask, B, S, H, D, med, tflops);
            for (int i = 0; i < 3; ++i) { cudaFree(q[i]); cudaFree(k[i]); cudaFree(v[i]); }
            cudaFree(o); cudaFree(lse);
        }
    }
    std::printf("%s: %d failures\n", failures ? "FAILED" : "ALL PASSED", failures);
    return failures ? 1 : 0;
}
