#!/usr/bin/env python3
"""An independent NumPy implementation of NSA (NSA-SPEC.md, phi = avg, dense batches) to check nsa4j.

    python3 bench/peers/nsa_numpy.py make DIR --shape 1,300,4,2,16,16 [--seed 0]
        writes q.npy k_cmp.npy v_cmp.npy k_sel.npy v_sel.npy k_win.npy v_win.npy gates.npy (float32)
    ./nsa run --inputs DIR --out GOT [--block-len ... same config]
    python3 bench/peers/nsa_numpy.py check DIR GOT [--block-len 32 --stride 16 --sel-block 64 --n-sel 16 --window 512]
        recomputes NSA in float64 from DIR and compares GOT/{o,o_cmp,o_sel,o_win,indices}.npy; exit 1 on mismatch
    ./nsa grad --shape ... --out GRADS [same config]
    python3 bench/peers/nsa_numpy.py grad GRADS [same config] [--samples 12]
        checks nsa4j's gradients (GRADS/dq.npy ... d_gates.npy) against central differences of this forward in
        float64, L = sum(grad_o * o) with GRADS/indices.npy held fixed, on sampled elements of every input (the
        largest gradient always among them); exit 1 on mismatch. No backward formula is shared with nsa4j.

Written from the spec, not from nsa4j's code: loops over (b, t, group) for selection, masks for attention.
"""
import argparse
import sys

import numpy as np


def s_cmp(n, l, d):
    return 0 if n < l else (n - l) // d + 1


def softmax_attend(q, k, v, scale):
    """q [h, D], k [n, D], v [n, Dv] -> [h, Dv]; zero rows when n == 0."""
    if k.shape[0] == 0:
        return np.zeros((q.shape[0], v.shape[1]))
    s = (q @ k.T) * scale
    s -= s.max(axis=1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(axis=1, keepdims=True)
    return p @ v, p


def nsa(inp, l, d, lp, n, w, fixed=None):
    """fixed: [B, S, G, n] chosen blocks to use instead of the scores' (-1 padded; duplicates count once)."""
    q = inp["q"].astype(np.float64)
    B, S, H, Dk = q.shape
    G = inp["k_cmp"].shape[2]
    Dv = inp["v_cmp"].shape[3]
    h = H // G
    scale = 1.0 / np.sqrt(Dk)
    kc, vc = inp["k_cmp"].astype(np.float64), inp["v_cmp"].astype(np.float64)
    ks, vs = inp["k_sel"].astype(np.float64), inp["v_sel"].astype(np.float64)
    kw, vw = inp["k_win"].astype(np.float64), inp["v_win"].astype(np.float64)
    gates = inp["gates"].astype(np.float64)
    nc = s_cmp(S, l, d)
    # compressed tokens: mean over [i*d, i*d + l)
    kt = np.stack([kc[:, i * d:i * d + l].mean(axis=1) for i in range(nc)], axis=1) if nc else np.zeros((B, 0, G, Dk))
    vt = np.stack([vc[:, i * d:i * d + l].mean(axis=1) for i in range(nc)], axis=1) if nc else np.zeros((B, 0, G, Dv))
    nb = -(-S // lp)
    # overlap of compressed token i's span with selection block j, as a fraction of l
    omega = np.zeros((nc, nb))
    for i in range(nc):
        for pos in range(i * d, i * d + l):
            omega[i, pos // lp] += 1.0 / l
    o_cmp = np.zeros((B, S, H, Dv))
    o_sel = np.zeros((B, S, H, Dv))
    o_win = np.zeros((B, S, H, Dv))
    idx = np.full((B, S, G, n), -1, dtype=np.int32)
    for b in range(B):
        for t in range(S):
            ncmp = s_cmp(t + 1, l, d)
            cur = t // lp
            for g in range(G):
                qh = q[b, t, g * h:(g + 1) * h]
                if ncmp:
                    o, p = softmax_attend(qh, kt[b, :ncmp, g], vt[b, :ncmp, g], scale)
                    o_cmp[b, t, g * h:(g + 1) * h] = o
                    score = (p @ omega[:ncmp]).sum(axis=0).astype(np.float32)  # group sum, compared in fp32
                else:
                    score = np.zeros(nb, dtype=np.float32)
                cands = list(range(cur + 1))
                if fixed is not None:
                    chosen = sorted({int(j) for j in fixed[b, t, g] if 0 <= j <= cur})
                elif len(cands) <= n:
                    chosen = cands
                else:
                    forced = {0, cur, cur - 1}
                    rest = sorted((c for c in cands if c not in forced), key=lambda j: (-score[j], j))
                    chosen = sorted(forced | set(rest[:n - len(forced)]))
                idx[b, t, g, :len(chosen)] = chosen
                toks = [s for j in chosen for s in range(j * lp, min((j + 1) * lp, t + 1))]
                o_sel[b, t, g * h:(g + 1) * h] = softmax_attend(qh, ks[b, toks, g], vs[b, toks, g], scale)[0]
                lo = max(0, t - w + 1)
                o_win[b, t, g * h:(g + 1) * h] = softmax_attend(qh, kw[b, lo:t + 1, g], vw[b, lo:t + 1, g], scale)[0]
    o = gates[..., 0:1] * o_cmp + gates[..., 1:2] * o_sel + gates[..., 2:3] * o_win
    return {"o": o, "o_cmp": o_cmp, "o_sel": o_sel, "o_win": o_win, "indices": idx}


NAMES = ["q", "k_cmp", "v_cmp", "k_sel", "v_sel", "k_win", "v_win", "gates"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["make", "check", "grad"])
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--shape", default="1,300,4,2,16,16", help="B,S,H,G,Dk,Dv for make")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--block-len", type=int, default=32)
    ap.add_argument("--stride", type=int, default=16)
    ap.add_argument("--sel-block", type=int, default=64)
    ap.add_argument("--n-sel", type=int, default=16)
    ap.add_argument("--window", type=int, default=512)
    ap.add_argument("--tol", type=float, default=1e-5, help="max abs error allowed (float32 outputs)")
    ap.add_argument("--samples", type=int, default=12, help="grad: elements checked per input (and its largest)")
    a = ap.parse_args()
    if a.mode == "grad":
        return check_grads(a)
    if a.mode == "make":
        B, S, H, G, Dk, Dv = map(int, a.shape.split(","))
        r = np.random.default_rng(a.seed)
        shapes = {"q": (B, S, H, Dk), "gates": (B, S, H, 3)}
        for c in ("cmp", "sel", "win"):
            shapes["k_" + c] = (B, S, G, Dk)
            shapes["v_" + c] = (B, S, G, Dv)
        for name in NAMES:
            x = r.random(shapes[name]) if name == "gates" else r.standard_normal(shapes[name])
            np.save(f"{a.dirs[0]}/{name}.npy", x.astype(np.float32))
        print(f"wrote {len(NAMES)} inputs of shape B,S,H,G,Dk,Dv = {a.shape} to {a.dirs[0]}")
        return 0
    inp = {name: np.load(f"{a.dirs[0]}/{name}.npy") for name in NAMES}
    want = nsa(inp, a.block_len, a.stride, a.sel_block, a.n_sel, a.window)
    ok = True
    for name in ("o", "o_cmp", "o_sel", "o_win"):
        got = np.load(f"{a.dirs[1]}/{name}.npy").astype(np.float64)
        err = np.abs(got - want[name])
        print(f"{name:6s} max abs {err.max():.3e}  mean abs {err.mean():.3e}")
        ok &= bool(err.max() <= a.tol)
    got_idx = np.load(f"{a.dirs[1]}/indices.npy")
    same = np.array_equal(got_idx, want["indices"])
    print(f"indices {'identical' if same else 'DIFFER in %d rows' % int((got_idx != want['indices']).any(-1).sum())}")
    ok &= same
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


GRADS = {"q": "dq", "k_cmp": "dk_cmp", "v_cmp": "dv_cmp", "k_sel": "dk_sel", "v_sel": "dv_sel", "k_win": "dk_win",
         "v_win": "dv_win", "gates": "d_gates"}


def check_grads(a):
    """Central differences of L = sum(grad_o * o) against the gradients nsa grad wrote, on sampled elements."""
    dr = a.dirs[0]
    inp = {name: np.load(f"{dr}/{name}.npy").astype(np.float64) for name in NAMES}
    fixed = np.load(f"{dr}/indices.npy")
    go = np.load(f"{dr}/grad_o.npy").astype(np.float64)

    def loss(x):
        return float((go * nsa(x, a.block_len, a.stride, a.sel_block, a.n_sel, a.window, fixed)["o"]).sum())

    r = np.random.default_rng(a.seed)
    eps = 1e-5
    ok = True
    for name in NAMES:
        g = np.load(f"{dr}/{GRADS[name]}.npy").astype(np.float64)
        flat = g.reshape(-1)
        picks = set(r.choice(flat.size, size=min(a.samples, flat.size), replace=False).tolist())
        picks.add(int(np.abs(flat).argmax()))
        worst = 0.0
        scale = max(1.0, float(np.abs(flat).max()))
        for e in sorted(picks):
            x = {k: v.copy() for k, v in inp.items()}
            x[name].reshape(-1)[e] += eps
            up = loss(x)
            x[name].reshape(-1)[e] -= 2 * eps
            down = loss(x)
            fd = (up - down) / (2 * eps)
            worst = max(worst, abs(fd - flat[e]) / scale)
        good = worst <= a.tol
        ok &= good
        print(f"{GRADS[name]:8s} {len(picks):3d} elements, max |fd - g| / max(1, max|g|) = {worst:.2e}"
              f"{'' if good else '  MISMATCH'}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
