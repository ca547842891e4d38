"""Which protocol a new connection speaks.

Over TLS, ALPN has decided by the time the handshake is done: ``h2`` gets an
:class:`HTTP2Connection`, ``http/1.1`` or no ALPN an :class:`HTTP1Connection`.
Over cleartext with ``--h2c``, the first bytes decide: a client that starts
with the HTTP/2 connection preface (prior knowledge, RFC 9113 §3.3) gets
HTTP/2, anything else HTTP/1.1 (which may still ask for ``Upgrade: h2c``).
Since no HTTP/1.1 method starts with ``PR``, the choice is made within the
first two bytes of every HTTP/1.1 client.

The :class:`ProtocolSelector` then hands the transport to the chosen
connection with whatever it has read, and is gone. Where there is nothing to
choose, the factory makes the connection directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

from pounce._bridge.context import WorkerContext
from pounce._edges.connection_limit import limit_connections
from pounce._edges.http1.connection import HTTP1Connection
from pounce._edges.http2.connection import HTTP2Connection

__all__ = ["ProtocolSelector", "protocol_factory"]

# RFC 9113 §3.4.
_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def protocol_factory(ctx: WorkerContext) -> Callable[[], asyncio.Protocol]:
    """What ``loop.create_server`` calls for each new connection."""
    config = ctx.config
    if config.http2 and (ctx.tls is not None or config.h2c):
        return limit_connections(ctx, lambda: ProtocolSelector(ctx))
    return limit_connections(ctx, lambda: HTTP1Connection(ctx))


class ProtocolSelector(asyncio.Protocol):
    """A new connection until it is known which protocol it speaks."""

    __slots__ = ("_buffer", "_ctx", "_timer", "_transport")

    def __init__(self, ctx: WorkerContext) -> None:
        self._ctx = ctx
        self._transport: asyncio.Transport | None = None
        self._buffer = b""
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport; uvloop's do not subclass asyncio.Transport.
        self._transport = cast(asyncio.Transport, transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            if ssl_object.selected_alpn_protocol() == "h2":
                self._hand_over(HTTP2Connection(self._ctx))
            else:
                self._hand_over(HTTP1Connection(self._ctx))
            return
        self._ctx.connections.add(self)
        self._timer = self._ctx.loop.call_later(
            self._ctx.config.timeout_request_header, self._close
        )

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        seen = min(len(buffer), len(_PREFACE))
        if buffer[:seen] != _PREFACE[:seen]:
            self._hand_over(HTTP1Connection(self._ctx), buffer)
        elif seen == len(_PREFACE):
            self._hand_over(HTTP2Connection(self._ctx), buffer)
        else:
            self._buffer = buffer

    def eof_received(self) -> bool | None:
        return None  # nothing was asked; close

    def connection_lost(self, exc: Exception | None) -> None:
        self._forget()
        self._transport = None

    def _forget(self) -> None:
        self._ctx.connections.discard(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _hand_over(self, protocol: asyncio.Protocol, data: bytes = b"") -> None:
        transport = self._transport
        assert transport is not None
        self._forget()
        self._transport = None
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if data:
            protocol.data_received(data)

    # ---------------------------------------------------- worker shutdown

    def is_idle(self) -> bool:
        return True

    def shutdown(self) -> None:
        """Left open: the client connected to ask something, and its request
        may already be on the wire, where closing would reset it. It is
        served (with ``connection: close``, the worker is draining), or closed
        by the request-head timeout if nothing comes."""

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def drain_streams(self) -> bool:
        """Nothing to ask: no protocol, hence no response, has been chosen yet."""
        return False

    def force_close(self) -> None:
        if self._transport is not None:
            self._transport.abort()
