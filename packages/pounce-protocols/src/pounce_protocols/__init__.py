"""Sans-IO HTTP protocol machines: bytes in, protocol-neutral events out.

HTTP/1.1 (over h11) and WebSocket (over wsproto, the ``websocket`` extra).
Nothing here opens a socket, starts a thread or touches an event loop, so the
machines can be driven from tests with scripted bytes and reused by any server.

The HTTP/2 machine needs the ``h2`` package (``pounce-protocols[http2]``); it
is imported on first use of :class:`HTTP2ServerConnection`, so HTTP/1.1 works
without it.
"""

import typing

from pounce_protocols._errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from pounce_protocols._events import (
    BodyEnded,
    BodyReceived,
    ConnectionLost,
    Event,
    Headers,
    InformationalResponse,
    RequestEvent,
    RequestReceived,
    RequestRejected,
    ResponseBody,
    ResponseEnd,
    ResponseEvent,
    ResponseHead,
    StreamReset,
    UpgradeRequested,
)
from pounce_protocols._http1 import HTTP1Limits, HTTP1ServerConnection
from pounce_protocols._http1_head import HeadLimits
from pounce_protocols._http2_gate import HTTP2ErrorCode
from pounce_protocols._http2_limits import HTTP2Limits
from pounce_protocols._websocket import (
    WebSocketMachine,
    WebSocketState,
    is_sendable_close_code,
    websocket_available,
)
from pounce_protocols._websocket_events import (
    BytesReceived,
    CloseReceived,
    PongReceived,
    ProtocolFailed,
    TextReceived,
    WebSocketEvent,
)
from pounce_protocols._websocket_handshake import (
    DeflateParams,
    ExtensionOffer,
    WebSocketHandshakeError,
    WebSocketRequest,
    accept_token,
    handshake_response_headers,
    negotiate_deflate,
    parse_websocket_request,
)

if typing.TYPE_CHECKING:
    from pounce_protocols._http2 import HTTP2ServerConnection

__all__ = [
    "BodyEnded",
    "BodyReceived",
    "BytesReceived",
    "CloseReceived",
    "ConnectionLost",
    "DeflateParams",
    "Event",
    "ExtensionOffer",
    "HTTP1Limits",
    "HTTP1ServerConnection",
    "HTTP2ErrorCode",
    "HTTP2Limits",
    "HTTP2ServerConnection",
    "HeadLimits",
    "Headers",
    "InformationalResponse",
    "LocalProtocolError",
    "PongReceived",
    "ProtocolError",
    "ProtocolFailed",
    "RemoteProtocolError",
    "RequestEvent",
    "RequestReceived",
    "RequestRejected",
    "ResponseBody",
    "ResponseEnd",
    "ResponseEvent",
    "ResponseHead",
    "StreamReset",
    "TextReceived",
    "UpgradeRequested",
    "WebSocketEvent",
    "WebSocketHandshakeError",
    "WebSocketMachine",
    "WebSocketRequest",
    "WebSocketState",
    "accept_token",
    "handshake_response_headers",
    "is_sendable_close_code",
    "negotiate_deflate",
    "parse_websocket_request",
    "websocket_available",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> typing.Any:
    if name == "HTTP2ServerConnection":
        try:
            # Lazily: h2 is an optional dependency (pounce-protocols[http2]).
            from pounce_protocols._http2 import HTTP2ServerConnection  # noqa: PLC0415
        except ImportError as exc:
            raise ImportError(
                "HTTP/2 needs the h2 package: install pounce-protocols[http2]"
            ) from exc
        return HTTP2ServerConnection
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
