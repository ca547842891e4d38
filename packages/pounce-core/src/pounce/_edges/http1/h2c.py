"""``Upgrade: h2c``: an HTTP/1.1 request that turns its connection into HTTP/2.

RFC 7540 §3.2 (dropped by RFC 9113, still sent by some clients): a cleartext
request carrying ``Upgrade: h2c`` and exactly one ``HTTP2-Settings`` field
(named in ``Connection``) may be answered with ``101 Switching Protocols``;
the request then becomes stream 1 of an HTTP/2 connection, and its response
goes out as HTTP/2. Only requests without a body are upgraded: a body would
have to be read whole in HTTP/1.1 first, and the RFC lets a server ignore
the upgrade instead. A request we do not upgrade is served as the HTTP/1.1
request it also is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from pounce._bridge.context import WorkerContext
from pounce._edges.http2.connection import HTTP2Connection
from pounce_protocols import (
    Headers,
    HTTP2ServerConnection,
    RemoteProtocolError,
    UpgradeRequested,
)

__all__ = ["h2c_settings", "upgrade_h2c"]

_SWITCH_HEADERS: Headers = ((b"connection", b"Upgrade"), (b"upgrade", b"h2c"))

#: Sends the ``101`` with these headers and hands over (transport, bytes already read).
Switch = Callable[[Headers], tuple[asyncio.Transport, bytes]]


def _tokens(headers: Headers, name: bytes) -> list[bytes]:
    tokens: list[bytes] = []
    for key, value in headers:
        if key == name:
            tokens.extend(t.strip().lower() for t in value.split(b","))
    return tokens


def h2c_settings(event: UpgradeRequested) -> bytes | None:
    """The ``HTTP2-Settings`` value of a request we may upgrade to h2c, else None."""
    if event.protocol != b"h2c" or event.http_version != "1.1":
        return None
    settings = []
    for name, value in event.headers:
        if name == b"http2-settings":
            settings.append(value)
        elif name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return None
    if len(settings) != 1 or b"http2-settings" not in _tokens(event.headers, b"connection"):
        return None
    return settings[0].strip()


def upgrade_h2c(ctx: WorkerContext, event: UpgradeRequested, switch: Switch) -> bool:
    """Switch the connection to HTTP/2 if ``event`` asks for it properly.

    Returns False, having changed nothing, when the request is to be served
    as HTTP/1.1.
    """
    settings = h2c_settings(event)
    if settings is None or ctx.draining:
        return False
    machine = HTTP2ServerConnection(ctx.http2_limits)
    try:
        events = machine.initiate_upgrade(settings, event)
    except RemoteProtocolError:
        return False
    transport, leftover = switch(_SWITCH_HEADERS)
    connection = HTTP2Connection(ctx, machine=machine, initial_events=events)
    transport.set_protocol(connection)
    connection.connection_made(transport)
    if leftover:
        connection.data_received(leftover)
    return True
