// The standalone harness's host side (tc_harness.cu): shapes, device buffers, fills, the kernels' symbols, launches,
// one problem's device tensors and the params of every kernel it times, CUDA-event timing, result comparison.
// Included by tc_harness.cu after the kernel sources.
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { \
    fprintf(stderr, "CUDA error %s at %s:%d: %s\n", cudaGetErrorName(e_), __FILE__, __LINE__, cudaGetErrorString(e_)); exit(2); } } while (0)

template <typename T>
__global__ void fill_kernel(T* x, size_t n, uint32_t seed, float amp) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        uint32_t h = (uint32_t)i * 2654435761u ^ seed;
        h ^= h >> 16; h *= 0x85ebca6bu; h ^= h >> 13; h *= 0xc2b2ae35u; h ^= h >> 16;
        uint32_t h2 = h * 747796405u + 2891336453u;
        float u = ((h & 0xffffff) + 0.5f) / 16777216.f + ((h2 & 0xffffff) + 0.5f) / 16777216.f - 1.f;   // triangular
        x[i] = nsa::Elem<T>::from_float(u * amp);
    }
}
template <typename T> void fill(T* x, size_t n, uint32_t seed, float amp) {
    fill_kernel<T><<<1024, 256>>>(x, n, seed, amp);
    CK(cudaGetLastError());
}

struct Shape {
    std::vector<int> lens;   // per sequence
    int hq, hkv, dk, dv, l, d, lsel, n;
    std::vector<int> cu() const { std::vector<int> c{0}; for (int x : lens) c.push_back(c.back() + x); return c; }
    std::vector<int> cu_cmp() const {
        std::vector<int> c{0};
        for (int x : lens) c.push_back(c.back() + (x < l ? 0 : (x - l) / d + 1));
        return c;
    }
};

template <typename T> struct Dev {
    T* p = nullptr; size_t n = 0;
    explicit Dev(size_t n_) : n(n_) { CK(cudaMalloc(&p, std::max<size_t>(n, 1) * sizeof(T))); }
    ~Dev() { cudaFree(p); }
    Dev(const Dev&) = delete;
    std::vector<T> get() const { std::vector<T> h(n); CK(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost)); return h; }
    void put(const std::vector<T>& h) { CK(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice)); }
};

template <typename T> const char* dname();
template <> const char* dname<__nv_bfloat16>() { return "bf16"; }
template <> const char* dname<__half>() { return "fp16"; }

// The attention reference's symbol for head dims up to 32·DCH.
template <typename T> void* ref_attention(int dmax);
#define REF_ATTN(T, SUF) template <> void* ref_attention<T>(int dmax) { \
    return dmax <= 32 ? (void*)nsa_attention_##SUF##_d1 : dmax <= 64 ? (void*)nsa_attention_##SUF##_d2 : \
           dmax <= 128 ? (void*)nsa_attention_##SUF##_d4 : (void*)nsa_attention_##SUF##_d8; }
REF_ATTN(__nv_bfloat16, bf16)
REF_ATTN(__half, fp16)

template <typename T> void* sel_symbol(int dk, int dv, bool exact);
#define SEL_SYM(T, SUF) template <> void* sel_symbol<T>(int dk, int dv, bool exact) { \
    if (dk == 64 && dv == 64) return exact ? (void*)nsa_sel_kernel_##SUF##_dk64_dv64_exact : (void*)nsa_sel_kernel_##SUF##_dk64_dv64; \
    if (dk == 128 && dv == 128) return exact ? (void*)nsa_sel_kernel_##SUF##_dk128_dv128_exact : (void*)nsa_sel_kernel_##SUF##_dk128_dv128; \
    if (dk == 192 && dv == 128) return exact ? (void*)nsa_sel_kernel_##SUF##_dk192_dv128_exact : (void*)nsa_sel_kernel_##SUF##_dk192_dv128; \
    if (dk == 256 && dv == 256) return exact ? (void*)nsa_sel_kernel_##SUF##_dk256_dv256_exact : (void*)nsa_sel_kernel_##SUF##_dk256_dv256; \
    return nullptr; }
SEL_SYM(__nv_bfloat16, bf16)
SEL_SYM(__half, fp16)

template <typename T> void* score_symbol(int dk);
#define SCORE_SYM(T, SUF) template <> void* score_symbol<T>(int dk) { \
    return dk == 64 ? (void*)nsa_block_score_##SUF##_dk64 : dk == 128 ? (void*)nsa_block_score_##SUF##_dk128 : \
           dk == 192 ? (void*)nsa_block_score_##SUF##_dk192 : dk == 256 ? (void*)nsa_block_score_##SUF##_dk256 : nullptr; }
SCORE_SYM(__nv_bfloat16, bf16)
SCORE_SYM(__half, fp16)

template <typename... A> void launch_args(void* f, dim3 grid, int block, size_t smem, cudaStream_t s, A... a) {
    void* args[] = {(void*)&a...};
    if (smem > 48 * 1024) CK(cudaFuncSetAttribute(f, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    CK(cudaLaunchKernel(f, grid, dim3(block), args, smem, s));
}
template <typename P> void launch(void* f, dim3 grid, int block, size_t smem, const P& p, cudaStream_t s = 0) {
    void* args[] = {(void*)&p};
    if (smem > 48 * 1024) CK(cudaFuncSetAttribute(f, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    CK(cudaLaunchKernel(f, grid, dim3(block), args, smem, s));
}

// A bf16 rank-3 tensor map [rows, heads, d] (innermost first: d, heads, rows; strides in elements) with
// 64 x 1 x box_rows boxes, the 128-byte swizzle and zero fill outside: the TMA kernels' K / V (and Q) maps.
static CUtensorMap tensor_map_3d(const void* base, int64_t rows, int heads, int d, int64_t tok_stride,
                                 int64_t head_stride, int box_rows) {
    using Encode = CUresult (*)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*, const cuuint64_t*,
                                const cuuint64_t*, const cuuint32_t*, const cuuint32_t*, CUtensorMapInterleave,
                                CUtensorMapSwizzle, CUtensorMapL2promotion, CUtensorMapFloatOOBfill);
    static Encode encode = nullptr;
    if (!encode) {
        cudaDriverEntryPointQueryResult q;
        CK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", (void**)&encode, 12000, cudaEnableDefault, &q));
        if (q != cudaDriverEntryPointSuccess || !encode) { fprintf(stderr, "no cuTensorMapEncodeTiled\n"); exit(2); }
    }
    CUtensorMap m;
    cuuint64_t dims[3] = {(cuuint64_t)d, (cuuint64_t)heads, (cuuint64_t)rows};
    cuuint64_t strides[2] = {(cuuint64_t)head_stride * 2, (cuuint64_t)tok_stride * 2};
    cuuint32_t box[3] = {64, 1, (cuuint32_t)box_rows}, estr[3] = {1, 1, 1};
    CUresult r = encode(&m, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 3, const_cast<void*>(base), dims, strides, box, estr,
                        CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                        CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (r != CUDA_SUCCESS) { fprintf(stderr, "cuTensorMapEncodeTiled: %d\n", (int)r); exit(2); }
    return m;
}

// The problem's device tensors.
template <typename T> struct Problem {
    Shape sh; int nnz, nnz_cmp, batch;
    Dev<T> q, k, v, kc, vc; Dev<float> lse; Dev<int> cu, cuc, idx;
    Problem(const Shape& s, uint32_t seed)
        : sh(s), nnz(s.cu().back()), nnz_cmp(s.cu_cmp().back()), batch((int)s.lens.size()),
          q((size_t)nnz * s.hq * s.dk), k((size_t)nnz * s.hkv * s.dk), v((size_t)nnz * s.hkv * s.dv),
          kc((size_t)nnz_cmp * s.hkv * s.dk), vc((size_t)nnz_cmp * s.hkv * s.dv), lse((size_t)nnz * s.hq), cu(batch + 1), cuc(batch + 1),
          idx((size_t)nnz * s.hkv * s.n) {
        fill(q.p, q.n, seed * 7 + 1, 1.f);
        fill(k.p, k.n, seed * 7 + 2, 1.f);
        fill(v.p, v.n, seed * 7 + 3, 1.f);
        fill(kc.p, kc.n, seed * 7 + 4, 1.f);
        fill(vc.p, vc.n, seed * 7 + 5, 1.f);
        std::vector<float> hl(lse.n);
        std::mt19937 rng(seed);
        std::uniform_real_distribution<float> U(0.f, 2.f);
        for (auto& x : hl) x = U(rng);
        lse.put(hl);
        cu.put(s.cu());
        cuc.put(s.cu_cmp());
    }
    nsa::AttnParams attn(void* o, float* lse_out, bool fp32, float scale) {
        nsa::AttnParams p{};
        p.q = q.p; p.k = k.p; p.v = v.p; p.o = o; p.lse = lse_out; p.cu_q = cu.p; p.cu_k = cu.p; p.blocks = idx.p;
        p.q_tok_stride = (int64_t)sh.hq * sh.dk; p.q_head_stride = sh.dk;
        p.k_tok_stride = (int64_t)sh.hkv * sh.dk; p.k_head_stride = sh.dk;
        p.v_tok_stride = (int64_t)sh.hkv * sh.dv; p.v_head_stride = sh.dv;
        p.o_tok_stride = (int64_t)sh.hq * sh.dv; p.o_head_stride = sh.dv;
        p.lse_tok_stride = sh.hq;
        p.blocks_tok_stride = (int64_t)sh.hkv * sh.n; p.blocks_head_stride = sh.n;
        p.nnz_q = nnz; p.batch = batch; p.heads = sh.hq; p.kv_heads = sh.hkv; p.dk = sh.dk; p.dv = sh.dv;
        p.mask = nsa::kMaskChosen; p.walk = nsa::kWalkRanges; p.sel_block = sh.lsel; p.n_sel = sh.n;
        p.cmp_len = sh.l; p.cmp_stride = sh.d; p.out_fp32 = fp32; p.scale = scale;
        return p;
    }
    nsa::BlockSelectParams select(int* out, float* scores, int nb_max, float scale) {
        nsa::BlockSelectParams p{};
        p.q = q.p; p.k_cmp = kc.p; p.lse = lse.p; p.cu_seqlens = cu.p; p.cu_seqlens_cmp = cuc.p; p.indices = out;
        p.scores = scores;
        p.q_tok_stride = (int64_t)sh.hq * sh.dk; p.q_head_stride = sh.dk;
        p.k_tok_stride = (int64_t)sh.hkv * sh.dk; p.k_group_stride = sh.dk;
        p.lse_tok_stride = sh.hq; p.lse_head_stride = 1;
        p.idx_tok_stride = (int64_t)sh.hkv * sh.n; p.idx_group_stride = sh.n;
        p.score_tok_stride = (int64_t)sh.hkv * nb_max; p.score_group_stride = nb_max;
        p.nnz = nnz; p.nnz_cmp = nnz_cmp; p.batch = batch; p.heads = sh.hq; p.kv_heads = sh.hkv; p.dk = sh.dk;
        p.block_len = sh.l; p.block_stride = sh.d; p.sel_block = sh.lsel; p.n_sel = sh.n; p.nb_max = nb_max;
        p.scale = scale;
        return p;
    }
    int max_len() const { return *std::max_element(sh.lens.begin(), sh.lens.end()); }
    int tpw() const { return 1; }
    void run_score(int* out, cudaStream_t s = 0) {
        nsa::BlockSelectParams p = select(out, nullptr, 0, 1.f / sqrtf((float)sh.dk));
        int tok = 4 * tpw();
        dim3 grid((max_len() + tok - 1) / tok, batch, sh.hkv);
        launch(score_symbol<T>(sh.dk), grid, 128, nsa::score::smem_bytes(sh.dk, sh.hq / sh.hkv, tpw()), p, s);
    }
    // the Hopper scorer (block_score_wg.cu; h <= 16)
    void run_score_wg(int* out, cudaStream_t s = 0) {
        nsa::BlockSelectParams p = select(out, nullptr, 0, 1.f / sqrtf((float)sh.dk));
        dim3 grid((max_len() + 3) / 4, batch, sh.hkv);
        void* f = sh.dk == 64 ? (dname<T>()[0] == 'b' ? (void*)nsa_block_score_wg_bf16_dk64 : (void*)nsa_block_score_wg_fp16_dk64)
                : sh.dk == 128 ? (dname<T>()[0] == 'b' ? (void*)nsa_block_score_wg_bf16_dk128 : (void*)nsa_block_score_wg_fp16_dk128)
                : sh.dk == 192 ? (dname<T>()[0] == 'b' ? (void*)nsa_block_score_wg_bf16_dk192 : (void*)nsa_block_score_wg_fp16_dk192)
                : (dname<T>()[0] == 'b' ? (void*)nsa_block_score_wg_bf16_dk256 : (void*)nsa_block_score_wg_fp16_dk256);
        launch(f, grid, 128, nsa::score::wg_smem_bytes(sh.dk), p, s);
    }
    // the Hopper key-row scorer (block_score_kr.cu; h <= 16, Dk 128, l' % d == 0, n <= 35)
    void run_score_tma(int* out, cudaStream_t s = 0) {
        nsa::BlockSelectParams p = select(out, nullptr, 0, 1.f / sqrtf((float)sh.dk));
        const int h = sh.hq / sh.hkv, H = h <= 4 ? 4 : h <= 8 ? 8 : 16;
        const bool bf = dname<T>()[0] == 'b';
        void* f = nullptr;
#define TMA_SYM(DK, HH) if (sh.dk == DK && H == HH) f = bf ? (void*)nsa_block_score_kr_bf16_dk##DK##_h##HH : (void*)nsa_block_score_kr_fp16_dk##DK##_h##HH;
        TMA_SYM(128, 4) TMA_SYM(128, 8) TMA_SYM(128, 16)
#undef TMA_SYM
        if (!f) { fprintf(stderr, "no tma scorer for dk %d\n", sh.dk); exit(2); }
        const CUtensorMap mq = tensor_map_3d(q.p, nnz, sh.hq, sh.dk, p.q_tok_stride, p.q_head_stride, nsa::score_kr::kQBox);
        const CUtensorMap mk = tensor_map_3d(kc.p, std::max(nnz_cmp, 1), sh.hkv, sh.dk, p.k_tok_stride, p.k_group_stride,
                                             nsa::score_kr::kN);
        dim3 grid((max_len() + nsa::score_kr::kTok - 1) / nsa::score_kr::kTok, batch, sh.hkv);
        launch_args(f, grid, nsa::score_kr::kThreads, nsa::score_kr::smem_bytes(sh.dk, H), s, p, mq, mk);
    }
#ifdef NSA_SCORE_WG_TUNE
    // the pipelined Hopper scorer (tuning build; bf16, Dk 128, h <= 16)
    void run_score_wg_pipe(int* out, cudaStream_t s = 0) {
        nsa::BlockSelectParams p = select(out, nullptr, 0, 1.f / sqrtf((float)sh.dk));
        dim3 grid((max_len() + 3) / 4, batch, sh.hkv);
        launch((void*)nsa_block_score_wg_pipe_bf16_dk128, grid, 128, nsa::score::wg_smem_bytes(sh.dk, true), p, s);
    }
#endif
    void run_ref_score(int* out, float* scores, int nb_max, cudaStream_t s = 0) {
        nsa::BlockSelectParams p = select(out, scores, nb_max, 1.f / sqrtf((float)sh.dk));
        long rows = (long)nnz * sh.hkv;
        int grid = (int)std::min<long>((rows * 32 + 255) / 256, 132 * 32);
        launch(dname<T>()[0] == 'b' ? (void*)nsa_block_select_bf16 : (void*)nsa_block_select_fp16, dim3(grid), 256, 0, p, s);
    }
    void run_sel(void* o, float* lse_out, bool fp32, bool exact, cudaStream_t s = 0) {
        nsa::AttnParams p = attn(o, lse_out, fp32, 1.f / sqrtf((float)sh.dk));
        int h = sh.hq / sh.hkv;
        dim3 grid(nnz, sh.hkv * ((h + 15) / 16));
        size_t smem = nsa::sel::smem_bytes(sh.dk, sh.dv);
        launch(sel_symbol<T>(sh.dk, sh.dv, exact), grid, 128, smem, p, s);
    }
#ifdef NSA_SEL_UNION_TUNE
    // the union layout (bf16, 128/128 only; NSA_SELU_TOK tokens per CTA)
    void run_union(void* o, float* lse_out, bool fp32, bool exact, cudaStream_t s = 0) {
        nsa::AttnParams p = attn(o, lse_out, fp32, 1.f / sqrtf((float)sh.dk));
        int h = sh.hq / sh.hkv;
        dim3 grid((nnz + NSA_SELU_TOK - 1) / NSA_SELU_TOK, sh.hkv * ((h + 15) / 16));
        launch(exact ? (void*)nsa_sel_union_tune_bf16_dk128_dv128_exact : (void*)nsa_sel_union_tune_bf16_dk128_dv128, grid,
               32 * NSA_SELU_TOK, nsa::selu::harness_smem_bytes(), p, s);
    }
#endif
#ifdef NSA_SEL_TMA_TUNE
    // the TMA layout (sel_tma.cu; bf16 128/128, one warp per token): K and V as tensor maps with NSA_SELT_TILE-row boxes
    void run_tma(void* o, float* lse_out, bool fp32, bool exact, cudaStream_t s = 0) {
        nsa::AttnParams p = attn(o, lse_out, fp32, 1.f / sqrtf((float)sh.dk));
        CUtensorMap mk = tensor_map_3d(k.p, nnz, sh.hkv, sh.dk, p.k_tok_stride, p.k_head_stride, NSA_SELT_TILE);
        CUtensorMap mv = tensor_map_3d(v.p, nnz, sh.hkv, sh.dv, p.v_tok_stride, p.v_head_stride, NSA_SELT_TILE);
        int h = sh.hq / sh.hkv;
        dim3 grid(nnz, sh.hkv * ((h + 15) / 16));
        launch_args(exact ? (void*)nsa_sel_tma_tune_bf16_dk128_dv128_exact : (void*)nsa_sel_tma_tune_bf16_dk128_dv128, grid, 32,
                    nsa::selt::harness_smem_bytes(), s, p, mk, mv);
    }
#endif
#ifdef NSA_SEL_WGMMA
    // the experimental Hopper union layout (sel_union_wgmma.cuh; bf16 128/128, four tokens per CTA)
    void run_wgmma(void* o, float* lse_out, bool fp32, bool exact, cudaStream_t s = 0) {
        nsa::AttnParams p = attn(o, lse_out, fp32, 1.f / sqrtf((float)sh.dk));
        int h = sh.hq / sh.hkv;
        dim3 grid((nnz + nsa::selw::kTok - 1) / nsa::selw::kTok, sh.hkv * ((h + 15) / 16));
        launch(exact ? (void*)nsa_sel_wgmma_bf16_dk128_dv128_exact : (void*)nsa_sel_wgmma_bf16_dk128_dv128, grid,
               nsa::selw::kThreads, nsa::selw::kSmemBytes, p, s);
    }
#endif
    // The gather floor (sel_gather_floor.cuh; bf16 128/128, equal lengths): the token layout's bytes, no mma.
    void run_floor(float* sink, cudaStream_t s = 0) {
        dim3 grid(nnz, sh.hkv);
        launch_args((void*)nsa::floor::gather_floor<128, 128>, grid, 128, nsa::floor::smem_bytes<128, 128>(), s,
                    k.p, v.p, idx.p, sh.lens[0], sh.hkv, sh.n, sh.lsel, sink);
    }
    // the same bytes through the bulk-copy engine (sel_gather_floor.cuh), STAGES stages
    template <int STAGES>
    void run_floor_bulk(float* sink, cudaStream_t s = 0) {
        dim3 grid(nnz, sh.hkv);
        launch_args((void*)nsa::floor::gather_floor_bulk<128, 128, STAGES>, grid, 128,
                    nsa::floor::bulk_smem_bytes<128, 128, STAGES>(), s, k.p, v.p, idx.p, sh.lens[0], sh.hkv, sh.n,
                    sh.lsel, sink);
    }
    // Valid chosen blocks summed over (token, group), alone and as unions of four consecutive tokens.
    void block_counts(double& single, double& union4) {
        std::vector<int> hi = idx.get();
        single = 0; union4 = 0;
        const int S = sh.lens[0];
        for (int tok0 = 0; tok0 < nnz; tok0 += 4) {
            for (int g = 0; g < sh.hkv; ++g) {
                std::vector<int> u;
                for (int tok = tok0; tok < std::min(nnz, tok0 + 4); ++tok) {
                    const int t = tok % S;
                    const int* r = &hi[((size_t)tok * sh.hkv + g) * sh.n];
                    for (int e = 0; e < sh.n; ++e) {
                        if (r[e] < 0 || (long)r[e] * sh.lsel > t) continue;
                        single += 1;
                        u.push_back(r[e]);
                    }
                }
                std::sort(u.begin(), u.end());
                union4 += (double)(std::unique(u.begin(), u.end()) - u.begin());
            }
        }
    }
    void run_ref_sel(void* o, float* lse_out, cudaStream_t s = 0) {
        nsa::AttnParams p = attn(o, lse_out, true, 1.f / sqrtf((float)sh.dk));
        long rows = (long)nnz * sh.hq;
        launch(ref_attention<T>(std::max(sh.dk, sh.dv)), dim3((unsigned)((rows + 3) / 4)), 128, 0, p, s);
    }
    // FLOPs of the selection attention over the attended keys (keys s <= t of the chosen blocks).
    double sel_flops() {
        std::vector<int> hi = idx.get();
        std::vector<int> c = sh.cu();
        double keys = 0;
        for (int b = 0; b < batch; ++b) {
            for (int tok = c[b]; tok < c[b + 1]; ++tok) {
                long t = tok - c[b];
                for (int g = 0; g < sh.hkv; ++g) {
                    const int* r = &hi[((size_t)tok * sh.hkv + g) * sh.n];
                    for (int e = 0; e < sh.n; ++e) {
                        if (r[e] < 0) continue;
                        long lo = (long)r[e] * sh.lsel;
                        if (lo > t) continue;
                        keys += std::min<long>(sh.lsel, t - lo + 1);
                    }
                }
            }
        }
        return keys * (sh.hq / sh.hkv) * 2.0 * (sh.dk + sh.dv);
    }
};

template <typename F> float time_ms(F f, int reps) {
    cudaEvent_t a, b;
    cudaEventCreate(&a); cudaEventCreate(&b);
    f();
    CK(cudaDeviceSynchronize());
    std::vector<float> ts;
    for (int i = 0; i < reps; ++i) {
        cudaEventRecord(a);
        f();
        cudaEventRecord(b);
        CK(cudaEventSynchronize(b));
        float ms;
        cudaEventElapsedTime(&ms, a, b);
        ts.push_back(ms);
    }
    std::sort(ts.begin(), ts.end());
    return ts[ts.size() / 2];
}

// Max abs difference of two device result pairs (o fp32, lse), lse compared where either is finite.
static void max_diff(const Dev<float>& o1, const Dev<float>& l1, const Dev<float>& o2, const Dev<float>& l2,
                     double& mx, double& lmx) {
    auto a = o1.get(), c = o2.get(), la = l1.get(), lc = l2.get();
    mx = 0; lmx = 0;
    for (size_t i = 0; i < a.size(); ++i) mx = std::max(mx, (double)fabs(a[i] - c[i]));
    for (size_t i = 0; i < la.size(); ++i) if (std::isfinite(la[i]) || std::isfinite(lc[i])) lmx = std::max(lmx, (double)fabs(la[i] - lc[i]));
}

