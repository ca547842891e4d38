#!/usr/bin/env bash
# Set up everything the test suite needs and run all of it: lint, type checks,
# import contracts, and the tests on the default Python, on CPython 3.14 and on
# the free-threaded CPython 3.14t (each installed privately when the machine
# has none: scripts/bootstrap-python3.14.sh and bootstrap-python3.14t.sh), the
# Autobahn WebSocket suite once, a short soak (benchmarks/soak.py), and the
# README's demo command run as a new user on a plain Debian would run it.
#
# Extra arguments go to pytest (and skip the Autobahn suite, the soak and the
# demo check).
#
# On a developer's machine a missing free-threaded interpreter skips the 3.14t
# session with a warning. In CI (POUNCE_CI=1 or CI=true) every session must
# run: a missing interpreter is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_common.sh

ensure_uv

in_ci=0
case ${POUNCE_CI:-${CI:-}} in
    1|true|yes) in_ci=1 ;;
esac

# Programs the suites drive (curl, h2load, wrk, nginx, ...), from Debian.
scripts/install-test-tools.sh

# CPython 3.14 and 3.14t are made available to nox by name (python3.14,
# python3.14t) in a directory put first on PATH that holds nothing else, so
# that `python3` stays the machine's own.
shims=$(mktemp -d -t pounce-pythons.XXXXXX)
py314t_out=$(mktemp -t pounce-py314t.XXXXXX)
py314t_log=$(mktemp -t pounce-py314t-log.XXXXXX)
autobahn_pid=
cleanup() {
    if [ -n "$autobahn_pid" ]; then kill "$autobahn_pid" 2>/dev/null || true; fi
    rm -rf "$shims" "$py314t_out" "$py314t_log" "${autobahn_log:-}"
}
trap cleanup EXIT

PY314=$(scripts/bootstrap-python3.14.sh | tail -1)
ln -s "$PY314" "$shims/python3.14"

# The 3.14t bootstrap may have to build CPython (about 15 minutes on 2 cores):
# it runs in the background at the lowest CPU priority while the sessions that
# do not need it run, and is waited for before tests-3.14t. It may use
# `uv python install` where downloads are allowed; an explicit
# UV_PYTHON_DOWNLOADS from the caller is honoured.
nice -n 19 scripts/bootstrap-python3.14t.sh >"$py314t_out" 2>"$py314t_log" &
py314t_pid=$!

# Waits for the 3.14t bootstrap and offers its interpreter to nox. Without one,
# CI fails; elsewhere the tests-3.14t session is skipped, with a warning.
provide_314t() {
    local found=
    if wait "$py314t_pid"; then found=$(tail -n 1 "$py314t_out"); fi
    sed 's/^/    /' "$py314t_log" >&2
    if [ -n "$found" ]; then
        ln -sf "$found" "$shims/python3.14t"
        return 0
    fi
    if [ "$in_ci" = 1 ]; then
        echo "FAILED: no free-threaded CPython 3.14t (see above); CI must test it" >&2
        return 1
    fi
    echo "WARNING: no free-threaded CPython 3.14t; the tests-3.14t session will be skipped." >&2
    echo "         scripts/bootstrap-python3.14t.sh --help says how to provide one." >&2
}
export PATH="$shims:$PATH"

# From here on, interpreters come from this machine only, never a download.
export UV_PYTHON_DOWNLOADS=never

# The default interpreter is whatever `python3` is (3.11 on Debian 12).
DEFAULT_PY=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')

nox() {
    local strict=()
    if [ "$in_ci" = 1 ]; then strict=(--error-on-missing-interpreters); fi
    "${UV[@]}" tool run --from 'nox>=2024.10.9' nox "${strict[@]}" "$@"
}
# The sessions that need 3.14t come last, once its bootstrap is done.
first=(lint typecheck "tests-$DEFAULT_PY" tests-3.14)
later=(tests-3.14t soak)

# Given a pytest selection, run just that (Autobahn, the soak and the demo
# check skip themselves).
if [ $# -gt 0 ]; then
    status=0
    nox --sessions "${first[@]}" -- "$@" || status=$?
    provide_314t || exit 1
    nox --sessions "${later[@]}" -- "$@" || status=$?
    exit "$status"
fi

# The Autobahn suite keeps the CPU busy for minutes while the test sessions
# mostly wait on sockets and timers: run it beside them, its output kept
# apart and shown when both are done.
nox --version >/dev/null 2>&1  # install nox once, before two runs want it
autobahn_log=$(mktemp -t pounce-autobahn.XXXXXX)
nox --sessions autobahn >"$autobahn_log" 2>&1 &
autobahn_pid=$!

status=0
nox --sessions "${first[@]}" || status=$?
echo "---------------- CPython 3.14t (free-threaded) ----------------"
if provide_314t; then
    nox --sessions "${later[@]}" || status=$?
else
    status=1
fi
autobahn_status=0
wait "$autobahn_pid" || autobahn_status=$?
autobahn_pid=

echo "---------------- Autobahn WebSocket suite ----------------"
cat "$autobahn_log"

echo "---------------- The README's demo command, as a new user runs it ----------------"
demo_status=0
scripts/check-demo.sh || demo_status=$?

if [ "$status" -ne 0 ] || [ "$autobahn_status" -ne 0 ] || [ "$demo_status" -ne 0 ]; then
    echo "FAILED: test sessions exit $status, Autobahn exit $autobahn_status, demo check exit $demo_status" >&2
    exit 1
fi
