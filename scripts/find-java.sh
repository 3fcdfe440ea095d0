# shellcheck shell=sh
# Finds a JDK >= 25 for nsa4j. Meant to be sourced (POSIX sh, bash, dash, ksh), not run:
#
#   . scripts/find-java.sh
#   nsa_find_java || exit 2          # a JDK (java and javac), for building
#   nsa_find_java runtime || exit 2  # java alone is enough, for running
#
# Looks, in order, at: $JAVA_HOME; `java` on PATH; /usr/lib/jvm/*; /opt/java/*; /opt/jdk*;
# ~/.sdkman/candidates/java/*; /Library/Java/JavaVirtualMachines/*/Contents/Home. Exports JAVA_HOME to the
# first that qualifies and prints nothing; otherwise prints one message to stderr listing what it found
# (with versions) and returns 1. Variables it uses start with _nfj_ and are unset afterwards.

NSA_MIN_JAVA=25

# Prints the feature version (8, 17, 25, ...) of a java executable, or nothing.
_nfj_major() {
    _nfj_line=$("$1" -version 2>&1 | sed -n 's/.* version "\([^"]*\)".*/\1/p' | head -n 1)
    case "$_nfj_line" in
        1.*) _nfj_line=${_nfj_line#1.} ;;
    esac
    _nfj_line=${_nfj_line%%[!0-9]*}
    printf '%s' "$_nfj_line"
}

# Checks one candidate home; returns 0 and exports JAVA_HOME if it qualifies, else notes it in _nfj_seen.
_nfj_try() {
    _nfj_home=$1
    [ -n "$_nfj_home" ] || return 1
    _nfj_home=${_nfj_home%/}
    case " $_nfj_tried " in
        *" $_nfj_home "*) return 1 ;;
    esac
    _nfj_tried="$_nfj_tried $_nfj_home"
    [ -x "$_nfj_home/bin/java" ] || return 1
    _nfj_v=$(_nfj_major "$_nfj_home/bin/java")
    if [ -z "$_nfj_v" ]; then
        _nfj_seen="$_nfj_seen${_nfj_seen:+,} $_nfj_home (version unknown)"
        return 1
    fi
    if [ "$_nfj_v" -lt "$NSA_MIN_JAVA" ]; then
        _nfj_seen="$_nfj_seen${_nfj_seen:+,} $_nfj_home ($_nfj_v)"
        return 1
    fi
    if [ "$_nfj_need_javac" = 1 ] && [ ! -x "$_nfj_home/bin/javac" ]; then
        _nfj_seen="$_nfj_seen${_nfj_seen:+,} $_nfj_home ($_nfj_v, a JRE: no javac)"
        return 1
    fi
    JAVA_HOME=$_nfj_home
    export JAVA_HOME
    return 0
}

_nfj_cleanup() {
    unset _nfj_line _nfj_home _nfj_v _nfj_seen _nfj_tried _nfj_need_javac _nfj_java _nfj_c _nfj_found
}

nsa_find_java() {
    _nfj_need_javac=1
    [ "${1:-}" = runtime ] && _nfj_need_javac=0
    _nfj_seen=
    _nfj_tried=
    _nfj_found=1
    if _nfj_try "${JAVA_HOME:-}"; then
        _nfj_found=0
    else
        _nfj_java=$(command -v java 2>/dev/null || true)
        if [ -n "$_nfj_java" ]; then
            # Resolve symlinks (/usr/bin/java -> /etc/alternatives/java -> /usr/lib/jvm/X/bin/java) where possible.
            _nfj_java=$(readlink -f "$_nfj_java" 2>/dev/null || printf '%s' "$_nfj_java")
            _nfj_home=${_nfj_java%/bin/java}
            if [ "$_nfj_home" != "$_nfj_java" ] && _nfj_try "$_nfj_home"; then
                _nfj_found=0
            fi
        fi
    fi
    if [ "$_nfj_found" != 0 ]; then
        for _nfj_c in /usr/lib/jvm/* /opt/java/* /opt/jdk* "$HOME"/.sdkman/candidates/java/* \
                      /Library/Java/JavaVirtualMachines/*/Contents/Home; do
            [ -d "$_nfj_c" ] || continue
            if _nfj_try "$_nfj_c"; then
                _nfj_found=0
                break
            fi
        done
    fi
    if [ "$_nfj_found" = 0 ]; then
        _nfj_cleanup
        return 0
    fi
    if [ "$_nfj_need_javac" = 1 ]; then _nfj_c="a JDK"; else _nfj_c="Java"; fi
    echo "nsa4j needs $_nfj_c >= $NSA_MIN_JAVA; found:${_nfj_seen:- nothing}; install Temurin $NSA_MIN_JAVA or set JAVA_HOME" >&2
    _nfj_cleanup
    return 1
}
