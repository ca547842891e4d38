#!/usr/bin/env bash
# Set up the workspace and serve the bundled demo app on http://127.0.0.1:8000.
# Extra arguments are passed to `pounce` (e.g. --port 9000 --log-level debug).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_common.sh

ensure_uv
"${UV[@]}" sync --locked --all-packages --no-default-groups --quiet
exec "${UV[@]}" run --no-sync pounce app:app --app-dir examples/demo "$@"
