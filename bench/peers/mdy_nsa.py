#!/usr/bin/env python3
"""mdy666 peer of `nsa bench nsa`: times mdy666's Scalable-Flash-NSA (Triton, TMA on Hopper; `HFNSACore`, its
Hugging-Face-level NSA forward: mean-pooled compression, compressed attention, top-n, selection, window, gated
combine) on nsa4j's NSA bench shapes and writes nsa4j's NSA bench CSV schema (system mdy666, variant
hf-nsa-core, step forward).

    python3 bench/peers/mdy_nsa.py --mdy-root peers-src/mdy --fla-root peers-src/fla --shapes "1,16384;1,65536" \\
        --block-len 32 --stride 16 --sel-block 64 --n-sel 16 --window 512 --out nsa-bench.csv --append

--mdy-root is the folder holding the `flash_nsa` package (where mdy666's source tarball was unpacked). The
package __init__s import the Megatron-level code, pandas and flash-attn: empty package modules for
`flash_nsa`, `flash_nsa.ops` and `flash_nsa.modules` (their __path__ set to the unpacked folders) go into
sys.modules, then `flash_nsa.modules.hf_level_nsa` is imported (pandas, used only by its own bench printout,
gets an empty stand-in when missing). Its window branch calls flash-attn, which the GPU host lacks: the module
attribute `swa_varlen_func` is replaced by fla's `parallel_attn(q, k, v, window_size=W)` (keys [t-W+1, t], as
fla_nsa.py does for fla; the note says so), so --fla-root is needed too. One sequence per call (B = 1;
cu_seqlens [0, S]), Dk = Dv, Hq/Hkv as given; its config: kernel_size l, stride d, block_size l', top_n n,
window w, num_init_blocks 1, num_local_blocks 2 (blocks 0, cur - 1 and cur forced, as NSA-SPEC), gates
[T, Hq, 3] uniform. Inputs standard normal in --dtype. Timing as fla_nsa.py (CUDA events, L2 flushed, warm-up
first: Triton autotunes). --kernels N then prints its CUDA kernels' times per call (torch.profiler over N calls).
"""
import importlib
import os
import sys
import types

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fla_nsa  # noqa: E402  (argument parser, config, CSV rows, timing, fla's parallel_attn)
from torch_sdpa import percentile  # noqa: E402

PROG = "mdy_nsa.py"


def mdy_package_dir(root):
    for cand in (os.path.join(root, "flash_nsa"), os.path.join(root, "mdy", "flash_nsa")):
        if os.path.isfile(os.path.join(cand, "modules", "hf_level_nsa.py")):
            return cand
    raise fla_nsa.UsageError("--mdy-root %s: no flash_nsa/modules/hf_level_nsa.py under it" % root)


def import_mdy(root, fla_root):
    pkg = mdy_package_dir(root)
    for name, path in (("flash_nsa", pkg), ("flash_nsa.ops", os.path.join(pkg, "ops")),
                       ("flash_nsa.modules", os.path.join(pkg, "modules"))):
        if name not in sys.modules:
            m = types.ModuleType(name)
            m.__path__ = [path]
            sys.modules[name] = m
    try:
        import pandas  # noqa: F401
    except ImportError:
        sys.modules["pandas"] = types.ModuleType("pandas")
    hf = importlib.import_module("flash_nsa.modules.hf_level_nsa")
    cfg_mod = importlib.import_module("flash_nsa.config")
    fla_nsa.import_fla(fla_root)
    from fla.ops.attn.parallel import parallel_attn
    state = {}

    def swa_varlen_func(q, k, v, sm_scale=None):
        # one sequence: [T, H, D] -> fla's [1, T, H, D], keys [t - W + 1, t]
        return parallel_attn(q[None], k[None], v[None], scale=sm_scale, window_size=state["window"])[0]

    hf.swa_varlen_func = swa_varlen_func
    return hf, cfg_mod.NSAConfig, state


def main(argv=None):
    p = fla_nsa.build_parser()
    p.prog = PROG
    p.add_argument("--mdy-root", metavar="DIR", required=True, help="folder holding the unpacked `flash_nsa`")
    args = p.parse_args(argv)
    if not args.shapes or not args.out or not args.fla_root:
        p.error("--shapes, --out and --fla-root are required")
    try:
        cfg = fla_nsa.config_from(args)
        if cfg["dk"] != cfg["dv"]:
            raise fla_nsa.UsageError("this peer runs Dk = Dv only (got %d/%d)" % (cfg["dk"], cfg["dv"]))
        torch = fla_nsa.import_torch()
        hf, NSAConfig, state = import_mdy(args.mdy_root, args.fla_root)
    except fla_nsa.UsageError as e:
        print("%s: error: %s" % (PROG, e), file=sys.stderr)
        return 2
    state["window"] = cfg["window"]
    dt = {"bf16": torch.bfloat16, "fp16": torch.float16}[args.dtype]
    gpu = torch.cuda.get_device_name()
    rows = []
    for b, s in fla_nsa.parse_shapes(args.shapes):
        if b != 1:
            print("%s: B=%d S=%d skipped: this peer runs one sequence per call" % (PROG, b, s), file=sys.stderr)
            continue
        label = fla_nsa.config_label(cfg, b, s)
        core = hf.HFNSACore(NSAConfig(num_heads=cfg["heads"], num_kv_heads=cfg["kv_heads"], head_dim=cfg["dk"],
                                      kernel_size=cfg["block_len"], stride=cfg["stride"],
                                      block_size=cfg["sel_block"], top_n=cfg["n_sel"], window_size=cfg["window"],
                                      num_init_blocks=1, num_local_blocks=2))
        g = torch.Generator(device="cuda").manual_seed(args.seed)
        with torch.no_grad():
            q = torch.randn(s, cfg["heads"], cfg["dk"], device="cuda", generator=g).to(dt)
            k = torch.randn(s, cfg["kv_heads"], cfg["dk"], device="cuda", generator=g).to(dt)
            v = torch.randn(s, cfg["kv_heads"], cfg["dv"], device="cuda", generator=g).to(dt)
            w = torch.rand(s, cfg["heads"], 3, device="cuda", generator=g).to(dt)
            cu = torch.tensor([0, s], device="cuda", dtype=torch.int32)

            def call():
                return core(q, k, v, w, cu)

            try:
                fla_nsa.check_output(torch, call(), (s, cfg["heads"], cfg["dv"]), "mdy666 " + label)
                times = fla_nsa.time_calls(torch, call, args.warmup, args.repeat, args.flush)
                if args.kernels > 0:
                    fla_nsa.kernel_breakdown(torch, call, args.kernels, "mdy666 " + label, prog=PROG)
            except Exception as e:   # a peer that cannot run a shape is reported, not fatal
                print("%s: FAIL %s: %s: %s" % (PROG, label, type(e).__name__, str(e).splitlines()[0][:300]),
                      file=sys.stderr)
                continue
        st = sorted(times)
        print("%s: %s: mdy666 HFNSACore median %.3f ms (p10 %.3f, p90 %.3f)"
              % (PROG, label, percentile(st, 50), percentile(st, 10), percentile(st, 90)), file=sys.stderr)
        rows.append(fla_nsa.make_row("mdy666", "hf-nsa-core", gpu, cfg, b, s, times,
                                     "mdy666 fcf117c HFNSACore; window branch on fla parallel_attn (no flash-attn); "
                                     "CUDA events, L2 flushed; torch %s triton %s"
                                     % (torch.__version__, importlib.import_module("triton").__version__)))
    if not rows:
        print("%s: no row measured" % PROG, file=sys.stderr)
        return 1
    fla_nsa.write_rows(args.out, rows, args.append)
    return 0


if __name__ == "__main__":
    sys.exit(main())
