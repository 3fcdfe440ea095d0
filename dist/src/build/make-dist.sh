#!/usr/bin/env bash
# Assembles the nsa4j distribution; run by dist/pom.xml (antrun, phase package) after maven-dependency-plugin
# has filled $DIST_HOME/lib (runtime closure) and $DIST_HOME/tests (test jars, JUnit). Everything comes in
# through DIST_* variables set by the pom; JAVA_HOME is the JDK running Maven (its jlink and jdeps are used).
#
# Steps: check the test jars against the modules; check jdeps' module needs against the runtime's module list;
# drop JCuda's unused PTX compiler native; jlink the runtime; give it a fallback font; install launchers and README from the templates; tar.xz; enforce
# the size limit; copy the tarball to $DIST_OUT.
set -euo pipefail

log() { echo "[dist] $*"; }
die() { echo "[dist] ERROR: $*" >&2; exit 1; }

for v in JAVA_HOME DIST_NAME DIST_VERSION DIST_HOME DIST_TEMPLATES DIST_TARBALL DIST_OUT DIST_MAX_BYTES \
         DIST_MODULES DIST_JDEPS_IGNORED DIST_JVM_FLAGS DIST_REPO_ROOT DIST_FONT_DIR DIST_FONT_LICENSE; do
    [ -n "${!v:-}" ] || die "$v is not set (this script is run by dist/pom.xml)"
done
for tool in jlink jdeps; do
    [ -x "$JAVA_HOME/bin/$tool" ] || die "$JAVA_HOME/bin/$tool not found: build with a full JDK 25 (not a JRE)"
done
command -v tar >/dev/null || die "tar not found"
command -v xz >/dev/null || die "xz not found (Debian: apt-get install xz-utils)"
command -v zip >/dev/null && command -v unzip >/dev/null || die "zip / unzip not found (Debian: apt-get install zip unzip)"

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

# a failed build leaves no tarball in dist-out/ to be carried by mistake
rm -f "$DIST_OUT"/nsa4j-*.tar.xz "$DIST_TARBALL"

cd "$DIST_HOME"
[ -d lib ] && [ -d tests ] || die "$DIST_HOME/lib or tests/ missing: maven-dependency-plugin did not run"

# --- 1. every module with tests has its test jar in tests/ -----------------------------------------------
missing=()
for pom in "$DIST_REPO_ROOT"/*/pom.xml; do
    mod=$(dirname "$pom")
    [ "$(basename "$mod")" = dist ] && continue
    [ -d "$mod/src/test/java" ] || continue
    # the module's own artifactId: the first <artifactId> after </parent>
    aid=$(sed -n '/<\/parent>/,$p' "$pom" | sed '1s:.*</parent>::' \
          | sed -n 's:.*<artifactId>\([^<]*\)</artifactId>.*:\1:p' | head -n 1)
    [ -n "$aid" ] || continue
    compgen -G "tests/$aid-*-tests.jar" >/dev/null || missing+=("$aid ($(basename "$mod")/)")
done
if [ ${#missing[@]} -gt 0 ]; then
    die "no test jar in the distribution for: ${missing[*]}. Add to dist/pom.xml a dependency on it with <type>test-jar</type> and <scope>test</scope>."
fi
log "test jars: $(cd tests && ls ./*-tests.jar | sed 's:^\./::' | tr '\n' ' ')"

# --- 2. jdeps: which JDK modules lib/ and tests/ need --------------------------------------------------------
cp=$(ls lib/*.jar tests/*.jar | tr '\n' ':')
# --module-path lib: nsa4j's jars are modular, and jdeps resolves a modular root's "requires" (ejml.core, jcuda,
# ...) on the module path only (docs/decisions.md D20); the launchers still run everything on the class path.
needed=$("$JAVA_HOME/bin/jdeps" --multi-release 25 --ignore-missing-deps --print-module-deps \
         --module-path lib --class-path "$cp" lib/*.jar tests/*.jar 2>/dev/null | tail -n 1)
log "jdeps: lib/ and tests/ need $needed (left out on purpose: $DIST_JDEPS_IGNORED)"
have=",$DIST_MODULES,$DIST_JDEPS_IGNORED,"
lacking=()
for m in ${needed//,/ }; do
    [[ "$have" == *",$m,"* ]] || lacking+=("$m")
done
if [ ${#lacking[@]} -gt 0 ]; then
    die "jdeps says lib/ or tests/ need JDK module(s) the runtime lacks: ${lacking[*]}. Add them to dist.jlink.modules in dist/pom.xml (or, if only unused classes need them, to dist.jdeps.ignored)."
fi

# --- 2b. jcuda-natives without the PTX compiler -------------------------------------------------------------
# nsa4j loads SASS fatbins with cuModuleLoadData and never uses JCuda's nvPTXCompiler binding, whose native
# (lib/libJNvPTXCompiler-*.so, 24 MB, about 8 MB of the tarball) JCuda would load only with that class; the
# distribution's copy of the jar leaves it out (docs/decisions.md D29). Builds with the full jar are unaffected.
for jar in lib/jcuda-natives-*.jar; do
    [ -f "$jar" ] || continue
    if unzip -l "$jar" 'lib/libJNvPTXCompiler-*' >/dev/null 2>&1; then
        zip -q -d "$jar" 'lib/libJNvPTXCompiler-*' || die "could not drop the PTX compiler native from $jar"
        log "$(basename "$jar"): dropped lib/libJNvPTXCompiler-* (unused by nsa4j)"
    fi
done

# --- 3. jlink runtime ---------------------------------------------------------------------------------------
rm -rf runtime
log "jlink: $DIST_MODULES"
"$JAVA_HOME/bin/jlink" --add-modules "$DIST_MODULES" --strip-debug --no-man-pages --no-header-files \
    --compress=zip-9 --output runtime
"runtime/bin/java" -version >/dev/null 2>&1 || die "the jlink runtime does not start"

# --- 3b. fallback font ---------------------------------------------------------------------------------------
# Java2D (the PNG plots of nsa bench) needs at least one font. It asks the host's fontconfig first; a GPU host
# with only the driver may have none ("Fontconfig head is null"), and then the JDK reads the generic
# conf/fonts/fontconfig.properties, which maps every logical font to DejaVu Sans shipped in lib/fonts.
for f in DejaVuSans.ttf DejaVuSans-Bold.ttf; do
    [ -f "$DIST_FONT_DIR/$f" ] || die "$DIST_FONT_DIR/$f not found: the runtime's fallback font (Debian: apt-get install fonts-dejavu-core, or set dist.font.dir in dist/pom.xml to a folder holding DejaVuSans.ttf and DejaVuSans-Bold.ttf)"
done
[ -f "$DIST_FONT_LICENSE" ] || die "$DIST_FONT_LICENSE not found: the DejaVu fonts' licence (Debian: fonts-dejavu-core; or set dist.font.license in dist/pom.xml)"
mkdir -p runtime/lib/fonts runtime/conf/fonts
cp "$DIST_FONT_DIR/DejaVuSans.ttf" "$DIST_FONT_DIR/DejaVuSans-Bold.ttf" runtime/lib/fonts/
cp "$DIST_FONT_LICENSE" runtime/lib/fonts/LICENSE-DejaVu.txt
{
    echo "# nsa4j: used only where the host's fontconfig finds no font (make-dist.sh, step 3b)."
    echo "version=1"
    echo "sequence.allfonts=latin-1"
    for family in serif sansserif monospaced dialog dialoginput; do
        for style in plain bold italic bolditalic; do
            case $style in bold|bolditalic) font="DejaVu Sans Bold" ;; *) font="DejaVu Sans" ;; esac
            echo "$family.$style.latin-1=$font"
        done
    done
    echo 'filename.DejaVu_Sans=$JRE_LIB_FONTS/DejaVuSans.ttf'
    echo 'filename.DejaVu_Sans_Bold=$JRE_LIB_FONTS/DejaVuSans-Bold.ttf'
} > runtime/conf/fonts/fontconfig.properties
log "fallback font: DejaVu Sans (runtime/lib/fonts, runtime/conf/fonts/fontconfig.properties)"

# --- 4. launchers and README --------------------------------------------------------------------------------
mkdir -p bin
for f in bin/nsa bin/nsa-test README-dist.txt; do
    sed -e "s|@NSA_JVM_FLAGS@|$DIST_JVM_FLAGS|g" -e "s|@VERSION@|$DIST_VERSION|g" \
        "$DIST_TEMPLATES/$f" > "$f"
done
chmod 755 bin/nsa bin/nsa-test

# --- 5. tarball ----------------------------------------------------------------------------------------------
rm -f "$DIST_TARBALL"
log "packing $(du -sm . | cut -f1) MB into $(basename "$DIST_TARBALL")"
# xz -6 -T0: the jars and jlink's zip-compressed modules leave xz little to gain above -6 (-9 saves <0.1%
# and costs far more time); -T0 uses every core, and the multi-block .xz still unpacks with any xz / tar -xJf.
tar -C "$(dirname "$DIST_HOME")" --owner=0 --group=0 --numeric-owner --sort=name \
    -cf - "$DIST_NAME" | xz -6 -T0 > "$DIST_TARBALL"
size=$(stat -c %s "$DIST_TARBALL")
if [ "$size" -gt "$DIST_MAX_BYTES" ]; then
    rm -f "$DIST_TARBALL"
    die "the tarball would be $size bytes ($(mib "$size")), over the limit of $DIST_MAX_BYTES bytes ($(mib "$DIST_MAX_BYTES")): drop a dependency or a runtime module, or raise dist.maxBytes in dist/pom.xml if the hosts allow (tarball deleted)"
fi
log "tarball: $DIST_TARBALL ($size bytes, $(mib "$size"); limit $(mib "$DIST_MAX_BYTES"))"

# --- 6. copy to dist-out/ (git-ignored, for carrying to a GPU host) ----------------------------------------
mkdir -p "$DIST_OUT"
cp "$DIST_TARBALL" "$DIST_OUT/"
log "copied to $(cd "$DIST_OUT" && pwd)/$(basename "$DIST_TARBALL")"
