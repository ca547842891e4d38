"""What the HTTP/2 machine asks of a wire core, and what a core reports.

:class:`~._http2.HTTP2ServerConnection` keeps Pounce's side of every stream
(what is left to send, priorities, the request checks, the events above). The
wire itself (frames, HPACK, the RFC 9113 stream states, flow-control windows,
SETTINGS) is a *core*'s: :class:`~._http2_h2.H2Core` over the ``h2`` library,
the reference, or :class:`~._http2_fast.FastCore`, our own. Both keep this
contract, and the differential tests hold the second to the first.

A core reports what the peer did as plain tuples, first item a kind below:

==================  ===========================================================
``REQUEST``         ``(REQUEST, stream_id, fields, end_stream)``: a new stream's
                    header list, decoded and checked as RFC 9113 asks
``DATA``            ``(DATA, stream_id, data, flow_controlled_length, end_stream)``
``TRAILERS``        ``(TRAILERS, stream_id, fields, end_stream)``
``RESET``           ``(RESET, stream_id, error_code)``: the peer reset the stream,
                    or the core did because the peer broke the stream's rules
``WINDOW``          ``(WINDOW, stream_id)``: a window opened (0: the connection's)
``SETTINGS``        ``(SETTINGS,)``: the peer's settings changed
``PRIORITY``        ``(PRIORITY, payload)``: a PRIORITY_UPDATE frame's payload
==================  ===========================================================

``fields`` is a tuple of ``(name, value)`` byte pairs; a core hands the same
tuple object for the same decoded list when it can, so the machine's caches
find it by identity.

Streams the core reset are remembered (:class:`ResetStreams`): frames the peer
had in flight on them are ignored, crediting only the connection window
(RFC 9113 §5.1), instead of drawing a RST_STREAM each.
"""

from __future__ import annotations

from typing import Any, Protocol

from pounce_protocols._http2_limits import HTTP2Limits

__all__ = [
    "DATA",
    "PRIORITY",
    "REQUEST",
    "RESET",
    "SETTINGS",
    "TRAILERS",
    "WINDOW",
    "CoreEvent",
    "Fields",
    "ResetStreams",
    "WireCore",
    "WireError",
    "local_settings",
]

REQUEST = 0
DATA = 1
TRAILERS = 2
RESET = 3
WINDOW = 4
SETTINGS = 5
PRIORITY = 6

CoreEvent = tuple[Any, ...]
Fields = tuple[tuple[bytes, bytes], ...]


def list_size(fields: Fields) -> int:
    """A header list's size as RFC 9113 §6.5.2 counts it (name + value + 32 a field)."""
    return sum(len(name) + len(value) + 32 for name, value in fields)


def local_settings(limits: HTTP2Limits) -> dict[int, int]:
    """Our SETTINGS (RFC 9113 §6.5.2), in the order they are sent."""
    return {
        0x1: 4096,  # HEADER_TABLE_SIZE, the default: what our decoder keeps
        0x2: 0,  # ENABLE_PUSH
        0x4: limits.initial_window_size,  # INITIAL_WINDOW_SIZE
        0x5: 16_384,  # MAX_FRAME_SIZE, the default
        0x8: int(limits.enable_connect_protocol),  # ENABLE_CONNECT_PROTOCOL (RFC 8441)
        0x3: limits.max_concurrent_streams,  # MAX_CONCURRENT_STREAMS
        0x6: limits.max_header_list_size,  # MAX_HEADER_LIST_SIZE
        0x9: 1,  # NO_RFC7540_PRIORITIES (RFC 9218 §2.1)
    }


class ResetStreams:
    """The streams a core reset, the latest ``2 * max_concurrent_streams``
    of them (and never fewer than 256): frames a peer sent before it saw our
    RST_STREAM arrive within a round trip, in which it cannot have opened
    more streams than the limit."""

    __slots__ = ("_limit", "_streams")

    def __init__(self, max_concurrent_streams: int) -> None:
        self._limit = max(256, 2 * max_concurrent_streams)
        self._streams: dict[int, None] = {}

    def __contains__(self, stream_id: int) -> bool:
        return stream_id in self._streams

    def __bool__(self) -> bool:
        return bool(self._streams)

    def add(self, stream_id: int) -> None:
        streams = self._streams
        streams[stream_id] = None
        if len(streams) > self._limit:
            del streams[next(iter(streams))]


class WireError(Exception):
    """The core could not do what the machine asked (the stream is closed,
    a window is too small...): the machine's own mistake, never the peer's."""


class WireCore(Protocol):
    """The operations the machine needs from a core (see the module docstring)."""

    @property
    def highest_stream_id(self) -> int:
        """The highest stream id the peer has opened."""

    @property
    def max_frame_size(self) -> int:
        """The largest frame payload the peer accepts."""

    @property
    def connection_window(self) -> int:
        """What the peer's connection window lets us send."""

    def initiate(self) -> None:
        """Queue the server preface: our SETTINGS and the connection window."""

    def initiate_upgrade(self, settings: bytes) -> None:
        """Start after ``Upgrade: h2c``: ``settings`` is the HTTP2-Settings
        payload (decoded); stream 1 is half-closed (remote). Raises
        :class:`WireError` for settings that cannot be used."""

    def receive(self, data: bytes) -> list[CoreEvent]:
        """The events ``data`` (gate-checked bytes) gives; a connection error
        raises :class:`~._errors.RemoteProtocolError` with its GOAWAY queued."""

    def send_headers(
        self, stream_id: int, status: int | None, fields: Fields, end_stream: bool
    ) -> None:
        """A header block: a response head (``status``, then ``fields``:
        lowercase and checked), or trailers (``status`` None)."""

    def send_data(self, stream_id: int, data: bytes | memoryview, end_stream: bool) -> None:
        """One DATA frame, within the windows and the frame size."""

    def end_stream(self, stream_id: int) -> None:
        """An empty DATA frame with END_STREAM."""

    def reset_stream(self, stream_id: int, error_code: int) -> None:
        """RST_STREAM; :class:`WireError` when the stream is closed."""

    def increment_window(self, increment: int, stream_id: int = 0) -> None:
        """WINDOW_UPDATE; :class:`WireError` when the stream is closed."""

    def send_window(self, stream_id: int) -> int:
        """How much DATA the stream may send now (its window and the connection's)."""

    def stream_window(self, stream_id: int) -> int | None:
        """The stream's own window (None: the core has no such stream)."""

    def close(self, error_code: int, last_stream_id: int | None = None) -> None:
        """Queue a final GOAWAY (last stream: the highest the peer opened)."""

    def data_to_send(self) -> bytes:
        """Every byte the core has queued since the last call."""
