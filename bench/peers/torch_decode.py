#!/usr/bin/env python3
"""PyTorch peer of `nsa bench decode`: dense flash decode with torch's SDPA on the same cache sizes, written in
nsa4j's decode bench CSV schema so `nsa bench decode --peer-csv FILE` joins its rows and ratios.

    python3 bench/peers/torch_decode.py --batch 1,8,64 --context 2k,8k,16k,64k,128k \\
        --heads 64 --kv-heads 4 --dk 128 --dv 128 --dtype bf16 --backends flash,cudnn,efficient \\
        --warmup 10 --repeat 50 --out out/decode-torch.csv
    python3 bench/peers/torch_decode.py --self-test [--out sample.csv]   # helpers only; needs no torch

    --batch B,...        batch sizes (sequences decoded together)
    --context C,...      tokens in each sequence's cache before the step (k = 1024: 2k, 128k)
    --backends LIST      flash (FLASH_ATTENTION), cudnn (CUDNN_ATTENTION), efficient (EFFICIENT_ATTENTION)
    --max-gb G           skip (B, ctx) whose k/v would exceed G GB (a row with status skipped; default 100)
    --skip "B,C ..."     (B, ctx) pairs to leave out (rows with status skipped)
    --no-l2-flush        do not zero a 256 MB buffer before each timed call
    --block-len .. --window   only label the rows (dense attention has no NSA config; nsa4j joins peer rows on the
                         dense shape dtype, B, ctx, Hq, Hkv, Dk, Dv, whatever these say)
    --append             append to --out (the header must match); without it --out is replaced

Per (B, ctx): q [B,Hq,1,Dk], k [B,Hkv,ctx+1,Dk], v [B,Hkv,ctx+1,Dv] in --dtype on cuda (standard normal), the one
query at position ctx against every key (no mask: the decode query sees its whole prefix), and
F.scaled_dot_product_attention(q, k, v, enable_gqa=True) under torch.nn.attention.sdpa_kernel(backend). Each
backend's output is checked first against the math backend in fp32 on batch element 0 (max abs error <= 4e-2 for
bf16, 1e-2 for fp16; a failure is reported and not timed). A backend torch refuses for a shape ("No available
kernel", enable_gqa not supported) gets a row with status refused and torch's reason; an out-of-memory one a row
with status oom. Timing: --warmup untimed calls, then --repeat calls each with an L2 flush before it (unless
--no-l2-flush) and torch.cuda.Event around the call alone; median, p10, p90 by linear interpolation between order
statistics (nsa4j's percentile). The copy bandwidth is measured once as nsa4j does (a 1 GiB device-to-device
copy, read + write counted, median of 10), so hbm_ms and x_hbm mean the same on both sides.

CSV (nsa4j's DecodeBenchCsv, which reads these files back and checks them), one row per (backend, B, ctx):
    system,variant,gpu,dtype,batch,context,heads,kv_heads,dk,dv,block_len,stride,sel_block,n_sel,window,position,
    median_ms,p10_ms,p90_ms,runs,tokens_per_s,kv_bytes,qo_bytes,hbm_gbps,hbm_ms,x_hbm,status,note
system torch, variant the backend; position = ctx; kv_bytes = B·(ctx+1)·Hkv·(Dk+Dv)·elem; qo_bytes = B·Hq·(Dk+Dv)·elem;
empty times for rows that are not ok.

Exit codes: 0 ok (every row measured or reported); 1 a validation failed or no row was measured; 2 usage errors, no
torch, no CUDA device.
"""
import argparse
import math
import os
import re
import sys
import tempfile

sys.dont_write_bytecode = True   # no __pycache__ beside the peers
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_sdpa import UsageError, fmt_num, import_torch, percentile  # noqa: E402  (the peers' usage error, the
#                                           same rounding and percentiles as the Java side, torch with CUDA)
from fla_nsa import config_from  # noqa: E402  (the NSA bench config columns, checked as NsaBenchConfig checks them)

COLUMNS = ["system", "variant", "gpu", "dtype", "batch", "context", "heads", "kv_heads", "dk", "dv", "block_len",
           "stride", "sel_block", "n_sel", "window", "position", "median_ms", "p10_ms", "p90_ms", "runs",
           "tokens_per_s", "kv_bytes", "qo_bytes", "hbm_gbps", "hbm_ms", "x_hbm", "status", "note"]
HEADER = ",".join(COLUMNS)
BACKENDS = ("flash", "cudnn", "efficient")
TOLERANCE = {"fp16": 1e-2, "bf16": 4e-2}
ELEM = {"bf16": 2, "fp16": 2}
FLUSH_BYTES = 256 * 1000 * 1000
PROG = "torch_decode.py"


# ---------------------------------------------------------------- schema helpers (no torch)

def parse_ints(text, what):
    """'1,8,64' or '2k,128k' (k = 1024) -> [ints >= 1]."""
    out = []
    for part in re.split(r"[,\s]+", text.strip()):
        if not part:
            continue
        m = re.fullmatch(r"(\d+)([kK]?)", part)
        if not m or int(m.group(1)) < 1:
            raise UsageError("%s %r: %r is not a positive integer (k = 1024 allowed)" % (what, text, part))
        out.append(int(m.group(1)) * (1024 if m.group(2) else 1))
    if not out:
        raise UsageError("%s %r: no value" % (what, text))
    return out


def parse_pairs(text):
    """'64,128k 8,2k' -> {(64, 131072), (8, 2048)}."""
    out = set()
    for part in (text or "").split():
        v = parse_ints(part, "--skip")
        if len(v) != 2:
            raise UsageError("--skip %r: expected B,CTX pairs" % part)
        out.add(tuple(v))
    return out


def kv_bytes(b, ctx, hkv, dk, dv, elem):
    return b * (ctx + 1) * hkv * (dk + dv) * elem


def qo_bytes(b, hq, dk, dv, elem):
    return b * hq * (dk + dv) * elem


def make_row(variant, gpu, cfg, b, ctx, times_ms, gbps, status="ok", note=""):
    """One CSV row (dict of strings); times_ms None for a row that is not ok."""
    for text in (gpu, note):
        if "\n" in text or "\r" in text:
            raise ValueError("line break in a text column: %r" % text)
    e = ELEM[cfg["dtype"]]
    kv = kv_bytes(b, ctx, cfg["kv_heads"], cfg["dk"], cfg["dv"], e)
    qo = qo_bytes(b, cfg["heads"], cfg["dk"], cfg["dv"], e)
    hbm_ms = (kv + qo) / (gbps * 1e6) if gbps else None
    if status == "ok":
        s = sorted(times_ms)
        if not s or not s[0] > 0 or not all(math.isfinite(t) for t in s):
            raise ValueError("times must be finite and > 0: %r" % times_ms)
        med = percentile(s, 50)
        # the Java side rounds the median first and derives from the rounded value
        med_r = float(fmt_num(med))
        times = [fmt_num(med), fmt_num(percentile(s, 10)), fmt_num(percentile(s, 90)), len(s), fmt_num(b / (med_r / 1e3))]
        x = fmt_num(med_r / hbm_ms) if hbm_ms else ""
    else:
        times, x = ["", "", "", 0, ""], ""
    values = ["torch", variant, gpu, cfg["dtype"], b, ctx, cfg["heads"], cfg["kv_heads"], cfg["dk"], cfg["dv"],
              cfg["block_len"], cfg["stride"], cfg["sel_block"], cfg["n_sel"], cfg["window"], ctx] + times + \
             [kv, qo, fmt_num(gbps) if gbps else "", fmt_num(hbm_ms) if hbm_ms else "", x, status, note]
    return dict(zip(COLUMNS, (str(v) for v in values)))


def write_rows(path, rows, append):
    """append: header first into an absent or empty file, else the first line must be HEADER. Otherwise the file is
    replaced through a temporary file beside it."""
    import csv
    import io
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)

    def text(header):
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        if header:
            w.writerow(COLUMNS)
        for r in rows:
            w.writerow([r[c] for c in COLUMNS])
        return buf.getvalue()

    if append:
        fresh = not os.path.exists(path) or os.path.getsize(path) == 0
        if not fresh:
            with open(path, newline="", encoding="utf-8") as f:
                first = f.readline().strip().lstrip("\ufeff")
            if first != HEADER:
                raise UsageError("%s: first line is not this schema's header:\n  %s\nexpected\n  %s" % (path, first, HEADER))
        with open(path, "a", newline="", encoding="utf-8") as f:
            f.write(text(fresh))
        return
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path), suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            f.write(text(True))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


# ---------------------------------------------------------------- self-test

def self_test(out):
    assert parse_ints("1,8,64", "--batch") == [1, 8, 64]
    assert parse_ints("2k,8K,131072", "--context") == [2048, 8192, 131072]
    for bad in ("0", "x", "1,-2", ""):
        try:
            parse_ints(bad, "--batch")
            raise AssertionError("accepted %r" % bad)
        except UsageError:
            pass
    assert parse_pairs("64,128k 8,2k") == {(64, 131072), (8, 2048)}
    assert kv_bytes(64, 131072, 4, 128, 128, 2) == 64 * 131073 * 4 * 256 * 2
    p = build_parser()
    cfg = config_from(p.parse_args(["--out", "x.csv"]))
    gpu = "NVIDIA H200"
    rows = [make_row("flash", gpu, cfg, 1, 2048, [0.05, 0.04, 0.06, 0.05], 4000.0, note="torch 2.11.0, enable_gqa"),
            make_row("flash", gpu, cfg, 64, 131072, [9.0, 9.5, 8.5], 4000.0, note="enable_gqa"),
            make_row("cudnn", gpu, cfg, 1, 2048, None, 4000.0, "refused", "No available kernel. Aborting execution.")]
    r0 = rows[0]
    assert r0["median_ms"] == "0.05" and r0["runs"] == "4" and r0["tokens_per_s"] == "20000", r0
    assert r0["kv_bytes"] == str(2049 * 4 * 256 * 2) and r0["position"] == "2048", r0
    assert rows[2]["median_ms"] == "" and rows[2]["runs"] == "0" and rows[2]["x_hbm"] == "", rows[2]
    with tempfile.TemporaryDirectory() as tmp:
        f = os.path.join(tmp, "sub", "d.csv")
        write_rows(f, rows[:1], append=True)
        write_rows(f, rows[1:], append=True)
        with open(f, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
        assert lines[0] == HEADER and len(lines) == 4, lines
        assert lines[1].endswith(',ok,"torch 2.11.0, enable_gqa"'), lines[1]
    if out:
        write_rows(out, rows, append=False)
    print("%s: self-test passed%s" % (PROG, " (sample rows in %s)" % out if out else ""))


# ---------------------------------------------------------------- the bench (needs torch with CUDA)

def copy_bandwidth(torch, nbytes=1 << 30, runs=10):
    """GB/s of a device-to-device copy, read + write counted, median of `runs` after 2 untimed (as nsa4j)."""
    src = torch.zeros(nbytes // 4, dtype=torch.float32, device="cuda")
    dst = torch.empty_like(src)
    for _ in range(2):
        dst.copy_(src)
    ms = []
    for _ in range(runs):
        a, z = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        dst.copy_(src)
        z.record()
        z.synchronize()
        ms.append(a.elapsed_time(z))
    del src, dst
    torch.cuda.empty_cache()
    return 2.0 * nbytes / (percentile(sorted(ms), 50) * 1e6)


def run(args):
    batches = parse_ints(args.batch, "--batch")
    contexts = sorted(set(parse_ints(args.context, "--context")))
    skip = parse_pairs(args.skip)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for b in backends:
        if b not in BACKENDS:
            raise UsageError("backend %r is not one of %s" % (b, ",".join(BACKENDS)))
    if args.warmup < 0 or args.repeat < 1:
        raise UsageError("--warmup must be >= 0 and --repeat >= 1")
    cfg = config_from(args)
    torch = import_torch()
    from torch.nn.attention import SDPBackend, sdpa_kernel
    import torch.nn.functional as F
    kinds = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION,
             "efficient": SDPBackend.EFFICIENT_ATTENTION}
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[args.dtype]
    gpu = torch.cuda.get_device_name(0)
    torch.manual_seed(args.seed)
    gbps = copy_bandwidth(torch)
    print("%s: %s, copy bandwidth %.0f GB/s (read + write, 1 GiB device to device)" % (PROG, gpu, gbps), file=sys.stderr)
    flush = None if args.no_l2_flush else torch.empty(FLUSH_BYTES, dtype=torch.int8, device="cuda")
    hq, hkv, dk, dv = cfg["heads"], cfg["kv_heads"], cfg["dk"], cfg["dv"]
    note0 = "torch %s cuda %s; enable_gqa; no mask (one query at ctx over ctx + 1 keys)%s" % (
        torch.__version__, torch.version.cuda, "" if flush is None else "; L2 flushed before each call")
    rows, failed = [], 0
    for b in batches:
        for ctx in contexts:
            label = "B=%d ctx=%d" % (b, ctx)
            need = kv_bytes(b, ctx, hkv, dk, dv, ELEM[args.dtype]) / 1e9
            if (b, ctx) in skip or need > args.max_gb:
                why = "--skip %d,%d" % (b, ctx) if (b, ctx) in skip else \
                    "k/v need %.1f GB > --max-gb %.0f" % (need, args.max_gb)
                print("%s: skip %s: %s" % (PROG, label, why), file=sys.stderr)
                rows += [make_row(v, gpu, cfg, b, ctx, None, gbps, "skipped", why) for v in backends]
                continue
            try:
                q = torch.randn(b, hq, 1, dk, device="cuda", dtype=dtype)
                k = torch.randn(b, hkv, ctx + 1, dk, device="cuda", dtype=dtype)
                v = torch.randn(b, hkv, ctx + 1, dv, device="cuda", dtype=dtype)
            except torch.cuda.OutOfMemoryError as e:
                rows += [make_row(x, gpu, cfg, b, ctx, None, gbps, "oom", first_line(e)) for x in backends]
                torch.cuda.empty_cache()
                continue
            for backend in backends:
                try:
                    with sdpa_kernel(kinds[backend]):
                        err = validate(torch, F, SDPBackend, sdpa_kernel, q, k, v)
                        if not err <= TOLERANCE[args.dtype]:
                            print("%s: FAIL %s %s: max |out - math fp32| = %.3g > %.3g; not timed"
                                  % (PROG, backend, label, err, TOLERANCE[args.dtype]), file=sys.stderr)
                            rows.append(make_row(backend, gpu, cfg, b, ctx, None, gbps, "failed",
                                                 "validation: max err %.3g" % err))
                            failed += 1
                            continue
                        times = time_calls(torch, F, q, k, v, flush, args.warmup, args.repeat)
                except torch.cuda.OutOfMemoryError as e:
                    rows.append(make_row(backend, gpu, cfg, b, ctx, None, gbps, "oom", first_line(e)))
                    torch.cuda.empty_cache()
                    continue
                except RuntimeError as e:
                    print("%s: %s refused %s: %s" % (PROG, backend, label, first_line(e)), file=sys.stderr)
                    rows.append(make_row(backend, gpu, cfg, b, ctx, None, gbps, "refused", first_line(e)))
                    continue
                row = make_row(backend, gpu, cfg, b, ctx, times, gbps, note=note0)
                rows.append(row)
                print("%s %-9s %s: median %s ms (p10 %s, p90 %s), %s tokens/s, %s x HBM, max err %.2g"
                      % (PROG, backend, label, row["median_ms"], row["p10_ms"], row["p90_ms"], row["tokens_per_s"],
                         row["x_hbm"], err))
            del q, k, v
            torch.cuda.empty_cache()
    write_rows(args.out, rows, args.append)
    print("%s: wrote %d rows to %s" % (PROG, len(rows), args.out))
    if failed or not any(r["status"] == "ok" for r in rows):
        print("%s: %s" % (PROG, "%d validation failures" % failed if failed else "no row was measured"),
              file=sys.stderr)
        return 1
    return 0


def first_line(e):
    s = str(e).strip()
    return (s.splitlines()[0] if s else type(e).__name__).replace(",", ";")[:300]


def validate(torch, F, SDPBackend, sdpa_kernel, q, k, v):
    """Max |out - ref| on batch element 0, ref = the math backend in fp32."""
    out = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    with sdpa_kernel(SDPBackend.MATH):
        ref = F.scaled_dot_product_attention(q[:1].float(), k[:1].float(), v[:1].float(), enable_gqa=True)
    d = (out[:1].float() - ref)
    if not bool(torch.isfinite(d).all()):
        return float("inf")
    return float(d.abs().max())


def time_calls(torch, F, q, k, v, flush, warmup, repeat):
    """CUDA-event times (ms) of `repeat` calls, each after an L2 flush (when given); after `warmup` untimed calls."""
    for _ in range(warmup):
        F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    torch.cuda.synchronize()
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(repeat)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(repeat)]
    for i in range(repeat):
        if flush is not None:
            flush.zero_()
        starts[i].record()
        F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
        ends[i].record()
    torch.cuda.synchronize()
    return [s.elapsed_time(e) for s, e in zip(starts, ends)]


def build_parser():
    p = argparse.ArgumentParser(prog=PROG, description="Time PyTorch SDPA flash decode; write nsa4j's decode bench "
                                "CSV schema.", formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:3]))
    p.add_argument("--batch", default="1,8,64")
    p.add_argument("--context", default="2k,8k,16k,64k,128k")
    p.add_argument("--heads", type=int, default=64)
    p.add_argument("--kv-heads", type=int, default=4)
    p.add_argument("--dk", type=int, default=128)
    p.add_argument("--dv", type=int, default=128)
    p.add_argument("--block-len", type=int, default=64)
    p.add_argument("--stride", type=int, default=64)
    p.add_argument("--sel-block", type=int, default=64)
    p.add_argument("--n-sel", type=int, default=16)
    p.add_argument("--window", type=int, default=512)
    p.add_argument("--dtype", choices=("bf16", "fp16"), default="bf16")
    p.add_argument("--backends", default="flash,cudnn,efficient")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--repeat", type=int, default=50)
    p.add_argument("--max-gb", type=float, default=100.0)
    p.add_argument("--skip", default="")
    p.add_argument("--no-l2-flush", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", metavar="FILE.csv")
    p.add_argument("--append", action="store_true")
    p.add_argument("--self-test", action="store_true", help="check the pure-Python helpers and exit (no torch needed)")
    return p


def main(argv=None):
    p = build_parser()
    args = p.parse_args(argv)
    try:
        if args.self_test:
            self_test(args.out)
            return 0
        if not args.out:
            p.error("--out is required (or --self-test)")
        return run(args)
    except UsageError as e:
        print("%s: error: %s" % (PROG, e), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
