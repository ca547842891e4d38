# Shared by the scripts in this directory: find or install uv.
# shellcheck shell=bash

# uv comes from PyPI. When it is not on PATH (or importable by python3) it is
# installed privately, into ${XDG_CACHE_HOME:-~/.cache}/pounce/uv, and never
# into python3's own environment: with `pip install --target`, which Debian's
# externally-managed python3 (PEP 668) allows, and which leaves any other
# Python untouched.
ensure_uv() {
    if command -v uv >/dev/null 2>&1; then
        UV=(uv)
        return
    fi
    if python3 -m uv --version >/dev/null 2>&1; then
        UV=(python3 -m uv)
        return
    fi
    local home=${XDG_CACHE_HOME:-$HOME/.cache}/pounce/uv
    if ! "$home/bin/uv" --version >/dev/null 2>&1; then
        if ! python3 -m pip --version >/dev/null 2>&1; then
            echo "error: uv is not installed and python3 has no pip to install it with." >&2
            echo "Install uv (https://docs.astral.sh/uv/) or pip (Debian: apt install python3-pip)." >&2
            return 1
        fi
        echo "Installing uv from PyPI into $home..." >&2
        rm -rf "$home"
        python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
            --root-user-action=ignore \
            --target "$home" uv >&2
    fi
    UV=("$home/bin/uv")
}
