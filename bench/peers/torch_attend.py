#!/usr/bin/env python3
"""Checks an `nsa attend` output against PyTorch SDPA on the same .npy inputs.

    ./nsa attend --random 2,1024,16,4,128,128 --inputs in/ --causal --path fa2 --dtype bf16 --out got/
    python3 bench/peers/torch_attend.py --inputs in/ --outputs got/ --mask causal --dtype bf16 \\
        --backends flash,math-fp32

Reads q.npy [B,S,H,Dk], k.npy [B,Sk,Hkv,Dk], v.npy [B,Sk,Hkv,Dv] from --inputs and o.npy [B,S,H,Dv] from
--outputs (float32, as `nsa attend` writes them; dense batches only: cu_seqlens files are refused). The inputs
are rounded to --dtype on the GPU, exactly as nsa attend rounds them, then each backend runs:
    flash, cudnn, efficient, math   torch SDPA with that backend in --dtype (flash only for none/causal;
                                    window and block-causal pass an explicit boolean mask)
    math-fp32                       the math backend on the same rounded values cast to fp32: fp32 arithmetic,
                                    what nsa4j's `sdpa` and FA-2's exact-P mode compute
Prints, per backend, MAE, max abs and NaN/Inf count of nsa's o against torch's (fp32), one line each. Rows
with no visible key are 0 in nsa4j and NaN in torch: they are left out and counted.

--mask none|causal|window|block-causal with --window W / --block-causal L,D, as torch_sdpa.py.
--max-mae X: exit 1 when any backend's MAE exceeds X. Exit 2: usage errors, no torch, no CUDA device.
"""
import argparse
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_sdpa  # noqa: E402  (shared helpers: import_torch, bool_mask, parse_pair, UsageError)

PROG = "torch_attend.py"
BACKENDS = ("flash", "cudnn", "efficient", "math", "math-fp32")


def run(args):
    import numpy as np
    for name in ("cu_seqlens_q.npy", "cu_seqlens_k.npy"):
        if os.path.exists(os.path.join(args.inputs, name)):
            raise torch_sdpa.UsageError("%s in %s: varlen inputs are not supported here (dense batches only)"
                                        % (name, args.inputs))
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for b in backends:
        if b not in BACKENDS:
            raise torch_sdpa.UsageError("backend %r is not one of %s" % (b, ",".join(BACKENDS)))
    window = args.window or 0
    cmp_len, cmp_stride = torch_sdpa.parse_pair(args.block_causal, "--block-causal") if args.block_causal else (0, 0)
    if args.mask == "window" and window < 1:
        raise torch_sdpa.UsageError("--mask window needs --window W >= 1")
    if args.mask == "block-causal" and not args.block_causal:
        raise torch_sdpa.UsageError("--mask block-causal needs --block-causal L,D")

    def load(folder, name):
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            raise torch_sdpa.UsageError("%s is missing" % path)
        return np.load(path)

    q, k, v = (load(args.inputs, n) for n in ("q.npy", "k.npy", "v.npy"))
    o = load(args.outputs, "o.npy").astype(np.float64)
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4 or o.shape[:3] != q.shape[:3] or o.shape[3] != v.shape[3]:
        raise torch_sdpa.UsageError("expected q [B,S,H,Dk], k [B,Sk,Hkv,Dk], v [B,Sk,Hkv,Dv], o [B,S,H,Dv]; got "
                                    "%s %s %s %s" % (q.shape, k.shape, v.shape, o.shape))
    torch = torch_sdpa.import_torch()
    from torch.nn.attention import SDPBackend, sdpa_kernel
    import torch.nn.functional as F
    kinds = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION,
             "efficient": SDPBackend.EFFICIENT_ATTENTION, "math": SDPBackend.MATH, "math-fp32": SDPBackend.MATH}
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[args.dtype]
    dev = torch.device("cuda")
    # [B,S,H,D] -> SDPA's [B,H,S,D], rounded to the input dtype once
    tq, tk, tv = (torch.from_numpy(np.ascontiguousarray(x)).to(dev).to(dtype).transpose(1, 2) for x in (q, k, v))
    sq, sk = q.shape[1], k.shape[1]
    allowed = torch_sdpa.bool_mask(torch, args.mask, sq, sk, window, cmp_len, cmp_stride, dev)
    causal = args.mask == "causal"
    # rows with no visible key: nsa4j writes 0, torch NaN; compare the others
    if allowed is None:
        rows = np.ones(sq, dtype=bool)
    else:
        rows = allowed.any(dim=1).cpu().numpy()
    worst = 0.0
    for b in backends:
        if b == "flash" and args.mask not in ("none", "causal"):
            print("%-9s skipped: flash takes no explicit mask (use efficient, math or math-fp32)" % b)
            continue
        x = (tq, tk, tv) if b != "math-fp32" else tuple(t.float() for t in (tq, tk, tv))
        gqa = q.shape[2] != k.shape[2]
        if gqa and b == "efficient":   # takes no enable_gqa: the same K/V heads repeated, identical math
            rep = q.shape[2] // k.shape[2]
            x = (x[0], x[1].repeat_interleave(rep, dim=1), x[2].repeat_interleave(rep, dim=1))
            gqa = False
        try:
            with sdpa_kernel([kinds[b]]), warnings.catch_warnings():
                warnings.simplefilter("ignore")   # torch's per-backend "not used because" notes; refusals raise
                ref = F.scaled_dot_product_attention(*x, attn_mask=allowed, is_causal=causal, enable_gqa=gqa)
        except RuntimeError as e:
            print("%-9s skipped: torch refused: %s" % (b, str(e).splitlines()[0]))
            continue
        got = ref.transpose(1, 2).float().cpu().numpy().astype(np.float64)
        diff = np.abs(got[:, rows] - o[:, rows])
        bad = int((~np.isfinite(o[:, rows])).sum())
        mae = float(diff.mean()) if diff.size else 0.0
        worst = max(worst, mae)
        print("%-9s nsa o vs torch (%s %s): MAE %.3e  max abs %.3e  NaN/Inf in nsa o: %d  rows compared %d of %d"
              % (b, args.dtype if b != "math-fp32" else "fp32 on rounded inputs", args.mask, mae,
                 float(diff.max()) if diff.size else 0.0, bad, int(rows.sum()), sq))
        if bad:
            worst = float("inf")
    if args.max_mae is not None and worst > args.max_mae:
        print("%s: FAILED: MAE above --max-mae %.3g" % (PROG, args.max_mae))
        return 1
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog=PROG, description="Check nsa attend's o.npy against PyTorch SDPA.")
    p.add_argument("--inputs", required=True, help="folder with q.npy k.npy v.npy")
    p.add_argument("--outputs", required=True, help="folder with nsa attend's o.npy")
    p.add_argument("--mask", choices=torch_sdpa.MASKS, default="none")
    p.add_argument("--window", type=int)
    p.add_argument("--block-causal", metavar="L,D")
    p.add_argument("--dtype", choices=("bf16", "fp16"), default="bf16")
    p.add_argument("--backends", default="flash,math-fp32", help="comma list of " + ",".join(BACKENDS))
    p.add_argument("--max-mae", type=float)
    args = p.parse_args(argv)
    try:
        return run(args)
    except torch_sdpa.UsageError as e:
        print("%s: %s" % (PROG, e), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
