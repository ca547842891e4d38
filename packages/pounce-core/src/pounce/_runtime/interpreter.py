"""Facts about the running interpreter that several rooms decide on."""

from __future__ import annotations

import sys

__all__ = ["gil_enabled"]


def gil_enabled() -> bool:
    """False only on a free-threaded interpreter running without the GIL."""
    probe = getattr(sys, "_is_gil_enabled", None)
    return True if probe is None else bool(probe())
