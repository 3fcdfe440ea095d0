#!/usr/bin/env bash
# Device-side checks and benches of the device-resident forward (issue 9), run from the repository root on a
# GPU host with the distribution tarball in dist-out/ and fla's source in peers-src/ (docs/benchmarks.md).
#
#   scripts/gpu-issue9.sh tests     the new and changed GPU suites, then sanitizers over the new path's suites
#   scripts/gpu-issue9.sh suite     the whole GPU suite (NSA_REQUIRE_GPU=1)
#   scripts/gpu-issue9.sh bench     nsa bench nsa at the fla shape and the paper config, fla and PyTorch beside it
#   scripts/gpu-issue9.sh run       nsa run --device gpu at the fla shape (plan, host-to-host vs transfers + device)
#
# Logs and CSVs go to $OUT (default ./out). Exit status: that of the last failing step, else 0.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${OUT:-./out}
mkdir -p "$OUT" /tmp/nsa
rc=0
if [ ! -x /tmp/nsa/bin/nsa ]; then
    tar -xJf dist-out/nsa4j-*.tar.xz -C /tmp/nsa --strip-components=1 || exit 2
fi
if [ -d peers-src ] && [ ! -d peers-src/fla ] && ls peers-src/fla-*.tar.xz >/dev/null 2>&1; then
    tar -xJf peers-src/fla-*.tar.xz -C peers-src
fi
N=/tmp/nsa/bin
export NSA_REQUIRE_GPU=1 PYTHONUNBUFFERED=1
step() { echo "=== $* ($(date +%T))"; "$@" || { rc=$?; echo "=== FAILED ($rc): $*"; }; }
for mode in "$@"; do
    case "$mode" in
        tests)
            step $N/nsa-test --gpu --reports "$OUT/reports-new" --select-class dev.nsa4j.nsa.DeviceApiGpuTest \
                --select-class dev.nsa4j.nsa.NsaAttentionFa2GpuTest --select-class dev.nsa4j.nsa.PipelineEdgeCaseGpuTest \
                --select-class dev.nsa4j.nsa.PipelineParityGpuTest --select-class dev.nsa4j.kernels.RuntimeGpuTest \
                2>&1 | tee "$OUT/tests-new.log" | grep -E "tests (successful|failed)|FAIL|Exception|\[X\]" | head -60 ;;
        sanitize)
            for tool in memcheck racecheck; do
                NSA_TEST_SHARD=0/6 step $N/nsa-test --gpu --sanitize $tool --reports "$OUT/reports-$tool" \
                    --select-class dev.nsa4j.nsa.DeviceApiGpuTest --select-class dev.nsa4j.nsa.PipelineEdgeCaseGpuTest \
                    --select-class dev.nsa4j.nsa.PipelineParityGpuTest --select-class dev.nsa4j.nsa.NsaAttentionFa2GpuTest \
                    > "$OUT/sanitize-$tool.log" 2>&1
                grep -E "ERROR SUMMARY|RACECHECK SUMMARY|tests (successful|failed)" "$OUT/sanitize-$tool.log" | tail -4
            done ;;
        suite)
            step $N/nsa-test --gpu --reports "$OUT/reports-suite" > "$OUT/suite.log" 2>&1
            grep -E "tests (found|successful|failed|skipped)" "$OUT/suite.log" | tail -5 ;;
        run)
            step $N/nsa run --device gpu --shape 4,4096,64,4,128,128 --block-len 64 --stride 64 --sel-block 64 \
                --n-sel 16 --window 512 --dtype bf16 --warmup 1 --repeat 3 2>&1 | tee "$OUT/run.log" ;;
        bench)
            step python3 bench/peers/fla_nsa.py --fla-root peers-src/fla --shapes "4,4096;1,16384;1,65536" --torch \
                --warmup 5 --repeat 20 --out "$OUT/nsa-bench.csv" --append 2>&1 | tail -8
            step $N/nsa bench nsa --shapes "4,4096 1,16384 1,65536" --repeat 3 --out "$OUT/nsa-bench.csv" \
                --md "$OUT/nsa-bench.md" --png "$OUT/nsa-bench.png" 2>&1 | tee "$OUT/bench-fla-shape.log" | grep "bench nsa"
            step python3 bench/peers/fla_nsa.py --fla-root peers-src/fla --shapes "1,4096;1,16384;1,65536" --torch \
                --block-len 32 --stride 16 --dk 192 --dv 128 --warmup 5 --repeat 20 --out "$OUT/nsa-bench.csv" \
                --append 2>&1 | tail -4
            step $N/nsa bench nsa --shapes "1,4096 1,16384 1,65536" --block-len 32 --stride 16 --dk 192 --dv 128 \
                --repeat 3 --out "$OUT/nsa-bench.csv" --md "$OUT/nsa-bench.md" --png "$OUT/nsa-bench.png" 2>&1 \
                | tee "$OUT/bench-paper.log" | grep "bench nsa" ;;
        *) echo "gpu-issue9: unknown mode '$mode' (tests, sanitize, suite, run, bench)" >&2; exit 2 ;;
    esac
done
exit $rc
