#!/usr/bin/env bash
# Benchmark Pounce against Uvicorn, Hypercorn and Granian.
#
#   ./benchmarks/run.sh [--python PATH] [run.py options...]
#
# Makes (or reuses) a virtual environment for the chosen interpreter under
# benchmarks/.venv-<version>, with Pounce (editable, uvloop extra) and the
# peers from benchmarks/requirements.txt, installs wrk and h2load when they
# are missing, then runs benchmarks/run.py in it. The interpreter defaults to
# the private CPython 3.14 build when it exists, else python3.
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
# uvloop and httptools have no free-threaded builds: leave them out there
# (Uvicorn then runs with h11 and asyncio in both of its rows).
EXTRA="[uvloop]"
REQUIREMENTS=benchmarks/requirements.txt
if [[ "$VERSION" == *t ]]; then
    EXTRA=""
    REQUIREMENTS=$(mktemp)
    trap 'rm -f "$REQUIREMENTS"' EXIT
    sed 's/uvicorn\[standard\]/uvicorn/' benchmarks/requirements.txt >"$REQUIREMENTS"
fi
VIRTUAL_ENV="$VENV" "${UV[@]}" pip install --quiet \
    -e packages/pounce-protocols -e "packages/pounce-core$EXTRA" -e packages/pounce-cli \
    -r "$REQUIREMENTS" >&2
"$VENV/bin/python" benchmarks/run.py "$@"
