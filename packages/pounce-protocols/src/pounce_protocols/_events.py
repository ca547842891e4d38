"""Protocol-neutral events: the vocabulary shared by every HTTP version.

A protocol machine turns wire bytes into *request-side* events and turns
*response-side* events into wire bytes. HTTP/1.1, HTTP/2 and HTTP/3 all speak
this one vocabulary, so whatever sits above them (Pounce's ASGI bridge) never
learns which protocol it serves. Every event names the stream it belongs to;
HTTP/1.1 numbers its request/response cycles 1, 2, 3... as if they were streams.

Events are frozen, slotted, keyword-only dataclasses and validate their fields
when built. The machines build their own events through the ``_trusted`` init
flag, which skips validation: their parsers have already checked every field,
and re-checking on each request would cost time on the hottest path.
"""

from __future__ import annotations

import re
from dataclasses import InitVar, dataclass

__all__ = [
    "BodyEnded",
    "BodyReceived",
    "ConnectionLost",
    "Event",
    "Headers",
    "InformationalResponse",
    "RequestEvent",
    "RequestReceived",
    "RequestRejected",
    "ResponseBody",
    "ResponseEnd",
    "ResponseEvent",
    "ResponseHead",
    "StreamReset",
    "UpgradeRequested",
]

#: Header fields as ``(name, value)`` byte pairs, names lowercased.
Headers = tuple[tuple[bytes, bytes], ...]

# RFC 9110 token characters, for method and header-name checks.
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HTTP_VERSIONS = frozenset({"1.0", "1.1", "2", "3"})


def _check_stream_id(stream_id: int) -> None:
    if not isinstance(stream_id, int) or isinstance(stream_id, bool) or stream_id < 0:
        raise ValueError(f"stream_id must be a non-negative int, got {stream_id!r}")


def _check_headers(headers: object, *, lowercase: bool) -> None:
    if not isinstance(headers, tuple):
        raise TypeError("headers must be a tuple of (name, value) byte pairs")
    for item in headers:
        if not (
            isinstance(item, tuple)
            and len(item) == 2
            and isinstance(item[0], bytes)
            and isinstance(item[1], bytes)
        ):
            raise TypeError(f"header {item!r} is not a (bytes, bytes) pair")
        name = item[0]
        if not _TOKEN.fullmatch(name):
            raise ValueError(f"invalid header name {name!r}")
        if lowercase and name != name.lower():
            raise ValueError(f"header name {name!r} must be lowercase")


def _check_status(status: int, low: int, high: int) -> None:
    if not isinstance(status, int) or isinstance(status, bool) or not low <= status <= high:
        raise ValueError(f"status must be an int in [{low}, {high}], got {status!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base class of every event."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestEvent(Event):
    """Base class of the events a machine yields from the peer's bytes."""

    stream_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestReceived(RequestEvent):
    """A complete request head.

    ``path`` is the raw path exactly as received, without the query string; for
    an absolute-form target (``GET http://host/p?q HTTP/1.1``) it is the path
    part only and ``scheme``/``authority`` carry the rest. ``scheme`` is ``None``
    when the request did not state one (HTTP/1.1 origin form): the server knows
    it from the transport. ``expect_continue`` is set when the client waits for
    ``100 Continue`` before sending the body.
    """

    method: bytes
    path: bytes
    query_string: bytes
    http_version: str
    headers: Headers
    scheme: bytes | None = None
    authority: bytes | None = None
    expect_continue: bool = False
    _trusted: InitVar[bool] = False

    def __post_init__(self, _trusted: bool) -> None:
        if _trusted:
            return
        _check_stream_id(self.stream_id)
        if not isinstance(self.method, bytes) or not _TOKEN.fullmatch(self.method):
            raise ValueError(f"invalid method {self.method!r}")
        if not isinstance(self.path, bytes) or not self.path:
            raise ValueError("path must be non-empty bytes")
        if not isinstance(self.query_string, bytes):
            raise TypeError("query_string must be bytes")
        if self.http_version not in _HTTP_VERSIONS:
            raise ValueError(f"unknown http_version {self.http_version!r}")
        _check_headers(self.headers, lowercase=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class UpgradeRequested(RequestReceived):
    """A request head asking to switch protocols (``websocket``, ``h2c``...).

    It carries the whole request head, so a server that does not support the
    named protocol can serve it as the ordinary request it also is.
    """

    protocol: bytes

    def __post_init__(self, _trusted: bool) -> None:
        RequestReceived.__post_init__(self, _trusted)
        if not _trusted and not (
            isinstance(self.protocol, bytes) and _TOKEN.fullmatch(self.protocol)
        ):
            raise ValueError(f"invalid upgrade protocol {self.protocol!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class BodyReceived(RequestEvent):
    """A piece of the request body, with any transfer coding removed."""

    data: bytes
    _trusted: InitVar[bool] = False

    def __post_init__(self, _trusted: bool) -> None:
        if not _trusted:
            _check_stream_id(self.stream_id)
            if not isinstance(self.data, bytes):
                raise TypeError("data must be bytes")


@dataclass(frozen=True, slots=True, kw_only=True)
class BodyEnded(RequestEvent):
    """The request body is complete. ``trailers`` are the trailer fields, if any."""

    trailers: Headers = ()
    _trusted: InitVar[bool] = False

    def __post_init__(self, _trusted: bool) -> None:
        if not _trusted:
            _check_stream_id(self.stream_id)
            _check_headers(self.trailers, lowercase=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamReset(RequestEvent):
    """The peer abandoned one stream (HTTP/2 RST_STREAM, HTTP/3 stop-sending)."""

    error_code: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestRejected(RequestEvent):
    """One request broke a limit or the protocol, but the connection lives on.

    Multiplexed protocols (HTTP/2, HTTP/3) reject a single stream this way
    where HTTP/1.1 would raise and close: the server answers ``status_hint``
    on the stream (431 for a header section over the limits, 400 for a
    malformed request). No :class:`RequestReceived` came before it and no
    more events of the stream follow.
    """

    status_hint: int
    reason: str

    def __post_init__(self) -> None:
        _check_stream_id(self.stream_id)
        _check_status(self.status_hint, 400, 599)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionLost(Event):
    """The peer closed the connection; nothing more will arrive on any stream."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseEvent(Event):
    """Base class of the events a server gives a machine to send."""

    stream_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class InformationalResponse(ResponseEvent):
    """A 1xx interim response such as ``100 Continue`` or ``103 Early Hints``."""

    status: int
    headers: Headers = ()

    def __post_init__(self) -> None:
        _check_stream_id(self.stream_id)
        _check_status(self.status, 100, 199)
        if self.status == 101:
            raise ValueError("101 Switching Protocols is a ResponseHead, not informational")
        _check_headers(self.headers, lowercase=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseHead(ResponseEvent):
    """The final response status and header fields (or ``101`` to switch protocols)."""

    status: int
    headers: Headers = ()
    _trusted: InitVar[bool] = False

    def __post_init__(self, _trusted: bool) -> None:
        if _trusted:
            return
        _check_stream_id(self.stream_id)
        _check_status(self.status, 101, 999)
        if self.status < 200 and self.status != 101:
            raise ValueError("interim responses are sent as InformationalResponse")
        _check_headers(self.headers, lowercase=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseBody(ResponseEvent):
    """A piece of the response body."""

    data: bytes
    _trusted: InitVar[bool] = False

    def __post_init__(self, _trusted: bool) -> None:
        if not _trusted:
            _check_stream_id(self.stream_id)
            if not isinstance(self.data, bytes):
                raise TypeError("data must be bytes")


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseEnd(ResponseEvent):
    """The response is complete; ``trailers`` are sent where the protocol allows."""

    trailers: Headers = ()
    _trusted: InitVar[bool] = False

    def __post_init__(self, _trusted: bool) -> None:
        if not _trusted:
            _check_stream_id(self.stream_id)
            _check_headers(self.trailers, lowercase=False)
