// Host emulation of the tensor-core decode step's attention (cuda-tc/decode_tc.cu's split kernel, decode.cu's
// select_scores and finish), no GPU: a block's threads as coroutines (block_shim.h), ldmatrix / mma.sync / shuffles
// / ballots emulated per warp (tc_warp_emu.h). One step for a batch of sequences of different lengths (0, below l,
// below l', one and several selection blocks, past the scorer's 1024-block chunk) over random caches read through a
// scrambled block table with a block whose page is missing and one whose page is out of range: the cmp split's
// partials and scores, the scorer's chosen blocks (against fp64 scores and NSA-SPEC's rule, near ties counted), the
// sel and win splits, the merge and the gate combine, against fp64; the reads counter and the advanced lengths
// exactly. Split counts above the keys leave trailing splits empty (the merge skips them). Proves the step's index
// logic under the emulation's model (the GPU suites prove the model). Run: scripts/emulate-kernels.sh
#define NSA_HOST_EMULATION
#include "cuda_keywords_shim.h"
#include "block_shim.h"

#include <algorithm>
#undef __shared__
#define __shared__ static
using std::max;
using std::min;
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }
inline float __fsub_rn(float a, float b) { volatile float r = a - b; return r; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }

#include <climits>
#include <cstdio>
#include <random>

#include "emu_device.h"
#include "tc_warp_emu.h"
inline int __shfl_xor_sync(unsigned m, int v, int off) { return __shfl_sync(m, v, (emu_cur & 31) ^ off); }

#include "decode.cu"
#include "decode_tc.cu"
#include "emu_reference.h"

using SplitKernel = void (*)(const nsa::DecodeParams);
template <typename T>
static SplitKernel split_kernel(int dk, bool exact);
#define EMU_SPLIT(T, SUF)                                                                                               \
    template <> SplitKernel split_kernel<T>(int dk, bool exact) {                                                      \
        if (dk == 64) return exact ? nsa_decode_split_##SUF##_dk64_dv64_exact : nsa_decode_split_##SUF##_dk64_dv64;     \
        if (dk == 128) return exact ? nsa_decode_split_##SUF##_dk128_dv128_exact : nsa_decode_split_##SUF##_dk128_dv128; \
        return exact ? nsa_decode_split_##SUF##_dk192_dv128_exact : nsa_decode_split_##SUF##_dk192_dv128;               \
    }
EMU_SPLIT(__nv_bfloat16, bf16)
EMU_SPLIT(__half, fp16)

struct Case {
    int dk, dv, h, l, d, lsel, n, w;
    std::vector<int> lens;   // t of each sequence: the step's query position (the cache holds 0..t)
    int split_cmp, split_sel, split_win;
    bool exact;
};

static int ncmp_of(int64_t t, int l, int d) { return t + 1 < l ? 0 : static_cast<int>((t + 1 - l) / d + 1); }

template <typename T>
static void check_step(const char* dt, const Case& c) {
    std::mt19937 rng(static_cast<uint32_t>(c.dk * 31 + c.h * 7 + c.l + c.lens.size()));
    const int G = 2, H = G * c.h, B = static_cast<int>(c.lens.size()), dk = c.dk, dv = c.dv;
    const int cap_tokens = *std::max_element(c.lens.begin(), c.lens.end()) + 1;
    const int cmp_cap = std::max(1, ncmp_of(cap_tokens - 1, c.l, c.d));
    const int stride = (cap_tokens + c.lsel - 1) / c.lsel, pool = 23;
    // the table: block j of sequence b in page (7j + 3b) % pool (pages shared between blocks: reads only); block 0 of
    // sequence 1 has none, block 0 of sequence 2 one past the pool (the split kernel masks both)
    std::vector<int> table((size_t)B * stride);
    for (int b = 0; b < B; ++b) for (int j = 0; j < stride; ++j) table[(size_t)b * stride + j] = (7 * j + 3 * b) % pool;
    if (B > 1) table[stride] = -1;
    if (B > 2) table[2 * (size_t)stride] = pool + 5;
    HalfBuf<T> q((size_t)B * H * dk, rng);
    HalfBuf<T> sk((size_t)pool * c.lsel * G * dk, rng), sv((size_t)pool * c.lsel * G * dv, rng);
    HalfBuf<T> wk((size_t)B * c.w * G * dk, rng), wv((size_t)B * c.w * G * dv, rng);
    HalfBuf<T> ck((size_t)B * cmp_cap * G * dk, rng), cv((size_t)B * cmp_cap * G * dv, rng);
    std::vector<int> lengths(c.lens), indices((size_t)B * G * c.n, 12345), reads((size_t)B * G * 3, -7);
    const int64_t rows = (int64_t)B * H;
    const int splits = c.split_cmp + c.split_sel + c.split_win;
    std::vector<float> o_part((size_t)splits * rows * dv, NAN), lse_part((size_t)splits * rows, NAN);
    std::vector<float> scores((size_t)rows * cmp_cap, NAN);
    std::vector<float> o_c(rows * dv, NAN), o_s(rows * dv, NAN), o_w(rows * dv, NAN), l_c(rows, NAN), l_s(rows, NAN),
        l_w(rows, NAN), gates(rows * 3), out(rows * dv, NAN);
    std::uniform_real_distribution<float> u01(0.f, 1.f);
    for (float& x : gates) x = u01(rng);

    nsa::DecodeParams p{};
    p.q = q.v.data();
    p.sel_k = sk.v.data(); p.sel_v = sv.v.data(); p.table = table.data();
    p.win_k = wk.v.data(); p.win_v = wv.v.data(); p.cmp_k = ck.v.data(); p.cmp_v = cv.v.data();
    p.lengths = lengths.data();
    p.o_cmp = o_c.data(); p.o_sel = o_s.data(); p.o_win = o_w.data();
    p.lse_cmp = l_c.data(); p.lse_sel = l_s.data(); p.lse_win = l_w.data();
    p.indices = indices.data(); p.reads = reads.data();
    p.batch = B; p.heads = H; p.kv_heads = G; p.dk = dk; p.dv = dv;
    p.block_len = c.l; p.block_stride = c.d; p.sel_block = c.lsel; p.n_sel = c.n; p.window = c.w;
    p.pages = pool; p.table_stride = stride; p.cmp_cap = cmp_cap;
    p.scale = 1.f / std::sqrt(static_cast<float>(dk));
    p.o_part = o_part.data(); p.lse_part = lse_part.data(); p.scores = scores.data();
    p.split_cmp = c.split_cmp; p.split_sel = c.split_sel; p.split_win = c.split_win;

    const SplitKernel split = split_kernel<T>(dk, c.exact);
    const unsigned gy = B * G * ((c.h + 15) / 16);
    p.branch = 0;
    launch_blocks([&] { split(p); }, c.split_cmp, gy, 1, nsa::dtc::kThreads);
    launch_blocks([&] { nsa_decode_fp32_select_scores(p); }, B * G, 1, 1, 256);
    p.branch = 1;
    launch_blocks([&] { split(p); }, std::max(c.split_sel, c.split_win), gy, 2, nsa::dtc::kThreads);
    launch_blocks([&] { nsa_decode_fp32_finish_gfp32_ofp32(p, gates.data(), out.data()); },
                  (unsigned)((rows + nsa::kFinishRows - 1) / nsa::kFinishRows), 1, 1, nsa::kFinishThreads);

    std::vector<double> rc(rows * dv), rs(rows * dv), rw(rows * dv), rlc(rows), rls(rows), rlw(rows), ro(rows * dv);
    long score_rows = 0, differ = 0, bad = 0;
    for (int b = 0; b < B; ++b) {
        const int t = c.lens[b], ncmp = std::min(ncmp_of(t, c.l, c.d), cmp_cap), cur = t / c.lsel;
        CHECK(lengths[b] == t + 1, "%s: length of sequence %d is %d after the step, not %d", dt, b, lengths[b], t + 1);
        for (int g = 0; g < G; ++g) {
            auto gather = [&](const HalfBuf<T>& src, int dim, const std::vector<int64_t>& at) {
                std::vector<float> r(at.size() * dim + 1);
                for (size_t s = 0; s < at.size(); ++s) {
                    for (int e = 0; e < dim; ++e) r[s * dim + e] = src.f[(at[s] * G + g) * dim + e];
                }
                return r;
            };
            // cmp: K̃ rows b·cap + i, i < ncmp; the fp64 scores and the chosen set by NSA-SPEC's rule
            std::vector<int64_t> cat;
            for (int i = 0; i < ncmp; ++i) cat.push_back((int64_t)b * cmp_cap + i);
            const std::vector<float> kc = gather(ck, dk, cat), vc = gather(cv, dv, cat);
            std::vector<double> pc(ncmp, 0.0);
            for (int hh = 0; hh < c.h; ++hh) {
                const int64_t r = (int64_t)b * H + g * c.h + hh;
                const float* qf = &q.f[r * dk];
                rlc[r] = ref_row(qf, kc, vc, dk, ncmp, [](int) { return true; }, p.scale, &rc[r * dv], dk, dv, dv);
                for (int i = 0; i < ncmp; ++i) {
                    double dot = 0;
                    for (int e = 0; e < dk; ++e) dot += (double)qf[e] * kc[(size_t)i * dk + e];
                    pc[i] += std::exp(dot * p.scale - rlc[r]);
                }
            }
            std::vector<double> P(cur + 1, 0.0);
            for (int j = 0; j <= cur; ++j) {
                for (int i = 0; i < ncmp; ++i) {
                    const long ov = std::min<long>((long)i * c.d + c.l, (long)(j + 1) * c.lsel) - std::max<long>((long)i * c.d, (long)j * c.lsel);
                    if (ov > 0) P[j] += pc[i] * (double)ov / c.l;
                }
            }
            std::vector<int> want;
            if (cur + 1 <= c.n) {
                for (int j = 0; j <= cur; ++j) want.push_back(j);
            } else {
                want = {0, cur - 1, cur};
                std::vector<int> rest;
                for (int j = 1; j <= cur - 2; ++j) rest.push_back(j);
                std::stable_sort(rest.begin(), rest.end(), [&](int x, int y) { return std::max(P[x], 0.0) > std::max(P[y], 0.0); });
                for (int k = 0; k < c.n - 3 && k < (int)rest.size(); ++k) want.push_back(rest[k]);
            }
            std::sort(want.begin(), want.end());
            std::vector<int> got;
            const int* ir = &indices[((size_t)b * G + g) * c.n];
            for (int e = 0; e < c.n; ++e) if (ir[e] >= 0) got.push_back(ir[e]);
            bool padded = std::is_sorted(got.begin(), got.end()) && std::adjacent_find(got.begin(), got.end()) == got.end();
            for (int e = (int)got.size(); e < c.n; ++e) padded = padded && ir[e] == -1;
            CHECK(padded, "%s: chosen blocks of (%d, %d) not sorted, distinct and -1 padded", dt, b, g);
            ++score_rows;
            if (got != want) {
                ++differ;
                double lo_got = INFINITY, hi_miss = -INFINITY;
                for (int j : got) if (!std::binary_search(want.begin(), want.end(), j)) lo_got = std::min(lo_got, j <= cur ? P[j] : -1.0);
                for (int j : want) if (!std::binary_search(got.begin(), got.end(), j)) hi_miss = std::max(hi_miss, P[j]);
                if (!(std::fabs(hi_miss - lo_got) <= 1e-4 * std::fabs(hi_miss))) ++bad;
            }
            // sel: the kernel's chosen blocks (so a near tie does not cascade), tokens <= t, through the table;
            // a block without a page in range is masked but its keys are counted
            std::vector<int64_t> sat;
            int sel_keys = 0;
            for (int j : got) {
                if ((int64_t)j * c.lsel > t) continue;
                sel_keys += std::min(c.lsel, t + 1 - j * c.lsel);
                const int pg = table[(size_t)b * stride + j];
                if (pg < 0 || pg >= pool) continue;
                for (int o = 0; o < c.lsel && j * c.lsel + o <= t; ++o) sat.push_back((int64_t)pg * c.lsel + o);
            }
            const std::vector<float> ks = gather(sk, dk, sat), vs = gather(sv, dv, sat);
            // win: positions max(0, t - w + 1)..t in ring slots b·w + pos % w
            std::vector<int64_t> wat;
            for (int pos = std::max(0, t - c.w + 1); pos <= t; ++pos) wat.push_back((int64_t)b * c.w + pos % c.w);
            const std::vector<float> kw = gather(wk, dk, wat), vw = gather(wv, dv, wat);
            for (int hh = 0; hh < c.h; ++hh) {
                const int64_t r = (int64_t)b * H + g * c.h + hh;
                const float* qf = &q.f[r * dk];
                rls[r] = ref_row(qf, ks, vs, dk, (int)sat.size(), [](int) { return true; }, p.scale, &rs[r * dv], dk, dv, dv);
                rlw[r] = ref_row(qf, kw, vw, dk, (int)wat.size(), [](int) { return true; }, p.scale, &rw[r * dv], dk, dv, dv);
                for (int e = 0; e < dv; ++e) {
                    ro[r * dv + e] = gates[r * 3 + 2] * rw[r * dv + e] + gates[r * 3 + 1] * rs[r * dv + e] + gates[r * 3] * rc[r * dv + e];
                }
            }
            const int* rd = &reads[((size_t)b * G + g) * 3];
            CHECK(rd[0] == ncmp && rd[1] == sel_keys && rd[2] == (int)wat.size(),
                  "%s: reads of (%d, %d) are %d/%d/%d, not %d/%d/%d", dt, b, g, rd[0], rd[1], rd[2], ncmp, sel_keys, (int)wat.size());
        }
    }
    CHECK(bad == 0, "%s: %ld of %ld (sequence, group) rows chose other blocks beyond a near tie", dt, bad, score_rows);
    char what[128];
    const double bound = c.exact ? 1e-4 : 2e-2;
    const char* mode = c.exact ? "exact P" : "fast P";
    snprintf(what, sizeof what, "decode %s %d/%d h=%d l=%d d=%d n=%d cmp (%d splits) %s", dt, dk, dv, c.h, c.l, c.d, c.n, c.split_cmp, mode);
    compare(what, o_c, l_c, rc, rlc, bound);
    snprintf(what, sizeof what, "decode %s %d/%d h=%d sel (%d splits) %s", dt, dk, dv, c.h, c.split_sel, mode);
    compare(what, o_s, l_s, rs, rls, bound);
    snprintf(what, sizeof what, "decode %s %d/%d h=%d win (%d splits) %s", dt, dk, dv, c.h, c.split_win, mode);
    compare(what, o_w, l_w, rw, rlw, bound);
    double mo = 0;
    size_t unfinished = 0;
    for (size_t i = 0; i < out.size(); ++i) {
        if (!std::isfinite(out[i])) ++unfinished;
        else mo = std::max(mo, std::fabs(out[i] - ro[i]));
    }
    CHECK(unfinished == 0 && mo <= bound, "%s: gate combine max abs %.3g (bound %.3g), %zu elements not finite", what, mo,
          bound, unfinished);
    printf("emulation: decode %s %d/%d h=%d: gate combine max abs %.3g; %ld (sequence, group) rows, %ld chose other "
           "blocks (%ld beyond a near tie)\n", dt, dk, dv, c.h, mo, score_rows, differ, bad);
}

int main() {
    // lengths: 0; below l'; one block past l'; many blocks; past the scorer's 1024-block chunk (cur = 1093)
    check_step<__nv_bfloat16>("bf16", {64, 64, 16, 64, 64, 64, 16, 128, {0, 40, 1000, 70000}, 5, 3, 2, true});
    // the paper's compression, h = 4 (rows past it are padding), 63 / 64 / 65 around l', more splits than keys
    check_step<__half>("fp16", {128, 128, 4, 32, 16, 64, 5, 64, {63, 64, 65, 3000}, 4, 6, 3, true});
    // Dk != Dv, two 16-head chunks per group, fast P
    check_step<__nv_bfloat16>("bf16", {192, 128, 32, 64, 64, 64, 8, 256, {5, 2000}, 3, 3, 3, false});
    if (fails) {
        printf("decode emulation: %d FAILED\n", fails);
        return 1;
    }
    printf("decode emulation: OK\n");
    return 0;
}
