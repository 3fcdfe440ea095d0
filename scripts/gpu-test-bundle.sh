#!/usr/bin/env bash
# Packs the GPU-tagged tests of the kernels module into one self-contained folder for a GPU host that
# has only the NVIDIA driver: a jlink JRE, the classes, the runtime jars, the JUnit console launcher
# and run.sh. (The dist module's `nsa-test --gpu` will supersede this; until then, this is how the
# kernels' GPU suite runs on a device host without build tools.)
#
#   scripts/gpu-test-bundle.sh [bundle-dir]        default: out/gpu-tests (git-ignored), about 60 MB
#   <bundle-dir>/run.sh                            on the GPU host; fails (not skips) without a GPU
#   DETAILS=tree <bundle-dir>/run.sh               per-test output; TAGS="--exclude-tag gpu" for the CPU tests
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dst=${1:-$root/out/gpu-tests}
java_home=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}
platform=1.11.4   # junit-platform version matching junit-jupiter 5.11.4 (parent pom)

cd "$root"
# one invocation, so the reactor resolves nsa4j-reference to its classes (nothing is installed);
# each module writes its own file (a relative outputFile resolves against the module's basedir)
mvn -B -q test-compile dependency:build-classpath -pl kernels -am -Dmdep.includeScope=runtime \
    -Dmdep.outputFile=target/runtime-classpath.txt
rm -rf "$dst"
mkdir -p "$dst/lib"
IFS=: read -r -a entries < kernels/target/runtime-classpath.txt || true
for e in "${entries[@]}"; do
    case "$e" in
        *.jar) cp "$e" "$dst/lib/" ;;
        */reference/target/classes) cp -r "$e" "$dst/reference" ;;
    esac
done
cp -r kernels/target/classes "$dst/main"
cp -r kernels/target/test-classes "$dst/test"
console="$HOME/.m2/repository/org/junit/platform/junit-platform-console-standalone/$platform/junit-platform-console-standalone-$platform.jar"
if [ ! -f "$console" ]; then
    mvn -B -q dependency:copy -Dartifact="org.junit.platform:junit-platform-console-standalone:$platform" \
        -DoutputDirectory="$dst/lib"
else
    cp "$console" "$dst/lib/"
fi
"$java_home/bin/jlink" --add-modules java.base,java.logging,jdk.unsupported,jdk.incubator.vector \
    --strip-debug --no-man-pages --no-header-files --compress=zip-9 --output "$dst/jre" 2>/dev/null

cat > "$dst/run.sh" <<'RUN'
#!/usr/bin/env bash
# GPU-tagged tests of nsa4j's kernels module, JUnit console launcher, bundled JRE.
cd "$(dirname "$0")"
cp="main:test:reference"
# the console launcher carries JUnit itself; the test-scope JUnit jars would be duplicates
for j in lib/*.jar; do case "$j" in *console-standalone*|*junit-*|*opentest4j*|*apiguardian*) ;; *) cp="$cp:$j" ;; esac; done
exec jre/bin/java --enable-native-access=ALL-UNNAMED --add-modules=jdk.incubator.vector -Xmx8g \
    -Dnsa.require.gpu="${NSA_REQUIRE_GPU:-true}" \
    -jar lib/junit-platform-console-standalone-*.jar execute --class-path "$cp" \
    --select-package dev.nsa4j.kernels ${TAGS:---include-tag gpu} --details="${DETAILS:-summary}" \
    --disable-banner "$@"
RUN
chmod +x "$dst/run.sh"
echo "gpu-test-bundle: $dst ($(du -sh "$dst" | cut -f1)); run $dst/run.sh on the GPU host"
