"""Sans-IO HTTP protocol machines: bytes in, protocol-neutral events out.

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

__all__ = [
    "BodyEnded",
    "BodyReceived",
    "ConnectionLost",
    "Event",
    "HTTP1Limits",
    "HTTP1ServerConnection",
    "HeadLimits",
    "Headers",
    "InformationalResponse",
    "LocalProtocolError",
    "ProtocolError",
    "RemoteProtocolError",
    "RequestEvent",
    "RequestReceived",
    "ResponseBody",
    "ResponseEnd",
    "ResponseEvent",
    "ResponseHead",
    "StreamReset",
    "UpgradeRequested",
]

__version__ = "0.1.0"
