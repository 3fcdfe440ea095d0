// Standalone device harness of the tensor-core kernels (no Java): checks sel-kernel against the reference
// attention (sdpa-masked, chosen blocks) and the tensor-core block scorer against the reference scorer, then
// times both at a given shape. For kernel tuning on a GPU host (nvcc there, no JVM); the JUnit GPU suites are
// the tests of record.
//
//   nvcc -std=c++17 -O3 -gencode arch=compute_90a,code=sm_90a -I kernels/src/main/cuda -I kernels/src/main/cuda-tc \
//        kernels/src/test/cuda/tc_harness.cu -o tc_harness
//   ./tc_harness check                      parity sweep (dtype x dims x h x lengths, varlen)
//   ./tc_harness bench B S Hq Hkv DK DV l d l' n [reps] [with_ref] [indices.bin]
//                                           timings (CSV lines on stdout); the selection on the scorer's
//                                           indices, or on a peer's (bench/peers/fla_selection.py --indices-out)
#include "attention.cu"
#include "block_select.cu"
#include "sel_attention.cu"
#include "block_score.cu"

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

template <typename P> void launch(void* f, dim3 grid, int block, size_t smem, const P& p, cudaStream_t s = 0) {
    void* args[] = {(void*)&p};
    if (smem > 48 * 1024) CK(cudaFuncSetAttribute(f, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    CK(cudaLaunchKernel(f, grid, dim3(block), args, smem, s));
}

// The problem's device tensors.
template <typename T> struct Problem {
    Shape sh; int nnz, nnz_cmp, batch;
    Dev<T> q, k, v, kc; Dev<float> lse; Dev<int> cu, cuc, idx;
    Problem(const Shape& s, uint32_t seed)
        : sh(s), nnz(s.cu().back()), nnz_cmp(s.cu_cmp().back()), batch((int)s.lens.size()),
          q((size_t)nnz * s.hq * s.dk), k((size_t)nnz * s.hkv * s.dk), v((size_t)nnz * s.hkv * s.dv),
          kc((size_t)nnz_cmp * s.hkv * s.dk), lse((size_t)nnz * s.hq), cu(batch + 1), cuc(batch + 1),
          idx((size_t)nnz * s.hkv * s.n) {
        fill(q.p, q.n, seed * 7 + 1, 1.f);
        fill(k.p, k.n, seed * 7 + 2, 1.f);
        fill(v.p, v.n, seed * 7 + 3, 1.f);
        fill(kc.p, kc.n, seed * 7 + 4, 1.f);
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

// Host-side random chosen sets: forced {0, cur-1, cur}, others random; optionally shuffled with duplicates.
void random_indices(const Shape& s, std::vector<int>& out, uint32_t seed, bool messy) {
    std::mt19937 rng(seed);
    std::vector<int> c = s.cu();
    out.assign((size_t)c.back() * s.hkv * s.n, -1);
    for (int b = 0; b < (int)s.lens.size(); ++b) {
        for (int tok = c[b]; tok < c[b + 1]; ++tok) {
            int t = tok - c[b], cur = t / s.lsel;
            for (int g = 0; g < s.hkv; ++g) {
                int* r = &out[((size_t)tok * s.hkv + g) * s.n];
                std::vector<int> set;
                if (cur + 1 <= s.n) { for (int j = 0; j <= cur; ++j) set.push_back(j); }
                else {
                    set = {0, cur - 1, cur};
                    while ((int)set.size() < s.n) {
                        int j = 1 + (int)(rng() % (cur - 2 > 0 ? cur - 2 : 1));
                        if (std::find(set.begin(), set.end(), j) == set.end()) set.push_back(j);
                    }
                }
                std::sort(set.begin(), set.end());
                if (messy && set.size() > 1) {
                    std::shuffle(set.begin(), set.end(), rng);
                    if ((int)set.size() < s.n) set.push_back(set[0]);   // a duplicate
                    if ((int)set.size() < s.n) set.push_back(cur + 1 + (int)(rng() % 3));   // a future block: ignored
                }
                for (int e = 0; e < (int)set.size() && e < s.n; ++e) r[e] = set[e];
            }
        }
    }
}

template <typename T> float to_f(T x) { return nsa::Elem<T>::to_float(x); }

int failures = 0;

template <typename T>
void check_sel(const Shape& s, uint32_t seed, bool messy) {
    Problem<T> pr(s, seed);
    std::vector<int> hidx;
    random_indices(s, hidx, seed, messy);
    pr.idx.put(hidx);
    size_t no = (size_t)pr.nnz * s.hq * s.dv, nl = (size_t)pr.nnz * s.hq;
    Dev<float> oref(no), lref(nl), oex(no), lex(nl), ofa(no), lfa(nl);
    Dev<T> ohalf(no);
    pr.run_ref_sel(oref.p, lref.p);
    pr.run_sel(oex.p, lex.p, true, true);
    pr.run_sel(ofa.p, lfa.p, true, false);
    pr.run_sel(ohalf.p, nullptr, false, false);
    CK(cudaDeviceSynchronize());
    auto a = oref.get(), e = oex.get(), f = ofa.get(), la = lref.get(), le = lex.get(), lf = lfa.get();
    auto hh = ohalf.get();
    double mae = 0, maxe = 0, maef = 0, maxf = 0, lmax = 0, hmax = 0;
    for (size_t i = 0; i < no; ++i) {
        double de = fabs((double)a[i] - e[i]), df = fabs((double)a[i] - f[i]);
        mae += de; maef += df; maxe = std::max(maxe, de); maxf = std::max(maxf, df);
        hmax = std::max(hmax, fabs((double)to_f(hh[i]) - f[i]) / std::max(1e-3, fabs((double)f[i])));
    }
    for (size_t i = 0; i < nl; ++i) {
        if (std::isinf(la[i]) || std::isinf(le[i])) { if (la[i] != le[i]) lmax = 1e9; continue; }
        lmax = std::max(lmax, fabs((double)la[i] - le[i]));
    }
    mae /= std::max<size_t>(no, 1); maef /= std::max<size_t>(no, 1);
    bool ok = mae < 1e-5 && maxe < 1e-4 && lmax < 1e-4 && maef < 2e-3 && maxf < 5e-2;
    if (!ok) failures++;
    printf("%s sel %s dk%d dv%d h%d lens", ok ? "ok  " : "FAIL", dname<T>(), s.dk, s.dv, s.hq / s.hkv);
    for (int x : s.lens) printf(" %d", x);
    printf("%s: exact MAE %.2e max %.2e lse max %.2e | fast MAE %.2e max %.2e | half-out rel %.1e\n",
           messy ? " (unsorted, duplicates)" : "", mae, maxe, lmax, maef, maxf, hmax);
}

// Compares the tc scorer's chosen sets with the reference's; a differing row must be a near tie: the blocks in
// one set and not the other have reference scores within `tol` (relative) of the reference's n-th best.
template <typename T>
void check_score(const Shape& s, uint32_t seed, bool quiet = false) {
    Problem<T> pr(s, seed);
    int nb_max = (pr.max_len() + s.lsel - 1) / s.lsel + 1;
    Dev<int> ia(pr.idx.n), ib(pr.idx.n);
    Dev<float> sc((size_t)pr.nnz * s.hkv * nb_max);
    pr.run_ref_score(ia.p, sc.p, nb_max);
    pr.run_score(ib.p);
    CK(cudaDeviceSynchronize());
    auto a = ia.get(), b = ib.get();
    auto scores = sc.get();
    long rows = (long)pr.nnz * s.hkv, differ = 0, bad = 0;
    double worst = 0;
    for (long r = 0; r < rows; ++r) {
        const int* x = &a[r * s.n];
        const int* y = &b[r * s.n];
        if (std::equal(x, x + s.n, y)) continue;
        differ++;
        const float* srow = &scores[r * nb_max];
        // the weakest reference pick's score
        float weakest = INFINITY;
        for (int e = 0; e < s.n; ++e) if (x[e] >= 0) weakest = std::min(weakest, srow[x[e]]);
        for (int e = 0; e < s.n; ++e) {
            bool inx = std::find(x, x + s.n, y[e]) != x + s.n;
            if (inx || y[e] < 0) continue;
            double rel = fabs((double)srow[y[e]] - weakest) / std::max(1e-30, fabs((double)weakest));
            worst = std::max(worst, rel);
            if (rel > 1e-4) bad++;
        }
    }
    bool ok = bad == 0;
    if (!ok) failures++;
    if (!quiet || !ok) {
        printf("%s score %s dk%d h%d l%d d%d l'%d n%d lens", ok ? "ok  " : "FAIL", dname<T>(), s.dk, s.hq / s.hkv,
               s.l, s.d, s.lsel, s.n);
        for (int x : s.lens) printf(" %d", x);
        printf(": %ld of %ld rows differ from the reference (near ties, worst relative gap %.1e), %ld not near ties\n",
               differ, rows, worst, bad);
    }
}

template <typename T>
void check_all() {
    fprintf(stderr, "check_all %s\n", dname<T>());
    const int dims[][2] = {{64, 64}, {128, 128}, {192, 128}, {256, 256}};
    const int hs[] = {1, 2, 4, 8, 16, 32};
    const std::vector<std::vector<int>> lens = {{1}, {63}, {64}, {65}, {1000}, {4096}, {0, 1, 700, 0, 130}};
    for (auto& dd : dims) {
        for (int h : hs) {
            for (auto& L : lens) {
                if (L.size() == 1 && L[0] == 4096 && (h > 8 || dd[0] > 128)) continue;   // the reference is slow
                Shape s{L, h * 2, 2, dd[0], dd[1], 64, 64, 64, 16};
                check_sel<T>(s, 11 + h + dd[0], false);
            }
            Shape m{{300, 1, 129}, h * 2, 2, dd[0], dd[1], 64, 64, 64, 16};
            check_sel<T>(m, 5 + h, true);
        }
    }
    for (int dk : {64, 128, 192, 256}) {
        for (int h : {1, 4, 16, 32}) {
            check_score<T>(Shape{{1, 63, 64, 65, 1000, 0, 3000}, h * 2, 2, dk, dk, 64, 64, 64, 16}, 3 + h);
            check_score<T>(Shape{{1, 200, 2500}, h * 2, 2, dk, dk, 32, 16, 64, 16}, 9 + h);
        }
    }
}

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

template <typename T>
void bench(const Shape& s, int reps, bool with_ref, const std::string& idxfile) {
    Problem<T> pr(s, 1234);
    size_t no = (size_t)pr.nnz * s.hq * s.dv, nl = (size_t)pr.nnz * s.hq;
    Dev<float> o(no), l(nl);
    Dev<T> oh(no);
    float t_score = time_ms([&] { pr.run_score(pr.idx.p); }, reps);
    if (!idxfile.empty()) {   // the selection on given indices (a peer's), raw int32 [nnz, Hkv, n]
        std::vector<int> h(pr.idx.n);
        FILE* f = fopen(idxfile.c_str(), "rb");
        if (!f || fread(h.data(), sizeof(int), h.size(), f) != h.size()) { fprintf(stderr, "cannot read %s\n", idxfile.c_str()); exit(2); }
        fclose(f);
        pr.idx.put(h);
    }
    double fl = pr.sel_flops();
    float t_fast = time_ms([&] { pr.run_sel(oh.p, l.p, false, false); }, reps);
    float t_exact = time_ms([&] { pr.run_sel(o.p, l.p, true, true); }, reps);
    float t_ref_sel = -1, t_ref_score = -1;
    if (with_ref) {
        t_ref_sel = time_ms([&] { pr.run_ref_sel(o.p, l.p); }, 1);
        int nb_max = 0;
        t_ref_score = time_ms([&] { pr.run_ref_score(pr.idx.p, nullptr, nb_max); }, 1);
    }
    printf("bench,%s,B=%zu,S=%d,Hq=%d,Hkv=%d,dk=%d,dv=%d,l=%d,d=%d,lsel=%d,n=%d,score_ms=%.3f,sel_fast_ms=%.3f,"
           "sel_exact_ms=%.3f,sel_tflops_fast=%.1f,sel_tflops_exact=%.1f,ref_score_ms=%.2f,ref_sel_ms=%.2f\n",
           dname<T>(), s.lens.size(), s.lens[0], s.hq, s.hkv, s.dk, s.dv, s.l, s.d, s.lsel, s.n, t_score, t_fast,
           t_exact, fl / t_fast / 1e9, fl / t_exact / 1e9, t_ref_score, t_ref_sel);
    fflush(stdout);
}

int main(int argc, char** argv) {
    setvbuf(stdout, nullptr, _IONBF, 0);
    std::string mode = argc > 1 ? argv[1] : "check";
    if (mode == "check") {
        check_all<__nv_bfloat16>();
        check_all<__half>();
        printf("check: %d failures\n", failures);
        return failures ? 1 : 0;
    }
    if (mode == "bench" && argc >= 12) {
        int B = atoi(argv[2]), S = atoi(argv[3]);
        Shape s{std::vector<int>(B, S), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]), atoi(argv[7]), atoi(argv[8]),
                atoi(argv[9]), atoi(argv[10]), atoi(argv[11])};
        int reps = argc > 12 ? atoi(argv[12]) : 10;
        bool ref = argc > 13 && atoi(argv[13]) != 0;
        bench<__nv_bfloat16>(s, reps, ref, argc > 14 ? argv[14] : "");
        return 0;
    }
    fprintf(stderr, "usage: tc_harness check | bench B S Hq Hkv DK DV l d l' n [reps] [with_ref] [indices.bin]\n");
    return 2;
}
