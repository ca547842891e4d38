"""``--timeout-write``: a peer that reads nothing is cut, a slow one never.

When the kernel's send buffer and the transport's write buffer are full, the
transport tells its protocol to pause writing, and every response on the
connection waits. That wait is bounded by nothing else: a client that asks
for a large response and then stops reading would hold its connection, its
app task and the response's buffers for as long as it likes.

:class:`WriteWatch` starts when writing pauses and checks, every
``timeout`` seconds, whether the peer took anything since the last check:
whether the bytes not yet delivered (the transport's write buffer, plus on
Linux the socket's send queue, ``SIOCOUTQ``, which shrinks as the peer
acknowledges) are fewer than they were, counting what was written meanwhile.
Any progress starts a new period, so a client on a slow link, which takes a
little at a time, is never cut; a client that takes nothing for a whole
period is reported to the owner, which abandons the connection. The kernel's
count matters for slow readers: the transport's own buffer only shrinks when
the socket has room for a large piece, which a slow reader can take longer
than a period to make. Resuming stops the watch. It costs nothing while
writes flow: only a pause arms it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import sys
from collections.abc import Callable

# On a Linux socket, TIOCOUTQ is SIOCOUTQ: the bytes not yet acknowledged.
_KERNEL_QUEUE = sys.platform == "linux"
if _KERNEL_QUEUE:
    from fcntl import ioctl
    from termios import TIOCOUTQ

__all__ = ["WriteWatch", "abandon"]


def abandon(transport: asyncio.WriteTransport) -> None:
    """Drop a connection whose peer reads nothing, and what waits to be sent to it.

    A plain close leaves the unsent bytes to the kernel, which goes on
    offering them to a peer that takes a few at a time, for minutes, holding
    the socket's buffers. A reset (``SO_LINGER`` 0) frees them at once.
    """
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # OSError: gone already, or not a socket that lingers.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


class WriteWatch:
    """Calls ``on_stalled`` once a paused transport has drained nothing for ``timeout`` s."""

    __slots__ = ("_fd", "_handle", "_loop", "_mark", "_on_stalled", "_timeout", "_transport")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        timeout: float | None,
        on_stalled: Callable[[], None],
    ) -> None:
        self._loop = loop
        self._timeout = timeout
        self._on_stalled = on_stalled
        self._transport: asyncio.WriteTransport | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._fd = -1
        self._mark = 0  # what would be undelivered had the peer taken nothing

    @property
    def timeout(self) -> float | None:
        return self._timeout

    def paused(self, transport: asyncio.WriteTransport) -> None:
        """Writing paused: start watching (once; a second pause changes nothing)."""
        if self._timeout is None or self._handle is not None:
            return
        self._transport = transport
        sock = transport.get_extra_info("socket")
        self._fd = sock.fileno() if sock is not None else -1
        self._mark = self._undelivered(transport)
        self._handle = self._loop.call_later(self._timeout, self._check)

    def _undelivered(self, transport: asyncio.WriteTransport) -> int:
        """Bytes written that the peer has not acknowledged (as far as we can see)."""
        queued = 0
        if _KERNEL_QUEUE and self._fd >= 0:
            try:
                queued = struct.unpack("i", ioctl(self._fd, TIOCOUTQ, b"\0\0\0\0"))[0]
            except OSError:
                self._fd = -1  # not a socket that says (a UNIX socket may not)
        return transport.get_write_buffer_size() + queued

    def wrote(self, nbytes: int) -> None:
        """``nbytes`` went into the write buffer while paused (not progress)."""
        self._mark += nbytes

    def resumed(self) -> None:
        """Writing resumed (or the connection is going): stop watching."""
        handle = self._handle
        if handle is not None:
            self._handle = None
            handle.cancel()
        self._transport = None

    def _check(self) -> None:
        self._handle = None
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        size = self._undelivered(transport)
        if size < self._mark:
            # The peer took something: a slow reader, not a stalled one.
            self._mark = size
            assert self._timeout is not None
            self._handle = self._loop.call_later(self._timeout, self._check)
            return
        self._transport = None
        self._on_stalled()
