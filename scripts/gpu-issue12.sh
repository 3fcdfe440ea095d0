#!/usr/bin/env bash
# Device-side checks of the GPU backward (issue 12), run from the repository root on a GPU host with the
# distribution tarball in dist-out/ (docs/benchmarks.md, docs/decisions.md D43).
#
#   scripts/gpu-issue12.sh tests      the reference GPU backward against the oracle's fp64 backward
#                                     (dev.nsa4j.nsa.GpuReferenceBackwardGpuTest), then the kernels' own suites it
#                                     builds on (the reference attention and compression)
#   scripts/gpu-issue12.sh sanitize   compute-sanitizer memcheck, racecheck and initcheck over that suite
#   scripts/gpu-issue12.sh peer       nsa grad (phi avg and mlp) checked by PyTorch autograd on the same numbers
#                                     (bench/peers/torch_nsa_grad.py, float64 on the CPU; needs only torch)
#
# Logs go to $OUT (default ./out). Exit status: that of the last failing step, else 0.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${OUT:-./out}
mkdir -p "$OUT" /tmp/nsa
rc=0
if [ ! -x /tmp/nsa/bin/nsa ] && ls dist-out/nsa4j-*.tar.xz >/dev/null 2>&1; then
    tar -xJf dist-out/nsa4j-*.tar.xz -C /tmp/nsa --strip-components=1 || exit 2
fi
N=/tmp/nsa/bin
export NSA_REQUIRE_GPU=1
step() { echo "=== $* ($(date +%T))"; "$@" || { rc=$?; echo "=== FAILED ($rc): $*"; return $rc; }; }
SUITE=dev.nsa4j.nsa.GpuReferenceBackwardGpuTest
for mode in "$@"; do
    case "$mode" in
        tests)
            step timeout "${TEST_STEP_S:-300}" $N/nsa-test --gpu --reports "$OUT/reports-issue12" --select-class $SUITE \
                --select-class dev.nsa4j.kernels.internal.AttentionGpuTest > "$OUT/tests-issue12.log" 2>&1
            grep -E "tests (found|successful|failed|skipped)|MethodSource|\[X\]" "$OUT/tests-issue12.log" | tail -40 ;;
        sanitize)
            for tool in memcheck racecheck initcheck; do
                step timeout "${TEST_STEP_S:-300}" $N/nsa-test --gpu --sanitize $tool --reports "$OUT/san-$tool" \
                    --select-class $SUITE > "$OUT/san-$tool-issue12.log" 2>&1
                grep -E "ERROR SUMMARY|tests (successful|failed)" "$OUT/san-$tool-issue12.log" | tail -3
            done ;;
        peer)
            CFG=(--block-len 16 --stride 8 --sel-block 16 --n-sel 4 --window 32)
            for phi in avg mlp; do
                rm -rf "$OUT/grad-$phi"
                step $N/nsa grad --shape 2,96,4,2,16,12 "${CFG[@]}" --phi $phi --out "$OUT/grad-$phi" \
                    > "$OUT/grad-$phi.txt" 2>&1
                step python3 bench/peers/torch_nsa_grad.py "$OUT/grad-$phi" "${CFG[@]}" --phi $phi
            done ;;
        *) echo "gpu-issue12: unknown mode '$mode' (tests, sanitize, peer)" >&2; exit 2 ;;
    esac
done
exit $rc
