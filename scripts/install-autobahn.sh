#!/usr/bin/env bash
# Install the Autobahn WebSocket test suite (wstest, PyPI autobahntestsuite)
# into a private Python 2.7 virtualenv: the suite runs on nothing newer.
# Idempotent: an install made from the same pins is reused. The last line
# printed is the path of wstest.
#
# Python 2.7 is looked for in $POUNCE_PYTHON27, then python2.7 on PATH, then
# pyenv's versions; the virtualenv lives in ~/.cache/pounce/autobahn-venv
# (POUNCE_CACHE_DIR or XDG_CACHE_HOME move it).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_common.sh

CACHE="${POUNCE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pounce}"
VENV="$CACHE/autobahn-venv"
PINS="scripts/autobahn-requirements.txt"
STAMP="$VENV/pounce-pins.txt"

if [[ -x "$VENV/bin/wstest" && -f "$STAMP" ]] && cmp -s "$PINS" "$STAMP"; then
    echo "$VENV/bin/wstest"
    exit 0
fi

is_python27() {
    [[ -n "$1" && -x "$1" ]] &&
        "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (2, 7))' >/dev/null 2>&1
}

PY27=""
for candidate in "${POUNCE_PYTHON27:-}" "$(command -v python2.7 || true)" \
    "${PYENV_ROOT:-$HOME/.pyenv}"/versions/2.7*/bin/python; do
    if is_python27 "$candidate"; then
        PY27=$candidate
        break
    fi
done
if [[ -z "$PY27" ]]; then
    cat >&2 <<'MESSAGE'
error: the Autobahn WebSocket test suite needs Python 2.7, and none was found.
Install one (for example `pyenv install 2.7.18`) or point POUNCE_PYTHON27 at a
python2.7 executable, then run this script again.
MESSAGE
    exit 1
fi

ensure_uv
echo "Installing the Autobahn test suite for $PY27 into $VENV" >&2
rm -rf "$VENV"
mkdir -p "$CACHE"
# virtualenv 20.16 dropped support for creating Python 2 environments.
"${UV[@]}" tool run --from 'virtualenv<20.16' virtualenv --quiet -p "$PY27" "$VENV" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$PINS" >&2
"$VENV/bin/wstest" --autobahnversion >&2
cp "$PINS" "$STAMP"
echo "$VENV/bin/wstest"
