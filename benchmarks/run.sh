#!/usr/bin/env bash
# Benchmark Pounce against Uvicorn, Gunicorn, Hypercorn and Granian.
#
#   ./benchmarks/run.sh [--python PATH] [run.py options...]
#   ./benchmarks/run.sh --quick          # the hello-world ratio row, under two minutes
#
# Makes (or reuses) a virtual environment for the chosen interpreter under
# benchmarks/.venv-<version>, with Pounce as users install it (editable, its
# uvloop extra, pounce-extras[all]) and the peers from
# benchmarks/requirements.txt, installs wrk and h2load when they are missing,
# compiles the environment's and Pounce's bytecode, then runs benchmarks/run.py
# in it. The interpreter defaults to the private CPython 3.14 build when it
# exists, else python3.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_common.sh

PYTHON=""
if [[ "${1:-}" == "--python" ]]; then
    PYTHON="$2"
    shift 2
fi
if [[ -z "$PYTHON" ]]; then
    if [[ -x /root/.cache/pounce/cpython-3.14/bin/python3.14 ]]; then
        PYTHON=/root/.cache/pounce/cpython-3.14/bin/python3.14
    else
        PYTHON=$(command -v python3)
    fi
fi

ensure_uv
scripts/install-test-tools.sh

VERSION=$("$PYTHON" -c 'import sys; t = "t" if not getattr(sys, "_is_gil_enabled", lambda: True)() else ""; print(f"{sys.version_info[0]}.{sys.version_info[1]}{t}")')
VENV="benchmarks/.venv-$VERSION"
if [[ ! -x "$VENV/bin/python" ]]; then
    echo "Creating $VENV with $PYTHON" >&2
    "${UV[@]}" venv --quiet --python "$PYTHON" "$VENV"
fi
POUNCE=(-e packages/pounce-protocols -e "packages/pounce-core[uvloop]" -e packages/pounce-cli
    -e "packages/pounce-extras[all]")
# Every peer as a user would install it. Where some package has no build for
# this interpreter (uvloop or httptools on a free-threaded Python, once), go
# without the extras that need it: the rows of what is missing say so.
if ! VIRTUAL_ENV="$VENV" "${UV[@]}" pip install --quiet "${POUNCE[@]}" \
    -r benchmarks/requirements.txt >&2; then
    echo "Falling back to the peers without uvloop and httptools for $VERSION" >&2
    REQUIREMENTS=$(mktemp)
    trap 'rm -f "$REQUIREMENTS"' EXIT
    sed 's/uvicorn\[standard\]/uvicorn/' benchmarks/requirements.txt >"$REQUIREMENTS"
    POUNCE[3]=packages/pounce-core
    VIRTUAL_ENV="$VENV" "${UV[@]}" pip install --quiet "${POUNCE[@]}" -r "$REQUIREMENTS" >&2
fi
# Optional pieces, one at a time: zttp (Uvicorn's --http zttp and its HTTP/2)
# ships builds for few interpreters; without it those rows say "n/a".
for optional in zttp; do
    if ! VIRTUAL_ENV="$VENV" "${UV[@]}" pip install --quiet "$optional" >&2; then
        echo "$optional: no build for $VERSION; its rows will say so" >&2
    fi
done
# Bytecode, as users have it (pip compiles what it installs, and Python writes
# the rest on a first run): uv does not compile, and PYTHONDONTWRITEBYTECODE
# (set in some shells and CI) stops Python from writing it, so without this
# every server start compiles each module it imports, and the compiler's
# memory stays in the server's RSS. Up-to-date files are skipped.
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
"$VENV/bin/python" -m compileall -q -j 0 "$SITE" packages/*/src
"$VENV/bin/python" -m compileall -q -l benchmarks benchmarks/core_only
"$VENV/bin/python" benchmarks/run.py "$@"
