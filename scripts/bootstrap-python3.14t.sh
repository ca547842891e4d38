#!/usr/bin/env bash
# bootstrap-python3.14t.sh — provide a working free-threaded CPython 3.14t without touching the system.
#
# Usage:
#   PY314T=$(scripts/bootstrap-python3.14t.sh | tail -1)
#   scripts/bootstrap-python3.14t.sh --rebuild     # throw away the private prefix and build it again
#
# Order of preference:
#   1. $POUNCE_PYTHON314T, if set (it must run as 3.14 with the GIL disabled, otherwise we fail: the
#      caller asked for it);
#   2. a python3.14t on PATH that runs with the GIL disabled;
#   3. the private prefix below, when an earlier run built it (its stamp matches this recipe);
#   4. `uv python install 3.14t`, where uv may download interpreters (not when UV_PYTHON_DOWNLOADS is
#      "never" or "manual", as scripts/test.sh sets it);
#   5. CPython built with --disable-gil from the source tarball named by $POUNCE_CPYTHON_SOURCE
#      (python.org's Python-3.14.x.tar.xz), into $POUNCE_PYTHON314T_PREFIX (default:
#      ${XDG_CACHE_HOME:-$HOME/.cache}/pounce/cpython-3.14t). The build dependencies are Debian
#      packages, installed with apt-get when missing. About 10–15 minutes on 2 cores; later runs reuse
#      the prefix. No profile-guided optimisation unless POUNCE_CPYTHON_OPTIMIZE=1 (it triples the
#      build time).
#
# Output contract: all progress goes to stderr; the LAST line on stdout is the absolute path of a
# working free-threaded python3.14t.

set -euo pipefail
exec 3>&1 1>&2

# Bump when the build recipe changes so existing prefixes are rebuilt instead of trusted.
readonly RECIPE_VERSION=1
readonly PYVER=3.14
# Debian 12 package names; every one is needed for a stdlib module Pounce or its tests use
# (ssl, zlib, ctypes, sqlite3, bz2, lzma, compression.zstd, uuid, readline, dbm.gnu, curses).
readonly BUILD_PACKAGES=(build-essential pkg-config xz-utils libssl-dev zlib1g-dev libffi-dev
    libsqlite3-dev libbz2-dev liblzma-dev libzstd-dev uuid-dev libreadline-dev libgdbm-dev
    libncurses-dev)

log()  { printf 'bootstrap-python3.14t: %s\n' "$*" >&2; }
die()  { printf 'bootstrap-python3.14t: ERROR: %s\n' "$*" >&2; exit 1; }
emit() { printf '%s\n' "$1" >&3; exit 0; }

# "Runs, is 3.14, and the GIL stays off after start-up": a GIL build, a shim or a broken binary
# must not be accepted.
py_ok() {
    "$1" -I -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 14) and not sys._is_gil_enabled() else 1)' \
        >/dev/null 2>&1
}

usage() { sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0" >&2; }

REBUILD=0
for arg in "$@"; do
    case $arg in
        --rebuild) REBUILD=1 ;;
        -h|--help) usage; exit 0 ;;
        *) usage; die "unknown argument: $arg" ;;
    esac
done

# --- 1 and 2: an interpreter the caller already has ---------------------------------------------

if [[ $REBUILD == 0 ]]; then
    if [[ -n ${POUNCE_PYTHON314T:-} ]]; then
        py_ok "$POUNCE_PYTHON314T" ||
            die "POUNCE_PYTHON314T=$POUNCE_PYTHON314T does not run as a free-threaded Python ${PYVER}"
        emit "$(realpath -s -- "$(command -v -- "$POUNCE_PYTHON314T")")"
    fi
    if found=$(command -v python${PYVER}t 2>/dev/null) && py_ok "$found"; then
        log "using python${PYVER}t from PATH"
        emit "$(realpath -s -- "$found")"
    fi
fi

# --- 3: the private prefix, built earlier ------------------------------------------------------------

PREFIX=${POUNCE_PYTHON314T_PREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/pounce/cpython-${PYVER}t}
PREFIX=$(realpath -m -- "$PREFIX")
readonly PREFIX
readonly META=$PREFIX/.pounce
readonly OWNER_MARK=$META/owner
readonly STAMP=$META/stamp
readonly ENTRY=$PREFIX/bin/python${PYVER}t

stamp_ok() {
    [[ -f $STAMP ]] && grep -qx "recipe=${RECIPE_VERSION}" "$STAMP" && py_ok "$ENTRY"
}

if [[ $REBUILD == 0 ]] && stamp_ok; then
    emit "$ENTRY"
fi

# --- 4: uv's managed interpreters, where downloads are allowed ----------------------------------

uv_cmd=()
if command -v uv >/dev/null 2>&1; then
    uv_cmd=(uv)
elif python3 -m uv --version >/dev/null 2>&1; then
    uv_cmd=(python3 -m uv)
fi
case ${UV_PYTHON_DOWNLOADS:-automatic} in
    never|manual) uv_may_download=0 ;;
    *) uv_may_download=1 ;;
esac
if [[ $REBUILD == 0 && ${#uv_cmd[@]} -gt 0 && $uv_may_download == 1 ]]; then
    log "trying: uv python install ${PYVER}t"
    if timeout 300 "${uv_cmd[@]}" python install "${PYVER}t" >&2 &&
        found=$("${uv_cmd[@]}" python find "${PYVER}t" 2>/dev/null) && py_ok "$found"; then
        emit "$found"
    fi
    log "uv could not provide ${PYVER}t; building from source instead"
fi

# --- 5: build from source ------------------------------------------------------------------------

SOURCE=${POUNCE_CPYTHON_SOURCE:-}
[[ -n $SOURCE ]] || die "no free-threaded Python ${PYVER} found. Install one (uv python install ${PYVER}t, \
or python${PYVER}t on PATH), set POUNCE_PYTHON314T to it, or set POUNCE_CPYTHON_SOURCE to a \
Python-${PYVER}.x.tar.xz source tarball to build one"
[[ -f $SOURCE ]] || die "POUNCE_CPYTHON_SOURCE=$SOURCE is not a file"
SOURCE=$(realpath -- "$SOURCE")
SOURCE_SHA=$(sha256sum -- "$SOURCE" | cut -d' ' -f1)

for tool in flock tar make; do
    command -v "$tool" >/dev/null || die "required tool '$tool' not found"
done

# Serialise concurrent bootstraps (parallel CI jobs sharing a cache directory).
mkdir -p -- "$(dirname -- "$PREFIX")"
exec 9>"$PREFIX.lock"
if ! flock -n 9; then
    log "another bootstrap is building $PREFIX; waiting for it"
    flock 9
fi
if [[ $REBUILD == 0 ]] && stamp_ok; then
    emit "$ENTRY"
fi

# Build dependencies: Debian packages, installed only when missing.
missing=()
for pkg in "${BUILD_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
    command -v apt-get >/dev/null || die "missing build dependencies (${missing[*]}) and no apt-get"
    SUDO=()
    [[ $(id -u) -eq 0 ]] || SUDO=(sudo)
    log "installing build dependencies: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt_log=$(mktemp -t pounce-apt.XXXXXX)
    if ! { "${SUDO[@]}" apt-get update -qq &&
        "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$apt_log" 2>&1; then
        cat "$apt_log" >&2
        die "could not install the build dependencies"
    fi
    rm -f "$apt_log"
fi

# Only ever delete a directory we created: an empty one or one carrying our owner mark.
if [[ -e $PREFIX ]]; then
    if [[ -f $OWNER_MARK ]] || [[ -d $PREFIX && -z $(ls -A -- "$PREFIX") ]]; then
        log "removing previous/incomplete prefix $PREFIX"
        rm -rf -- "$PREFIX"
    else
        die "$PREFIX exists and was not created by this script; refusing to overwrite it"
    fi
fi
mkdir -p -- "$META"
echo "created by scripts/bootstrap-python3.14t.sh (Pounce); safe to delete" >"$OWNER_MARK"

WORK=$(mktemp -d -t pounce-cpython314t.XXXXXX)
# shellcheck disable=SC2329  # invoked by the trap
on_exit() {
    local rc=$?
    rm -rf -- "$WORK"
    if [[ $rc != 0 ]]; then
        log "FAILED (exit $rc). The incomplete prefix $PREFIX will be wiped and rebuilt on the next run."
    fi
}
trap on_exit EXIT

START_SECONDS=$SECONDS
JOBS=$(nproc 2>/dev/null || echo 2)
log "building free-threaded CPython from $(basename -- "$SOURCE") into $PREFIX ($JOBS jobs; ~10-15 min on 2 cores)"
tar -xf "$SOURCE" -C "$WORK"
SRC_DIR=$(find "$WORK" -mindepth 1 -maxdepth 1 -type d -name 'Python-*' -print -quit)
[[ -n $SRC_DIR && -x $SRC_DIR/configure ]] || die "$SOURCE holds no CPython source tree"
mkdir -p "$WORK/build"
CONFIGURE_ARGS=(--disable-gil --prefix="$PREFIX" --with-ensurepip=install
    LDFLAGS="-Wl,-rpath,$PREFIX/lib")
if [[ ${POUNCE_CPYTHON_OPTIMIZE:-0} == 1 ]]; then
    CONFIGURE_ARGS+=(--enable-optimizations --with-lto)
fi
# The build's own output is long; it goes to a log that is shown only when a step fails.
BUILD_LOG=$META/build.log
step() {
    local name=$1; shift
    local t0=$SECONDS
    log "$name..."
    if ! "$@" >>"$BUILD_LOG" 2>&1; then
        tail -n 60 "$BUILD_LOG" >&2
        die "$name failed (full log: $BUILD_LOG)"
    fi
    log "$name done in $((SECONDS - t0)) s"
}
cd "$WORK/build"
step configure "$SRC_DIR/configure" "${CONFIGURE_ARGS[@]}"
step make make -j"$JOBS"
step "make install" make install

# --- verification --------------------------------------------------------------------------------

log "verifying"
"$ENTRY" -I - <<'EOF' >&2 || die "verification failed"
import importlib, sys
problems = []
if sys._is_gil_enabled():
    problems.append("the GIL is enabled: not a free-threaded build")
for name in ("ssl", "zlib", "ctypes", "sqlite3", "lzma", "bz2", "compression.zstd", "uuid",
             "readline", "decimal", "hashlib", "_ssl", "_hashlib", "_ctypes"):
    try:
        importlib.import_module(name)
    except Exception as exc:
        problems.append(f"import {name}: {exc!r}")
if sys._is_gil_enabled():
    problems.append("importing the standard library switched the GIL on")
if problems:
    print("\n".join("PROBLEM: " + p for p in problems))
    sys.exit(1)
print(sys.version, "| GIL disabled")
EOF
"$ENTRY" -I -m venv --without-pip "$WORK/check-venv"
"$WORK/check-venv/bin/python" -c 'import sys; assert sys.prefix != sys.base_prefix' ||
    die "a venv created from $ENTRY does not work"

SECONDS_TAKEN=$((SECONDS - START_SECONDS))
printf 'recipe=%s\nsource=%s\nsource-sha256=%s\nbuild-seconds=%s\nbuilt=%s\n' \
    "$RECIPE_VERSION" "$(basename -- "$SOURCE")" "$SOURCE_SHA" "$SECONDS_TAKEN" \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$STAMP"
log "done in ${SECONDS_TAKEN} s: $("$ENTRY" -c 'import sys; print(sys.version.split()[0])') (free-threaded)," \
    "$(du -sm -- "$PREFIX" | cut -f1) MiB on disk"
emit "$ENTRY"
