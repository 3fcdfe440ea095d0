#!/usr/bin/env bash
# nsa4j set-up on a fresh machine: finds a JDK >= 25 and Maven, reports nvcc and GPUs, builds.
#
#   ./setup.sh          build (tests skipped); then ./nsa run works
#   ./setup.sh --test   build and run every test that this machine can run (GPU suites skip without a GPU)
#
# Exit codes: 0 ok, 2 missing prerequisite, other: the build's own.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

mode=build
case "${1:-}" in
    "") ;;
    --test|test) mode=test ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

. scripts/find-java.sh
nsa_find_java || exit 2
echo "setup: JDK   $("$JAVA_HOME/bin/java" -version 2>&1 | head -n 1) at $JAVA_HOME"

if ! command -v mvn >/dev/null 2>&1; then
    echo "setup: Maven (mvn) not found: install Maven 3.8 or newer (Debian: apt-get install maven)" >&2
    exit 2
fi
echo "setup: Maven $(mvn -v -B -Dstyle.color=never 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g' | sed -n 's/^Apache Maven \([^ ]*\).*/\1/p' | head -n 1)"

if command -v nvcc >/dev/null 2>&1; then
    echo "setup: nvcc  $(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p') found: the kernels module compiles its fatbin (sm_80, sm_86, sm_89, sm_90a + compute_80 PTX)"
else
    echo "setup: nvcc  not found: GPU kernels will not be built (the build says so loudly); the CPU oracle serves every call"
fi
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "setup: GPUs  $(nvidia-smi -L | head -n 4 | tr '\n' ';')"
else
    echo "setup: GPUs  none visible: nsa runs on the CPU oracle"
fi

# Maven itself on JDK 25 warns about sun.misc.Unsafe (its bundled Guava); that is Maven's, not ours.
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
mvn_args=(-B -ntp -Dstyle.color=never)
if [ "$mode" = test ]; then
    echo "setup: building and running the tests (with the kernels' host emulation, a few minutes)"
    NSA_TEST_EMULATION=1 mvn "${mvn_args[@]}" verify
else
    echo "setup: building (tests skipped; ./setup.sh --test runs them)"
    # Maven 3.8 on JDK 25 prints bare colour resets even in batch mode: drop them
    mvn "${mvn_args[@]}" -q -DskipTests package 2>&1 | sed 's/\x1b\[0m//g'
    echo "setup: done. Try: ./nsa run   (./nsa --help lists the commands)"
fi
