#!/usr/bin/env bash
# Set up everything the test suite needs and run all of it: lint, type checks,
# and the tests on the default Python and on CPython 3.14 (installed privately
# from Debian's development suite when the machine has none), plus 3.14t where
# a free-threaded build is on PATH, and the Autobahn WebSocket suite once.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_common.sh

ensure_uv

# Interpreters come from this machine only (PATH, pyenv, the bootstrap), never a download.
export UV_PYTHON_DOWNLOADS=never

# Programs the suites drive (curl, h2load, ...), from Debian.
scripts/install-test-tools.sh

# CPython 3.14 is made available to nox by putting its directory first on PATH.
PY314=$(scripts/bootstrap-python3.14.sh | tail -1)
export PATH="$(dirname "$PY314"):$PATH"

# The default interpreter is whatever `python3` is (3.11 on Debian 12 here).
DEFAULT_PY=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')

sessions=(lint typecheck "tests-$DEFAULT_PY" tests-3.14 tests-3.14t autobahn)
exec "${UV[@]}" tool run --from 'nox>=2024.10.9' nox --sessions "${sessions[@]}" -- "$@"
