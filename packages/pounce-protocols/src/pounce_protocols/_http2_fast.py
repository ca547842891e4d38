"""The HTTP/2 fast path: our own wire core, held to ``h2`` (the reference).

Theory of operation
-------------------
``h2`` spends tens of microseconds on a request that needs a few: every frame
becomes an object, every event passes a state machine of objects, each field
of a header block is checked by a chain of generators, and its HPACK decoder
logs as it goes. :class:`FastCore` does the same work directly, with the
:mod:`._http2_wire` contract that :class:`~._http2_h2.H2Core` keeps over
``h2``, so that the machine above cannot tell them apart.

Where the line runs
    *Every* frame is ours, and so is every header block: HPACK state is per
    connection, so a core that left some blocks to another decoder would have
    to hand its dynamic table over and back. Our decoder
    (:class:`~._hpack.Decoder`) does all of them, and remembers the blocks a
    client repeats; our encoder (:class:`~._hpack.Encoder`) uses no dynamic
    table, so a head the application repeats is encoded once per connection.
    ``h2`` is not used at all on this path; it remains the reference.

The same answers as the reference
    This is not a variant of ``h2`` but ``h2``'s behaviour, written again: the
    same frames are refused with the same error codes, at the same frame (the
    events of a read that ends in a connection error are lost, in both), the
    same stream errors reset the same streams, windows open and close by the
    same rules, and streams are forgotten on the same schedule (``h2`` moves
    closed streams out of its table when the next stream opens, and keeps the
    last 65536 of those as "closed", with how they closed). Where RFC 9113
    asks for something ``h2`` does not do, both cores do the same other thing
    (see :mod:`._http2_h2`: the stream limit is the machine's, frames in
    flight on a stream we reset are ignored). The differential tests
    (``tests/unit/protocols/test_http2_fastpath*.py``) feed both cores' machines
    the same bytes in the same reads and compare events, output (with header
    blocks decoded) and state after each read.

What costs nothing
    A header block already seen, with the client's dynamic table unchanged
    since, decodes to the same tuple (one lookup); the checks of a header list
    are kept per tuple (one lookup); the machine above keeps what it makes of
    a request per tuple too. So a client that repeats its requests costs a
    frame header, two dictionary lookups and a stream per request.
"""

from __future__ import annotations

import struct

from pounce_protocols._errors import RemoteProtocolError
from pounce_protocols._hpack import (
    CACHED_LIST_LIMIT,
    Decoder,
    Encoder,
    HeaderListTooLarge,
    HPACKError,
)
from pounce_protocols._http2_gate import PREFACE, HTTP2ErrorCode
from pounce_protocols._http2_limits import HTTP2Limits
from pounce_protocols._http2_wire import (
    DATA,
    PRIORITY,
    REQUEST,
    RESET,
    SETTINGS,
    TRAILERS,
    WINDOW,
    CoreEvent,
    Fields,
    ResetStreams,
    WireError,
    list_size,
    local_settings,
)

__all__ = ["FastCore"]

# Frame types (RFC 9113 §6; ALTSVC RFC 7838; PRIORITY_UPDATE RFC 9218).
_DATA, _HEADERS, _PRIORITY, _RST_STREAM, _SETTINGS, _PUSH_PROMISE = 0, 1, 2, 3, 4, 5
_PING, _GOAWAY, _WINDOW_UPDATE, _CONTINUATION, _ALTSVC = 6, 7, 8, 9, 10
_PRIORITY_UPDATE = 0x10
# Flags.
_END_STREAM = _ACK = 0x1
_END_HEADERS = 0x4
_PADDED = 0x8
_PRIORITY_FLAG = 0x20
# Frames that must name a stream, and those that must not.
_ON_STREAM = frozenset({_DATA, _HEADERS, _PRIORITY, _RST_STREAM, _PUSH_PROMISE, _CONTINUATION})
_ON_CONNECTION = frozenset({_SETTINGS, _PING, _GOAWAY})

_HEADER = struct.Struct(">BHBBL")
_MAX_FRAME = 16_384
_MAX_WINDOW = 2**31 - 1
_DEFAULT_WINDOW = 65_535
# h2 remembers this many streams as closed (and how), after the table moves.
_CLOSED_MEMORY = 2**16
# h2 accepts a header block in at most this many frames (the gate asks fewer
# of HEADERS; PUSH_PROMISE blocks meet this one).
_CONTINUATION_BACKLOG = 64

# Stream states, numbered as RFC 9113 §5.1's (and h2's).
_OPEN, _HALF_CLOSED_REMOTE, _HALF_CLOSED_LOCAL, _CLOSED = 3, 4, 5, 6
# How a stream closed.
_SENT_END, _RECEIVED_END, _SENT_RESET, _RECEIVED_RESET = 0, 1, 2, 3
_BY_RESET = frozenset({_SENT_RESET, _RECEIVED_RESET})

_PROTOCOL_ERROR = HTTP2ErrorCode.PROTOCOL_ERROR
_FLOW_CONTROL_ERROR = HTTP2ErrorCode.FLOW_CONTROL_ERROR
_STREAM_CLOSED = HTTP2ErrorCode.STREAM_CLOSED
_FRAME_SIZE_ERROR = HTTP2ErrorCode.FRAME_SIZE_ERROR

# RFC 9113 §8.2.2 (h2's list).
_CONNECTION_FIELDS = frozenset(
    {b"connection", b"proxy-connection", b"keep-alive", b"transfer-encoding", b"upgrade"}
)
_PSEUDO_FIELDS = frozenset(
    {b":method", b":scheme", b":authority", b":path", b":status", b":protocol"}
)
# The bytes a field name may hold (RFC 9113 §8.2.1: no controls, space,
# uppercase, DEL or above); ":" only first, which is checked apart.
_NAME_BYTES = bytes(range(0x21, 0x41)) + bytes(range(0x5B, 0x7F))
#: How many checked header lists a core remembers.
CHECK_CACHE_SIZE = 32


class _Violation(Exception):
    """The peer broke a rule that ends the connection."""

    def __init__(self, message: str, error_code: int = _PROTOCOL_ERROR) -> None:
        super().__init__(message)
        self.error_code = error_code


# ----------------------------------------------------- header list checks


def _name_ok(name: bytes) -> bool:
    return bool(name) and not name.translate(None, _NAME_BYTES) and name.find(b":", 1) == -1


def _value_ok(value: bytes) -> bool:
    if not value:
        return True
    if 0x00 in value or 0x0A in value or 0x0D in value:  # NUL, LF, CR (see _http1_fast)
        return False
    return value[0] not in (0x20, 0x09) and value[-1] not in (0x20, 0x09)


def _informational(fields: Fields) -> bool:
    """Whether a block reads as a 1xx response (h2's test: a ``:status``
    among the leading pseudo-fields, starting with "1")."""
    for name, value in fields:
        if name[:1] != b":":
            return False
        if name == b":status":
            return value[:1] == b"1"
    return False


def _content_length(fields: Fields) -> int | None:
    length = None
    for name, value in fields:
        if name == b"content-length":
            if not value.isdigit():
                raise _Violation(f"invalid content-length {value!r}")
            parsed = int(value, 10)
            if length is not None and parsed != length:
                raise _Violation(f"conflicting content-length fields: {length} and {parsed}")
            length = parsed
    return length


def _checked(fields: Fields, *, trailers: bool) -> Fields:
    """``fields`` as h2 passes them on (cookies joined last, RFC 9113
    §8.2.3), or :class:`_Violation` where RFC 9113 §8.2 and §8.3 forbid them."""
    cookies = [value for name, value in fields if name == b"cookie"]
    if cookies:
        listed = [field for field in fields if field[0] != b"cookie"]
        listed.append((b"cookie", b"; ".join(cookies)))
        fields = tuple(listed)
    pseudo: set[bytes] = set()
    regular = False
    method = authority = host = None
    for name, value in fields:
        if not _name_ok(name):
            raise _Violation(f"invalid field name {name!r}")
        if not _value_ok(value):
            raise _Violation(f"invalid value for field {name!r}")
        if name == b"te" and value.lower() != b"trailers":
            raise _Violation(f"te: {value!r} (only 'trailers' is allowed)")
        if name in _CONNECTION_FIELDS:
            raise _Violation(f"connection-specific field {name!r}")
        if name[0] == 0x3A:  # ':'
            if name in pseudo:
                raise _Violation(f"repeated pseudo-header {name!r}")
            if regular:
                raise _Violation(f"pseudo-header {name!r} after a regular field")
            if name not in _PSEUDO_FIELDS:
                raise _Violation(f"unknown pseudo-header {name!r}")
            pseudo.add(name)
            if name == b":method":
                method = value
            elif name == b":authority":
                authority = value
            elif name == b":path" and not value and not trailers:
                raise _Violation("empty :path")
        else:
            regular = True
            if name == b"host" and not trailers:
                if host is not None:
                    raise _Violation("more than one host field")
                host = value
    if trailers:
        if pseudo:
            raise _Violation("pseudo-header in trailers")
        return fields
    if b":method" not in pseudo:
        raise _Violation("no :method")
    connect = method == b"CONNECT"
    if connect and b":protocol" not in pseudo:
        if b":scheme" in pseudo or b":path" in pseudo:
            raise _Violation("CONNECT with :scheme or :path")
    elif b":scheme" not in pseudo or b":path" not in pseudo:
        raise _Violation("no :scheme or no :path")
    if b":status" in pseudo:
        raise _Violation(":status in a request")
    if not connect and b":protocol" in pseudo:
        raise _Violation(":protocol without CONNECT")
    if authority is None and host is None:
        raise _Violation("neither :authority nor host")
    if authority is not None and host is not None and authority != host:
        raise _Violation(":authority and host differ")
    return fields


def _check_shape(kind: int, flags: int, payload: bytes) -> None:
    """What parsing ``payload`` as a frame of ``kind`` would refuse."""
    length = len(payload)
    if kind in (_DATA, _HEADERS, _PUSH_PROMISE):
        padded = flags & _PADDED
        pad = 0
        if padded:
            if not length:
                raise _Violation("frame without its pad length", _FRAME_SIZE_ERROR)
            pad = payload[0]
        if kind == _HEADERS:
            after = length - 1 if padded else length
            if flags & _PRIORITY_FLAG and after < 5:
                raise _Violation("HEADERS without its priority", _FRAME_SIZE_ERROR)
            if pad and pad >= after:
                raise _Violation("HEADERS padding too long")
        elif kind == _DATA:
            if pad and pad >= length:
                raise _Violation("DATA padding too long")
        else:
            start = 1 if padded else 0
            if length < start + 4:
                raise _Violation("PUSH_PROMISE without its stream", _FRAME_SIZE_ERROR)
            promised = int.from_bytes(payload[start : start + 4], "big")
            if promised == 0 or promised % 2:
                raise _Violation(f"PUSH_PROMISE of stream {promised}")
            if pad and pad >= length:
                raise _Violation("PUSH_PROMISE padding too long")
    elif kind == _PRIORITY and length != 5:
        raise _Violation(f"PRIORITY of {length} bytes", _FRAME_SIZE_ERROR)
    elif kind == _RST_STREAM and length != 4:
        raise _Violation(f"RST_STREAM of {length} bytes", _FRAME_SIZE_ERROR)
    elif kind == _SETTINGS:
        if flags & _ACK and length:
            raise _Violation("SETTINGS acknowledgement with a payload")
        if length % 6:
            raise _Violation(f"SETTINGS of {length} bytes", _FRAME_SIZE_ERROR)
    elif kind == _PING and length != 8:
        raise _Violation(f"PING of {length} bytes", _FRAME_SIZE_ERROR)
    elif kind == _WINDOW_UPDATE:
        if length != 4:
            raise _Violation(f"WINDOW_UPDATE of {length} bytes", _FRAME_SIZE_ERROR)
        if not 1 <= int.from_bytes(payload, "big") <= _MAX_WINDOW:
            raise _Violation("WINDOW_UPDATE by 0, or over 2^31-1")
    elif kind == _ALTSVC and (length < 2 or length - 2 < int.from_bytes(payload[:2], "big")):
        raise _Violation("malformed ALTSVC frame", _FRAME_SIZE_ERROR)


# ---------------------------------------------------------------- streams


class _Window:
    """The receive side of a flow-control window, as h2 keeps it."""

    __slots__ = ("current", "largest", "processed")

    def __init__(self, size: int) -> None:
        self.current = size
        self.largest = size
        self.processed = 0

    def consume(self, size: int) -> None:
        self.current -= size
        if self.current < 0:
            raise _Violation("flow-control window overrun", _FLOW_CONTROL_ERROR)

    def open(self, size: int) -> None:
        self.current += size
        if self.current > _MAX_WINDOW:
            raise WireError(f"window over {_MAX_WINDOW}")
        self.largest = max(self.current, self.largest)

    def processed_bytes(self, size: int) -> int:
        """h2's WindowManager.process_bytes: what to give back now, if anything."""
        self.processed += size
        if not self.processed:
            return 0
        increment = 0
        if (
            self.current == 0 and self.processed > min(1024, self.largest // 4)
        ) or self.processed >= self.largest // 2:
            increment = min(self.processed, self.largest - self.current)
            self.processed = 0
        self.current += increment
        return increment


class _Stream:
    __slots__ = (
        "closed_by",
        "expected",
        "head_sent",
        "receive_window",
        "received",
        "send_window",
        "state",
        "trailers_received",
        "trailers_sent",
    )

    def __init__(self, receive_window: int, send_window: int) -> None:
        self.state = _OPEN
        self.closed_by: int | None = None
        self.head_sent = False
        self.trailers_sent = False
        self.trailers_received = False
        self.receive_window = _Window(receive_window)
        self.send_window = send_window
        self.expected: int | None = None  # content-length
        self.received = 0


def _frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    return (
        len(payload).to_bytes(3, "big") + bytes((kind, flags)) + stream_id.to_bytes(4, "big")
    ) + payload


class FastCore:
    """:class:`~._http2_wire.WireCore`, ours (see the module docstring)."""

    __slots__ = (
        "_block",
        "_block_frames",
        "_buffer",
        "_checks",
        "_decoder",
        "_encoder",
        "_ended",
        "_initial_window",
        "_limits",
        "_local_window",
        "_open",
        "_out",
        "_preface",
        "_receive_window",
        "_reset_by_us",
        "_send_window",
        "_streams",
        "_to_forget",
        "connection_window",
        "highest_stream_id",
        "max_frame_size",
    )

    def __init__(self, limits: HTTP2Limits) -> None:
        self._limits = limits
        self._preface = PREFACE
        self._buffer = b""
        # A header block arriving in pieces: its first frame's fields, then
        # its fragments (h2 buffers the frames the same way).
        self._block: tuple[int, int, int, int] | None = None  # kind, flags, stream, depends
        self._block_frames: list[bytes] = []
        self._open = False  # a HEADERS (or ALTSVC) frame has been received
        self._streams: dict[int, _Stream] = {}
        self._to_forget: list[int] = []  # closed, still in _streams (see the docstring)
        self._ended: dict[int, int | None] = {}  # forgotten streams: how they closed
        self.highest_stream_id = 0
        self._decoder = Decoder(limits.decoded_header_limit)
        self._encoder = Encoder()
        self._checks: dict[Fields, tuple[Fields, int | None]] = {}
        # Windows: the peer's for what we send, ours for what it sends.
        self.connection_window = _DEFAULT_WINDOW
        self._initial_window = _DEFAULT_WINDOW  # the peer's SETTINGS_INITIAL_WINDOW_SIZE
        self.max_frame_size = _MAX_FRAME
        self._receive_window = _Window(_DEFAULT_WINDOW)
        self._local_window = limits.initial_window_size
        self._reset_by_us = ResetStreams(limits.max_concurrent_streams)
        self._out = bytearray()

    # ------------------------------------------------------------ queries

    def send_window(self, stream_id: int) -> int:
        stream = self._streams.get(stream_id)
        if stream is None:
            raise WireError(f"stream {stream_id} is closed")
        window = stream.send_window
        connection = self.connection_window
        return window if window < connection else connection

    def stream_window(self, stream_id: int) -> int | None:
        stream = self._streams.get(stream_id)
        return None if stream is None else stream.send_window

    def _stream(self, stream_id: int) -> _Stream:
        stream = self._streams.get(stream_id)
        if stream is None:
            raise WireError(f"stream {stream_id} is closed")
        return stream

    # ----------------------------------------------------------- starting

    def _settings_frame(self) -> bytes:
        payload = b"".join(
            code.to_bytes(2, "big") + value.to_bytes(4, "big")
            for code, value in local_settings(self._limits).items()
        )
        return _frame(_SETTINGS, 0, 0, payload)

    def _started(self) -> None:
        increment = self._limits.connection_window_size - _DEFAULT_WINDOW
        if increment > 0:
            self.increment_window(increment)

    def initiate(self) -> None:
        self._out += self._settings_frame()
        self._started()

    def initiate_upgrade(self, settings: bytes) -> None:
        try:
            self._apply_settings(settings)
        except _Violation as exc:
            raise WireError(str(exc)) from None
        self._out += self._settings_frame()
        self._open = True
        self.highest_stream_id = 1
        stream = _Stream(self._local_window, self._initial_window)
        stream.state = _HALF_CLOSED_REMOTE
        self._streams[1] = stream
        self._started()

    # ---------------------------------------------------------- receiving

    def _fail(self, message: str, error_code: int) -> RemoteProtocolError:
        """The connection error to raise, its GOAWAY queued."""
        self.close(error_code)
        return RemoteProtocolError(message, error_code=error_code)

    def receive(self, data: bytes) -> list[CoreEvent]:
        if self._preface:
            expected = self._preface
            taken = min(len(expected), len(data))
            if data[:taken] != expected[:taken]:
                # h2 sends no GOAWAY for this: it is not HTTP/2 at all.
                raise RemoteProtocolError("invalid HTTP/2 preface", error_code=_PROTOCOL_ERROR)
            self._preface = expected[taken:]
            data = data[taken:]
        if self._buffer:
            data = self._buffer + data
        events: list[CoreEvent] = []
        try:
            self._buffer = self._frames(data, events)
        except _Violation as exc:
            raise self._fail(str(exc), exc.error_code) from None
        return events

    def _frames(self, data: bytes, events: list[CoreEvent]) -> bytes:
        """Handle every whole frame of ``data``; return what is left of it."""
        size = len(data)
        pos = 0
        unpack = _HEADER.unpack_from
        while size - pos >= 9:
            high, low, kind, flags, stream_id = unpack(data, pos)
            length = (high << 16) | low
            stream_id &= 0x7FFF_FFFF
            if stream_id:
                if kind in _ON_CONNECTION:
                    raise _Violation(f"frame of type {kind} on stream {stream_id}")
            elif kind in _ON_STREAM:
                raise _Violation(f"frame of type {kind} on stream 0")
            end = pos + 9 + length
            if end > size:
                break
            if length > _MAX_FRAME:  # the gate stops these first
                raise _Violation(f"frame of {length} bytes", _FRAME_SIZE_ERROR)
            payload = data[pos + 9 : end]
            pos = end
            if self._block is not None:
                # h2 parses a frame before it sees that it breaks a block.
                _check_shape(kind, flags, payload)
                self._continue_block(kind, flags, stream_id, payload, events)
            elif kind == _HEADERS:
                self._on_headers(flags, stream_id, payload, events)
            elif kind == _DATA:
                self._on_data(flags, stream_id, payload, events)
            elif kind == _WINDOW_UPDATE:
                self._on_window_update(stream_id, payload, events)
            elif kind == _SETTINGS:
                self._on_settings(flags, payload, events)
            elif kind == _PING:
                if length != 8:
                    raise _Violation(f"PING of {length} bytes", _FRAME_SIZE_ERROR)
                if not flags & _ACK:
                    self._out += _frame(_PING, _ACK, 0, payload)
            elif kind == _RST_STREAM:
                self._on_reset(stream_id, payload, events)
            elif kind == _PRIORITY:
                if length != 5:
                    raise _Violation(f"PRIORITY of {length} bytes", _FRAME_SIZE_ERROR)
                if int.from_bytes(payload[:4], "big") & 0x7FFF_FFFF == stream_id:
                    raise _Violation(f"stream {stream_id} may not depend on itself")
            elif kind == _CONTINUATION:
                self._on_naked_continuation(stream_id)
            elif kind == _PUSH_PROMISE:
                self._on_push_promise(flags, stream_id, payload)
            elif kind == _ALTSVC:
                if length < 2 or length - 2 < int.from_bytes(payload[:2], "big"):
                    raise _Violation("malformed ALTSVC frame", _FRAME_SIZE_ERROR)
                self._open = True  # h2's connection state moves on; nothing else
            elif kind == _PRIORITY_UPDATE:
                events.append((PRIORITY, payload))
            # GOAWAY never gets here (the gate keeps it), other types are ignored.
        return data[pos:]

    # HEADERS, CONTINUATION, PUSH_PROMISE

    def _on_headers(
        self, flags: int, stream_id: int, payload: bytes, events: list[CoreEvent]
    ) -> None:
        depends = -1
        if flags & (_PADDED | _PRIORITY_FLAG):
            pad = 0
            if flags & _PADDED:
                if not payload:
                    raise _Violation("HEADERS without its pad length", _FRAME_SIZE_ERROR)
                pad = payload[0]
                payload = payload[1:]
            body = len(payload)
            start = 0
            if flags & _PRIORITY_FLAG:
                if body < 5:
                    raise _Violation("HEADERS without its priority", _FRAME_SIZE_ERROR)
                depends = int.from_bytes(payload[:4], "big") & 0x7FFF_FFFF
                start = 5
            if pad and pad >= body:
                raise _Violation("HEADERS padding too long")
            payload = payload[start : body - pad]
        if flags & _END_HEADERS:
            self._on_header_block(stream_id, flags, depends, payload, events)
        else:
            self._block = (_HEADERS, flags, stream_id, depends)
            self._block_frames = [payload]

    def _continue_block(
        self, kind: int, flags: int, stream_id: int, payload: bytes, events: list[CoreEvent]
    ) -> None:
        block = self._block
        assert block is not None
        first_kind, first_flags, first_stream, depends = block
        if kind != _CONTINUATION or stream_id != first_stream:
            raise _Violation("a header block was interrupted by another frame")
        frames = self._block_frames
        frames.append(payload)
        if len(frames) > _CONTINUATION_BACKLOG:
            raise _Violation("header block in too many frames")
        if not flags & _END_HEADERS:
            return
        self._block = None
        self._block_frames = []
        if first_kind == _PUSH_PROMISE:
            raise _Violation("PUSH_PROMISE from a client")
        self._on_header_block(first_stream, first_flags, depends, b"".join(frames), events)

    def _on_push_promise(self, flags: int, stream_id: int, payload: bytes) -> None:
        pad = 0
        start = 0
        if flags & _PADDED:
            if not payload:
                raise _Violation("PUSH_PROMISE without its pad length", _FRAME_SIZE_ERROR)
            pad = payload[0]
            start = 1
        if len(payload) < start + 4:
            raise _Violation("PUSH_PROMISE without its stream", _FRAME_SIZE_ERROR)
        promised = int.from_bytes(payload[start : start + 4], "big")
        if promised == 0 or promised % 2:
            raise _Violation(f"PUSH_PROMISE of stream {promised}")
        if pad and pad >= len(payload):
            raise _Violation("PUSH_PROMISE padding too long")
        if flags & _END_HEADERS:
            raise _Violation("PUSH_PROMISE from a client")
        self._block = (_PUSH_PROMISE, flags, stream_id, -1)
        self._block_frames = [b""]

    def _on_naked_continuation(self, stream_id: int) -> None:
        stream = self._streams.get(stream_id)
        if stream is not None:
            state = "closed" if stream.state == _CLOSED else "open"
            stream.state = _CLOSED
            raise _Violation(
                f"CONTINUATION outside a header block, on stream {stream_id} ({state})"
            )
        if self._never_opened(stream_id):
            raise _Violation(f"CONTINUATION on stream {stream_id}, which was never opened")
        if self._ended.get(stream_id) in _BY_RESET:
            self._late_reset(stream_id)
        else:
            raise _Violation(f"CONTINUATION on stream {stream_id}, which is closed", _STREAM_CLOSED)

    def _never_opened(self, stream_id: int) -> bool:
        """Whether a stream not in the table is idle rather than closed. Even
        ids are ours to open, and we open none (no server push)."""
        return not stream_id % 2 or stream_id > self.highest_stream_id

    def _on_closed_stream(self, stream_id: int, what: str) -> None:
        """A frame (other than DATA) on a stream no longer in the table."""
        closed_by = self._ended.get(stream_id)
        if closed_by in _BY_RESET:
            self._late_reset(stream_id)
        elif closed_by is None:
            raise _Violation(
                f"{what} on stream {stream_id}, lower than stream "
                f"{self.highest_stream_id} already opened"
            )
        else:
            raise _Violation(f"{what} on stream {stream_id}, which is closed", _STREAM_CLOSED)

    def _late_reset(self, stream_id: int) -> None:
        """A frame on a stream closed by a reset: a stream error, which we
        answer only if it was not our reset (see :mod:`._http2_wire`)."""
        if stream_id not in self._reset_by_us:
            self._out += _frame(_RST_STREAM, 0, stream_id, b"\x00\x00\x00\x05")

    def _forget_closed(self) -> None:
        """Move closed streams out of the table, as h2 does when one opens."""
        ended = self._ended
        streams = self._streams
        for stream_id in sorted(self._to_forget):
            stream = streams.pop(stream_id, None)
            if stream is None:
                continue
            ended[stream_id] = stream.closed_by
            if len(ended) > _CLOSED_MEMORY:
                del ended[next(iter(ended))]
        self._to_forget.clear()

    def _close_stream(self, stream_id: int, stream: _Stream, closed_by: int) -> None:
        stream.state = _CLOSED
        stream.closed_by = closed_by
        self._to_forget.append(stream_id)

    def _on_header_block(
        self, stream_id: int, flags: int, depends: int, block: bytes, events: list[CoreEvent]
    ) -> None:
        streams = self._streams
        stream = streams.get(stream_id)
        if stream is None and self._to_forget:
            self._forget_closed()
        try:
            fields = self._decoder.decode(block)
        except HeaderListTooLarge as exc:
            raise _Violation(
                f"oversized header block: {exc}", HTTP2ErrorCode.ENHANCE_YOUR_CALM
            ) from None
        except HPACKError as exc:
            raise _Violation(f"undecodable header block: {exc}") from None
        self._open = True
        end_stream = flags & _END_STREAM
        if stream is None:
            if not self._never_opened(stream_id):
                self._on_closed_stream(stream_id, "HEADERS")
                return
            if not stream_id % 2:
                raise _Violation(f"HEADERS opening stream {stream_id}, an even (server) id")
            self.highest_stream_id = stream_id
            stream = _Stream(self._local_window, self._initial_window)
            streams[stream_id] = stream
            known = self._checks.get(fields)
            if known is None:
                if _informational(fields):
                    stream.state = _CLOSED
                    raise _Violation("a 1xx response head as a request")
                known = (_checked(fields, trailers=False), _content_length(fields))
                if list_size(fields) <= CACHED_LIST_LIMIT:
                    checks = self._checks
                    if len(checks) >= CHECK_CACHE_SIZE:
                        checks.clear()
                    checks[fields] = known
            fields, stream.expected = known
            if end_stream:
                stream.state = _HALF_CLOSED_REMOTE
            events.append((REQUEST, stream_id, fields, bool(end_stream)))
        elif not self._on_trailers(stream_id, stream, fields, end_stream, events):
            return
        if depends == stream_id:
            raise _Violation(f"stream {stream_id} may not depend on itself")

    def _on_trailers(
        self,
        stream_id: int,
        stream: _Stream,
        fields: Fields,
        end_stream: int,
        events: list[CoreEvent],
    ) -> bool:
        """A header block on a stream already open: trailers, if it may carry
        them; False when the block was a stream error."""
        if _informational(fields):
            stream.state = _CLOSED
            raise _Violation(f"a 1xx response head on stream {stream_id}")
        state = stream.state
        if state == _HALF_CLOSED_REMOTE:
            self._stream_error(stream_id, stream, events)
            return False
        if state == _CLOSED:
            if stream.closed_by in _BY_RESET:
                self._late_reset(stream_id)
                return False
            raise _Violation(f"HEADERS on stream {stream_id}, which is closed", _STREAM_CLOSED)
        # Open, or half-closed (local): trailers.
        stream.trailers_received = True
        if end_stream:
            self._received_end(stream_id, stream)
        stream.expected = _content_length(fields)
        if not end_stream:
            raise _Violation(f"trailers without END_STREAM on stream {stream_id}")
        events.append((TRAILERS, stream_id, _checked(fields, trailers=True), True))
        return True

    def _stream_error(self, stream_id: int, stream: _Stream, events: list[CoreEvent]) -> None:
        """The peer sent on a stream it had ended: reset it (STREAM_CLOSED)."""
        self._close_stream(stream_id, stream, _SENT_RESET)
        self._out += _frame(_RST_STREAM, 0, stream_id, b"\x00\x00\x00\x05")
        self._reset_by_us.add(stream_id)
        events.append((RESET, stream_id, _STREAM_CLOSED))

    def _received_end(self, stream_id: int, stream: _Stream) -> None:
        if stream.state == _OPEN:
            stream.state = _HALF_CLOSED_REMOTE
        elif stream.state == _HALF_CLOSED_LOCAL:
            self._close_stream(stream_id, stream, _RECEIVED_END)

    # DATA

    def _on_data(self, flags: int, stream_id: int, payload: bytes, events: list[CoreEvent]) -> None:
        flow = len(payload)
        if flags & _PADDED:
            if not payload:
                raise _Violation("DATA without its pad length", _FRAME_SIZE_ERROR)
            pad = payload[0]
            if pad and pad >= flow:
                raise _Violation("DATA padding too long")
            payload = payload[1 : flow - pad]
        if not self._open:
            raise _Violation("DATA before any stream was opened")
        self._receive_window.consume(flow)
        stream = self._streams.get(stream_id)
        if stream is None:
            if self._never_opened(stream_id):
                raise _Violation(f"DATA on stream {stream_id}, which was never opened")
            self._on_closed_data(stream_id, flow)
            return
        state = stream.state
        if state == _HALF_CLOSED_REMOTE:
            self._credit_closed(flow)
            self._stream_error(stream_id, stream, events)
            return
        if state == _CLOSED:
            self._on_closed_data(stream_id, flow)
            return
        stream.receive_window.consume(flow)
        stream.received += len(payload)
        expected = stream.expected
        end_stream = flags & _END_STREAM
        if expected is not None and (
            expected < stream.received or (end_stream and expected != stream.received)
        ):
            raise _Violation(
                f"content-length {expected}, but {stream.received} bytes of body on "
                f"stream {stream_id}"
            )
        if end_stream:
            self._received_end(stream_id, stream)
        events.append((DATA, stream_id, payload, flow, bool(end_stream)))

    def _on_closed_data(self, stream_id: int, flow: int) -> None:
        # The connection window still counts it (h2's _handle_data_on_closed_stream).
        self._credit_closed(flow)
        self._late_reset(stream_id)

    def _credit_closed(self, flow: int) -> None:
        increment = self._receive_window.processed_bytes(flow)
        if increment:
            self._out += _frame(_WINDOW_UPDATE, 0, 0, increment.to_bytes(4, "big"))

    # WINDOW_UPDATE, RST_STREAM, SETTINGS

    def _on_window_update(self, stream_id: int, payload: bytes, events: list[CoreEvent]) -> None:
        if len(payload) != 4:
            raise _Violation(f"WINDOW_UPDATE of {len(payload)} bytes", _FRAME_SIZE_ERROR)
        increment = int.from_bytes(payload, "big")
        if not 1 <= increment <= _MAX_WINDOW:
            raise _Violation(f"WINDOW_UPDATE by {increment}")
        if not stream_id:
            window = self.connection_window + increment
            if window > _MAX_WINDOW:
                raise _Violation("connection window over 2^31-1", _FLOW_CONTROL_ERROR)
            self.connection_window = window
            events.append((WINDOW, 0))
            return
        stream = self._streams.get(stream_id)
        if stream is None:
            if self._never_opened(stream_id):
                raise _Violation(f"WINDOW_UPDATE on stream {stream_id}, which was never opened")
            return
        if stream.state == _CLOSED:
            return
        window = stream.send_window + increment
        if window > _MAX_WINDOW:
            # A stream error (h2 resets it, FLOW_CONTROL_ERROR).
            self._close_stream(stream_id, stream, _SENT_RESET)
            self._out += _frame(_RST_STREAM, 0, stream_id, _FLOW_CONTROL_ERROR.to_bytes(4, "big"))
            self._reset_by_us.add(stream_id)
            events.append((RESET, stream_id, _FLOW_CONTROL_ERROR))
            return
        stream.send_window = window
        events.append((WINDOW, stream_id))

    def _on_reset(self, stream_id: int, payload: bytes, events: list[CoreEvent]) -> None:
        if len(payload) != 4:
            raise _Violation(f"RST_STREAM of {len(payload)} bytes", _FRAME_SIZE_ERROR)
        if not self._open:
            raise _Violation("RST_STREAM before any stream was opened")
        stream = self._streams.get(stream_id)
        if stream is None or stream.state == _CLOSED:
            return
        self._close_stream(stream_id, stream, _RECEIVED_RESET)
        events.append((RESET, stream_id, int.from_bytes(payload, "big")))

    def _on_settings(self, flags: int, payload: bytes, events: list[CoreEvent]) -> None:
        if flags & _ACK:
            if payload:
                raise _Violation("SETTINGS acknowledgement with a payload")
            return
        if len(payload) % 6:
            raise _Violation(f"SETTINGS of {len(payload)} bytes", _FRAME_SIZE_ERROR)
        self._apply_settings(payload)
        events.append((SETTINGS,))
        self._out += b"\x00\x00\x00\x04\x01\x00\x00\x00\x00"  # the ACK

    def _apply_settings(self, payload: bytes) -> None:
        values: dict[int, int] = {}
        for start in range(0, len(payload), 6):
            values[int.from_bytes(payload[start : start + 2], "big")] = int.from_bytes(
                payload[start + 2 : start + 6], "big"
            )
        for code, value in values.items():
            if (code in (0x2, 0x8) and value > 1) or (
                code == 0x5 and not _MAX_FRAME <= value <= 2**24 - 1
            ):
                raise _Violation(f"setting {code:#x} of {value}")
            if code == 0x4 and value > _MAX_WINDOW:
                raise _Violation(f"setting {code:#x} of {value}", _FLOW_CONTROL_ERROR)
        window = values.get(0x4)
        if window is not None:
            delta = window - self._initial_window
            self._initial_window = window
            if delta:
                for stream in self._streams.values():
                    size = stream.send_window + delta
                    if size > _MAX_WINDOW:
                        raise _Violation("a stream window over 2^31-1", _FLOW_CONTROL_ERROR)
                    stream.send_window = size
        frame_size = values.get(0x5)
        if frame_size is not None:
            self.max_frame_size = frame_size

    # ------------------------------------------------------------ sending

    def send_headers(
        self, stream_id: int, status: int | None, fields: Fields, end_stream: bool
    ) -> None:
        stream = self._stream(stream_id)
        state = stream.state
        if status is not None and status < 200:
            if end_stream:
                raise WireError("a 1xx response cannot end the stream")
            if state not in (_OPEN, _HALF_CLOSED_REMOTE):
                raise WireError(f"stream {stream_id} is closed")
            if stream.head_sent:
                raise WireError("1xx response after the final response")
            block = self._encoder.encode(status, fields)
        else:
            if state not in (_OPEN, _HALF_CLOSED_REMOTE):
                raise WireError(f"stream {stream_id} is closed")
            if not stream.head_sent:
                stream.head_sent = True
            elif stream.trailers_sent:
                raise WireError("trailers sent already")
            else:
                stream.trailers_sent = True
                if not end_stream:
                    raise WireError("trailers must end the stream")
            if status is None:
                block = self._encoder.encode_trailers(fields)
            else:
                block = self._encoder.encode(status, fields)
        flags = (_END_STREAM | _END_HEADERS) if end_stream else _END_HEADERS
        limit = self.max_frame_size
        size = len(block)
        if size <= limit:
            out = self._out
            out += _HEADER.pack(size >> 16, size & 0xFFFF, _HEADERS, flags, stream_id)
            out += block
        else:
            pieces = [block[i : i + limit] for i in range(0, len(block), limit)]
            last = len(pieces) - 1
            out = self._out
            for index, piece in enumerate(pieces):
                kind = _CONTINUATION if index else _HEADERS
                piece_flags = (0 if index else flags & _END_STREAM) | (
                    _END_HEADERS if index == last else 0
                )
                out += _frame(kind, piece_flags, stream_id, piece)
        if end_stream:
            self._sent_end(stream_id, stream)

    def _sent_end(self, stream_id: int, stream: _Stream) -> None:
        if stream.state == _OPEN:
            stream.state = _HALF_CLOSED_LOCAL
        else:
            self._close_stream(stream_id, stream, _SENT_END)

    def send_data(self, stream_id: int, data: bytes | memoryview, end_stream: bool) -> None:
        stream = self._stream(stream_id)
        size = len(data)
        if size and size > min(self.connection_window, stream.send_window):
            raise WireError(f"{size} bytes over the flow-control window")
        if size > self.max_frame_size:
            raise WireError(f"{size} bytes over the frame size")
        if stream.state not in (_OPEN, _HALF_CLOSED_REMOTE):
            raise WireError(f"stream {stream_id} cannot send")
        out = self._out
        out += _HEADER.pack(size >> 16, size & 0xFFFF, _DATA, 1 if end_stream else 0, stream_id)
        out += data
        stream.send_window -= size
        self.connection_window -= size
        if end_stream:
            self._sent_end(stream_id, stream)

    def end_stream(self, stream_id: int) -> None:
        stream = self._stream(stream_id)
        if stream.state not in (_OPEN, _HALF_CLOSED_REMOTE):
            raise WireError(f"stream {stream_id} cannot send")
        self._out += _frame(_DATA, _END_STREAM, stream_id)
        self._sent_end(stream_id, stream)

    def reset_stream(self, stream_id: int, error_code: int) -> None:
        stream = self._stream(stream_id)
        if stream.state == _CLOSED:
            raise WireError(f"stream {stream_id} is closed")
        self._close_stream(stream_id, stream, _SENT_RESET)
        self._out += _frame(_RST_STREAM, 0, stream_id, error_code.to_bytes(4, "big"))
        self._reset_by_us.add(stream_id)

    def increment_window(self, increment: int, stream_id: int = 0) -> None:
        if stream_id:
            stream = self._stream(stream_id)
            if stream.state == _CLOSED:
                raise WireError(f"stream {stream_id} is closed")
            stream.receive_window.open(increment)
        else:
            self._receive_window.open(increment)
        self._out += _frame(_WINDOW_UPDATE, 0, stream_id, increment.to_bytes(4, "big"))

    def close(self, error_code: int, last_stream_id: int | None = None) -> None:
        last = self.highest_stream_id if last_stream_id is None else last_stream_id
        self._out += _frame(
            _GOAWAY, 0, 0, (last & 0x7FFF_FFFF).to_bytes(4, "big") + error_code.to_bytes(4, "big")
        )

    def data_to_send(self) -> bytes:
        out = self._out
        if not out:
            return b""
        data = bytes(out)
        out.clear()
        return data
