"""Pounce as if pounce-extras were not installed: the benchmark's core-only rows.

``benchmarks/run.py`` puts this directory first on the ``PYTHONPATH`` of the
servers it measures as "Pounce (core only)", so every process of such a
server (worker processes included) runs this at start-up. The core finds its
batteries only through entry points (``pounce.app_layers``,
``pounce.server_plugins``, ``pounce.log_formats``); hiding the ones
pounce-extras declares means none of its modules is imported, exactly as when
it is not installed, while the rows with batteries run in the same
environment.
"""

from __future__ import annotations

import importlib.metadata as _metadata
from typing import Any

_HIDDEN = "pounce_extras"  # the distribution's name, normalized
_entry_points = _metadata.entry_points


def _normalized(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def _without_batteries(**params: Any) -> Any:
    found = _entry_points(**params)
    if not params:
        return found  # every group at once: nobody in the server asks that
    return _metadata.EntryPoints(
        entry for entry in found if entry.dist is None or _normalized(entry.dist.name) != _HIDDEN
    )


_metadata.entry_points = _without_batteries
