"""``pounce --version``: answered before anything of the server or typer is imported."""

from __future__ import annotations

import platform
import sys

import pounce

__all__ = ["version_line"]


def version_line() -> str:
    """``Pounce 0.1.0 on CPython 3.14.0 (free-threaded)``."""
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    return (
        f"Pounce {pounce.__version__} on {platform.python_implementation()} "
        f"{platform.python_version()} ({'GIL enabled' if gil else 'free-threaded'})"
    )
