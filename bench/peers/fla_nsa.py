#!/usr/bin/env python3
"""fla peer of `nsa bench nsa`: times fla's Triton NSA (`parallel_nsa`) and, with --torch, PyTorch SDPA causal
attention on the same q/k/v, and writes nsa4j's NSA bench CSV schema.

    python3 bench/peers/fla_nsa.py --fla-root peers-src/fla --shapes "4,4096;1,16384;1,65536" \\
        --heads 64 --kv-heads 4 --dk 128 --dv 128 --block-len 64 --stride 64 --sel-block 64 --n-sel 16 \\
        --window 512 --dtype bf16 --torch --warmup 10 --repeat 50 --out results/nsa.csv --append
    python3 bench/peers/fla_nsa.py --self-test [--out sample.csv]   # helpers only; needs no torch

    --fla-root DIR     the folder holding the `fla` package (where fla's source tarball was unpacked)
    --shapes "B,S;..." batch and sequence length pairs, separated by ';' (or spaces)
    --torch            also time SDPA with is_causal=True, backends flash and cuDNN (variants flash-causal,
                       cudnn-causal)
    --append           append to --out (the header must match); without it --out is replaced

fla's parallel_nsa is imported without running its package __init__ (which imports transformers and every
op): empty package modules for `fla` and `fla.ops` (their __path__ set to the unpacked folders) go into
sys.modules, then `fla.ops.nsa.parallel` is imported. Its window branch calls flash_attn_func, and flash-attn
is not installed on the GPU host: the module attribute is replaced by a function that calls fla's own
`fla.ops.attn.parallel.parallel_attn(q, k, v, window_size=W)` (the same window [t-W+1, t] as flash-attn's
window_size=(W-1, 0)). fla takes one k/v for all branches (it mean-pools them for the compressed branch), so
the call is parallel_nsa(q, k, v, g_cmp, g_slc, g_swa, None, n, l, w), with q [B,S,Hq,Dk], k [B,S,Hkv,Dk],
v [B,S,Hkv,Dv], gates [B,S,Hq]. It supports only l = d = l' (one block_size, mean pooling), Dk = Dv <= 256,
Hq/Hkv a power of two >= 16 and l >= 2 * next_pow2(n): for other configs (the paper's l=32, d=16, l'=64,
Dk=192, Dv=128, say) it prints "skipped: fla's parallel_nsa needs ..." and writes no fla row; the torch rows
are still measured with --torch.

Method: inputs standard normal, gates uniform in [0, 1), all on the GPU in --dtype, made once per shape and
shared by every system (SDPA gets [B,H,S,D] copies of the same q/k/v, made before timing). Each call's output
is checked for shape and finiteness first. Then --warmup untimed calls (fla autotunes in its first ones) and
--repeat calls timed by CUDA events around the call alone, with L2 flushed before each (a 256 MB buffer
zeroed, as triton.testing.do_bench; --no-flush turns it off); median, p10 and p90 by linear interpolation
between order statistics. Everything runs under torch.no_grad(). GQA for SDPA: enable_gqa=True; a backend that
refuses it gets k/v with their heads repeated to Hq (made once, outside the timed calls; the note says so).
A backend torch refuses for a shape is skipped with torch's reason.

CSV (as nsa4j's NsaBenchCsv, which reads these files back and checks them), one row per (variant, shape):
    system,variant,step,gpu,dtype,batch,seqlen,heads,kv_heads,dk,dv,block_len,stride,sel_block,n_sel,window,
    median_ms,p10_ms,p90_ms,runs,note
system fla (variant parallel_nsa) or torch (flash-causal, cudnn-causal); step forward; times in ms with 6
significant digits, plain decimal; fields with a comma or a quote quoted (csv module, as the Java writer).

Exit codes: 0 ok; 1 a check failed or no row was measured; 2 usage errors, no torch, no CUDA device, fla not
found.
"""
import argparse
import csv
import io
import math
import os
import re
import sys
import tempfile

sys.dont_write_bytecode = True   # no __pycache__ beside the peers
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_sdpa import UsageError, fmt_num, percentile  # noqa: E402  (the peers' usage error, the same rounding
#                                                        and percentiles as the Java side)

COLUMNS = ["system", "variant", "step", "gpu", "dtype", "batch", "seqlen", "heads", "kv_heads", "dk", "dv",
           "block_len", "stride", "sel_block", "n_sel", "window", "median_ms", "p10_ms", "p90_ms", "runs", "note"]
HEADER = ",".join(COLUMNS)
DTYPES = ("bf16", "fp16")
FLUSH_BYTES = 256 * 1000 * 1000   # do_bench's L2-flush buffer
PROG = "fla_nsa.py"


# ---------------------------------------------------------------- schema helpers (no torch)

def parse_shapes(text):
    """'4,4096;1,16384' -> [(4, 4096), (1, 16384)]; pairs separated by ';' or whitespace."""
    out = []
    for part in re.split(r"[;\s]+", text.strip()):
        if not part:
            continue
        fields = part.split(",")
        try:
            b, s = (int(f) for f in fields)
        except ValueError:
            raise UsageError("shape %r: expected B,S (two integers)" % part)
        if b < 1 or s < 1:
            raise UsageError("shape %r: B and S must be >= 1" % part)
        out.append((b, s))
    if not out:
        raise UsageError("--shapes %r: no B,S pair" % text)
    return out


def config_from(args):
    """The NSA bench config columns from the arguments, checked as nsa4j's NsaBenchConfig checks them."""
    cfg = {"dtype": args.dtype, "heads": args.heads, "kv_heads": args.kv_heads, "dk": args.dk, "dv": args.dv,
           "block_len": args.block_len, "stride": args.stride, "sel_block": args.sel_block, "n_sel": args.n_sel,
           "window": args.window}
    for k, v in cfg.items():
        if k != "dtype" and v < 1:
            raise UsageError("--%s must be >= 1, got %d" % (k.replace("_", "-"), v))
    if cfg["heads"] % cfg["kv_heads"]:
        raise UsageError("--heads %d is not a multiple of --kv-heads %d" % (cfg["heads"], cfg["kv_heads"]))
    return cfg


def next_pow2(n):
    return 1 << (n - 1).bit_length()


def fla_unsupported(cfg):
    """None if fla's parallel_nsa can run the config, else the list of what it needs, in words."""
    needs = []
    if not cfg["block_len"] == cfg["stride"] == cfg["sel_block"]:
        needs.append("l = d = l' (one block_size; got l=%d d=%d l'=%d)" % (cfg["block_len"], cfg["stride"],
                                                                           cfg["sel_block"]))
    if cfg["dk"] != cfg["dv"]:
        needs.append("Dk = Dv (got Dk=%d Dv=%d)" % (cfg["dk"], cfg["dv"]))
    if max(cfg["dk"], cfg["dv"]) > 256:
        needs.append("head dims <= 256 (got Dk=%d Dv=%d)" % (cfg["dk"], cfg["dv"]))
    g = cfg["heads"] // cfg["kv_heads"]
    if g < 16 or g & (g - 1):
        needs.append("Hq/Hkv a power of two >= 16 (got %d/%d = %d)" % (cfg["heads"], cfg["kv_heads"], g))
    if cfg["sel_block"] < 2 * next_pow2(cfg["n_sel"]):
        needs.append("block_size >= 2 * next_pow2(n) (got l'=%d, n=%d)" % (cfg["sel_block"], cfg["n_sel"]))
    return needs or None


def config_label(cfg, b=None, s=None):
    bs = "" if b is None else " B=%d S=%d" % (b, s)
    return "%s%s Hq/Hkv=%d/%d Dk/Dv=%d/%d l/d/l'/n/w=%d/%d/%d/%d/%d" % (
        cfg["dtype"], bs, cfg["heads"], cfg["kv_heads"], cfg["dk"], cfg["dv"], cfg["block_len"], cfg["stride"],
        cfg["sel_block"], cfg["n_sel"], cfg["window"])


def make_row(system, variant, gpu, cfg, batch, seqlen, times_ms, note):
    """One CSV row (dict of strings, step forward) from the timed runs."""
    if not times_ms:
        raise ValueError("no timed runs")
    s = sorted(times_ms)
    if not s[0] > 0 or not all(math.isfinite(t) for t in s):
        raise ValueError("times must be finite and > 0: %r" % times_ms)
    for text in (gpu, note):
        if "\n" in text or "\r" in text:
            raise ValueError("line break in a text column: %r" % text)
    values = [system, variant, "forward", gpu, cfg["dtype"], batch, seqlen, cfg["heads"], cfg["kv_heads"], cfg["dk"],
              cfg["dv"], cfg["block_len"], cfg["stride"], cfg["sel_block"], cfg["n_sel"], cfg["window"],
              fmt_num(percentile(s, 50)), fmt_num(percentile(s, 10)), fmt_num(percentile(s, 90)), len(s), note]
    return dict(zip(COLUMNS, (str(v) for v in values)))


def _csv_text(rows, header):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if header:
        w.writerow(COLUMNS)
    for r in rows:
        w.writerow([r[c] for c in COLUMNS])
    return buf.getvalue()


def write_rows(path, rows, append):
    """append: header first into an absent or empty file, else the first line must be HEADER (nothing written
    otherwise). Not append: the file is replaced, through a temporary file beside it and os.replace."""
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    if append:
        fresh = not os.path.exists(path) or os.path.getsize(path) == 0
        if not fresh:
            with open(path, newline="", encoding="utf-8") as f:
                first = f.readline().strip().lstrip("\ufeff")
            if first != HEADER:
                raise UsageError("%s: first line is not this schema's header:\n  %s\nexpected\n  %s"
                                 % (path, first, HEADER))
        with open(path, "a", newline="", encoding="utf-8") as f:
            f.write(_csv_text(rows, fresh))
        return
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path), suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            f.write(_csv_text(rows, True))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


# ---------------------------------------------------------------- self-test

SELF_TEST_GPU = "NVIDIA H200"


def self_test_rows():
    """Synthetic rows made through the same argument parsing and row code as a real run."""
    p = build_parser()
    anchor = p.parse_args(["--shapes", "4,4096;1,16384", "--out", "x.csv", "--torch"])
    cfg = config_from(anchor)
    assert fla_unsupported(cfg) is None, fla_unsupported(cfg)
    rows = []
    for i, (b, s) in enumerate(parse_shapes(anchor.shapes)):
        scale = 1 + 0.25 * i
        rows.append(make_row("fla", "parallel_nsa", SELF_TEST_GPU, cfg, b, s,
                             [8.09 * scale, 8.01 * scale, 8.3 * scale, 8.12 * scale, 7.98 * scale],
                             "fla 0.5.2, torch 2.11.0, triton 3.6.0; window via fla parallel_attn; L2 flushed"))
        rows.append(make_row("torch", "flash-causal", SELF_TEST_GPU, cfg, b, s, [3.3 * scale] * 3,
                             "torch 2.11.0 cuda 13.0; SDPA is_causal, enable_gqa; L2 flushed"))
        rows.append(make_row("torch", "cudnn-causal", SELF_TEST_GPU, cfg, b, s, [2.061 * scale, 2.0599 * scale],
                             "torch 2.11.0; SDPA is_causal, k/v heads repeated to Hq (enable_gqa refused)"))
    paper = p.parse_args(["--shapes", "1,65536", "--block-len", "32", "--stride", "16", "--dk", "192",
                          "--out", "x.csv", "--torch", "--append"])
    pcfg = config_from(paper)
    needs = fla_unsupported(pcfg)
    assert needs is not None and len(needs) == 2 and needs[0].startswith("l = d = l'"), needs
    (b, s), = parse_shapes(paper.shapes)
    rows.append(make_row("torch", "cudnn-causal", SELF_TEST_GPU, pcfg, b, s, [117.523456789, 118.0, 116.9],
                         'note with "quotes", and a comma'))
    return rows


def self_test(out=None):
    assert parse_shapes("4,4096;1,16384;1,65536") == [(4, 4096), (1, 16384), (1, 65536)]
    assert parse_shapes(" 1,8 ; 2,16 3,32 ") == [(1, 8), (2, 16), (3, 32)]
    for bad in ("", "4", "4,4096,1", "0,4096", "a,b", ";"):
        try:
            parse_shapes(bad)
            raise AssertionError("accepted %r" % bad)
        except UsageError:
            pass
    assert next_pow2(16) == 16 and next_pow2(17) == 32 and next_pow2(1) == 1
    p = build_parser()
    a = p.parse_args(["--shapes", "1,64", "--out", "x.csv"])
    assert (a.heads, a.kv_heads, a.dk, a.dv, a.block_len, a.stride, a.sel_block, a.n_sel, a.window, a.dtype) == \
        (64, 4, 128, 128, 64, 64, 64, 16, 512, "bf16"), a
    assert not a.torch and not a.append and a.warmup == 10 and a.repeat == 50 and a.flush
    for bad in (["--heads", "6"], ["--window", "0"]):
        try:
            config_from(p.parse_args(["--shapes", "1,64", "--out", "x.csv"] + bad))
            raise AssertionError("accepted %r" % bad)
        except UsageError:
            pass
    cfg = config_from(p.parse_args(["--shapes", "1,64", "--out", "x.csv", "--kv-heads", "8", "--n-sel", "33"]))
    assert len(fla_unsupported(cfg)) == 2, fla_unsupported(cfg)
    rows = self_test_rows()
    r = rows[0]
    assert r["median_ms"] == "8.09" and r["p10_ms"] == "7.992" and r["p90_ms"] == "8.228" and r["runs"] == "5", r
    assert rows[-1]["median_ms"] == "117.523" and rows[-1]["dk"] == "192" and rows[-1]["stride"] == "16", rows[-1]
    with tempfile.TemporaryDirectory() as tmp:
        f = os.path.join(tmp, "sub", "nsa.csv")
        write_rows(f, rows[:2], append=False)
        write_rows(f, rows[2:], append=True)
        with open(f, encoding="utf-8", newline="") as fh:
            text = fh.read()
        lines = text.split("\n")
        assert lines[0] == HEADER and lines[-1] == "" and len(lines) == len(rows) + 2, lines
        assert lines[1].startswith("fla,parallel_nsa,forward,NVIDIA H200,bf16,4,4096,64,4,128,128,64,64,64,16,512,"
                                   "8.09,7.992,8.228,5,"), lines[1]
        assert lines[-2].endswith(',"note with ""quotes"", and a comma"'), lines[-2]
        assert "\r" not in text
        write_rows(f, rows[:1], append=False)
        with open(f, encoding="utf-8") as fh:
            assert len(fh.read().splitlines()) == 2, "write replaces the file"
        bad = os.path.join(tmp, "other.csv")
        with open(bad, "w") as fh:
            fh.write("a,b\n")
        try:
            write_rows(bad, rows, append=True)
            raise AssertionError("appended under a foreign header")
        except UsageError:
            pass
        with open(bad) as fh:
            assert fh.read() == "a,b\n"
    if out:
        write_rows(out, rows, append=False)
        print("%s: wrote the self-test's %d rows to %s" % (PROG, len(rows), out))
    assert "torch" not in sys.modules, "the self-test imported torch"
    print("%s: self-test passed (%d synthetic rows written and checked)" % (PROG, len(rows)))


# ---------------------------------------------------------------- the bench (needs torch with CUDA, fla's source)

def import_torch():
    try:
        import torch
    except ImportError as e:
        raise UsageError("PyTorch is not installed (import torch: %s); this peer needs torch with CUDA" % e)
    if not torch.cuda.is_available():
        raise UsageError("no CUDA device: torch.cuda.is_available() is False (torch %s, built for CUDA %s)"
                         % (torch.__version__, torch.version.cuda))
    return torch


def fla_package_dir(root):
    """The `fla` package folder under --fla-root (also accepted: the folder one level up, as the tarball unpacks)."""
    for cand in (os.path.join(root, "fla"), os.path.join(root, "fla", "fla")):
        if os.path.isfile(os.path.join(cand, "ops", "nsa", "parallel.py")):
            return cand
    raise UsageError("--fla-root %s: no fla/ops/nsa/parallel.py under it (give the folder holding the `fla` "
                     "package, where fla's source tarball was unpacked)" % root)


def import_fla(root):
    """fla's parallel_nsa, imported without fla's package __init__, flash_attn_func replaced; and fla's version."""
    import importlib
    import types
    import warnings
    pkg = fla_package_dir(root)
    version = "?"
    try:
        with open(os.path.join(pkg, "__init__.py"), encoding="utf-8") as f:
            m = re.search(r"__version__\s*=\s*['\"]([^'\"]+)", f.read())
            version = m.group(1) if m else version
    except OSError:
        pass
    for name, path in (("fla", pkg), ("fla.ops", os.path.join(pkg, "ops"))):
        if name not in sys.modules:
            m = types.ModuleType(name)
            m.__path__ = [path]
            if name == "fla":
                m.__version__ = version   # fla.utils imports it from the package
            sys.modules[name] = m
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImportWarning)   # "Flash Attention is not installed"
        parallel = importlib.import_module("fla.ops.nsa.parallel")
    from fla.ops.attn.parallel import parallel_attn

    def flash_attn_func(q, k, v, causal=False, window_size=(-1, -1), **kwargs):
        # fla's NSA calls flash_attn_func(q, k, v, causal=True, window_size=(W-1, 0)): keys [t-W+1, t]
        if not causal or window_size[1] != 0 or kwargs:
            raise NotImplementedError("substitute flash_attn_func: only causal sliding windows (left, 0)")
        return parallel_attn(q, k, v, window_size=window_size[0] + 1 if window_size[0] >= 0 else None)

    parallel.flash_attn_func = flash_attn_func
    return parallel.parallel_nsa, version


def time_calls(torch, fn, warmup, repeat, flush):
    """CUDA-event times (ms) of `repeat` calls after `warmup` untimed ones; L2 flushed before each if flush."""
    for _ in range(warmup):
        fn()
    cache = torch.empty(FLUSH_BYTES // 4, dtype=torch.int, device="cuda") if flush else None
    torch.cuda.synchronize()
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(repeat)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(repeat)]
    for i in range(repeat):
        if cache is not None:
            cache.zero_()
        starts[i].record()
        fn()
        ends[i].record()
    torch.cuda.synchronize()
    return [s.elapsed_time(e) for s, e in zip(starts, ends)]


def kernel_breakdown(torch, fn, calls, what, prog=PROG, top=12):
    """Prints to stderr the CUDA kernels of `calls` calls of fn under torch.profiler, per call: each kernel's time
    (ms) and launches, longest first (the `top` longest, then the rest summed), so a peer's forward splits into its
    steps as nsa4j's bench does. Runs after timing, never inside it."""
    from torch.profiler import ProfilerActivity, profile
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(calls):
            fn()
        torch.cuda.synchronize()
    rows = []
    for e in prof.key_averages():
        us = getattr(e, "self_device_time_total", None)
        if us is None:
            us = getattr(e, "self_cuda_time_total", 0)
        if us > 0:
            rows.append((us / 1000.0 / calls, e.count / calls, e.key))
    rows.sort(reverse=True)
    total = sum(r[0] for r in rows)
    print("%s kernels of %s, per call (%d calls profiled): %.3f ms in %d kernels"
          % (prog, what, calls, total, len(rows)), file=sys.stderr)
    for ms, n, name in rows[:top]:
        print("  %9.3f ms %6.1fx  %s" % (ms, n, name[:110]), file=sys.stderr)
    if len(rows) > top:
        print("  %9.3f ms          (%d other kernels)" % (sum(r[0] for r in rows[top:]), len(rows) - top),
              file=sys.stderr)


def check_output(torch, out, shape, what):
    if tuple(out.shape) != tuple(shape):
        raise RuntimeError("%s: output shape %s, expected %s" % (what, tuple(out.shape), tuple(shape)))
    if not bool(torch.isfinite(out).all()):
        raise RuntimeError("%s: output has NaN or Inf" % what)


def run(args):
    cfg = config_from(args)
    shapes = parse_shapes(args.shapes)
    if args.warmup < 0 or args.repeat < 1:
        raise UsageError("--warmup must be >= 0 and --repeat >= 1")
    needs = fla_unsupported(cfg)
    if needs:
        print("%s: skipped: fla's parallel_nsa needs %s; no fla row for %s"
              % (PROG, "; ".join(needs), config_label(cfg)), file=sys.stderr)
        if not args.torch:
            print("%s: nothing else to measure (add --torch for the SDPA rows)" % PROG, file=sys.stderr)
            return 1
    elif not args.fla_root:
        raise UsageError("--fla-root DIR is required to time fla (the folder holding the unpacked `fla` package)")
    else:
        fla_package_dir(args.fla_root)   # a wrong folder is a usage error before torch and the GPU start
    torch = import_torch()
    parallel_nsa, fla_version = import_fla(args.fla_root) if not needs else (None, None)
    if args.torch:
        from torch.nn.attention import SDPBackend, sdpa_kernel
        import torch.nn.functional as F
        backends = (("flash-causal", SDPBackend.FLASH_ATTENTION), ("cudnn-causal", SDPBackend.CUDNN_ATTENTION))
    import triton
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[cfg["dtype"]]
    dev = torch.device("cuda")
    gpu = torch.cuda.get_device_name(dev)
    torch.manual_seed(args.seed)
    hq, hkv, dk, dv = cfg["heads"], cfg["kv_heads"], cfg["dk"], cfg["dv"]
    flushed = "L2 flushed" if args.flush else "L2 not flushed"
    versions = "torch %s cuda %s triton %s" % (torch.__version__, torch.version.cuda, triton.__version__)
    rows, failed = [], 0
    with torch.no_grad():
        for (b, s) in shapes:
            label = config_label(cfg, b, s)
            print("%s: %s: making inputs" % (PROG, label), file=sys.stderr)
            q = torch.randn(b, s, hq, dk, device=dev, dtype=dtype)
            k = torch.randn(b, s, hkv, dk, device=dev, dtype=dtype)
            v = torch.randn(b, s, hkv, dv, device=dev, dtype=dtype)
            if parallel_nsa is not None:
                g_cmp, g_slc, g_swa = (torch.rand(b, s, hq, device=dev, dtype=dtype) for _ in range(3))

                def fla_call():
                    return parallel_nsa(q, k, v, g_cmp, g_slc, g_swa, None, cfg["n_sel"], cfg["sel_block"],
                                        cfg["window"])
                print("%s: %s: fla parallel_nsa (first calls autotune)" % (PROG, label), file=sys.stderr)
                try:
                    check_output(torch, fla_call(), (b, s, hq, dv), "fla parallel_nsa " + label)
                    times = time_calls(torch, fla_call, args.warmup, args.repeat, args.flush)
                    if args.kernels > 0:
                        kernel_breakdown(torch, fla_call, args.kernels, "fla parallel_nsa " + label)
                except Exception as e:   # fla's asserts, Triton compile errors, CUDA errors
                    reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                    print("%s: FAIL fla parallel_nsa %s: %s: %s" % (PROG, label, type(e).__name__, reason),
                          file=sys.stderr)
                    failed += 1
                else:
                    row = make_row("fla", "parallel_nsa", gpu, cfg, b, s, times,
                                   "fla %s, %s; window via fla parallel_attn; one k/v for all branches; %s"
                                   % (fla_version, versions, flushed))
                    rows.append(row)
                    print("%s: %s: fla parallel_nsa median %s ms (p10 %s, p90 %s)"
                          % (PROG, label, row["median_ms"], row["p10_ms"], row["p90_ms"]), file=sys.stderr)
                del g_cmp, g_slc, g_swa
            if args.torch:
                qt, kt, vt = (x.transpose(1, 2).contiguous() for x in (q, k, v))   # SDPA's [B,H,S,D]
                repeated = None
                for variant, backend in backends:
                    how = "enable_gqa" if hkv < hq else "no GQA"

                    def sdpa_gqa():
                        return F.scaled_dot_product_attention(qt, kt, vt, is_causal=True, enable_gqa=hkv < hq)
                    fn = sdpa_gqa
                    try:
                        with sdpa_kernel(backend):
                            try:
                                out = fn()
                            except RuntimeError:
                                if hkv == hq:
                                    raise
                                if repeated is None:
                                    repeated = (kt.repeat_interleave(hq // hkv, dim=1),
                                                vt.repeat_interleave(hq // hkv, dim=1))
                                kr, vr = repeated

                                def sdpa_repeated():
                                    return F.scaled_dot_product_attention(qt, kr, vr, is_causal=True)
                                fn = sdpa_repeated
                                how = "k/v heads repeated to Hq (enable_gqa refused)"
                                out = fn()
                            check_output(torch, out, (b, hq, s, dv), "torch %s %s" % (variant, label))
                            del out
                            print("%s: %s: torch %s" % (PROG, label, variant), file=sys.stderr)
                            times = time_calls(torch, fn, args.warmup, args.repeat, args.flush)
                    except RuntimeError as e:
                        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                        print("%s: skip torch %s for %s: torch refused it: %s" % (PROG, variant, label, reason),
                              file=sys.stderr)
                        continue
                    row = make_row("torch", variant, gpu, cfg, b, s, times,
                                   "%s; SDPA is_causal, %s; same q/k/v as fla; %s" % (versions, how, flushed))
                    rows.append(row)
                    print("%s: %s: torch %s median %s ms (p10 %s, p90 %s)"
                          % (PROG, label, variant, row["median_ms"], row["p10_ms"], row["p90_ms"]), file=sys.stderr)
                del qt, kt, vt, repeated
            del q, k, v
            torch.cuda.empty_cache()
    if rows:
        write_rows(args.out, rows, args.append)
        print("%s: %s %d rows to %s" % (PROG, "appended" if args.append else "wrote", len(rows), args.out),
              file=sys.stderr)
    if failed or not rows:
        print("%s: %s" % (PROG, "%d failed" % failed if failed else "no row was measured"), file=sys.stderr)
        return 1
    return 0


def build_parser():
    p = argparse.ArgumentParser(prog=PROG, description="Time fla's parallel_nsa (and PyTorch SDPA causal); write "
                                "nsa4j's NSA bench CSV schema.", formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:3]))
    p.add_argument("--fla-root", metavar="DIR", help="folder holding the unpacked `fla` package")
    p.add_argument("--shapes", metavar="B,S;B,S", help='batch,length pairs, e.g. "4,4096;1,16384;1,65536"')
    p.add_argument("--heads", type=int, default=64, help="Hq (default 64)")
    p.add_argument("--kv-heads", type=int, default=4, help="Hkv (default 4)")
    p.add_argument("--dk", type=int, default=128)
    p.add_argument("--dv", type=int, default=128)
    p.add_argument("--block-len", type=int, default=64, help="l, compression block (default 64)")
    p.add_argument("--stride", type=int, default=64, help="d, compression stride (default 64)")
    p.add_argument("--sel-block", type=int, default=64, help="l', selection block (default 64)")
    p.add_argument("--n-sel", type=int, default=16, help="n, selected blocks (default 16)")
    p.add_argument("--window", type=int, default=512, help="w, sliding window (default 512)")
    p.add_argument("--dtype", choices=DTYPES, default="bf16")
    p.add_argument("--torch", action="store_true", help="also time SDPA causal, flash and cuDNN backends")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--repeat", type=int, default=50)
    p.add_argument("--no-flush", dest="flush", action="store_false", help="do not flush L2 before timed calls")
    p.add_argument("--kernels", type=int, default=0, metavar="N",
                   help="after timing, profile N calls and print each CUDA kernel's time per call (stderr)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", metavar="FILE.csv", help="CSV to write (replaced) or, with --append, append to")
    p.add_argument("--append", action="store_true", help="append to --out (header written once, must match)")
    p.add_argument("--self-test", action="store_true",
                   help="check the pure-Python helpers and exit (no torch needed); with --out also write its rows")
    return p


def main(argv=None):
    p = build_parser()
    args = p.parse_args(argv)
    if args.self_test:
        self_test(args.out)
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
