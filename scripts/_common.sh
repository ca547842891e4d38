# Shared by the scripts in this directory: find or install uv.
# shellcheck shell=bash

# uv comes from PyPI; install it for the current user when it is missing.
ensure_uv() {
    if command -v uv >/dev/null 2>&1; then
        UV=(uv)
        return
    fi
    if ! python3 -m uv --version >/dev/null 2>&1; then
        echo "Installing uv from PyPI..." >&2
        python3 -m pip install --quiet --disable-pip-version-check uv >&2
    fi
    UV=(python3 -m uv)
}
