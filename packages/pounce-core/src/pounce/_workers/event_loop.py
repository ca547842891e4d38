"""Which event loop a worker runs: asyncio's own, or uvloop when available.

``--loop auto`` picks uvloop when it is installed and the interpreter runs
with the GIL; otherwise asyncio. uvloop is not built for free-threaded
Python, and a free-threaded interpreter that loads it turns the GIL back on,
so ``auto`` never does that; asking for ``uvloop`` there is an error.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable

from pounce._runtime.interpreter import gil_enabled

__all__ = ["loop_factory", "resolve_loop"]


def resolve_loop(choice: str) -> str:
    """The loop implementation ``choice`` stands for: ``asyncio`` or ``uvloop``."""
    if choice == "asyncio":
        return "asyncio"
    available = importlib.util.find_spec("uvloop") is not None
    if choice == "uvloop":
        if not available:
            raise ValueError("--loop uvloop needs uvloop installed (pip install uvloop)")
        if not gil_enabled():
            raise ValueError(
                "--loop uvloop is not supported on free-threaded Python: "
                "loading it would re-enable the GIL"
            )
        return "uvloop"
    if choice != "auto":
        raise ValueError(f"unknown event loop {choice!r}")
    return "uvloop" if available and gil_enabled() else "asyncio"


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """A callable creating a new event loop of the chosen kind."""
    if resolve_loop(choice) == "uvloop":
        import uvloop  # noqa: PLC0415 - optional dependency, imported only when chosen

        factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
        return factory
    return asyncio.new_event_loop
