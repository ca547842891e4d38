"""Stop signals, counted the way a person meant them.

A second SIGINT (or SIGTERM) stops the server at once instead of gracefully.
But one Ctrl-C in a terminal is delivered to every process of the
foreground process group, and a wrapper such as ``uv run`` passes on the one
it received as well: the server gets two or three signals that one key press
sent. So signals are counted in bursts: those arriving within
:data:`BURST_SECONDS` of the first of a burst are that same request. A
person who means "now" presses again later than that.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["BURST_SECONDS", "StopSignals"]

#: Signals this close to the first of a burst are the same request.
BURST_SECONDS = 0.5


class StopSignals:
    """Counts stop requests, one per burst of signals."""

    __slots__ = ("_burst_start", "_clock", "_window", "requests")

    def __init__(
        self, *, window: float = BURST_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._window = window
        self._clock = clock
        self._burst_start: float | None = None
        self.requests = 0

    def received(self) -> bool:
        """Count one signal; True when it is a new request, False when part of a burst."""
        now = self._clock()
        if self._burst_start is not None and now - self._burst_start < self._window:
            return False
        self._burst_start = now
        self.requests += 1
        return True
