// The FA-2 guard's non-finite count (fa2_support.cu, decisions D17 / D36) on one GPU: the per-element kernel and the
// 16-byte-word kernel on the paper config's 64k branch output (65536 x 64 x 128 elements) per dtype, with six NaN / Inf
// injected; prints the count each found and the best of 10 timed runs.
//   nvcc -std=c++17 -O3 -gencode arch=compute_90a,code=sm_90a -I fa2-bridge/src/main/cuda \
//       fa2-bridge/src/test/cuda/guard_count_bench.cu -o guard_count_bench && ./guard_count_bench
#include <cstdio>
#include <vector>

#include "fa2_support.cu"

template <typename T>
static void run(const char* name, void (*scalar)(nsa::Fa2ElementwiseParams), void (*words)(nsa::Fa2ElementwiseParams),
                int sms) {
    const int64_t n = 65536LL * 64 * 128;
    T* x;
    unsigned* c;
    cudaMalloc(&x, n * sizeof(T));
    cudaMalloc(&c, 4);
    cudaMemset(x, 0, n * sizeof(T));
    const std::vector<int64_t> at = {0, 1, 7, 12345, n / 2 + 3, n - 1};
    const unsigned char nan[4] = {0xff, 0xff, 0xff, 0x7f};   // little-endian fp32 NaN; its top two bytes a 16-bit NaN
    for (int64_t a : at) cudaMemcpy(x + a, nan + (sizeof(T) == 4 ? 0 : 2), sizeof(T), cudaMemcpyHostToDevice);
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    for (int k = 0; k < 2; ++k) {
        const int64_t threads = k == 0 ? n : n / (16 / sizeof(T));
        const int grid = (int)std::min<int64_t>((threads + 255) / 256, 8LL * sms);
        nsa::Fa2ElementwiseParams p{x, c, n};
        float best = 1e9f;
        unsigned got = 0;
        for (int r = 0; r < 12; ++r) {
            cudaMemset(c, 0, 4);
            cudaEventRecord(e0);
            (k == 0 ? scalar : words)<<<grid, 256>>>(p);
            cudaEventRecord(e1);
            cudaEventSynchronize(e1);
            float ms;
            cudaEventElapsedTime(&ms, e0, e1);
            if (r >= 2 && ms < best) best = ms;
            cudaMemcpy(&got, c, 4, cudaMemcpyDeviceToHost);
        }
        printf("%s %s n=%lld count=%u (want %zu) best_ms=%.3f GB/s=%.0f\n", name, k ? "v16" : "per-element",
               (long long)n, got, at.size(), best, n * sizeof(T) / best / 1e6);
    }
    cudaFree(x);
    cudaFree(c);
}

int main() {
    int sms;
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
    run<float>("fp32", nsa_fa2_nonfinite_fp32, nsa_fa2_nonfinite_fp32_v16, sms);
    run<__nv_bfloat16>("bf16", nsa_fa2_nonfinite_bf16, nsa_fa2_nonfinite_bf16_v16, sms);
    run<__half>("fp16", nsa_fa2_nonfinite_fp16, nsa_fa2_nonfinite_fp16_v16, sms);
    printf("%s\n", cudaGetErrorString(cudaGetLastError()));
    return 0;
}
