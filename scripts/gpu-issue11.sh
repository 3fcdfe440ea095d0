#!/usr/bin/env bash
# Device-side checks and benches of GPU decode (issue 11), run from the repository root on a GPU host with the
# distribution tarball in dist-out/ (docs/benchmarks.md "nsa bench decode").
#
#   scripts/gpu-issue11.sh bench   PyTorch flash decode (bench/peers/torch_decode.py: SDPA flash, cuDNN, efficient)
#                                  on the cache sizes below, then nsa bench decode (NSA step eager and as a CUDA
#                                  graph, nsa4j's dense FA-2 split-KV) at the default config (l = d = l' = 64) and at
#                                  the paper's (--paper: l = 32, d = 16), each with the peer's CSV joined
#   scripts/gpu-issue11.sh sweep   the split plan (decisions D42): the graph step alone (nsa bench decode --paths
#                                  nsa-graph) at B 1, 16, 64 and ctx 2k, 64k, default and paper config, once per
#                                  setting in $DECODE_SWEEP (space-separated, each "NAME:VAR=V[,VAR=V]"; default
#                                  base:NSA_DECODE_SPLIT_KEYS=64 k256:NSA_DECODE_SPLIT_KEYS=256
#                                  k512:NSA_DECODE_SPLIT_KEYS=512 c3:NSA_DECODE_CTAS_PER_SM=3
#                                  c3k256:NSA_DECODE_CTAS_PER_SM=3,NSA_DECODE_SPLIT_KEYS=256), into $OUT/sweep-NAME-CFG
#   scripts/gpu-issue11.sh tests   the GPU decode suites: dev.nsa4j.nsa.GpuDecodeGpuTest (the decoder against the
#                                  oracle's invariant) and dev.nsa4j.bench.DecodeGpuTest (nsa decode GPU vs CPU, graph
#                                  vs eager, nsa bench decode on a small shape); more with ISSUE11_EXTRA_TESTS
#                                  ("--select-class X ...")
#
# Cache sizes: B in $DECODE_BATCHES (default 1,8,16,64) x ctx in $DECODE_CONTEXTS (default 2k,8k,16k,64k,128k),
# Hq = 64, Hkv = 4, D = 128, bf16. Memory at the largest, B = 64 and ctx = 128k: the NSA decode caches hold every
# token once (selection pages, 64 x 131,392 x 4 x 256 x 2 B = 17.2 GB; window, pending and K~/V~ about 0.3 GB), the
# device prefill's k/v as much again while it fills them, the dense K/V of FA-2 and of PyTorch 17.2 GB each (one at a
# time): under 40 GB, so no (B, ctx) is skipped for memory. Each context is reached by the device prefill (a copy),
# so a call is start-up plus about 20 rows x (fill + 2 x 25 timed steps + the dense call).
#
# Logs and CSVs go to $OUT (default ./out). Exit status: that of the last failing step, else 0.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${OUT:-./out}
mkdir -p "$OUT" /tmp/nsa
rc=0
if [ ! -x /tmp/nsa/bin/nsa ] && ls dist-out/nsa4j-*.tar.xz >/dev/null 2>&1; then
    tar -xJf dist-out/nsa4j-*.tar.xz -C /tmp/nsa --strip-components=1 || exit 2
fi
N=/tmp/nsa/bin
export NSA_REQUIRE_GPU=1 PYTHONUNBUFFERED=1
step() { echo "=== $* ($(date +%T))"; "$@" || { rc=$?; echo "=== FAILED ($rc): $*"; return $rc; }; }
BATCHES=${DECODE_BATCHES:-1,8,16,64}
CONTEXTS=${DECODE_CONTEXTS:-2k,8k,16k,64k,128k}
for mode in "$@"; do
    case "$mode" in
        bench)
            # each step bounded (timeout) so one stuck call cannot cost the rest; the CSV of nsa bench decode is
            # rewritten after each batch size, so a timed-out call still leaves its finished rows; logs are written
            # whole, then summarised (a step inside a pipe would lose its exit status)
            T="timeout ${BENCH_STEP_S:-140}"
            step python3 bench/peers/torch_decode.py --self-test
            step $T python3 bench/peers/torch_decode.py --batch "$BATCHES" --context "$CONTEXTS" \
                --backends flash,cudnn,efficient --warmup 5 --repeat 20 --out "$OUT/decode-torch.csv" \
                > "$OUT/decode-torch.log" 2>&1
            grep -vi warn "$OUT/decode-torch.log" | tail -n 70
            peer=()
            [ -s "$OUT/decode-torch.csv" ] && peer=(--peer-csv "$OUT/decode-torch.csv")
            for cfg in "" "--paper"; do
                name=${cfg:-default}; name=${name#--}
                # shellcheck disable=SC2086
                step $T $N/nsa bench decode --batch "$BATCHES" --context "$CONTEXTS" $cfg --warmup 5 --runs 20 \
                    ${peer[@]+"${peer[@]}"} --out "$OUT" \
                    > "$OUT/bench-decode-$name.txt" 2> "$OUT/bench-decode-$name.log"
                grep -E "copy bandwidth|decoder:|filled|skipped|oom|failed|refused|nsa-eager|fa2-dense" \
                    "$OUT/bench-decode-$name.log" | tail -n 80
                cat "$OUT/bench-decode-$name.txt"
            done
            ls -l "$OUT"/decode-* ;;
        sweep)
            SWEEP=${DECODE_SWEEP:-base:NSA_DECODE_SPLIT_KEYS=64 k256:NSA_DECODE_SPLIT_KEYS=256 k512:NSA_DECODE_SPLIT_KEYS=512 c3:NSA_DECODE_CTAS_PER_SM=3 c3k256:NSA_DECODE_CTAS_PER_SM=3,NSA_DECODE_SPLIT_KEYS=256}
            for entry in $SWEEP; do
                name=${entry%%:*}
                IFS=, read -r -a vars <<< "${entry#*:}"
                for cfg in "" "--paper"; do
                    tag=$name-${cfg:-default}; tag=${tag/--/}
                    # shellcheck disable=SC2086
                    step env "${vars[@]}" timeout "${BENCH_STEP_S:-140}" $N/nsa bench decode --batch 1,16,64 \
                        --context 2k,64k $cfg --paths nsa-graph --warmup 5 --runs 20 --out "$OUT/sweep-$tag" \
                        > "$OUT/sweep-$tag.txt" 2> "$OUT/sweep-$tag.log"
                    echo "--- $tag (${vars[*]})"; grep -E "decoder:" "$OUT/sweep-$tag.log" | head -2
                    grep -E "^\|" "$OUT/sweep-$tag.txt"
                done
            done ;;
        tests)
            # the whole log first, then its summary: a pipe that closes early (head) would kill the run with SIGPIPE
            # shellcheck disable=SC2086
            step $N/nsa-test --gpu --reports "$OUT/reports-issue11" \
                --select-class dev.nsa4j.nsa.GpuDecodeGpuTest --select-class dev.nsa4j.bench.DecodeGpuTest \
                ${ISSUE11_EXTRA_TESTS:-} > "$OUT/tests-issue11.log" 2>&1
            grep -E "tests (found|successful|failed|skipped)|MethodSource|\[X\]" "$OUT/tests-issue11.log" | tail -40 ;;
        *) echo "gpu-issue11: unknown mode '$mode' (bench, sweep, tests)" >&2; exit 2 ;;
    esac
done
exit $rc
