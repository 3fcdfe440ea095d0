#!/usr/bin/env bash
# Device-side checks and benches of the tensor-core kernels (issue 10), run from the repository root on a GPU host
# with the distribution tarball in dist-out/ and the peers' source tarballs in peers-src/ (docs/benchmarks.md).
#
#   scripts/gpu-issue10.sh harness   nvcc the standalone timing harness (kernels/src/test/cuda/tc_harness.cu) in
#                                    layouts of sel-kernel's union kernel ($SELU_VARIANTS) and the experimental
#                                    Hopper (wgmma) union kernel, each against the image's token layout on fla's
#                                    block indices, beside fla's own selection on them and their gather floor
#   scripts/gpu-issue10.sh wgmma     the experimental Hopper kernels in the harness: the wgmma union layout of
#                                    sel-kernel against the image's kernels on fla's block indices, and the wgmma
#                                    flash-attention forward of the window and compressed branches against
#                                    sdpa-masked (fla shape and paper config)
#   scripts/gpu-issue10.sh fahopper  fa2-bridge's Hopper forward (fa2_hopper.cu) against its FA-2 kernels in the harness
#                                    (-DNSA_FA_HOPPER; $FAH_BIN: a harness built elsewhere): memcheck and racecheck on a
#                                    small case, then the window, compressed and causal branches at the fla shape and
#                                    the paper config, checked against FA-2 and the reference attention first
#   scripts/gpu-issue10.sh scorer    the tc scorer's layouts in the harness (mma.sync, wgmma, the pipelined wgmma
#                                    tuning variant, -DNSA_SCORE_WG_TUNE) at the fla shape and the paper config, and
#                                    the gather floor by cp.async and by bulk copies (cp.async.bulk, 2 / 3 stages)
#   scripts/gpu-issue10.sh scoretma  the key-row Hopper scorer (block_score_kr.cu; $SCORE_BIN: a harness built
#                                    elsewhere) against the wgmma and mma.sync scorers and the fp32 reference (rows that
#                                    differ, and of those the ones not near ties): memcheck and racecheck on varlen
#                                    cases (SCORE_SANITIZE=0: none), then varlen edges, fp16, h 4 / 6 / 8, the fla
#                                    shape and the paper config
#   scripts/gpu-issue10.sh tma       the TMA layout of sel-kernel in the harness (sel_tma.cu, -DNSA_SEL_TMA_TUNE; $SELT_VARIANTS "STAGES,MINB,TILE")
#                                    against the image's token layout on fla's block indices and at the paper config
#   scripts/gpu-issue10.sh profile   ncu (speed of light, occupancy, warp stalls, memory, source hot spots) of the
#                                    wgmma scorer at the paper config and of sel-kernel's token and union layouts
#   scripts/gpu-issue10.sh selection fla's selection on its own block indices beside nsa bench selection on the same
#                                    blocks (sel-kernel in each layout, exact and fast P, sdpa-masked, sdpa-packed)
#   scripts/gpu-issue10.sh tests     the new GPU suites (sel-kernel, tc scorer, routing, pipeline, FA-2 parity on
#                                    both kernel layouts, nsa run's routes)
#   scripts/gpu-issue10.sh sanitize  memcheck and racecheck over a shard of the new suites (SANITIZE_COVER=1: over
#                                    their cover cases, every kernel symbol on its edge shapes)
#   scripts/gpu-issue10.sh suite     the whole GPU suite (NSA_REQUIRE_GPU=1)
#   scripts/gpu-issue10.sh bench     nsa bench nsa at the fla shape and the paper config, fla, mdy666 and PyTorch beside it
#   scripts/gpu-issue10.sh fastp     nsa bench nsa at the fla shape with NSA_FAST_P=1
#   scripts/gpu-issue10.sh shapes    nsa bench nsa and the peers at Dk = 192 / Dv = 128 and at h = 4
#   scripts/gpu-issue10.sh sweep     nsa bench selection over n·l' (the NSA_SEL_KERNEL_MIN_L sweep)
#   scripts/gpu-issue10.sh peerkernels  the peers' forwards split into their CUDA kernels (torch.profiler, --kernels):
#                                    mdy666 at the paper config, fla at the fla shape; beside nsa bench nsa's steps
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
for peer in fla mdy; do
    if [ -d peers-src ] && [ ! -d peers-src/$peer ] && ls peers-src/$peer*.tar.xz >/dev/null 2>&1; then
        tar -xJf peers-src/$peer*.tar.xz -C peers-src
    fi
done
N=/tmp/nsa/bin
export NSA_REQUIRE_GPU=1 PYTHONUNBUFFERED=1
step() { echo "=== $* ($(date +%T))"; "$@" || { rc=$?; echo "=== FAILED ($rc): $*"; return $rc; }; }
NEW="--select-class dev.nsa4j.kernels.op.SelKernelGpuTest --select-class dev.nsa4j.kernels.op.TcBlockScoreGpuTest
     --select-class dev.nsa4j.nsa.PipelineParityGpuTest --select-class dev.nsa4j.nsa.PipelineEdgeCaseGpuTest
     --select-class dev.nsa4j.nsa.DeviceApiGpuTest --select-class dev.nsa4j.parity.Fa2ParityGpuTest
     --select-class dev.nsa4j.bench.RunGpuTest"
for mode in "$@"; do
    case "$mode" in
        harness)
            # the union layout of sel-kernel (sel_union.cu, -DNSA_SEL_UNION_TUNE) in the layouts "TOK STAGES MINB" of
            # $SELU_VARIANTS against the image's token layout (same exact-P output), then timed; the first binary
            # also carries the experimental Hopper union layout (sel_union_wgmma.cuh, -DNSA_SEL_WGMMA)
            NV="nvcc -std=c++17 -O3 -gencode arch=compute_90a,code=sm_90a -DNSA_SEL_UNION_TUNE -I kernels/src/main/cuda
                -I kernels/src/main/cuda-tc kernels/src/test/cuda/tc_harness.cu"
            bins=()
            for v in ${SELU_VARIANTS:-"4,2,3" "4,3,2"}; do
                IFS=, read -r tk sg mb <<<"$v"
                extra=""; [ ${#bins[@]} = 0 ] && extra="-DNSA_SEL_WGMMA"
                $NV $extra -DNSA_SELU_TOK=$tk -DNSA_SELU_STAGES=$sg -DNSA_SELU_MINB=$mb -o /tmp/th_${tk}_${sg}_${mb} &
                bins+=(/tmp/th_${tk}_${sg}_${mb})
            done
            wait
            for bs in "4 4096" "1 16384" "1 65536"; do
                set -- $bs
                python3 bench/peers/fla_selection.py --fla-root peers-src/fla --batch $1 --seqlen $2 \
                    --indices-out /tmp/idx_$2.bin 2>&1 | grep -v Warn | tail -1 | tee -a "$OUT/selection.log"
                for b in "${bins[@]}"; do
                    [ -x $b ] || { echo "=== FAILED: $b did not build"; rc=2; continue; }
                    if [ $b = "${bins[0]}" ]; then sel='^bench|^floor|^union|^wgmma|^score_wg'; else sel='^union'; fi
                    $b bench $1 $2 64 4 128 128 64 64 64 16 10 0 /tmp/idx_$2.bin | grep -E "$sel" | tee -a "$OUT/selection.log"
                done
            done ;;
        tma)
            # the TMA layout of sel-kernel (kernels/src/main/cuda-tc/sel_tma.cu, -DNSA_SEL_TMA_TUNE) in the layouts
            # "STAGES,MINB,TILE" of $SELT_VARIANTS against the image's token layout on fla's block indices
            bins=()
            for v in ${SELT_VARIANTS:-"2,3,64" "2,6,32" "3,4,32"}; do
                IFS=, read -r sg mb tl <<<"$v"
                nvcc -std=c++17 -O3 -gencode arch=compute_90a,code=sm_90a -DNSA_SEL_TMA_TUNE -DNSA_SELT_STAGES=$sg \
                    -DNSA_SELT_MINB=$mb -DNSA_SELT_TILE=$tl -I kernels/src/main/cuda -I kernels/src/main/cuda-tc \
                    kernels/src/test/cuda/tc_harness.cu -o /tmp/th_tma_${sg}_${mb}_${tl} &
                bins+=(/tmp/th_tma_${sg}_${mb}_${tl})
            done
            wait
            for bs in "4 4096" "1 16384" "1 65536"; do
                set -- $bs
                [ -f /tmp/idx_$2.bin ] || python3 bench/peers/fla_selection.py --fla-root peers-src/fla --batch $1 \
                    --seqlen $2 --indices-out /tmp/idx_$2.bin 2>&1 | grep -v Warn | tail -1 | tee -a "$OUT/tma.log"
                for b in "${bins[@]}"; do
                    [ -x $b ] || { echo "=== FAILED: $b did not build"; rc=2; continue; }
                    if [ $b = "${bins[0]}" ]; then sel='^bench|^tma'; else sel='^tma'; fi
                    timeout 120 $b bench $1 $2 64 4 128 128 64 64 64 16 10 0 /tmp/idx_$2.bin | grep -E "$sel" \
                        | tee -a "$OUT/tma.log"
                done
            done
            for c in "1 16384" "1 65536"; do   # the paper config, on the scorer's own indices
                set -- $c
                timeout 120 ${bins[0]} bench $1 $2 64 4 128 128 32 16 64 16 10 0 | grep -E "^bench|^tma" | tee -a "$OUT/tma.log"
            done ;;
        wgmma)
            nvcc -std=c++17 -O3 -gencode arch=compute_90a,code=sm_90a -DNSA_SEL_UNION_TUNE -DNSA_SEL_WGMMA -DNSA_FA_WGMMA \
                -I kernels/src/main/cuda -I kernels/src/main/cuda-tc kernels/src/test/cuda/tc_harness.cu -o /tmp/th_wg \
                || { echo "=== FAILED: the wgmma harness did not build"; rc=2; continue; }
            for bs in "4 4096" "1 16384" "1 65536"; do
                set -- $bs
                [ -f /tmp/idx_$2.bin ] || python3 bench/peers/fla_selection.py --fla-root peers-src/fla --batch $1 \
                    --seqlen $2 --indices-out /tmp/idx_$2.bin 2>&1 | grep -v Warn | tail -1 | tee -a "$OUT/wgmma.log"
                step timeout 120 /tmp/th_wg bench $1 $2 64 4 128 128 64 64 64 16 10 0 /tmp/idx_$2.bin \
                    | grep -E "^bench|^floor|^union|^wgmma|^score_wg" | tee -a "$OUT/wgmma.log"
                step timeout 120 /tmp/th_wg fa $1 $2 64 4 64 64 512 10 | tee -a "$OUT/wgmma.log"
                step timeout 120 /tmp/th_wg fa 1 $2 64 4 32 16 512 10 | grep block-causal | tee -a "$OUT/wgmma.log"
            done ;;
        fahopper)
            fb=${FAH_BIN:-/tmp/th_fah}
            if [ ! -x "$fb" ]; then
                nvcc -std=c++17 -O3 -gencode arch=compute_90a,code=sm_90a -DNSA_FA_HOPPER -DNSA_FA2_ONLY_DIMS=128 \
                    -I kernels/src/main/cuda -I kernels/src/main/cuda-tc -I fa2-bridge/src/main/cuda \
                    kernels/src/test/cuda/tc_harness.cu -o "$fb" || { echo "=== FAILED: the harness did not build"; rc=2; continue; }
            fi
            for tool in memcheck racecheck; do
                step timeout 120 compute-sanitizer --tool $tool --error-exitcode 3 "$fb" fah 3 700 8 2 32 16 100 1 \
                    > "$OUT/fah-$tool.log" 2>&1
                grep -E "ERROR SUMMARY|RACECHECK SUMMARY|^fa_hopper" "$OUT/fah-$tool.log" | tee -a "$OUT/fahopper.log"
            done
            for c in "4 4096 64 64" "1 16384 64 64" "1 65536 64 64" "1 16384 32 16" "1 65536 32 16"; do
                set -- $c
                step timeout 120 "$fb" fah $1 $2 64 4 $3 $4 512 10 | tee -a "$OUT/fahopper.log"
            done ;;
        scoretma)
            sb=${SCORE_BIN:-/tmp/th_score}
            if [ ! -x "$sb" ]; then
                nvcc -std=c++17 -O3 -gencode arch=compute_90a,code=sm_90a -I kernels/src/main/cuda \
                    -I kernels/src/main/cuda-tc kernels/src/test/cuda/tc_harness.cu -o "$sb" || { rc=2; continue; }
            fi
            # varlen edges (one tile per row), then rows of 4 and 5 tiles (the ring's deferred offers, stage reuse;
            # racecheck over 5000,9000 did not finish in 90 s on an H200); SCORE_SANITIZE=0 skips them
            for tool in $([ "${SCORE_SANITIZE:-1}" = 1 ] && echo memcheck racecheck); do
                for c in "1 1000,1,0,63,64,65,300 64 4 128 32 16 64 16 1 1" "1 4000,5000 64 4 128 32 16 64 16 1 1"; do
                    step timeout 240 compute-sanitizer --tool $tool --error-exitcode 3 "$sb" score $c \
                        > "$OUT/scoretma-$tool.log" 2>&1 || break 2
                    grep -E "ERROR SUMMARY|RACECHECK SUMMARY|^score_tma" "$OUT/scoretma-$tool.log" | tee -a "$OUT/scoretma.log"
                done
            done
            # B S[,..] Hq Hkv DK l d l' n reps ref fp16
            for c in "1 1000,1,0,63,64,65,300,4096 64 4 128 32 16 64 16 3 1 0" "2 5000,777,33 32 4 128 32 16 64 16 3 1 1" \
                     "1 3000,129 16 4 128 64 64 64 16 3 1 0" "1 2000 24 4 128 32 16 64 8 3 1 0" \
                     "1 4096 64 4 128 128 32 64 16 3 1 0" "4 4096 64 4 128 64 64 64 16 10 1 0" \
                     "1 16384 64 4 128 64 64 64 16 10 1 0" "1 65536 64 4 128 64 64 64 16 10 0 0" \
                     "1 16384 64 4 128 32 16 64 16 10 1 0" "1 65536 64 4 128 32 16 64 16 10 0 0" \
                     "1 65536 16 4 128 32 16 64 16 10 0 0" "1 65536 32 4 128 32 16 64 16 10 0 0" \
                     "4 4096 16 4 128 64 64 64 16 10 0 0" "1 65536 16 4 128 64 64 64 16 10 0 0" \
                     "1 65536 32 4 128 64 64 64 16 10 0 0"; do
                # a hang (the mbarrier protocol) stops the mode at once: no device time spent on the rest
                step timeout 30 "$sb" score $c >> "$OUT/scoretma.log" || break
            done
            tail -n 20 "$OUT/scoretma.log" ;;
        scorer)
            nvcc -std=c++17 -O3 -gencode arch=compute_90a,code=sm_90a -DNSA_SCORE_WG_TUNE -I kernels/src/main/cuda \
                -I kernels/src/main/cuda-tc kernels/src/test/cuda/tc_harness.cu -o /tmp/th_sc || { rc=2; continue; }
            for c in "4 4096 64 64" "1 16384 64 64" "1 65536 64 64" "1 16384 32 16" "1 65536 32 16"; do
                set -- $c
                step timeout 120 /tmp/th_sc bench $1 $2 64 4 128 128 $3 $4 64 16 10 0 | grep -E "^score_wg|^floor" \
                    | tee -a "$OUT/scorer.log"
            done ;;
        profile)
            nvcc -std=c++17 -O3 -gencode arch=compute_90a,code=sm_90a -DNSA_SEL_UNION_TUNE -I kernels/src/main/cuda \
                -I kernels/src/main/cuda-tc \
                -lineinfo kernels/src/test/cuda/tc_harness.cu -o /tmp/th_prof || { rc=2; continue; }
            NCU="ncu --launch-skip 1 --launch-count 1 --section SpeedOfLight --section Occupancy --section WarpStateStats
                 --section MemoryWorkloadAnalysis --section ComputeWorkloadAnalysis"
            step timeout 150 $NCU --section SourceCounters --kernel-name regex:nsa_block_score_wg /tmp/th_prof \
                bench 1 16384 64 4 128 128 32 16 64 16 2 0 > "$OUT/profile-score-paper-16k.txt" 2>&1
            step timeout 150 $NCU --kernel-name regex:nsa_sel_kernel /tmp/th_prof bench 1 65536 64 4 128 128 64 64 64 16 2 0 \
                > "$OUT/profile-sel-token-64k.txt" 2>&1
            step timeout 150 $NCU --kernel-name regex:nsa_sel_union_tune /tmp/th_prof bench 4 4096 64 4 128 128 64 64 64 16 2 0 \
                > "$OUT/profile-sel-union-4k.txt" 2>&1
            grep -hE "^  nsa_|Duration|Throughput|Achieved Occupancy|Registers Per|Stall|Warp Cycles Per Issued" \
                "$OUT"/profile-*.txt | head -80 ;;
        selection)
            # fla's selection on its own block indices, then nsa bench selection (every sel-kernel layout, sdpa-masked,
            # sdpa-packed) on the very same indices
            for bs in "4 4096" "1 16384" "1 65536"; do
                set -- $bs
                python3 bench/peers/fla_selection.py --fla-root peers-src/fla --batch $1 --seqlen $2 \
                    --indices-out /tmp/idx_$2.bin 2>&1 | grep -v Warn | tail -1 | tee -a "$OUT/selection.log"
                step $N/nsa bench selection --shapes "$1,$2" --indices /tmp/idx_$2.bin --repeat 10 \
                    --out "$OUT/selection.csv" 2>&1 | grep "bench selection" | tee -a "$OUT/selection.log"
            done ;;
        tests)
            # the whole log first, then its summary: a pipe that closes early (head) would kill the run with SIGPIPE
            step $N/nsa-test --gpu --reports "$OUT/reports-new" $NEW > "$OUT/tests-new.log" 2>&1
            grep -E "tests (successful|failed)|rows differ from the reference|MethodSource|\[X\]" "$OUT/tests-new.log" \
                | tail -40 ;;
        sanitize)
            # SANITIZE_TOOLS (default both); NSA_TEST_SHARD (default 0/16) of the new suites, or with SANITIZE_COVER=1
            # their cover cases instead (NSA_TEST_COVER=1: every kernel symbol on its edge shapes, TestShard.java)
            for tool in ${SANITIZE_TOOLS:-memcheck racecheck}; do
                (
                    if [ "${SANITIZE_COVER:-0}" = 1 ]; then export NSA_TEST_COVER=1; unset NSA_TEST_SHARD
                    else export NSA_TEST_SHARD=${NSA_TEST_SHARD:-0/16}; fi
                    exec $N/nsa-test --gpu --sanitize $tool --reports "$OUT/reports-$tool" \
                        --select-class dev.nsa4j.kernels.op.SelKernelGpuTest \
                        --select-class dev.nsa4j.kernels.op.TcBlockScoreGpuTest \
                        --select-class dev.nsa4j.nsa.PipelineParityGpuTest
                ) > "$OUT/sanitize-$tool.log" 2>&1 || { rc=$?; echo "=== FAILED ($rc): sanitize $tool"; }
                grep -E "ERROR SUMMARY|RACECHECK SUMMARY|tests (successful|failed)" "$OUT/sanitize-$tool.log" | tail -4
            done ;;
        suite)
            step $N/nsa-test --gpu --reports "$OUT/reports-suite" > "$OUT/suite.log" 2>&1
            grep -E "tests (found|successful|failed|skipped)" "$OUT/suite.log" | tail -5 ;;
        bench)
            # each step bounded (timeout) so one stuck peer cannot cost the rest; nsa4j in its default (exact P) and
            # with NSA_FAST_P=1 (P rounded once, as fla and PyTorch do), the latter in its own CSV
            T="timeout ${BENCH_STEP_S:-150}"
            step $T python3 bench/peers/fla_nsa.py --fla-root peers-src/fla --shapes "4,4096;1,16384;1,65536" --torch \
                --warmup 5 --repeat 20 --out "$OUT/nsa-bench.csv" --append 2>&1 | tail -8
            step $T $N/nsa bench nsa --shapes "4,4096 1,16384 1,65536" --repeat 5 --no-host --out "$OUT/nsa-bench.csv" \
                2>&1 | tee "$OUT/bench-fla-shape.log" | grep "bench nsa"
            NSA_FAST_P=1 step $T $N/nsa bench nsa --shapes "4,4096 1,16384 1,65536" --repeat 5 --no-host \
                --out "$OUT/nsa-bench-fastp.csv" 2>&1 | tee "$OUT/bench-fla-shape-fastp.log" | grep "bench nsa"
            step $T python3 bench/peers/mdy_nsa.py --mdy-root peers-src/mdy --fla-root peers-src/fla \
                --shapes "1,4096;1,16384;1,65536" --block-len 32 --stride 16 --warmup 5 --repeat 20 \
                --out "$OUT/nsa-bench.csv" --append 2>&1 | tail -6
            step $T python3 bench/peers/fla_nsa.py --fla-root peers-src/fla --shapes "1,4096;1,16384;1,65536" --torch \
                --block-len 32 --stride 16 --warmup 5 --repeat 20 --out "$OUT/nsa-bench.csv" --append 2>&1 | tail -4
            step $T $N/nsa bench nsa --shapes "1,4096 1,16384 1,65536" --block-len 32 --stride 16 --no-host \
                --repeat 5 --out "$OUT/nsa-bench.csv" --md "$OUT/nsa-bench.md" --png "$OUT/nsa-bench.png" 2>&1 \
                | tee "$OUT/bench-paper.log" | grep "bench nsa"
            NSA_FAST_P=1 step $T $N/nsa bench nsa --shapes "1,4096 1,16384 1,65536" --block-len 32 --stride 16 \
                --no-host --repeat 5 --out "$OUT/nsa-bench-fastp.csv" --md "$OUT/nsa-bench-fastp.md" 2>&1 \
                | tee "$OUT/bench-paper-fastp.log" | grep "bench nsa" ;;
        shapes)
            # the issue's other reported shapes: Dk = 192 / Dv = 128 and h = 4 (Hq = 16, Hkv = 4), nsa4j (its dense FA-2
            # included) and PyTorch flash / cuDNN (fla where it takes the shape) on the same shapes
            T="timeout ${BENCH_STEP_S:-150}"
            for opt in "--dk 192 --dv 128" "--heads 16 --kv-heads 4"; do
                step $T python3 bench/peers/fla_nsa.py --fla-root peers-src/fla --shapes "4,4096;1,16384;1,65536" \
                    --torch $opt --warmup 5 --repeat 20 --out "$OUT/nsa-bench-shapes.csv" --append 2>&1 | tail -4
                step $T $N/nsa bench nsa --shapes "4,4096 1,16384 1,65536" $opt --repeat 5 --no-host \
                    --out "$OUT/nsa-bench-shapes.csv" --md "$OUT/nsa-bench-shapes.md" 2>&1 | grep -E "device forward|FAIL"
            done ;;
        sweep)
            # the NSA_SEL_KERNEL_MIN_L sweep: sel-kernel against sdpa-masked and sdpa-packed as n·l' grows
            for nl in "4 64" "8 64" "16 64" "4 128" "8 128" "16 128" "32 64"; do
                set -- $nl
                step $N/nsa bench selection --shapes "1,4096 1,16384" --n-sel $1 --sel-block $2 --repeat 10 \
                    --paths sel-kernel,sdpa-masked,sdpa-packed --out "$OUT/selection-sweep.csv" 2>&1 | grep "bench selection\]  "
            done ;;
        peerkernels)
            T="timeout ${BENCH_STEP_S:-150}"
            step $T python3 bench/peers/mdy_nsa.py --mdy-root peers-src/mdy --fla-root peers-src/fla \
                --shapes "1,16384;1,65536" --block-len 32 --stride 16 --warmup 5 --repeat 10 --kernels 3 \
                --out /tmp/peer-kernels.csv 2>&1 | tee "$OUT/peer-kernels.log" | grep -vi warn
            step $T python3 bench/peers/fla_nsa.py --fla-root peers-src/fla --shapes "1,16384;1,65536" \
                --warmup 5 --repeat 10 --kernels 3 --out /tmp/peer-kernels.csv 2>&1 | tee -a "$OUT/peer-kernels.log" \
                | grep -vi warn ;;
        fastp)
            # nsa bench nsa at the fla shape with NSA_FAST_P=1 only (its own CSV and Markdown)
            NSA_FAST_P=1 step timeout ${BENCH_STEP_S:-150} $N/nsa bench nsa --shapes "4,4096 1,16384 1,65536" --repeat 5 \
                --no-host --out "$OUT/nsa-bench-fastp.csv" --md "$OUT/nsa-bench-fastp.md" 2>&1 \
                | tee "$OUT/bench-fla-shape-fastp.log" | grep -E "bench nsa\]   (device forward|check)" ;;
        *) echo "gpu-issue10: unknown mode '$mode' (harness, tma, wgmma, scorer, profile, selection, tests, sanitize, suite, bench, fastp, shapes, sweep, peerkernels)" >&2; exit 2 ;;
    esac
done
exit $rc
