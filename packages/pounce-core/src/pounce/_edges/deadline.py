"""A connection's timeout as one lazily re-armed timer.

A keep-alive connection moves its deadline on every request: the head timeout
is cleared when a head completes, the idle timeout is set when its response
ends. Cancelling a timer handle and scheduling a new one each time costs more
than the rest of a small request's bookkeeping, so :class:`Deadline` keeps one
handle and only moves a number. When the handle fires early (the deadline moved
later since it was scheduled) it schedules itself again for the time left;
when the deadline moves *earlier* than the handle, the handle is replaced. A
busy connection therefore schedules about one timer per timeout period instead
of one or two per request.

Each connection owns its deadline and touches it only from its event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["Deadline"]

# A handle may fire this much before its time (the loop's clock resolution);
# closer than that to the deadline counts as reached.
_SLACK = 0.001


class Deadline:
    """Calls a callback once, at a deadline that can move cheaply."""

    __slots__ = ("_callback", "_deadline", "_handle", "_handle_when", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._callback: Callable[[], object] | None = None
        self._deadline = 0.0
        self._handle: asyncio.TimerHandle | None = None
        self._handle_when = 0.0

    @property
    def armed(self) -> bool:
        """Whether a callback is due."""
        return self._callback is not None

    def set(self, delay: float, callback: Callable[[], object]) -> None:
        """Call ``callback`` ``delay`` seconds from now, replacing any earlier setting."""
        deadline = self._loop.time() + delay
        self._callback = callback
        self._deadline = deadline
        handle = self._handle
        if handle is not None:
            if self._handle_when <= deadline:
                return  # it fires first and re-arms for the time left
            handle.cancel()
        self._handle = self._loop.call_at(deadline, self._fire)
        self._handle_when = deadline

    def clear(self) -> None:
        """Call nothing (a pending handle stays, and finds nothing to do)."""
        self._callback = None

    def stop(self) -> None:
        """Call nothing and release the timer: the owner is going away."""
        self._callback = None
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        callback = self._callback
        if callback is None:
            return
        deadline = self._deadline
        if deadline - self._loop.time() > _SLACK:
            self._handle = self._loop.call_at(deadline, self._fire)
            self._handle_when = deadline
            return
        self._callback = None
        callback()
