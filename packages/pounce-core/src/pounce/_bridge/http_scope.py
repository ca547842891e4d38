"""The ASGI ``http`` scope of one request, the same for every HTTP version.

Each protocol connection knows its transport (client and server addresses,
scheme, TLS); everything else comes from the protocol-neutral
:class:`~pounce_protocols.RequestReceived`. Building the scope in one place
keeps HTTP/1.1 and HTTP/2 requests indistinguishable to the app except for
``http_version``.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import unquote_to_bytes

from pounce._bridge.context import WorkerContext
from pounce._bridge.proxy_headers import carries_forwarding
from pounce._runtime.asgi_types import Scope
from pounce_protocols import RequestReceived

__all__ = [
    "DRAIN",
    "PATH_SEND",
    "address",
    "connection_tls",
    "content_length",
    "http_scope",
    "request_headers",
]

# The scope extension through which an app learns that its worker drains:
# {"event": asyncio.Event}, set when the drain begins (docs/workers.md).
DRAIN = "pounce.drain"

# The ASGI extension for a body sent as a file's path; offered on every HTTP
# scope, whatever the protocol (HTTPStream sends it).
PATH_SEND = "http.response.pathsend"

_METHODS = {
    m.encode("ascii"): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
}


def address(info: Any) -> tuple[str, int] | None:
    """``(host, port)`` from a transport's peername/sockname, if it is one."""
    if isinstance(info, tuple) and len(info) >= 2:
        return (str(info[0]), int(info[1]))
    return None


def connection_tls(transport: asyncio.BaseTransport, ctx: WorkerContext) -> dict[str, Any] | None:
    """The ASGI ``tls`` extension of a connection, or None when it is not TLS."""
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None or ctx.tls is None:
        return None
    return ctx.tls.scope_extension(ssl_object)


def decode_path(raw: bytes) -> str:
    if 0x25 not in raw:  # "%" (a byte as an integer: see pounce_protocols._http1_fast)
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            pass
    return unquote_to_bytes(raw).decode("utf-8", "replace")


def request_headers(event: RequestReceived) -> list[tuple[bytes, bytes]]:
    """The request's fields; an authority from the request line or ``:authority``
    replaces ``host`` (RFC 9112 §3.2.2, ASGI HTTP spec)."""
    headers = list(event.headers)
    authority = event.authority
    if authority is not None and not (headers and headers[0] == (b"host", authority)):
        headers = [(b"host", authority)] + [h for h in headers if h[0] != b"host"]
    return headers


def websocket_scheme(scheme: str) -> str:
    """The WebSocket scheme of a connection whose HTTP scheme is ``scheme``."""
    return {"http": "ws", "https": "wss"}.get(scheme, scheme)


def websocket_scope(
    ctx: WorkerContext,
    event: RequestReceived,
    headers: list[tuple[bytes, bytes]],
    *,
    client: tuple[str, int] | None,
    server: tuple[str, int | None] | None,
    scheme: str,
    tls: dict[str, Any] | None,
    subprotocols: tuple[str, ...],
) -> Scope:
    """The ASGI ``websocket`` scope of an upgrade (or extended CONNECT) request.

    Built from the same pieces as :func:`http_scope`, so proxies, the root
    path and path decoding agree between the two scope types.
    """
    if ctx.proxies is not None:
        client, scheme = ctx.proxies.resolve(client, scheme, headers)
    root = ctx.root_path
    path = decode_path(event.path)
    extensions: dict[str, Any] = {"websocket.http.response": {}, DRAIN: ctx.drain_extension}
    if tls is not None:
        extensions["tls"] = dict(tls)
    return {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.5"},
        "http_version": event.http_version,
        "scheme": websocket_scheme(scheme),
        "server": server,
        "client": client,
        "root_path": root,
        "path": root + path if root else path,
        "raw_path": ctx.root_path_bytes + event.path if root else event.path,
        "query_string": event.query_string,
        "headers": headers,
        "subprotocols": list(subprotocols),
        "state": ctx.lifespan_state.copy(),
        "extensions": extensions,
    }


def content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The declared body length (the machines have checked the value)."""
    for name, value in headers:
        if name == b"content-length":
            return int(value)
    return None


def http_scope(
    ctx: WorkerContext,
    event: RequestReceived,
    headers: list[tuple[bytes, bytes]],
    *,
    client: tuple[str, int] | None,
    server: tuple[str, int | None] | None,
    scheme: str,
    tls: dict[str, Any] | None,
    proxied: bool | None = None,
) -> Scope:
    """The scope of one request; ``scheme`` and ``client`` as the transport
    (or a trusted proxy) says.

    ``proxied`` is whether the peer is a trusted proxy, for a connection that
    decided it once; None decides it here.
    """
    proxies = ctx.proxies
    # A request without forwarding fields is taken as the connection sees it.
    if proxies is not None and proxied is not False and carries_forwarding(headers):
        if proxied is None:
            client, scheme, host = proxies.resolve_forwarded(client, scheme, headers)
        else:
            client, scheme, host = proxies.forwarded(client, scheme, headers)
        if host is not None:
            # A trusted proxy's forwarded host is the one the client asked for.
            headers = [(b"host", host)] + [h for h in headers if h[0] != b"host"]
    method = _METHODS.get(event.method) or event.method.decode("ascii")
    raw_path = event.path
    path = decode_path(raw_path)
    root = ctx.root_path
    extensions: dict[str, Any] = {
        "http.response.trailers": {},
        PATH_SEND: {},
        DRAIN: ctx.drain_extension,
    }
    if tls is not None:
        extensions["tls"] = dict(tls)
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": event.http_version,
        "server": server,
        "client": client,
        "scheme": scheme,
        "method": method,
        "root_path": root,
        "path": root + path if root else path,
        "raw_path": ctx.root_path_bytes + raw_path if root else raw_path,
        "query_string": event.query_string,
        "headers": headers,
        "state": ctx.lifespan_state.copy(),
        "extensions": extensions,
    }
