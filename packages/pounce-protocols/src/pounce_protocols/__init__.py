"""Sans-IO HTTP protocol machines: bytes in, protocol-neutral events out.

HTTP/1.1 (over h11) and WebSocket (over wsproto, the ``websocket`` extra).
Nothing here opens a socket, starts a thread or touches an event loop, so the
machines can be driven from tests with scripted bytes and reused by any server.
"""

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
    ResponseBody,
    ResponseEnd,
    ResponseEvent,
    ResponseHead,
    StreamReset,
    UpgradeRequested,
)
from pounce_protocols._http1 import HTTP1Limits, HTTP1ServerConnection
from pounce_protocols._http1_head import HeadLimits
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
