"""Received bytes waiting to be parsed, consumed from the front by an offset.

A connection that receives many requests at once (pipelining) parses them one
at a time, each when the response before it has ended. Re-slicing the buffer
per request (``buf = buf[n:]``) would copy everything still waiting each time:
with a backlog of N requests, N times N bytes in all. Here consuming only moves
an offset; the consumed front is reclaimed when new bytes are appended and it
has grown at least as large as what remains, so each byte is moved at most
once more on average, and nothing is ever copied twice for one request.
"""

from __future__ import annotations

__all__ = ["ReceiveBuffer"]


class ReceiveBuffer:
    """Bytes received and not yet consumed: ``data[start:]``.

    ``data`` and ``start`` are for reading in place (``find``, ``count``,
    regular expressions given a start position); only this class changes
    them. ``data`` is emptied as soon as everything in it is consumed, so
    ``if buffer.data`` asks "anything here?" as cheaply as a bytearray does.
    """

    __slots__ = ("data", "start")

    def __init__(self) -> None:
        self.data = bytearray()
        self.start = 0

    def __len__(self) -> int:
        return len(self.data) - self.start

    def __bool__(self) -> bool:
        return bool(self.data)

    def append(self, data: bytes | bytearray | memoryview) -> None:
        """Add bytes at the end."""
        start = self.start
        if start and start >= len(self.data) - start:
            # Reclaim the consumed front: what moves is at most what was
            # consumed since the last time, so the moves are linear in all.
            del self.data[:start]
            self.start = 0
        self.data += data

    def take(self, size: int) -> bytes:
        """Consume and return the next ``size`` bytes (fewer if fewer are here)."""
        start = self.start
        stop = start + size
        data = bytes(self.data[start:stop])
        self.consume_to(stop)
        return data

    def take_all(self) -> bytes:
        """Consume and return every byte here."""
        data = bytes(self.data[self.start :])
        self.clear()
        return data

    def consume_to(self, position: int) -> None:
        """Consume everything before ``position`` of ``data``."""
        if position >= len(self.data):
            self.clear()
        else:
            self.start = position

    def clear(self) -> None:
        """Drop every byte (the storage is released)."""
        self.data.clear()
        self.start = 0
