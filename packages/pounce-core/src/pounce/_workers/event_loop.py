"""Which event loop a worker runs: asyncio's own, or uvloop when it may.

``--loop auto`` picks uvloop when it is installed and loading it keeps the
interpreter as it is; otherwise asyncio. On a GIL build any uvloop will do.
On a free-threaded build the question is whether loading uvloop would switch
the GIL back on for the whole process (CPython does that for an extension
module that does not declare free-threading support), which would silently
undo the reason to run free-threaded. uvloop declares that support from
0.23 on, in builds made for the free-threaded ABI (``loop.cpython-314t-…``).

That is decided *without importing uvloop*: importing a build that lacks the
support is exactly what must not happen. The installed version comes from the
package metadata, and the build from the file name of uvloop's compiled loop
module beside its package (``importlib.util.find_spec`` of the top-level
package locates it without running it). ``--loop uvloop`` where it cannot
keep the GIL off is an error that says why and what to install.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import re
import sysconfig
from collections.abc import Callable
from pathlib import Path

from pounce._runtime.interpreter import gil_enabled

__all__ = [
    "FREE_THREADED_UVLOOP",
    "loop_factory",
    "loop_for_worker",
    "resolve_loop",
    "uvloop_refusal",
]

#: The first uvloop release whose free-threaded builds keep the GIL off.
FREE_THREADED_UVLOOP = (0, 23)


def _version_tuple(version: str) -> tuple[int, int] | None:
    match = re.match(r"(\d+)\.(\d+)", version)
    return (int(match[1]), int(match[2])) if match else None


def uvloop_refusal(
    *, gil_enabled: bool, version: str | None, built_for_this_abi: bool
) -> str | None:
    """Why uvloop cannot run here, or None when it can.

    ``version`` is the installed uvloop's (None: not installed);
    ``built_for_this_abi`` whether its compiled module matches this
    interpreter's ABI (``EXT_SUFFIX``), which on a free-threaded build means
    a free-threaded build of uvloop.
    """
    if version is None:
        return "--loop uvloop needs uvloop installed (pip install uvloop)"
    if gil_enabled:
        return None
    minimum = ".".join(map(str, FREE_THREADED_UVLOOP))
    parsed = _version_tuple(version)
    if parsed is None or parsed < FREE_THREADED_UVLOOP:
        return (
            f"uvloop {version} does not support free-threaded Python: loading it would "
            f"re-enable the GIL. Install uvloop>={minimum} (pip install -U 'uvloop>={minimum}') "
            "or use --loop asyncio"
        )
    if not built_for_this_abi:
        return (
            f"the installed uvloop {version} was not built for this free-threaded interpreter "
            f"(no loop{sysconfig.get_config_var('EXT_SUFFIX')} in its package): loading it would "
            "re-enable the GIL. Reinstall it with this interpreter's pip, or use --loop asyncio"
        )
    return None


def _installed_uvloop() -> tuple[str | None, bool]:
    """The installed uvloop's version and whether it is built for this ABI, not importing it."""
    spec = importlib.util.find_spec("uvloop")
    if spec is None or not spec.submodule_search_locations:
        return None, False
    try:
        version = importlib.metadata.version("uvloop")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ""
    built = any(
        (Path(place) / f"loop{suffix}").exists() for place in spec.submodule_search_locations
    )
    return version, built


def resolve_loop(choice: str) -> str:
    """The loop implementation ``choice`` stands for: ``asyncio`` or ``uvloop``."""
    if choice == "asyncio":
        return "asyncio"
    if choice not in ("auto", "uvloop"):
        raise ValueError(f"unknown event loop {choice!r}")
    version, built = _installed_uvloop()
    refusal = uvloop_refusal(gil_enabled=gil_enabled(), version=version, built_for_this_abi=built)
    if refusal is None:
        return "uvloop"
    if choice == "uvloop":
        raise ValueError(refusal)
    return "asyncio"


def loop_for_worker(choice: str, worker_mode: str) -> str:
    """The ``--loop`` choice a worker of ``worker_mode`` runs.

    A subinterpreter worker never picks uvloop by itself: uvloop does not
    support subinterpreters (``--loop uvloop`` with them is refused when the
    config is built).
    """
    return "asyncio" if worker_mode == "interpreter" and choice == "auto" else choice


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """A callable creating a new event loop of the chosen kind."""
    if resolve_loop(choice) == "uvloop":
        import uvloop  # noqa: PLC0415 - optional dependency, imported only when chosen

        factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
        return factory
    return asyncio.new_event_loop
