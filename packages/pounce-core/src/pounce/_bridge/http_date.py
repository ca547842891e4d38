"""The ``date`` response header, formatted at most once per second.

Formatting an HTTP date costs more than the rest of a small response's head,
and its value only changes once a second. Each worker owns one
:class:`HTTPDateCache` (no sharing between threads, so no lock).
"""

from __future__ import annotations

import time
from email.utils import formatdate

__all__ = ["HTTPDateCache"]


class HTTPDateCache:
    """The current time as an IMF-fixdate (RFC 9110 §5.6.7), cached per second."""

    __slots__ = ("_second", "_value")

    def __init__(self) -> None:
        self._second = -1
        self._value = b""

    def value(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._value = formatdate(now, usegmt=True).encode("ascii")
        return self._value
