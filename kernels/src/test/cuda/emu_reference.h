// Shared pieces of the whole-kernel host emulations (wg_emulation.cpp, tc_emulation.cpp): the failure counter,
// random half-precision inputs, the fp64 attention of one query row and the comparison of a kernel's o and lse.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

inline int fails = 0;
#define CHECK(c, ...) do { if (!(c)) { if (fails++ < 10) { printf(__VA_ARGS__); printf("\n"); } } } while (0)

// Random half-precision values in [-1, 1) and their floats.
template <typename T>
struct HalfBuf {
    std::vector<T> v;
    std::vector<float> f;
    HalfBuf(size_t n, std::mt19937& rng) : v(n), f(n) {
        std::uniform_real_distribution<float> u(-1.f, 1.f);
        for (size_t i = 0; i < n; ++i) {
            v[i] = T(u(rng));
            f[i] = static_cast<float>(v[i]);
        }
    }
};
using Bf16Buf = HalfBuf<__nv_bfloat16>;

// Softmax attention of query row qf over the keys keyrow(·) that keep says, in fp64: o[dv] and the natural lse.
// Keys s < nkeys with keep(s): k row s at kf + s·kstride (dk values), v row at vf + s·vstride (dv values).
template <typename Keep>
inline double ref_row(const float* qf, const std::vector<float>& kf, const std::vector<float>& vf, int64_t kstride,
                      int nkeys, Keep keep, float scale, double* o, int dk = 128, int dv = 128, int64_t vstride = -1) {
    if (vstride < 0) vstride = kstride;
    double mx = -INFINITY;
    std::vector<double> sc(nkeys, -INFINITY);
    for (int s = 0; s < nkeys; ++s) {
        if (!keep(s)) continue;
        double d = 0;
        for (int c = 0; c < dk; ++c) d += static_cast<double>(qf[c]) * kf[s * kstride + c];
        sc[s] = d * scale;
        mx = std::max(mx, sc[s]);
    }
    for (int c = 0; c < dv; ++c) o[c] = 0;
    if (mx == -INFINITY) return -INFINITY;
    double l = 0;
    for (int s = 0; s < nkeys; ++s) {
        if (sc[s] == -INFINITY) continue;
        const double pe = std::exp(sc[s] - mx);
        l += pe;
        for (int c = 0; c < dv; ++c) o[c] += pe * vf[s * vstride + c];
    }
    for (int c = 0; c < dv; ++c) o[c] /= l;
    return mx + std::log(l);
}

inline void compare(const char* what, const std::vector<float>& o, const std::vector<float>& lse,
                    const std::vector<double>& ro, const std::vector<double>& rl, double bound) {
    double mo = 0, ml = 0;
    size_t unfinished = 0;   // NaN / Inf where the reference is finite: an element never (or wrongly) written
    for (size_t i = 0; i < o.size(); ++i) {
        if (!std::isfinite(o[i])) ++unfinished;
        else mo = std::max(mo, std::fabs(o[i] - ro[i]));
    }
    CHECK(unfinished == 0, "%s: %zu of %zu o elements are not finite", what, unfinished, o.size());
    for (size_t i = 0; i < lse.size(); ++i) {
        if (std::isinf(rl[i])) {
            CHECK(std::isinf(lse[i]) && lse[i] < 0, "%s: row %zu sees no key, lse %g", what, i, lse[i]);
        } else {
            CHECK(std::isfinite(lse[i]), "%s: row %zu lse %g, not finite", what, i, lse[i]);
            ml = std::max(ml, std::fabs(lse[i] - rl[i]));
        }
    }
    CHECK(mo <= bound && ml <= bound, "%s: max abs o %.3g, lse %.3g (bound %.3g)", what, mo, ml, bound);
    printf("emulation: %s max abs o %.3g lse %.3g\n", what, mo, ml);
}

