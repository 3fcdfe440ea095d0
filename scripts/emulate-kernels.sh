#!/usr/bin/env bash
# Runs the CUDA kernels' code on the CPU (host emulation, no GPU needed): index math, bounds, NaN guard,
# bitwise results vs a CPU computation, params layout probe. Needs g++ and the CUDA headers
# (cuda_fp16.h, cuda_bf16.h). Takes about eight minutes on 2 cores (./setup.sh --test runs it: HostEmulationTest).
# Not a substitute for the GPU-tagged tests.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
inc=${CUDA_HOME:-/usr/local/cuda}/include
work=$(mktemp -d)
harness_pid=
trap '[ -z "$harness_pid" ] || kill "$harness_pid" 2>/dev/null; rm -rf "$work"' EXIT
# the standalone GPU harness (kernels/src/test/cuda/tc_harness.cu, run on GPU hosts by scripts/gpu-issue10.sh) with
# every tuning and experiment flag: it compiles here, so no device time is spent on a build error, and no warpgroup
# MMA of it (the image's Hopper scorer and FA-2's Hopper layout, fa2_hopper.cu, included) is serialised by ptxas
# (its "Potential Performance Loss" warnings C7510-C7520 fail the run); about two minutes on 2 cores, so it compiles
# in the background while the emulations run (each of them takes one core), and is checked at the end
if command -v nvcc >/dev/null; then
    nvcc -std=c++17 -O3 -gencode arch=compute_90a,code=sm_90a -DNSA_SCORE_WG_TUNE -DNSA_SEL_UNION_TUNE -DNSA_SEL_WGMMA -DNSA_SEL_TMA_TUNE \
        -DNSA_FA_WGMMA -DNSA_FA_HOPPER -DNSA_FA2_ONLY_DIMS=128 -I"$root/kernels/src/main/cuda" -I"$root/kernels/src/main/cuda-tc" \
        -I"$root/fa2-bridge/src/main/cuda" \
        "$root/kernels/src/test/cuda/tc_harness.cu" -o "$work/tc_harness" > "$work/tc_harness.log" 2>&1 &
    harness_pid=$!
fi
g++ -std=c++17 -O2 -ffp-contract=off -w -I"$inc" -I"$root/kernels/src/main/cuda" -I"$root/kernels/src/test/cuda" \
    "$root/kernels/src/test/cuda/host_emulation.cpp" -o "$work/emu"
"$work/emu"
# block select: warps as 32 coroutines in lock-step (kernels/src/test/cuda/warp_shim.h); about a minute
g++ -std=c++20 -O2 -ffp-contract=off -w -I"$inc" -I"$root/kernels/src/main/cuda" -I"$root/kernels/src/test/cuda" \
    "$root/kernels/src/test/cuda/block_select_emulation.cpp" -o "$work/emu_select"
"$work/emu_select"
# packed selection (sel_gather.cu + attention over the packed view) vs the RANGES walk, bitwise; about 20 s
g++ -std=c++17 -O2 -ffp-contract=off -w -I"$inc" -I"$root/kernels/src/main/cuda" -I"$root/kernels/src/test/cuda" \
    "$root/kernels/src/test/cuda/sel_packed_emulation.cpp" -o "$work/emu_packed"
"$work/emu_packed"
# the reference backward (attention_bwd.cu: dq, dk/dv for every mask, the gates, phi = avg) vs fp64; about a minute
g++ -std=c++17 -O2 -ffp-contract=off -w -I"$inc" -I"$root/kernels/src/main/cuda" -I"$root/kernels/src/test/cuda" \
    "$root/kernels/src/test/cuda/attention_bwd_emulation.cpp" -o "$work/emu_bwd"
"$work/emu_bwd"
# phi = mlp's reference backward (compress_mlp_bwd.cu) vs the fp64 chain rule; a second
g++ -std=c++20 -O2 -ffp-contract=off -w -I"$inc" -I"$root/kernels/src/main/cuda" -I"$root/kernels/src/test/cuda" \
    "$root/kernels/src/test/cuda/compress_mlp_bwd_emulation.cpp" -o "$work/emu_mlp_bwd"
"$work/emu_mlp_bwd"
# compression (phi = mlp) with a whole thread block as coroutines, bitwise vs the kernel's fixed order; about 2 min
g++ -std=c++20 -O2 -ffp-contract=off -w -I"$inc" -I"$root/kernels/src/main/cuda" -I"$root/kernels/src/test/cuda" \
    "$root/kernels/src/test/cuda/compress_mlp_emulation.cpp" -o "$work/emu_mlp"
"$work/emu_mlp"
# the experimental Hopper kernels: tile layouts against the canonical wgmma layouts, key ranges, and both kernels
# whole with wgmma emulated per thread, against fp64; a few seconds
g++ -std=c++20 -O2 -w -I"$inc" -I"$root/kernels/src/main/cuda" -I"$root/kernels/src/main/cuda-tc" -I"$root/kernels/src/test/cuda" \
    "$root/kernels/src/test/cuda/wg_emulation.cpp" -o "$work/emu_wg"
"$work/emu_wg"
# the image's sel-kernel (both layouts, every (Dk, Dv)) and tc scorer, ldmatrix / mma.sync emulated per warp, vs fp64;
# about 35 s
g++ -std=c++20 -O2 -w -I"$inc" -I"$root/kernels/src/main/cuda" -I"$root/kernels/src/main/cuda-tc" -I"$root/kernels/src/test/cuda" \
    "$root/kernels/src/test/cuda/tc_emulation.cpp" -o "$work/emu_tc"
"$work/emu_tc"
# the tensor-core decode step's split kernel, scorer and finish, ldmatrix / mma.sync emulated per warp, vs fp64; a few
# seconds
g++ -std=c++20 -O2 -w -I"$inc" -I"$root/kernels/src/main/cuda" -I"$root/kernels/src/main/cuda-tc" -I"$root/kernels/src/test/cuda" \
    "$root/kernels/src/test/cuda/decode_emulation.cpp" -o "$work/emu_decode"
"$work/emu_decode"
if [ -n "$harness_pid" ]; then
    harness_rc=0
    wait "$harness_pid" || harness_rc=$?
    harness_pid=
    cat "$work/tc_harness.log"
    [ "$harness_rc" = 0 ] || { echo "tc_harness: does not build"; exit 1; }
    if grep -q "wgmma.mma_async instructions are serialized" "$work/tc_harness.log"; then
        echo "tc_harness: ptxas serialises warpgroup MMAs (above): fix the kernel named there"; exit 1
    fi
    echo "tc_harness: builds (sm_90a, every tuning flag), no serialised warpgroup MMA"
else
    echo "tc_harness: not built (no nvcc)"
fi
