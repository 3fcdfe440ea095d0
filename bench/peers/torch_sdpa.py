#!/usr/bin/env python3
"""PyTorch SDPA peer of the nsa4j attention bench: times torch's backends and writes the same CSV schema.

    python3 bench/peers/torch_sdpa.py --shapes 1,16,4096,64 2,32,8,8192,128 --dtype bf16 --mask causal \\
        --backends flash,cudnn --warmup 10 --repeat 50 --out results/attention.csv

    --shapes B,H,S,D or B,H,Hkv,S,D   (Hkv defaults to H; Hkv < H runs GQA with enable_gqa=True)
    --mask none|causal                 is_causal=False/True (top-left aligned, as nsa4j)
    --mask window --window W           explicit additive attn_mask, t-W+1 <= s <= t
    --mask block-causal --block-causal L,D
                                       Sk = S_cmp(S) = (S-L)//D + 1 compressed keys; key i visible iff i*D+L-1 <= t;
                                       explicit additive attn_mask
    --backends flash,cudnn,efficient,math
    --self-test                        checks the pure-Python helpers (no torch needed) and exits

Backends (torch.nn.attention.sdpa_kernel): flash = FLASH_ATTENTION, cudnn = CUDNN_ATTENTION,
efficient = EFFICIENT_ATTENTION, math = MATH. Flash and cuDNN cannot express window or block-causal without
an explicit mask: for those masks flash is skipped with a message, the other backends get an explicit
additive mask [Sq, Sk] (0 where visible, -inf elsewhere, in the input dtype, built once outside the timed
calls so the bool-to-float conversion SDPA would do per call is not timed; rows say so in `note`), and any
backend torch refuses for a shape ("No available kernel") is skipped with its reason. Use --backends
efficient for the masked modes.

Method (ARCHITECTURE.md "Benchmarks"): inputs [B,H,S,D] (SDPA's layout), standard normal, three input sets
rotated between runs so caches do not flatter; each backend's output is first validated against the math
backend in fp32 on the first batch element's first queries (rows with no visible key excluded); then
--warmup untimed runs and --repeat runs timed with CUDA events; median, p10 and p90 by linear interpolation.

CSV (appended; header written once; an existing file must have the same header), one row per (backend, shape):
    system,path,gpu,dtype,batch,heads,kv_heads,seqlen_q,seqlen_k,dk,dv,mask,window,cmp_len,cmp_stride,
    visible_pairs,flops,median_ms,p10_ms,p90_ms,tflops,runs,note
visible_pairs and flops use the formulas of nsa4j's VisiblePairs (dev.nsa4j.bench.report), which reads these
files back and checks them.

Exit codes: 0 ok; 1 a validation failed or no row was measured; 2 usage errors, no torch, no CUDA device.
"""
import argparse
import csv
import decimal
import math
import os
import sys
import tempfile

COLUMNS = ["system", "path", "gpu", "dtype", "batch", "heads", "kv_heads", "seqlen_q", "seqlen_k", "dk", "dv",
           "mask", "window", "cmp_len", "cmp_stride", "visible_pairs", "flops", "median_ms", "p10_ms", "p90_ms",
           "tflops", "runs", "note"]
HEADER = ",".join(COLUMNS)
BACKENDS = ("flash", "cudnn", "efficient", "math")
MASKS = ("none", "causal", "window", "block-causal")
DIGITS = 6           # significant digits of times and TFLOP/s, as AttentionBenchRow.DIGITS
VALIDATE_QUERIES = 64
TOLERANCE = {"fp16": 1e-2, "bf16": 4e-2}   # max |backend - math fp32| over the validated slice
PROG = "torch_sdpa.py"


class UsageError(Exception):
    pass


# ---------------------------------------------------------------- schema helpers (no torch)

def s_cmp(n, l, d):
    """Compressed tokens of n raw tokens: 0 if n < l, else (n - l) // d + 1."""
    return 0 if n < l else (n - l) // d + 1


def _tri(m):
    return m * (m - 1) // 2


def visible_pairs_per_sequence(mask, sq, sk, window=0, cmp_len=0, cmp_stride=0):
    """Visible (query, key) pairs of one sequence and head; closed forms of nsa4j's VisiblePairs."""
    m = min(sq, sk)
    if mask == "none":
        return sq * sk
    if mask == "causal":
        return m * sq - _tri(m)
    if mask == "window":
        k = max(0, min(sq - window + 1, m))
        return k * window + (m - k) * sq - (_tri(m) - _tri(k))
    if mask == "block-causal":
        mc = min(sk, s_cmp(sq, cmp_len, cmp_stride))
        return mc * (sq - cmp_len + 1) - cmp_stride * _tri(mc)
    raise ValueError("unknown mask %r" % mask)


def visible(mask, t, s, window=0, cmp_len=0, cmp_stride=0):
    """The definition: does query t see key s."""
    if mask == "none":
        return True
    if mask == "causal":
        return s <= t
    if mask == "window":
        return t - window + 1 <= s <= t
    if mask == "block-causal":
        return s * cmp_stride + cmp_len - 1 <= t
    raise ValueError("unknown mask %r" % mask)


def visible_pairs(mask, batch, sq, sk, window=0, cmp_len=0, cmp_stride=0):
    return batch * visible_pairs_per_sequence(mask, sq, sk, window, cmp_len, cmp_stride)


def flops(pairs, heads, dk, dv):
    """2 * heads * pairs * (dk + dv): QK^T and PV."""
    return 2 * heads * pairs * (dk + dv)


def percentile(sorted_values, p):
    """Linear interpolation between closest ranks (NumPy's default), as AttentionBenchRow.percentile."""
    pos = p / 100 * (len(sorted_values) - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def _sig(x):
    ctx = decimal.Context(prec=DIGITS, rounding=decimal.ROUND_HALF_UP)
    return ctx.create_decimal(decimal.Decimal(x))


def round_sig(x):
    """x rounded to DIGITS significant digits (half up on the exact binary value, as Java's BigDecimal)."""
    return 0.0 if x == 0 else float(_sig(x))


def fmt_num(x):
    """Plain decimal with DIGITS significant digits and no trailing zeros (Java: BigDecimal.toPlainString)."""
    if x == 0:
        return "0"
    return format(_sig(x).normalize(), "f")


def parse_shape(text):
    """'B,H,S,D' or 'B,H,Hkv,S,D' -> (B, H, Hkv, S, D)."""
    parts = text.split(",")
    if len(parts) not in (4, 5):
        raise UsageError("shape %r: expected B,H,S,D or B,H,Hkv,S,D" % text)
    try:
        v = [int(p) for p in parts]
    except ValueError:
        raise UsageError("shape %r: fields must be integers" % text)
    if min(v) < 1:
        raise UsageError("shape %r: every field must be >= 1" % text)
    b, h, hkv, s, d = (v[0], v[1], v[1], v[2], v[3]) if len(v) == 4 else v
    if h % hkv:
        raise UsageError("shape %r: H=%d is not a multiple of Hkv=%d" % (text, h, hkv))
    return b, h, hkv, s, d


def parse_pair(text, what):
    parts = text.split(",")
    try:
        l, d = (int(p) for p in parts)
    except ValueError:
        raise UsageError("%s %r: expected L,D (two positive integers)" % (what, text))
    if l < 1 or d < 1:
        raise UsageError("%s %r: L and D must be >= 1" % (what, text))
    return l, d


def make_row(path, gpu, dtype, batch, heads, kv_heads, sq, sk, dk, dv, mask, window, cmp_len, cmp_stride,
             times_ms, note):
    """One CSV row (dict of strings) from the timed runs."""
    s = sorted(times_ms)
    med = percentile(s, 50)
    pairs = visible_pairs(mask, batch, sq, sk, window, cmp_len, cmp_stride)
    fl = flops(pairs, heads, dk, dv)
    tf = fl / (med * 1e-3) / 1e12
    values = ["torch", path, gpu, dtype, batch, heads, kv_heads, sq, sk, dk, dv, mask, window, cmp_len, cmp_stride,
              pairs, fl, fmt_num(med), fmt_num(percentile(s, 10)), fmt_num(percentile(s, 90)), fmt_num(tf),
              len(times_ms), note]
    return dict(zip(COLUMNS, (str(v) for v in values)))


def append_rows(path, rows):
    """Appends rows; the header goes first when the file is absent or empty, else it must match."""
    fresh = not os.path.exists(path) or os.path.getsize(path) == 0
    if not fresh:
        with open(path, newline="", encoding="utf-8") as f:
            first = f.readline().strip().lstrip("\ufeff")
        if first != HEADER:
            raise UsageError("%s: first line is not this schema's header:\n  %s\nexpected\n  %s" % (path, first, HEADER))
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    with open(path, "a", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        if fresh:
            w.writerow(COLUMNS)
        for r in rows:
            w.writerow([r[c] for c in COLUMNS])


# ---------------------------------------------------------------- self-test

def self_test():
    checks = 0
    for sq in range(0, 13):
        for sk in range(0, 13):
            cases = [("none", 0, 0, 0), ("causal", 0, 0, 0)]
            cases += [("window", w, 0, 0) for w in range(1, 15)]
            cases += [("block-causal", 0, l, d) for l in (1, 2, 3, 4, 8) for d in (1, 2, 3, 4) if d <= l]
            for mask, w, l, d in cases:
                brute = sum(1 for t in range(sq) for s in range(sk) if visible(mask, t, s, w, l, d))
                got = visible_pairs_per_sequence(mask, sq, sk, w, l, d)
                assert got == brute, (mask, sq, sk, w, l, d, got, brute)
                checks += 1
    # the same fixed values are asserted by nsa4j's VisiblePairsTest
    assert visible_pairs("causal", 2, 1000, 1000) == 1001000
    assert visible_pairs("window", 1, 4096, 4096, window=512) == 1966336
    assert visible_pairs("block-causal", 3, 4096, s_cmp(4096, 32, 16), cmp_len=32, cmp_stride=16) == 1555245
    assert flops(visible_pairs("causal", 1, 4096, 4096), 16, 64, 64) == 4 * 16 * 8390656 * 64
    s = [1.0, 2.0, 3.0, 4.0]
    assert abs(percentile(s, 10) - 1.3) < 1e-12 and percentile(s, 50) == 2.5 and abs(percentile(s, 90) - 3.7) < 1e-12
    assert percentile([5.0], 90) == 5.0
    assert fmt_num(0.00123456789) == "0.00123457", fmt_num(0.00123456789)
    assert fmt_num(1234567.0) == "1234570" and fmt_num(2.0) == "2" and fmt_num(0.5) == "0.5"
    assert fmt_num(1.5e-05) == "0.000015"
    assert round_sig(0.00123456789) == 0.00123457
    assert parse_shape("1,16,4096,64") == (1, 16, 16, 4096, 64)
    assert parse_shape("2,32,8,8192,128") == (2, 32, 8, 8192, 128)
    for bad in ("1,16,64", "1,16,5,64,64", "1,0,64,64", "a,b,c,d"):
        try:
            parse_shape(bad)
            raise AssertionError("accepted " + bad)
        except UsageError:
            pass
    row = make_row("flash", "NVIDIA H100 80GB HBM3", "bf16", 1, 16, 4, 4096, 4096, 64, 64, "causal", 0, 0, 0,
                   [1.0, 1.2, 0.9, 1.1, 1.05], "torch 2.11.0, is_causal")
    assert row["visible_pairs"] == "8390656" and row["median_ms"] == "1.05" and row["runs"] == "5"
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "sub", "bench.csv")
        append_rows(out, [row])
        append_rows(out, [row])
        with open(out, encoding="utf-8") as f:
            lines = f.read().splitlines()
        assert lines[0] == HEADER and len(lines) == 3 and lines[1] == lines[2], lines
        assert lines[1].endswith(',"torch 2.11.0, is_causal"'), lines[1]
        bad = os.path.join(tmp, "other.csv")
        with open(bad, "w") as f:
            f.write("a,b\n")
        try:
            append_rows(bad, [row])
            raise AssertionError("appended under a foreign header")
        except UsageError:
            pass
    print("%s: self-test passed (%d visible-pair cases against brute force)" % (PROG, checks))


# ---------------------------------------------------------------- the bench (needs torch with CUDA)

def import_torch():
    try:
        import torch  # noqa: F401
    except ImportError as e:
        raise UsageError("PyTorch is not installed (import torch: %s); this peer needs torch with CUDA" % e)
    import torch
    if not torch.cuda.is_available():
        raise UsageError("no CUDA device: torch.cuda.is_available() is False (torch %s, built for CUDA %s)"
                         % (torch.__version__, torch.version.cuda))
    return torch


def bool_mask(torch, mask, sq, sk, window, cmp_len, cmp_stride, device):
    """[Sq, Sk] boolean, True where the query may attend (torch's convention), or None (none/causal)."""
    if mask in ("none", "causal"):
        return None
    t = torch.arange(sq, device=device).unsqueeze(1)
    s = torch.arange(sk, device=device).unsqueeze(0)
    if mask == "window":
        return (s <= t) & (s >= t - window + 1)
    return s * cmp_stride + cmp_len - 1 <= t


def run(args):
    shapes = [parse_shape(s) for s in args.shapes]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for b in backends:
        if b not in BACKENDS:
            raise UsageError("backend %r is not one of %s" % (b, ",".join(BACKENDS)))
    window = args.window or 0
    cmp_len, cmp_stride = parse_pair(args.block_causal, "--block-causal") if args.block_causal else (0, 0)
    if args.mask == "window" and window < 1:
        raise UsageError("--mask window needs --window W >= 1")
    if args.mask != "window" and args.window is not None:
        raise UsageError("--window is only for --mask window")
    if args.mask == "block-causal" and not args.block_causal:
        raise UsageError("--mask block-causal needs --block-causal L,D")
    if args.mask != "block-causal" and args.block_causal:
        raise UsageError("--block-causal is only for --mask block-causal")
    if args.warmup < 0 or args.repeat < 1:
        raise UsageError("--warmup must be >= 0 and --repeat >= 1")

    torch = import_torch()
    from torch.nn.attention import SDPBackend, sdpa_kernel
    import torch.nn.functional as F
    kinds = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION,
             "efficient": SDPBackend.EFFICIENT_ATTENTION, "math": SDPBackend.MATH}
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[args.dtype]
    dev = torch.device("cuda")
    gpu = torch.cuda.get_device_name(dev)
    torch.manual_seed(args.seed)
    explicit = args.mask in ("window", "block-causal")
    rows, failed = [], 0
    for (b, h, hkv, s, d) in shapes:
        sq = s
        sk = s_cmp(s, cmp_len, cmp_stride) if args.mask == "block-causal" else s
        label = "B=%d H=%d Hkv=%d Sq=%d Sk=%d D=%d %s %s" % (b, h, hkv, sq, sk, d, args.dtype, args.mask)
        if sk < 1:
            print("%s: skip %s: S=%d < L=%d gives no compressed key" % (PROG, label, s, cmp_len), file=sys.stderr)
            continue
        sets = [(torch.randn(b, h, sq, d, device=dev, dtype=dtype), torch.randn(b, hkv, sk, d, device=dev, dtype=dtype),
                 torch.randn(b, hkv, sk, d, device=dev, dtype=dtype)) for _ in range(3)]
        am = bool_mask(torch, args.mask, sq, sk, window, cmp_len, cmp_stride, dev)
        kw = {"is_causal": args.mask == "causal"}
        if am is not None:
            kw["attn_mask"] = torch.zeros(sq, sk, device=dev, dtype=dtype).masked_fill_(~am, float("-inf"))
        if hkv < h:
            kw["enable_gqa"] = True
        how = "explicit additive attn_mask" if explicit else ("is_causal" if args.mask == "causal" else "no mask")
        note = "torch %s cuda %s; %s%s" % (torch.__version__, torch.version.cuda, how,
                                           "; enable_gqa" if hkv < h else "")
        for backend in backends:
            if explicit and backend == "flash":
                print("%s: skip flash for %s: FlashAttention takes no explicit attn_mask, and %s needs one "
                      "(use --backends efficient)" % (PROG, label, args.mask), file=sys.stderr)
                continue
            try:
                with sdpa_kernel(kinds[backend]):
                    err = validate(torch, F, SDPBackend, sdpa_kernel, sets[0], kw, am, args)
                    if err > TOLERANCE[args.dtype]:
                        print("%s: FAIL %s %s: max |out - math fp32| = %.3g > %.3g; not timed"
                              % (PROG, backend, label, err, TOLERANCE[args.dtype]), file=sys.stderr)
                        failed += 1
                        continue
                    times = time_calls(torch, F, sets, kw, args.warmup, args.repeat)
            except RuntimeError as e:
                reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                print("%s: skip %s for %s: torch refused it: %s" % (PROG, backend, label, reason), file=sys.stderr)
                continue
            row = make_row(backend, gpu, args.dtype, b, h, hkv, sq, sk, d, d, args.mask, window, cmp_len, cmp_stride,
                           times, note)
            rows.append(row)
            print("%s %-9s %s: median %s ms (p10 %s, p90 %s), %s TFLOP/s, validation max err %.2g"
                  % (PROG, backend, label, row["median_ms"], row["p10_ms"], row["p90_ms"], row["tflops"], err))
        del sets
        torch.cuda.empty_cache()
    if rows:
        append_rows(args.out, rows)
        print("%s: appended %d rows to %s" % (PROG, len(rows), args.out))
    if failed or not rows:
        print("%s: %s" % (PROG, "%d validation failures" % failed if failed else "no row was measured"),
              file=sys.stderr)
        return 1
    return 0


def validate(torch, F, SDPBackend, sdpa_kernel, inputs, kw, am, args):
    """Max |out - ref| over batch 0's first queries, ref = math backend in fp32; rows with no key excluded."""
    q, k, v = inputs
    out = F.scaled_dot_product_attention(q, k, v, **kw)
    n = min(q.shape[2], VALIDATE_QUERIES)
    rk = dict(kw)
    if am is not None:
        rk["attn_mask"] = am[:n]   # boolean: the math backend's fp32 reference gets the exact rule
    with sdpa_kernel(SDPBackend.MATH):
        ref = F.scaled_dot_product_attention(q[:1, :, :n].float(), k[:1].float(), v[:1].float(), **rk)
    got = out[:1, :, :n].float()
    rows = torch.ones(n, dtype=torch.bool, device=q.device) if am is None else am[:n].any(dim=1)
    if not bool(rows.any()):
        return 0.0
    diff = (got - ref)[:, :, rows]
    if not bool(torch.isfinite(diff).all()):
        return float("inf")
    return float(diff.abs().max())


def time_calls(torch, F, sets, kw, warmup, repeat):
    """CUDA-event times (ms) of `repeat` calls, rotating the input sets; after `warmup` untimed calls."""
    for i in range(warmup):
        F.scaled_dot_product_attention(*sets[i % len(sets)], **kw)
    torch.cuda.synchronize()
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(repeat)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(repeat)]
    for i in range(repeat):
        q, k, v = sets[i % len(sets)]
        starts[i].record()
        F.scaled_dot_product_attention(q, k, v, **kw)
        ends[i].record()
    torch.cuda.synchronize()
    return [s.elapsed_time(e) for s, e in zip(starts, ends)]


def main(argv=None):
    p = argparse.ArgumentParser(prog=PROG, description="Time PyTorch SDPA backends; write nsa4j's attention "
                                "bench CSV schema.", formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:3]))
    p.add_argument("--shapes", nargs="+", metavar="B,H[,Hkv],S,D", help="shapes to measure")
    p.add_argument("--dtype", choices=("bf16", "fp16"), default="bf16")
    p.add_argument("--mask", choices=MASKS, default="causal")
    p.add_argument("--window", type=int, metavar="W", help="window length for --mask window")
    p.add_argument("--block-causal", metavar="L,D", help="compression block length and stride for --mask block-causal")
    p.add_argument("--backends", default="flash,cudnn", help="comma list of %s (default: flash,cudnn)" % ",".join(BACKENDS))
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--repeat", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", metavar="FILE.csv", help="CSV to append to (header written once)")
    p.add_argument("--self-test", action="store_true", help="check the pure-Python helpers and exit (no torch needed)")
    args = p.parse_args(argv)
    if args.self_test:
        self_test()
        return 0
    if not args.shapes or not args.out:
        p.error("--shapes and --out are required (or --self-test)")
    try:
        return run(args)
    except UsageError as e:
        print("%s: error: %s" % (PROG, e), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
