// Standalone device timing harness of the tensor-core kernels (no Java): times the tensor-core block scorer,
// sel-kernel (fast and exact P) and, on request, the reference scorer and the reference selection attention
// (sdpa-masked) at one shape, on the scorer's own block indices or on a peer's. For kernel tuning on a GPU host
// (nvcc there, no JVM); the JUnit GPU suites (SelKernelGpuTest, TcBlockScoreGpuTest) are the tests of record.
//
//   nvcc -std=c++17 -O3 -gencode arch=compute_90a,code=sm_90a -I kernels/src/main/cuda -I kernels/src/main/cuda-tc \
//        kernels/src/test/cuda/tc_harness.cu -o tc_harness
//   ./tc_harness bench B S Hq Hkv DK DV l d l' n [reps] [with_ref] [indices.bin]
//       one CSV-like line on stdout; the selection on the scorer's indices, or on a peer's
//       (bench/peers/fla_selection.py --indices-out writes raw int32 [B·S, Hkv, n]); at 128/128 also the gather
//       floor (sel_gather_floor.cuh: the token layout's bytes without the math, by cp.async and by bulk
//       copies) and, built with -DNSA_SEL_UNION_TUNE, a union layout in the tuning geometry NSA_SELU_TOK /
//       _STAGES / _MINB; with
//       -DNSA_SEL_WGMMA (sm_90a) the experimental Hopper union layout (sel_union_wgmma.cuh); for h <= 16 also
//       the Hopper scorer (block_score_wg.cu) against the image's mma.sync scorer (a score_wg line: rows whose
//       chosen sets differ, both times); built with -DNSA_SCORE_WG_TUNE also its pipelined variant (score_wg_pipe)
//       and with -DNSA_SEL_TMA_TUNE (sm_90a) the TMA layout of sel-kernel (sel_tma.cu; NSA_SELT_STAGES / _MINB / _TILE)
//   ./tc_harness score B S[,S2,..] Hq Hkv DK l d l' n [reps] [with_ref] [fp16]
//       the key-row scorer (block_score_kr.cu; l' % d == 0, h <= 16, Dk 128, n <= 35)
//       against the image's mma.sync and wgmma scorers and, with_ref, the fp32 reference scorer: rows whose
//       chosen sets differ, of those the ones that are not near ties, and the medians (sequences S, S2, ..., B times)
#include "attention.cu"
#include "block_select.cu"
#include "sel_attention.cu"
#include "block_score.cu"
#include "block_score_wg.cu"
#include "block_score_kr.cu"
#include "sel_union.cu"
#include "sel_tma.cu"
#include "sel_gather_floor.cuh"
#ifdef NSA_SEL_WGMMA
#include "sel_union_wgmma.cuh"
#endif
#ifdef NSA_FA_WGMMA
#include "fa_wgmma.cuh"
#endif
#ifdef NSA_FA_HOPPER   // fa2-bridge's FA-2 kernels (NSA_FA2_ONLY_DIMS=128) and its Hopper forward, -I fa2-bridge/src/main/cuda
#include "fa2_fwd.cu"
#include "fa2_hopper.cu"
#endif

#include "tc_harness_problem.cuh"

// The Hopper scorer (and, built with -DNSA_SCORE_WG_TUNE, its pipelined variant) against the image's mma.sync
// scorer, whose indices are in pr.idx: rows whose chosen sets differ, then the times (h <= 16).
template <typename T>
void compare_scorers(Problem<T>& pr, const Shape& s, int reps, float t_score) {
    Dev<int> idx2(pr.idx.n);
    pr.run_score_wg(idx2.p);
    CK(cudaDeviceSynchronize());
    auto a = pr.idx.get(), c = idx2.get();
    long rows = (long)a.size() / s.n, differ = 0;
    for (long r = 0; r < rows; ++r) differ += !std::equal(&a[r * s.n], &a[r * s.n] + s.n, &c[r * s.n]);
    float t_wg = time_ms([&] { pr.run_score_wg(idx2.p); }, reps);
    double pairs = 0;   // (query, compressed key) products per head
    for (int len : s.lens) for (int t = 0; t < len; ++t) pairs += t < s.l - 1 ? 0 : std::min((t - s.l + 1) / s.d + 1, (len - s.l) / s.d + 1);
    const double fl = pairs * s.hq * 2.0 * s.dk;
    printf("score_wg,S=%d,l=%d,d=%d,rows=%ld,rows_differ=%ld,wg_ms=%.3f,image_ms=%.3f,wg_tflops=%.1f,image_tflops=%.1f\n",
           s.lens[0], s.l, s.d, rows, differ, t_wg, t_score, fl / t_wg / 1e9, fl / t_score / 1e9);
#ifdef NSA_SCORE_WG_TUNE
    if (s.dk == 128 && dname<T>()[0] == 'b') {
        Dev<int> idx3(pr.idx.n);
        pr.run_score_wg_pipe(idx3.p);
        CK(cudaDeviceSynchronize());
        auto e = idx3.get();
        long differ3 = 0;
        for (long r = 0; r < rows; ++r) differ3 += !std::equal(&c[r * s.n], &c[r * s.n] + s.n, &e[r * s.n]);
        float t_pipe = time_ms([&] { pr.run_score_wg_pipe(idx3.p); }, reps);
        printf("score_wg_pipe,S=%d,l=%d,d=%d,rows_differ_vs_wg=%ld,pipe_ms=%.3f,wg_ms=%.3f,pipe_tflops=%.1f\n",
               s.lens[0], s.l, s.d, differ3, t_pipe, t_wg, fl / t_pipe / 1e9);
    }
#endif
}

// The key-row Hopper scorer (block_score_kr.cu) against the mma.sync and wgmma scorers and, with ref, the fp32
// reference scorer in the oracle's order: rows whose chosen sets differ and, of those, the rows that are not near
// ties (a block chosen by one and not the other whose reference score differs from the other's by more than 1e-5
// relative), then the medians.
template <typename T>
void score_bench(const Shape& s, int reps, bool with_ref) {
    Problem<T> pr(s, 99);
    const long rows = (long)pr.nnz * s.hkv;
    Dev<int> i_mma(pr.idx.n), i_wg(pr.idx.n), i_tma(pr.idx.n), i_ref(pr.idx.n);
    pr.run_score(i_mma.p);
    pr.run_score_wg(i_wg.p);
    pr.run_score_tma(i_tma.p);
    CK(cudaDeviceSynchronize());
    auto a = i_mma.get(), w = i_wg.get(), c = i_tma.get();
    auto differ = [&](const std::vector<int>& x, const std::vector<int>& y) {
        long d = 0;
        for (long r = 0; r < rows; ++r) d += !std::equal(&x[r * s.n], &x[r * s.n] + s.n, &y[r * s.n]);
        return d;
    };
    long d_ref = -1, not_tie = -1;
    if (with_ref) {
        const int nb_max = (pr.max_len() + s.lsel - 1) / s.lsel;
        Dev<float> sc((size_t)rows * nb_max);
        pr.run_ref_score(i_ref.p, sc.p, nb_max);
        CK(cudaDeviceSynchronize());
        auto e = i_ref.get();
        auto hs = sc.get();
        d_ref = differ(c, e);
        not_tie = 0;
        for (long r = 0; r < rows; ++r) {
            if (std::equal(&c[r * s.n], &c[r * s.n] + s.n, &e[r * s.n])) continue;
            std::vector<int> x(&c[r * s.n], &c[r * s.n] + s.n), y(&e[r * s.n], &e[r * s.n] + s.n);
            float worst = 0.f;
            for (int j : x) if (j >= 0 && std::find(y.begin(), y.end(), j) == y.end())
                for (int k : y) if (k >= 0 && std::find(x.begin(), x.end(), k) == x.end()) {
                    const float u = hs[r * nb_max + j], v = hs[r * nb_max + k];
                    worst = std::max(worst, std::fabs(u - v) / std::max(std::fabs(v), 1e-30f));
                }
            not_tie += worst > 1e-5f;
        }
    }
    float t_mma = time_ms([&] { pr.run_score(i_mma.p); }, reps);
    float t_wg = time_ms([&] { pr.run_score_wg(i_wg.p); }, reps);
    float t_tma = time_ms([&] { pr.run_score_tma(i_tma.p); }, reps);
    double pairs = 0;
    for (int len : s.lens) for (int t = 0; t < len; ++t) pairs += t < s.l - 1 ? 0 : (t - s.l + 1) / s.d + 1;
    const double fl = pairs * s.hq * 2.0 * s.dk;
    printf("score_tma,%s,B=%zu,S=%d,Hq=%d,Hkv=%d,dk=%d,l=%d,d=%d,lsel=%d,n=%d,rows=%ld,differ_vs_mma=%ld,differ_vs_wg=%ld,"
           "wg_vs_mma=%ld,differ_vs_ref=%ld,not_near_tie=%ld,tma_ms=%.3f,wg_ms=%.3f,mma_ms=%.3f,tma_tflops=%.1f\n",
           dname<T>(), s.lens.size(), s.lens[0], s.hq, s.hkv, s.dk, s.l, s.d, s.lsel, s.n, rows, differ(c, a),
           differ(c, w), differ(w, a), d_ref, not_tie, t_tma, t_wg, t_mma, fl / t_tma / 1e9);
}

template <typename T>
void bench(const Shape& s, int reps, bool with_ref, const std::string& idxfile) {
    Problem<T> pr(s, 1234);
    size_t no = (size_t)pr.nnz * s.hq * s.dv, nl = (size_t)pr.nnz * s.hq;
    Dev<float> o(no), l(nl);
    Dev<T> oh(no);
    float t_score = time_ms([&] { pr.run_score(pr.idx.p); }, reps);
    if (s.hq / s.hkv <= 16) compare_scorers(pr, s, reps, t_score);
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
    // An experimental layout against the image's token layout: the same exact-P fp32 output first, then its times.
    auto variant = [&](const char* label, auto run) {
        if (s.dk != 128 || s.dv != 128) return;   // the tuning builds hold bf16 128/128 only
        Dev<float> o2(no), l2(nl);
        pr.run_sel(o.p, l.p, true, true);
        run(o2.p, l2.p, true, true);
        CK(cudaDeviceSynchronize());
        double mx, lmx;
        max_diff(o, l, o2, l2, mx, lmx);
        float tf = time_ms([&] { run(oh.p, l.p, false, false); }, reps);
        float te = time_ms([&] { run(o2.p, l2.p, true, true); }, reps);
        printf("%s,S=%d,max_abs_vs_image=%.3g,lse_max_abs=%.3g,fast_ms=%.3f,exact_ms=%.3f,tflops_fast=%.1f,"
               "tflops_exact=%.1f\n", label, s.lens[0], mx, lmx, tf, te, fl / tf / 1e9, fl / te / 1e9);
    };
    (void)variant;   // unused in a build without experimental layouts
    char label[96];
    (void)label;
#ifdef NSA_SEL_WGMMA
    variant("wgmma", [&](void* out, float* lse, bool fp32, bool exact) { pr.run_wgmma(out, lse, fp32, exact); });
#endif
#ifdef NSA_SEL_TMA_TUNE
    snprintf(label, sizeof label, "tma,stages=%d,minb=%d,tile=%d", NSA_SELT_STAGES, NSA_SELT_MINB, NSA_SELT_TILE);
    variant(label, [&](void* out, float* lse, bool fp32, bool exact) { pr.run_tma(out, lse, fp32, exact); });
#endif
#ifdef NSA_SEL_UNION_TUNE
    snprintf(label, sizeof label, "union,tok=%d,stages=%d,minb=%d", NSA_SELU_TOK, NSA_SELU_STAGES, NSA_SELU_MINB);
    variant(label, [&](void* out, float* lse, bool fp32, bool exact) { pr.run_union(out, lse, fp32, exact); });
#endif
    if (s.dk == 128 && s.dv == 128 && std::all_of(s.lens.begin(), s.lens.end(), [&](int x) { return x == s.lens[0]; })) {
        Dev<float> sink(pr.nnz);
        float tg = time_ms([&] { pr.run_floor(sink.p); }, reps);
        double single, union4;
        pr.block_counts(single, union4);
        const double tile = 64.0 * (s.dk + s.dv) * sizeof(T);
        printf("floor,S=%d,gather_ms=%.3f,gather_gb=%.2f,gather_tbps=%.2f,tflops_ceiling=%.1f,union4_share=%.3f\n",
               s.lens[0], tg, single * tile / 1e9, single * tile / tg / 1e9, fl / tg / 1e9, union4 / single);
        const float tb2 = time_ms([&] { pr.template run_floor_bulk<2>(sink.p); }, reps);
        const float tb3 = time_ms([&] { pr.template run_floor_bulk<3>(sink.p); }, reps);
        printf("floor_bulk,S=%d,stages2_ms=%.3f,stages3_ms=%.3f,tbps2=%.2f,tbps3=%.2f,cp_async_ms=%.3f\n", s.lens[0],
               tb2, tb3, single * tile / tb2 / 1e9, single * tile / tb3 / 1e9, tg);
    }
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

#ifdef NSA_FA_WGMMA
// The experimental Hopper flash-attention forward (fa_wgmma.cuh) on NSA's window branch (keys k, v, window w) and
// compressed branch (keys K̃, Ṽ, block-causal with l, d) against the reference attention (sdpa-masked) on the
// same inputs: max abs differences (exact P, fp32 output), then medians. bf16, Dk = Dv = 128, equal lengths.
template <typename T>
void fa_bench(const Shape& s, int window, int reps) {
    Problem<T> pr(s, 4321);
    const size_t no = (size_t)pr.nnz * s.hq * s.dv, nl = (size_t)pr.nnz * s.hq;
    Dev<float> o_ref(no), l_ref(nl), o(no), l(nl);
    Dev<T> oh(no);
    const int S = s.lens[0];
    for (int cmp = 0; cmp < 2; ++cmp) {
        auto params = [&](void* out, float* lse, bool fp32) {
            nsa::AttnParams p = pr.attn(out, lse, fp32, 1.f / sqrtf((float)s.dk));
            p.blocks = nullptr;
            p.walk = nsa::kWalkRanges;
            if (cmp) {
                p.k = pr.kc.p; p.v = pr.vc.p; p.cu_k = pr.cuc.p; p.mask = nsa::kMaskBlockCausal;
            } else {
                p.mask = nsa::kMaskWindow; p.window = window;
            }
            return p;
        };
        double pairs = 0;   // visible (query, key) pairs per head
        for (int t = 0; t < S; ++t) {
            pairs += cmp ? (t - s.l + 1 < 0 ? 0 : std::min((t - s.l + 1) / s.d + 1, (S - s.l) / s.d + 1))
                         : std::min(t + 1, window);
        }
        const double fl = pairs * s.lens.size() * s.hq * 2.0 * (s.dk + s.dv);
        auto run = [&](void* out, float* lse, bool fp32, bool exact) {
            nsa::AttnParams p = params(out, lse, fp32);
            dim3 grid((S + nsa::wga::kRows - 1) / nsa::wga::kRows, s.hq, pr.batch);
            launch(exact ? (void*)nsa_fa_wgmma_bf16_d128_exact : (void*)nsa_fa_wgmma_bf16_d128, grid,
                   nsa::wga::kThreads, nsa::wga::kSmemBytes, p, 0);
        };
        // the reference (one warp per row, scalar) only up to 16k tokens per call: beyond, its time is minutes
        double mx = -1, lmx = -1;
        float t_ref = -1;
        run(o.p, l.p, true, true);
        if ((long)pr.nnz <= 16384) {
            nsa::AttnParams pref = params(o_ref.p, l_ref.p, true);
            long rows = (long)pr.nnz * s.hq;
            t_ref = time_ms([&] { launch(ref_attention<T>(128), dim3((unsigned)((rows + 3) / 4)), 128, 0, pref); }, 1);
            CK(cudaDeviceSynchronize());
            max_diff(o_ref, l_ref, o, l, mx, lmx);
        }
        CK(cudaDeviceSynchronize());
        float tf = time_ms([&] { run(oh.p, l.p, false, false); }, reps);
        float te = time_ms([&] { run(o.p, l.p, true, true); }, reps);
        printf("fa_wgmma,%s,B=%zu,S=%d,Hq=%d,Hkv=%d,max_abs_vs_ref=%.3g,lse_max_abs=%.3g,fast_ms=%.3f,exact_ms=%.3f,"
               "ref_ms=%.2f,tflops_fast=%.1f,tflops_exact=%.1f\n", cmp ? "block-causal" : "window", s.lens.size(), S,
               s.hq, s.hkv, mx, lmx, tf, te, t_ref, fl / tf / 1e9, fl / te / 1e9);
    }
}
#endif

#ifdef NSA_FA_HOPPER
// fa2-bridge's Hopper forward (fa2_hopper.cu) against its FA-2 kernels (fa2_fwd.cu) on NSA's window branch (keys k,
// v), compressed branch (keys K̃, Ṽ, block-causal with l, d) and dense causal attention: max abs differences of the
// exact-P fp32 outputs (Hopper vs FA-2, and both vs the reference attention up to 16k rows), then medians of both in
// fast and exact P (bf16 output). bf16, Dk = Dv = 128, varlen over equal lengths.
template <typename T>
void fah_bench(const Shape& s, int window, int reps) {
    Problem<T> pr(s, 4321);
    const size_t no = (size_t)pr.nnz * s.hq * s.dv, nl = (size_t)pr.nnz * s.hq;
    Dev<float> o_ref(no), l_ref(nl), o(no), l(nl), o2(no), l2(nl);
    Dev<T> oh(no);
    const int S = s.lens[0];
    const char* names[] = {"window", "block-causal", "causal"};
    for (int which = 0; which < 3; ++which) {
        const bool cmp = which == 1;
        const int nk = cmp ? pr.nnz_cmp : pr.nnz;
        const void* kp = cmp ? (const void*)pr.kc.p : (const void*)pr.k.p;
        const void* vp = cmp ? (const void*)pr.vc.p : (const void*)pr.v.p;
        auto params = [&](void* out, float* lse, bool fp32) {
            nsa::Fa2Params p{};
            p.q = pr.q.p; p.k = kp; p.v = vp; p.o = out; p.lse = lse;
            p.cu_q = pr.cu.p; p.cu_k = cmp ? pr.cuc.p : pr.cu.p;
            p.q_tok_stride = (int64_t)s.hq * 128; p.q_head_stride = 128;
            p.k_tok_stride = p.v_tok_stride = (int64_t)s.hkv * 128; p.k_head_stride = p.v_head_stride = 128;
            p.o_tok_stride = (int64_t)s.hq * 128; p.o_head_stride = 128; p.lse_tok_stride = s.hq;
            p.batch = pr.batch; p.heads = s.hq; p.kv_heads = s.hkv; p.seqlen_q = S; p.seqlen_k = 0; p.rows = pr.nnz;
            p.dk = p.dv = 128; p.mask = which == 0 ? nsa::kFa2Window : cmp ? nsa::kFa2BlockCausal : nsa::kFa2Causal;
            p.window = window; p.cmp_len = s.l; p.cmp_stride = s.d; p.out_fp32 = fp32; p.num_splits = 1;
            p.scale = 1.f / sqrtf(128.f); p.scale_log2 = p.scale * 1.4426950408889634f;
            return p;
        };
        void* fa2_sym[2][3] = {{(void*)nsa_fa2_fwd_window_bf16_dk128_dv128, (void*)nsa_fa2_fwd_blockcausal_bf16_dk128_dv128,
                                (void*)nsa_fa2_fwd_causal_bf16_dk128_dv128},
                               {(void*)nsa_fa2_fwd_window_bf16_dk128_dv128_exact,
                                (void*)nsa_fa2_fwd_blockcausal_bf16_dk128_dv128_exact,
                                (void*)nsa_fa2_fwd_causal_bf16_dk128_dv128_exact}};
        void* fah_sym[2][3] = {{(void*)nsa_fa2_hopper_window_bf16_d128, (void*)nsa_fa2_hopper_blockcausal_bf16_d128,
                                (void*)nsa_fa2_hopper_causal_bf16_d128},
                               {(void*)nsa_fa2_hopper_window_bf16_d128_exact,
                                (void*)nsa_fa2_hopper_blockcausal_bf16_d128_exact,
                                (void*)nsa_fa2_hopper_causal_bf16_d128_exact}};
        auto run_fa2 = [&](void* out, float* lse, bool fp32, bool exact) {
            nsa::Fa2Params p = params(out, lse, fp32);
            launch(fa2_sym[exact][which], dim3((S + 127) / 128, s.hq, pr.batch), 128, 64 * 1024, p);
        };
        const CUtensorMap mq = tensor_map_3d(pr.q.p, pr.nnz, s.hq, 128, (int64_t)s.hq * 128, 128, 64);
        const CUtensorMap mk = tensor_map_3d(kp, nk, s.hkv, 128, (int64_t)s.hkv * 128, 128, 128);
        const CUtensorMap mv = tensor_map_3d(vp, nk, s.hkv, 128, (int64_t)s.hkv * 128, 128, 128);
        auto run_fah = [&](void* out, float* lse, bool fp32, bool exact) {
            nsa::Fa2Params p = params(out, lse, fp32);
            launch_args(fah_sym[exact][which], dim3((S + nsa::fah::kBM - 1) / nsa::fah::kBM, s.hq, pr.batch),
                        nsa::fah::kThreads, nsa::fah::kSmemBytes, 0, p, mq, mk, mv);
        };
        double pairs = 0;   // visible (query, key) pairs per head and sequence
        for (int t = 0; t < S; ++t) {
            pairs += cmp ? (t - s.l + 1 < 0 ? 0 : std::min((t - s.l + 1) / s.d + 1, (S - s.l) / s.d + 1))
                         : which == 0 ? std::min(t + 1, window) : t + 1;
        }
        const double fl = pairs * s.lens.size() * s.hq * 2.0 * (s.dk + s.dv);
        run_fa2(o.p, l.p, true, true);
        run_fah(o2.p, l2.p, true, true);
        CK(cudaDeviceSynchronize());
        double mx, lmx, rmx = -1, rlmx = -1, fmx = -1, flmx = -1;
        max_diff(o, l, o2, l2, mx, lmx);
        if ((long)pr.nnz <= 16384 && which != 2) {   // the reference (one warp per row, scalar): minutes beyond
            nsa::AttnParams pref = pr.attn(o_ref.p, l_ref.p, true, 1.f / sqrtf(128.f));
            pref.blocks = nullptr; pref.walk = nsa::kWalkRanges;
            if (cmp) { pref.k = pr.kc.p; pref.v = pr.vc.p; pref.cu_k = pr.cuc.p; pref.mask = nsa::kMaskBlockCausal; pref.cmp_len = s.l; pref.cmp_stride = s.d; }
            else { pref.mask = nsa::kMaskWindow; pref.window = window; }
            long rows = (long)pr.nnz * s.hq;
            launch(ref_attention<T>(128), dim3((unsigned)((rows + 3) / 4)), 128, 0, pref);
            CK(cudaDeviceSynchronize());
            max_diff(o_ref, l_ref, o2, l2, rmx, rlmx);
            max_diff(o_ref, l_ref, o, l, fmx, flmx);
        }
        float tf2 = time_ms([&] { run_fa2(oh.p, l.p, false, false); }, reps);
        float te2 = time_ms([&] { run_fa2(oh.p, l.p, false, true); }, reps);
        float tfh = time_ms([&] { run_fah(oh.p, l.p, false, false); }, reps);
        float teh = time_ms([&] { run_fah(oh.p, l.p, false, true); }, reps);
        printf("fa_hopper,%s,B=%zu,S=%d,Hq=%d,Hkv=%d,l=%d,d=%d,w=%d,max_abs_vs_fa2=%.3g,lse_vs_fa2=%.3g,"
               "max_abs_vs_ref=%.3g,lse_vs_ref=%.3g,fa2_vs_ref=%.3g,hopper_fast_ms=%.3f,hopper_exact_ms=%.3f,"
               "fa2_fast_ms=%.3f,fa2_exact_ms=%.3f,tflops_hopper_fast=%.1f,tflops_hopper_exact=%.1f,"
               "tflops_fa2_fast=%.1f,tflops_fa2_exact=%.1f\n",
               names[which], s.lens.size(), S, s.hq, s.hkv, s.l, s.d, window, mx, lmx, rmx, rlmx, fmx, tfh, teh, tf2,
               te2, fl / tfh / 1e9, fl / teh / 1e9, fl / tf2 / 1e9, fl / te2 / 1e9);
    }
}
#endif

int main(int argc, char** argv) {
    setvbuf(stdout, nullptr, _IONBF, 0);
    std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "bench" && argc >= 12) {
        int B = atoi(argv[2]), S = atoi(argv[3]);
        Shape s{std::vector<int>(B, S), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]), atoi(argv[7]), atoi(argv[8]),
                atoi(argv[9]), atoi(argv[10]), atoi(argv[11])};
        int reps = argc > 12 ? atoi(argv[12]) : 10;
        bool ref = argc > 13 && atoi(argv[13]) != 0;
        bench<__nv_bfloat16>(s, reps, ref, argc > 14 ? argv[14] : "");
        return 0;
    }
    if (mode == "score" && argc >= 11) {   // score B S[,S2,..] Hq Hkv DK l d l' n [reps] [with_ref] [fp16]
        int B = atoi(argv[2]);
        std::vector<int> lens;
        for (const char* q = argv[3]; *q;) { lens.push_back(atoi(q)); while (*q && *q != ',') ++q; if (*q) ++q; }
        std::vector<int> all;
        for (int b = 0; b < B; ++b) all.insert(all.end(), lens.begin(), lens.end());
        Shape s{all, atoi(argv[4]), atoi(argv[5]), atoi(argv[6]), atoi(argv[6]), atoi(argv[7]), atoi(argv[8]),
                atoi(argv[9]), atoi(argv[10])};
        int reps = argc > 11 ? atoi(argv[11]) : 10;
        bool ref = argc > 12 && atoi(argv[12]) != 0;
        if (argc > 13 && atoi(argv[13]) != 0) score_bench<__half>(s, reps, ref); else score_bench<__nv_bfloat16>(s, reps, ref);
        return 0;
    }
#ifdef NSA_FA_WGMMA
    if (mode == "fa" && argc >= 9) {   // fa B S Hq Hkv l d w [reps]
        int B = atoi(argv[2]), S = atoi(argv[3]);
        Shape s{std::vector<int>(B, S), atoi(argv[4]), atoi(argv[5]), 128, 128, atoi(argv[6]), atoi(argv[7]), 64, 16};
        fa_bench<__nv_bfloat16>(s, atoi(argv[8]), argc > 9 ? atoi(argv[9]) : 10);
        return 0;
    }
#endif
#ifdef NSA_FA_HOPPER
    if (mode == "fah" && argc >= 9) {   // fah B S Hq Hkv l d w [reps]
        int B = atoi(argv[2]), S = atoi(argv[3]);
        Shape s{std::vector<int>(B, S), atoi(argv[4]), atoi(argv[5]), 128, 128, atoi(argv[6]), atoi(argv[7]), 64, 16};
        fah_bench<__nv_bfloat16>(s, atoi(argv[8]), argc > 9 ? atoi(argv[9]) : 10);
        return 0;
    }
#endif
    fprintf(stderr, "usage: tc_harness bench B S Hq Hkv DK DV l d l' n [reps] [with_ref] [indices.bin]\n"
                    "       tc_harness score B S[,S2..] Hq Hkv DK l d l' n [reps] [with_ref] [fp16]\n"
                    "       tc_harness fa B S Hq Hkv l d w [reps]   (built with -DNSA_FA_WGMMA)\n"
                    "       tc_harness fah B S Hq Hkv l d w [reps]  (built with -DNSA_FA_HOPPER)\n");
    return 2;
}
