#!/usr/bin/env bash
# Install the programs (not Python packages) the test suites drive: real
# clients, load generators and servers. Debian packages only; skipped for
# anything already on PATH. Needs root or sudo for apt-get.
set -euo pipefail

# program-on-PATH  debian-package
TOOLS=(
    "curl curl"
    "h2load nghttp2-client"
    "wrk wrk"
    "redis-server redis-server"
    "nginx nginx"
    "node nodejs"
)

missing=()
for entry in "${TOOLS[@]}"; do
    read -r program package <<<"$entry"
    command -v "$program" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]} == 0)); then
    exit 0
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
    SUDO=(sudo)
fi
echo "Installing test tools: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq >&2
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
