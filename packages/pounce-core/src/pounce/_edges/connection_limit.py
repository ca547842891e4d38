"""``--limit-connections``: a bound on the connections one worker holds open.

Past the bound a new connection is accepted and then refused: it gets a
complete ``503 Service Unavailable`` with ``connection: close`` (or, when TLS
has already chosen HTTP/2 by ALPN, a plain close, since an HTTP/1.1 answer
would be garbage to that client), and is closed. Accepting and answering
beats leaving it in the kernel's backlog: the client learns at once that the
server is busy instead of waiting for a connect timeout, and a load balancer
sees a status it can act on.

After the 503 the connection half-closes and lingers for a moment reading and
discarding whatever the client sends: closing a socket with unread bytes in
its receive buffer makes the kernel send a reset, which can destroy the 503
before the client reads it.

Counting: :class:`ConnectionLimit` remembers the transports it admitted.
Whichever protocol ends up owning a transport (HTTP/1.1, HTTP/2, a WebSocket
after its upgrade), the transport itself says when it is closing, so the set
is pruned of closed transports rather than hooked into every protocol's
``connection_lost``. A closed transport still holds its socket object, so
the set is pruned whenever it has doubled since the last pruning (and at the
bound): it never holds more than twice the open connections (plus a few
dozen), and each admission costs O(1) amortized. Like everything in a
:class:`~pounce._bridge.context.WorkerContext` it belongs to one event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import cast

from pounce._bridge.context import WorkerContext
from pounce._runtime.logs import ERROR_LOGGER
from pounce_protocols import HTTP1ServerConnection

__all__ = ["ConnectionLimit", "limit_connections"]

_logger = logging.getLogger(ERROR_LOGGER)

# How long a refused connection may linger, half-closed, for the client to
# read its 503 and close its side.
_LINGER = 2.0
# Below this many remembered transports the set is not pruned.
_MIN_PRUNE = 64


class ConnectionLimit:
    """The transports one worker has admitted, up to ``limit``."""

    __slots__ = ("_limit", "_open", "_prune_at", "refused")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._open: set[asyncio.BaseTransport] = set()
        self._prune_at = _MIN_PRUNE
        self.refused = 0

    def admit(self, transport: asyncio.BaseTransport) -> bool:
        """Count ``transport`` in, unless the worker is at its bound."""
        if len(self._open) >= min(self._limit, self._prune_at):
            self._open = {t for t in self._open if not t.is_closing()}
            self._prune_at = max(_MIN_PRUNE, 2 * len(self._open))
            if len(self._open) >= self._limit:
                self.refused += 1
                return False
        self._open.add(transport)
        return True

    @property
    def remembered(self) -> int:
        """Transports held, open or not yet pruned (for tests)."""
        return len(self._open)

    @property
    def open(self) -> int:
        """Admitted transports not yet seen closing."""
        return sum(1 for t in self._open if not t.is_closing())


def limit_connections(
    ctx: WorkerContext, factory: Callable[[], asyncio.Protocol]
) -> Callable[[], asyncio.Protocol]:
    """Wrap a protocol factory so the worker holds at most ``limit_connections``."""
    limit = ctx.config.limit_connections
    if limit is None:
        return factory
    gate = ConnectionLimit(limit)
    return lambda: _Gate(ctx, gate, factory)


class _Gate(asyncio.Protocol):
    """A new connection: handed to ``factory()``'s protocol, or refused."""

    __slots__ = ("_ctx", "_factory", "_gate", "_timer", "_transport")

    def __init__(
        self, ctx: WorkerContext, gate: ConnectionLimit, factory: Callable[[], asyncio.Protocol]
    ) -> None:
        self._ctx = ctx
        self._gate = gate
        self._factory = factory
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Stream transports only; uvloop's do not subclass asyncio.Transport.
        transport = cast(asyncio.Transport, transport)
        if self._gate.admit(transport):
            protocol = self._factory()
            transport.set_protocol(protocol)
            protocol.connection_made(transport)
            return
        self._transport = transport
        if self._gate.refused == 1 or self._gate.refused % 1000 == 0:
            _logger.warning(
                "Connection limit (%d) reached: refusing new connections with 503 "
                "(%d refused so far).",
                self._ctx.config.limit_connections,
                self._gate.refused,
            )
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2":
            transport.close()
            return
        extra, body = self._ctx.error_renderer(503, ())
        headers = [*self._ctx.default_headers(), *extra, (b"retry-after", b"1")]
        transport.write(HTTP1ServerConnection().reject(503, tuple(headers), body))
        if transport.can_write_eof():
            transport.write_eof()
            self._timer = self._ctx.loop.call_later(_LINGER, transport.abort)
        else:
            transport.close()

    def data_received(self, data: bytes) -> None:
        pass  # a refused client's request is read only to be discarded

    def eof_received(self) -> bool | None:
        return None  # both sides are done: close

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._transport = None
