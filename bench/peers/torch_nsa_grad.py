#!/usr/bin/env python3
"""PyTorch autograd against nsa4j's gradients (issue 12): `nsa grad --out DIR` writes the inputs, grad_o, the chosen
blocks and every gradient; this script recomputes the NSA forward of NSA-SPEC in torch float64 from DIR's inputs,
with the chosen blocks held fixed, backpropagates L = sum(grad_o * o) with autograd, and compares every gradient
(q, each branch's k and v, the gates and, for phi = mlp, both MLPs' parameters) with DIR's d*.npy.

    ./nsa grad --shape 1,128,4,2,16,16 --block-len 16 --stride 8 --sel-block 16 --n-sel 4 --window 32 --out g
    python3 bench/peers/torch_nsa_grad.py g --block-len 16 --stride 8 --sel-block 16 --n-sel 4 --window 32
    (add --phi mlp to both for phi = mlp; --scale S if nsa grad was given one)

Dense batches ([B, S, ...] inputs, as `nsa grad --shape` writes them). Written from the spec, loops over (b, t,
group); autograd does the backward. Prints the worst |torch - nsa4j| / max(1, max |torch|) per gradient; exit 1 when
one exceeds --tol.
"""
import argparse
import math
import sys

import numpy as np
import torch

NAMES = ["q", "k_cmp", "v_cmp", "k_sel", "v_sel", "k_win", "v_win", "gates"]
GRADS = {"q": "dq", "k_cmp": "dk_cmp", "v_cmp": "dv_cmp", "k_sel": "dk_sel", "v_sel": "dv_sel", "k_win": "dk_win",
         "v_win": "dv_win", "gates": "d_gates"}
MLP = ["pos", "w1", "b1", "w2", "b2"]


def s_cmp(n, l, d):
    return 0 if n < l else (n - l) // d + 1


def attend(q, k, v, scale):
    """q [h, Dk], k [m, Dk], v [m, Dv] -> [h, Dv]; zeros (no gradient) when m == 0."""
    if k.shape[0] == 0:
        return q.new_zeros((q.shape[0], v.shape[1]))
    return torch.softmax((q @ k.T) * scale, dim=-1) @ v


def compress(x, l, d, mlp):
    """x [S, D] of one (sequence, group) -> [S_cmp, D]: the mean of each block, or the MLP of NSA-SPEC."""
    rows = []
    for i in range(s_cmp(x.shape[0], l, d)):
        blk = x[i * d:i * d + l]
        if mlp is None:
            rows.append(blk.mean(dim=0))
        else:
            h = torch.nn.functional.silu(mlp["w1"] @ (blk + mlp["pos"]).reshape(-1) + mlp["b1"])
            rows.append(mlp["w2"] @ h + mlp["b2"])
    return torch.stack(rows) if rows else x.new_zeros((0, x.shape[1]))


def forward(t, idx, a, mlp_k, mlp_v):
    B, S, H, Dk = t["q"].shape
    G = t["k_cmp"].shape[2]
    h = H // G
    scale = a.scale if a.scale is not None else 1.0 / math.sqrt(Dk)
    out = []
    for b in range(B):
        per_t = []
        kt = [compress(t["k_cmp"][b, :, g], a.block_len, a.stride, mlp_k) for g in range(G)]
        vt = [compress(t["v_cmp"][b, :, g], a.block_len, a.stride, mlp_v) for g in range(G)]
        for s in range(S):
            ncmp = s_cmp(s + 1, a.block_len, a.stride)
            cur = s // a.sel_block
            heads = []
            for g in range(G):
                q = t["q"][b, s, g * h:(g + 1) * h]
                o_cmp = attend(q, kt[g][:ncmp], vt[g][:ncmp], scale)
                chosen = sorted({int(j) for j in idx[b, s, g] if 0 <= j <= cur})
                toks = [p for j in chosen for p in range(j * a.sel_block, min((j + 1) * a.sel_block, s + 1))]
                o_sel = attend(q, t["k_sel"][b, toks, g], t["v_sel"][b, toks, g], scale)
                lo = max(0, s - a.window + 1)
                o_win = attend(q, t["k_win"][b, lo:s + 1, g], t["v_win"][b, lo:s + 1, g], scale)
                gt = t["gates"][b, s, g * h:(g + 1) * h]
                heads.append(gt[:, 0:1] * o_cmp + gt[:, 1:2] * o_sel + gt[:, 2:3] * o_win)
            per_t.append(torch.cat(heads))
        out.append(torch.stack(per_t))
    return torch.stack(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", help="what nsa grad --out wrote")
    ap.add_argument("--block-len", type=int, default=32)
    ap.add_argument("--stride", type=int, default=16)
    ap.add_argument("--sel-block", type=int, default=64)
    ap.add_argument("--n-sel", type=int, default=16)
    ap.add_argument("--window", type=int, default=512)
    ap.add_argument("--phi", choices=["avg", "mlp"], default="avg")
    ap.add_argument("--scale", type=float, default=None, help="softmax scale (default 1/sqrt(Dk))")
    ap.add_argument("--tol", type=float, default=1e-5, help="max |torch - nsa4j| / max(1, max |torch|) allowed")
    a = ap.parse_args()
    d = a.dir
    torch.set_default_dtype(torch.float64)
    leaf = {n: torch.tensor(np.load(f"{d}/{n}.npy").astype(np.float64), requires_grad=True) for n in NAMES}
    idx = np.load(f"{d}/indices.npy")
    go = torch.tensor(np.load(f"{d}/grad_o.npy").astype(np.float64))
    if idx.ndim != 4 or leaf["q"].ndim != 4:
        print(f"torch_nsa_grad: dense [B, S, ...] inputs expected, got q {tuple(leaf['q'].shape)}", file=sys.stderr)
        return 2
    mlps = {}
    if a.phi == "mlp":
        for side in ("k", "v"):
            mlps[side] = {w: torch.tensor(np.load(f"{d}/phi_{side}_{w}.npy").astype(np.float64), requires_grad=True)
                          for w in MLP}
    o = forward(leaf, idx, a, mlps.get("k"), mlps.get("v"))
    if tuple(o.shape) != tuple(go.shape):
        print(f"torch_nsa_grad: o {tuple(o.shape)} but grad_o {tuple(go.shape)}", file=sys.stderr)
        return 2
    (go * o).sum().backward()
    o_err = float((o.detach() - torch.tensor(np.load(f"{d}/o.npy").astype(np.float64))).abs().max())
    print(f"o        max abs {o_err:.2e} (the forward, against nsa4j's o.npy)")
    checks = [(GRADS[n], leaf[n].grad) for n in NAMES]
    for side, ws in mlps.items():
        checks += [(f"d_phi_{side}_{w}", ws[w].grad) for w in MLP]
    ok = o_err <= a.tol
    for name, want in checks:
        want = want if want is not None else torch.zeros(())
        got = torch.tensor(np.load(f"{d}/{name}.npy").astype(np.float64))
        worst = float((got - want).abs().max()) / max(1.0, float(want.abs().max()))
        good = worst <= a.tol
        ok &= good
        print(f"{name:14s} max |torch - nsa4j| / max(1, max|torch|) = {worst:.2e}{'' if good else '  MISMATCH'}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
