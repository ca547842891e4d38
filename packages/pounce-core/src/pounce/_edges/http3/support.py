"""Whether this interpreter may serve HTTP/3, decided before aioquic is imported.

aioquic publishes only stable-ABI (abi3) wheels. A free-threaded interpreter
cannot load those, and one forced to (or loading a build made for it without
free-threading support) turns the GIL back on for the whole process, which
would silently undo the reason to run free-threaded. So on a build without
the GIL, ``--http3`` is refused at start-up, before anything imports aioquic.
"""

from __future__ import annotations

import importlib.util

from pounce._runtime.interpreter import gil_enabled

__all__ = ["check_http3_support", "http3_refusal"]


def _aioquic_installed() -> bool:
    # find_spec locates the package without importing (and so loading) it.
    return importlib.util.find_spec("aioquic") is not None


def http3_refusal(*, gil_enabled: bool, aioquic_installed: bool) -> str | None:
    """Why HTTP/3 cannot be served here, or None when it can."""
    if not gil_enabled:
        return (
            "--http3 is not available on a free-threaded Python build: aioquic ships only "
            "stable-ABI wheels, which would re-enable the GIL for the whole server. "
            "Run without --http3, or on a GIL build of Python."
        )
    if not aioquic_installed:
        return "--http3 needs aioquic installed (pip install 'pounce-core[http3]')"
    return None


def check_http3_support(
    enabled: bool,
    *,
    gil: bool | None = None,
    aioquic_installed: bool | None = None,
) -> None:
    """At start-up: raise ``ValueError`` when ``--http3`` cannot be honoured.

    The interpreter facts are looked up unless given (tests inject them).
    """
    if not enabled:
        return
    reason = http3_refusal(
        gil_enabled=gil_enabled() if gil is None else gil,
        aioquic_installed=_aioquic_installed() if aioquic_installed is None else aioquic_installed,
    )
    if reason is not None:
        raise ValueError(reason)
