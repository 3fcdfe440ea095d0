#!/usr/bin/env python3
"""fla peer of the selection bench: times fla's Triton selection attention (`ParallelNSAFunction`, what
`parallel_nsa(..., block_indices=...)` runs for the selected branch) on given block indices, and writes those
indices so nsa4j's kernels can be timed on the very same ones.

    python3 bench/peers/fla_selection.py --fla-root peers-src/fla --batch 1 --seqlen 65536 --heads 64 \\
        --kv-heads 4 --dim 128 --sel-block 64 --n-sel 16 --indices-out idx.bin [--warmup 5 --repeat 20]

Indices: for token t of each sequence, cur = t // l'; cur + 1 <= n: blocks 0..cur (the rest -1); else the
forced {0, cur - 1, cur} and the n - 3 blocks of 1..cur-2 with the largest uniform random scores (torch,
seed 0), sorted ascending: the shape of NSA's top-n on random inputs. Written as raw little-endian int32
[B·S, Hkv, n] (fla gets them as int64 [B, S, Hkv, n]). q, k, v standard normal bf16, made once; CUDA-event
median of --repeat calls after --warmup (fla autotunes in its first calls), L2 flushed before each call as in
fla_nsa.py. Prints one line: `fla-selection,<B>,<S>,...,median_ms=...,p10_ms=...,p90_ms=...,tflops=...`
with TFLOP/s over the attended keys (keys s <= t of the chosen blocks), 4·D·h per (query head, key).
"""
import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fla_nsa  # noqa: E402  (fla import without its package __init__, timing, percentiles)
from torch_sdpa import percentile  # noqa: E402


def indices(torch, b, s, hkv, n, lsel):
    g = torch.Generator(device="cuda").manual_seed(0)
    t = torch.arange(s, device="cuda")
    cur = t // lsel                                     # [S]
    nb = int(cur[-1].item()) + 1
    j = torch.arange(nb, device="cuda")
    score = torch.rand(b, s, hkv, nb, device="cuda", generator=g)
    cand = (j[None, :] >= 1) & (j[None, :] <= cur[:, None] - 2)      # [S, nb] competing blocks
    score = torch.where(cand[None, :, None, :], score, torch.full_like(score, -1.0))
    forced = (j[None, :] == 0) | (j[None, :] == cur[:, None] - 1) | (j[None, :] == cur[:, None])
    score = torch.where(forced[None, :, None, :] & (j[None, :] <= cur[:, None])[None, :, None, :],
                        torch.full_like(score, 2.0), score)
    every = (cur + 1 <= n)[:, None] & (j[None, :] <= cur[:, None])  # rows whose every block is chosen
    score = torch.where(every[None, :, None, :], torch.full_like(score, 2.0), score)
    k = min(n, nb)
    top = torch.topk(score, k, dim=-1)
    idx = torch.where(top.values >= 0, top.indices, torch.full_like(top.indices, -1))
    idx = torch.sort(torch.where(idx < 0, torch.full_like(idx, 1 << 30), idx), dim=-1).values
    idx = torch.where(idx >= (1 << 30), torch.full_like(idx, -1), idx)
    if k < n:
        idx = torch.cat([idx, torch.full((b, s, hkv, n - k), -1, device="cuda", dtype=idx.dtype)], dim=-1)
    return idx


def attended_keys(torch, idx, lsel):
    s = idx.shape[1]
    t = torch.arange(s, device="cuda")[None, :, None, None]
    lo = idx.to(torch.int64) * lsel
    keys = torch.clamp(t - lo + 1, min=0, max=lsel)
    keys = torch.where(idx >= 0, keys, torch.zeros_like(keys))
    return float(keys.sum().item())


def main():
    ap = argparse.ArgumentParser(description="fla selection attention on given block indices")
    ap.add_argument("--fla-root", required=True)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seqlen", type=int, required=True)
    ap.add_argument("--heads", type=int, default=64)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--sel-block", type=int, default=64)
    ap.add_argument("--n-sel", type=int, default=16)
    ap.add_argument("--indices-out", required=True)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=20)
    a = ap.parse_args()
    torch = fla_nsa.import_torch()
    fla_nsa.import_fla(a.fla_root)
    parallel = sys.modules["fla.ops.nsa.parallel"]
    b, s, hq, hkv, d = a.batch, a.seqlen, a.heads, a.kv_heads, a.dim
    with torch.no_grad():
        gen = torch.Generator(device="cuda").manual_seed(1)
        q = torch.randn(b, s, hq, d, device="cuda", generator=gen, dtype=torch.float32).to(torch.bfloat16)
        k = torch.randn(b, s, hkv, d, device="cuda", generator=gen, dtype=torch.float32).to(torch.bfloat16)
        v = torch.randn(b, s, hkv, d, device="cuda", generator=gen, dtype=torch.float32).to(torch.bfloat16)
        idx = indices(torch, b, s, hkv, a.n_sel, a.sel_block)
        idx.to(torch.int32).contiguous().cpu().numpy().tofile(a.indices_out)
        keys = attended_keys(torch, idx, a.sel_block)
        scale = d ** -0.5

        def call():
            return parallel.ParallelNSAFunction.apply(q, k, v, idx, a.n_sel, a.sel_block, scale, None)

        o = call()
        fla_nsa.check_output(torch, o, (b, s, hq, d), "fla selection")
        times = sorted(fla_nsa.time_calls(torch, call, a.warmup, a.repeat, True))
    med = percentile(times, 50)
    flops = keys * (hq // hkv) * 4.0 * d
    print("fla-selection,B=%d,S=%d,Hq=%d,Hkv=%d,d=%d,lsel=%d,n=%d,median_ms=%.3f,p10_ms=%.3f,p90_ms=%.3f,tflops=%.1f"
          % (b, s, hq, hkv, d, a.sel_block, a.n_sel, med, percentile(times, 10), percentile(times, 90),
             flops / med / 1e9))


if __name__ == "__main__":
    main()
