"""The listening sockets a supervisor owns, one set per worker slot.

Connections are spread over workers by the kernel, in one of two ways:

* **One socket per slot** (Linux, TCP): every slot binds the same address
  with ``SO_REUSEPORT`` and the kernel hashes each new connection to one of
  the sockets of that group. Each worker accepts only from its slot's
  socket, so no two event loops race for the same connection.
* **One shared socket** (other systems, ``--uds``, ``--fd``, inherited
  sockets): every worker waits on the same socket and whichever wakes first
  accepts.

The supervisor keeps these sockets open for its whole life and hands each
worker its own duplicate (a ``dup`` in thread mode, an inherited descriptor
in process mode). A worker that stops accepting closes only its duplicate, so
the socket, and the connections waiting in its accept queue, outlive any one
worker: a crashed, retired or reloaded worker's successor accepts them.
"""

from __future__ import annotations

import contextlib
import socket
import sys
from collections.abc import Sequence

from pounce._edges.sockets import bind_sockets
from pounce._settings.config import ServerConfig

__all__ = ["Listeners", "bind_listeners", "reuse_port_available"]


def reuse_port_available() -> bool:
    """Whether the kernel balances connections over ``SO_REUSEPORT`` sockets.

    Linux does (it hashes each connection to one socket of the group); other
    systems accept the option with different meanings (macOS hands everything
    to the last socket bound), so they share one socket instead.
    """
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


class Listeners:
    """Listening sockets for ``slots`` workers; closed once, by their owner."""

    __slots__ = ("_closed", "_slots", "shared")

    def __init__(self, slots: Sequence[Sequence[socket.socket]], *, shared: bool) -> None:
        self._slots = tuple(tuple(group) for group in slots)
        self.shared = shared
        self._closed = False

    @property
    def count(self) -> int:
        return len(self._slots)

    @property
    def primary(self) -> list[socket.socket]:
        """One socket per address (the first slot's): what the server reports."""
        return list(self._slots[0])

    def for_slot(self, slot: int) -> tuple[socket.socket, ...]:
        """The sockets the worker in ``slot`` accepts from."""
        return self._slots[0] if self.shared else self._slots[slot]

    def close(self) -> None:
        """Close every socket (idempotent). Only the owner calls this."""
        if self._closed:
            return
        self._closed = True
        seen: set[int] = set()
        for group in self._slots:
            for sock in group:
                if id(sock) not in seen:
                    seen.add(id(sock))
                    with contextlib.suppress(OSError):
                        sock.close()


def bind_listeners(config: ServerConfig, slots: int) -> Listeners:
    """Bind what ``config`` asks for, for ``slots`` workers (``BindError`` on failure)."""
    first = bind_sockets(config)
    if slots == 1 or config.fd is not None or config.uds is not None:
        return Listeners([first] * slots, shared=True)
    if not reuse_port_available():
        return Listeners([first] * slots, shared=True)
    # The first bind, without SO_REUSEPORT, is a probe: it fails if anything
    # already listens on the address (a socket without the option cannot join
    # a group, and one with it would otherwise join ours silently), and it
    # picks the port when the config asks for any free one (port 0).
    port = first[0].getsockname()[1]
    for sock in first:
        sock.close()
    pinned = config.replace(port=port)
    groups: list[list[socket.socket]] = []
    try:
        for _ in range(slots):
            groups.append(bind_sockets(pinned, reuse_port=True))
    except BaseException:
        for group in groups:
            for sock in group:
                sock.close()
        raise
    return Listeners(groups, shared=False)
