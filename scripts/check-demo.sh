#!/usr/bin/env bash
# Run the README's demo command (scripts/demo.sh) the way a new user on a plain
# Debian 12 runs it: an empty environment, a new home directory (no uv, no
# caches), and only the system's python3, whose pip refuses to install
# outside a virtual environment (PEP 668). Passes when the demo answers its
# first request; the server is stopped either way.
#
#   scripts/check-demo.sh [SECONDS]    # how long to wait for it (default 600)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
wait_seconds=${1:-600}

home=$(mktemp -d -t pounce-demo-home.XXXXXX)
log=$home/demo.log
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

demo_pid=
cleanup() {
    if [ -n "$demo_pid" ]; then
        # demo.sh execs pounce, which runs in its own process group here.
        kill -TERM -- "-$demo_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$demo_pid" 2>/dev/null || break; sleep 0.2; done
        kill -KILL -- "-$demo_pid" 2>/dev/null || true
    fi
    rm -rf -- "$home"
}
trap cleanup EXIT

# The machine's network settings (a proxy, a company CA bundle) are kept, as a
# user's login shell would have them; nothing else is.
network=()
for name in SSL_CERT_FILE SSL_CERT_DIR http_proxy https_proxy HTTP_PROXY HTTPS_PROXY no_proxy NO_PROXY; do
    if [ -n "${!name:-}" ]; then network+=("$name=${!name}"); fi
done

echo "check-demo: env -i PATH=/usr/bin:/bin HOME=$home ./scripts/demo.sh --port $port" >&2
# setsid: a process group of its own, so that stopping it stops all it started.
# The environment lives inside $home too, so a developer's .venv is left alone.
setsid env -i PATH=/usr/bin:/bin HOME="$home" LANG=C.UTF-8 "${network[@]}" \
    UV_PROJECT_ENVIRONMENT="$home/venv" \
    "$repo/scripts/demo.sh" --port "$port" >"$log" 2>&1 &
demo_pid=$!

deadline=$((SECONDS + wait_seconds))
while :; do
    if status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/hello") && [ "$status" = 200 ]; then
        echo "check-demo: the demo answered 200 after $SECONDS s" >&2
        exit 0
    fi
    if ! kill -0 "$demo_pid" 2>/dev/null; then
        echo "check-demo: FAILED: scripts/demo.sh exited before answering; its output:" >&2
        cat "$log" >&2
        exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "check-demo: FAILED: no answer within $wait_seconds s; its output:" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 1
done
