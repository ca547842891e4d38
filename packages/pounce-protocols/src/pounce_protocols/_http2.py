"""The HTTP/2 server machine: bytes in, protocol-neutral events out.

Theory of operation
-------------------
The wire (frames, HPACK, the RFC 9113 stream states, flow-control windows and
SETTINGS) belongs to a *core* (:mod:`._http2_wire`): our own
(:class:`~._http2_fast.FastCore`, the fast path) unless ``fast_path=False``
asks for ``h2`` behind :class:`~._http2_h2.H2Core`, the reference it is held
to. Around it this module does four things, so that the layer above sees
HTTP/2 exactly as it sees HTTP/1.1:

Vocabulary
    The core's events become ours: a request head is :class:`RequestReceived`
    (``http_version`` "2", ``scheme``/``authority`` from the pseudo-headers,
    which are removed from the header list; ``:authority`` becomes the first
    ``host`` field as the ASGI spec asks), then :class:`BodyReceived`,
    :class:`BodyEnded` (with trailers), :class:`StreamReset`. A request over
    the header limits is :class:`RequestRejected` (431) on its stream alone; a
    stream over SETTINGS_MAX_CONCURRENT_STREAMS is refused (RST_STREAM
    REFUSED_STREAM), even in a first flight sent before the client saw our
    SETTINGS (RFC 9113 §6.5.2). The cores' exceptions never leave: the peer's
    faults are :class:`RemoteProtocolError` and ours
    :class:`LocalProtocolError`, each with the HTTP/2 error code.

Flow control, both ways
    Inbound, a stream's window is reopened only as the application consumes
    its body (:meth:`acknowledge_received_data`), so a slow reader stalls its
    own stream and nothing else; the connection window is reopened as data
    arrives, since the stream windows already bound what one connection can
    pin. Outbound, response data waits per stream for the peer's stream and
    connection windows; when window updates release it, streams are served
    in the order their priorities ask (RFC 9218, :mod:`._priority`: the
    ``priority`` header and PRIORITY_UPDATE frames; RFC 7540 priorities are
    ignored, and SETTINGS_NO_RFC7540_PRIORITIES says so). Data is sent as
    soon as windows allow, so whenever the connection window is open every
    stream still waiting is held by its own stream window: taking the
    connection window then takes it from no more urgent stream. The
    server may also limit how much data goes out at all
    (:meth:`set_output_room`, for a socket that is not draining): that room
    is a third window, spent the same way.
    :meth:`pending_bytes` tells the server when a stream's sender should wait.

Abuse
    Every byte passes :class:`~._http2_gate.FrameGate` before the core sees
    it (rapid reset, CONTINUATION, PING, SETTINGS and empty-frame floods,
    oversized frames), and the core's HPACK decoder is capped so an HPACK
    bomb stops decoding early. Either ends the connection with GOAWAY.

Ending
    :meth:`start_graceful_shutdown` sends GOAWAY naming the last stream we
    took: those complete, newer ones are refused (REFUSED_STREAM, safe to
    retry elsewhere). ``h2`` only knows a final GOAWAY, after which it sends
    nothing, so the graceful one is written here (and the peer's GOAWAY is
    kept from the core by the gate, for the same reason).

The core handles all the frames of a read before this module hears of any
(a read that ends in a connection error gives no events): so a window
update may let go of data for a stream that the peer reset later in the
same read. That stream's data is dropped (:meth:`_release`) when the core
refuses it; its reset is the next event.

Output accumulates; :meth:`data_to_send` hands it over. Time enters only
through the ``clock`` given to the constructor (for the rate limits).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from pounce_protocols._errors import LocalProtocolError, RemoteProtocolError
from pounce_protocols._events import (
    BodyEnded,
    ConnectionLost,
    Event,
    Headers,
    InformationalResponse,
    RequestReceived,
    RequestRejected,
    ResponseBody,
    ResponseEnd,
    ResponseEvent,
    ResponseHead,
    StreamReset,
    UpgradeRequested,
)
from pounce_protocols._fast_events import body_ended, body_received, request_received
from pounce_protocols._hpack import CACHED_LIST_LIMIT
from pounce_protocols._http2_fast import FastCore
from pounce_protocols._http2_gate import FrameGate, HTTP2ErrorCode
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
    WireCore,
    WireError,
    list_size,
)
from pounce_protocols._priority import (
    DEFAULT_PRIORITY,
    PriorityScheduler,
    parse_priority,
    priority_from_headers,
)
from pounce_protocols._request_pseudo import (
    MalformedTarget,
    check_origin,
    split_fields,
    split_pseudo_target,
)

__all__ = ["HTTP2ServerConnection"]

# Connection-specific fields have no meaning in HTTP/2 (RFC 9113 §8.2.2); an
# app written for HTTP/1.1 may still set them, so they are dropped, not refused.
_CONNECTION_FIELDS = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}
)
# The HTTP/1.1 request that asked for h2c carries these about the upgrade itself.
_UPGRADE_FIELDS = _CONNECTION_FIELDS | {b"http2-settings", b"te"}
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+")
_RESPONSE_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 9113 §8.2.1: no NUL, CR or LF, no leading or trailing whitespace.
_BAD_VALUE = re.compile(rb"[\x00\r\n]|\A[ \t]|[ \t]\Z")


class _Stream:
    """Our side of one stream: what is left to send, and what the peer may send."""

    __slots__ = (
        "credit",
        "data",
        "end_pending",
        "head_sent",
        "local_ended",
        "offset",
        "priority",
        "rejected",
        "remote_ended",
        "stream_id",
        "trailers",
        "trailers_in",
        "tunnel",
    )

    def __init__(self, stream_id: int) -> None:
        self.stream_id = stream_id
        self.data = b""  # response body waiting for flow-control window
        self.offset = 0  # how much of ``data`` has been sent
        self.end_pending = False
        self.trailers: Fields = ()
        self.head_sent = False
        self.local_ended = False
        self.remote_ended = False
        self.rejected = False
        self.credit = 0  # body consumed but not yet announced in a WINDOW_UPDATE
        self.trailers_in: Headers = ()
        self.priority = DEFAULT_PRIORITY
        # An extended CONNECT (WebSocket): our END_STREAM does not end the peer's side.
        self.tunnel = False


def _local(message: str) -> LocalProtocolError:
    # What we were asked to send cannot go out: the stream is reset with this.
    return LocalProtocolError(message, error_code=HTTP2ErrorCode.INTERNAL_ERROR)


def _goaway_frame(last_stream_id: int, error_code: int) -> bytes:
    # length 8, type GOAWAY (7), no flags, stream 0 (RFC 9113 §6.8).
    return (
        b"\x00\x00\x08\x07\x00\x00\x00\x00\x00"
        + last_stream_id.to_bytes(4, "big")
        + error_code.to_bytes(4, "big")
    )


def _response_fields(headers: Iterable[tuple[bytes, bytes]]) -> Fields:
    fields = []
    for name, value in headers:
        if not _RESPONSE_TOKEN.fullmatch(name):
            raise _local(f"invalid header name {name!r}")
        if _BAD_VALUE.search(value):
            raise _local(f"invalid value for header {name!r}")
        lowered = name.lower()
        if lowered not in _CONNECTION_FIELDS:
            fields.append((lowered, value))
    return tuple(fields)


def _header_tokens(headers: Headers, name: bytes) -> list[bytes]:
    tokens: list[bytes] = []
    for key, value in headers:
        if key == name:
            tokens.extend(t.strip().lower() for t in value.split(b","))
    return tokens


#: How many distinct response header lists a connection remembers the check of.
FIELDS_CACHE_SIZE = 16
# What a header list makes of a stream (see _read_request).
_REQUEST, _UPGRADE, _REJECT = 0, 1, 2
#: How many distinct request header lists a connection remembers the reading of.
REQUEST_CACHE_SIZE = 32


def _read_request(fields: Fields, limits: HTTP2Limits) -> tuple[Any, ...]:
    """What a request's header list (as the core passes it on) makes of its
    stream: ``(kind, priority, ...)``, a request, a WebSocket (extended
    CONNECT) or a rejection with its status. A pure function of the list, so
    a connection keeps it for the lists its client repeats."""
    method, path, scheme, authority, protocol, headers, size = split_fields(fields)
    malformed = ""
    for name, value in headers:
        if not _TOKEN.fullmatch(name):
            malformed = f"invalid header name {name!r}"
        elif _BAD_VALUE.search(value):
            malformed = f"invalid value for header {name.decode('ascii')!r}"
    priority = priority_from_headers(value for name, value in headers if name == b"priority")
    if size > limits.max_header_list_size or len(headers) > limits.max_header_count:
        return (_REJECT, priority, 431, "request header fields too large")
    if malformed:
        return (_REJECT, priority, 400, malformed)
    tunnel = False
    if method == b"CONNECT":
        if protocol is None:
            return (_REJECT, priority, 501, "CONNECT tunnels are not supported")
        if not limits.enable_connect_protocol:
            # We did not offer extended CONNECT: the client may not use it.
            return (_REJECT, priority, 400, "extended CONNECT is not enabled")
        if protocol.lower() != b"websocket":
            return (_REJECT, priority, 501, f"unsupported :protocol {protocol!r}")
        tunnel = True
    elif protocol is not None:  # the core checks; be sure
        return (_REJECT, priority, 400, ":protocol without CONNECT")
    if method is None or path is None or scheme is None:  # the core checks; be sure
        return (_REJECT, priority, 400, "missing pseudo-header")
    try:
        path, query = split_pseudo_target(method, scheme, path)
        check_origin(authority, headers)
    except MalformedTarget as exc:
        return (_REJECT, priority, 400, exc.reason)
    if authority is not None:
        # ASGI HTTP spec: :authority becomes the first host field.
        headers = [(b"host", authority), *(h for h in headers if h[0] != b"host")]
    request = tuple(headers)
    if tunnel:
        upgrade = {
            "method": method,
            "path": path,
            "query_string": query,
            "http_version": "2",
            "headers": request,
            "scheme": scheme,
            "authority": authority,
            "protocol": b"websocket",
        }
        return (_UPGRADE, priority, upgrade)
    expect = b"100-continue" in _header_tokens(request, b"expect")
    return (_REQUEST, priority, method, path, query, request, scheme, authority, expect)


class HTTP2ServerConnection:
    """The server side of one HTTP/2 connection, without I/O.

    Call :meth:`initiate` (or :meth:`initiate_upgrade` after an HTTP/1.1
    ``Upgrade: h2c``), feed the peer's bytes to :meth:`receive_data`, give
    response events to :meth:`send`, and write whatever :meth:`data_to_send`
    returns after each of these. ``clock`` (seconds, monotonic) paces the
    frame-rate limits. ``fast_path=False`` puts the ``h2`` library under the
    machine instead of our own core (the reference the fast path is held to).
    """

    __slots__ = (
        "_closed",
        "_conn_credit",
        "_conn_threshold",
        "_core",
        "_data_sent",
        "_fields",
        "_gate",
        "_goaway_last",
        "_limits",
        "_out",
        "_peer_going_away",
        "_requests",
        "_room",
        "_scheduler",
        "_stream_threshold",
        "_streams",
    )

    def __init__(
        self,
        limits: HTTP2Limits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        fast_path: bool = True,
    ) -> None:
        limits = limits if limits is not None else HTTP2Limits()
        self._limits = limits
        if fast_path:
            self._core: WireCore = FastCore(limits)
        else:
            # Imported when asked for: the fast path runs without h2.
            from pounce_protocols._http2_h2 import H2Core  # noqa: PLC0415

            self._core = H2Core(limits)
        self._gate = FrameGate(limits, clock)
        self._streams: dict[int, _Stream] = {}
        # What this connection's client repeats: header lists read, and the
        # response fields checked (each read once, then looked up).
        self._requests: dict[Fields, tuple[Any, ...]] = {}
        self._fields: dict[Headers, Fields] = {}
        self._scheduler = PriorityScheduler(limits.max_concurrent_streams)
        self._out = bytearray()
        self._goaway_last: int | None = None
        self._closed = False
        self._peer_going_away = False
        self._conn_credit = 0
        self._data_sent = 0
        self._room: int | None = None  # DATA bytes we may still emit; None: any
        self._conn_threshold = limits.connection_window_size // 4
        self._stream_threshold = limits.initial_window_size // 4

    # ----------------------------------------------------------------- queries

    @property
    def preface_received(self) -> bool:
        """True once the client's connection preface has arrived."""
        return self._gate.preface_received

    @property
    def open_streams(self) -> int:
        """Streams whose request or response is not over yet."""
        return len(self._streams)

    @property
    def closed(self) -> bool:
        """True after a final GOAWAY (ours or a fatal error): nothing more is read."""
        return self._closed

    @property
    def accepting_streams(self) -> bool:
        """False once a GOAWAY was sent or received: no new streams will start."""
        return not (self._closed or self._peer_going_away or self._goaway_last is not None)

    @property
    def buffered_output(self) -> int:
        """Bytes queued by :meth:`send` that :meth:`data_to_send` has not handed over."""
        return len(self._out)

    def pending_bytes(self, stream_id: int) -> int:
        """Response body bytes of ``stream_id`` waiting for flow-control window."""
        stream = self._streams.get(stream_id)
        return 0 if stream is None else len(stream.data) - stream.offset

    @property
    def data_sent(self) -> int:
        """Response body bytes sent so far, all streams together."""
        return self._data_sent

    def set_output_room(self, nbytes: int | None) -> None:
        """Emit at most ``nbytes`` more response body bytes (None: no limit).

        Data over it waits, as for a flow-control window; room given back is
        spent on the waiting streams in priority order.
        """
        old = self._room
        self._room = None if nbytes is None else max(nbytes, 0)
        if self._room != 0 and (old is not None and (self._room is None or self._room > old)):
            self._flush_all()
            self._out += self._core.data_to_send()

    def awaiting_turn(self, stream_id: int) -> bool:
        """True if the stream's data waits with its own window open.

        It then waits for the connection window, which more urgent streams
        (or, at its urgency, earlier ones) take first: a client reading the
        others is not holding this one up on purpose.
        """
        stream = self._streams.get(stream_id)
        if stream is None or stream.offset >= len(stream.data):
            return False
        window = self._core.stream_window(stream_id)
        return window is not None and window > 0

    # ------------------------------------------------------------ starting

    def initiate(self) -> None:
        """Start the connection: queue our SETTINGS (the server preface)."""
        self._core.initiate()

    def initiate_upgrade(self, settings: bytes, request: RequestReceived) -> list[Event]:
        """Start the connection after ``101 Switching Protocols`` to h2c.

        ``settings`` is the request's ``HTTP2-Settings`` field; the request
        itself (which must have had no body) becomes stream 1, half-closed,
        whose response goes out over HTTP/2 (RFC 7540 §3.2). Returns its
        events. Raises :class:`RemoteProtocolError` for unusable settings,
        before anything was queued: the server can still answer in HTTP/1.1.
        """
        try:
            raw = base64.b64decode(settings + b"=" * (-len(settings) % 4), b"-_", validate=True)
        except (binascii.Error, ValueError):
            raise RemoteProtocolError("HTTP2-Settings is not base64url") from None
        if len(raw) % 6:
            raise RemoteProtocolError("HTTP2-Settings is not a list of settings")
        try:
            self._core.initiate_upgrade(raw)
        except WireError as exc:
            raise RemoteProtocolError(f"unusable HTTP2-Settings: {exc}") from None
        stream = _Stream(1)
        stream.remote_ended = True
        stream.priority = priority_from_headers(v for n, v in request.headers if n == b"priority")
        self._streams[1] = stream
        headers = tuple((n, v) for n, v in request.headers if n not in _UPGRADE_FIELDS)
        return [
            RequestReceived(
                stream_id=1,
                method=request.method,
                path=request.path,
                query_string=request.query_string,
                http_version="2",
                headers=headers,
                scheme=b"http",
                authority=request.authority,
                expect_continue=False,
                _trusted=True,
            ),
            BodyEnded(stream_id=1, _trusted=True),
        ]

    # ----------------------------------------------------------- receiving

    def receive_data(self, data: bytes) -> list[Event]:
        """Take bytes from the peer (``b""`` = end of input); return new events.

        A :class:`RemoteProtocolError` means the connection is over: a GOAWAY
        with its ``error_code`` is queued; send it and close.
        """
        if not data:
            self._closed = True
            self._streams.clear()
            return [ConnectionLost()]
        if self._closed:
            return []
        try:
            data = self._gate.feed(data)
        except RemoteProtocolError as exc:
            self._fail(exc.error_code or HTTP2ErrorCode.PROTOCOL_ERROR)
            raise
        try:
            core_events = self._core.receive(data)
        except RemoteProtocolError:
            # The core has queued its GOAWAY already.
            self._closed = True
            self._streams.clear()
            raise
        events: list[Event] = []
        for event in core_events:
            self._translate(event, events)
        for _last_stream, error_code in self._gate.take_goaways():
            self._peer_going_away = True
            if error_code != HTTP2ErrorCode.NO_ERROR:
                # The peer is closing on an error: its streams are as good as gone.
                self._closed = True
                self._streams.clear()
                events.append(ConnectionLost())
                break
        return events

    def _fail(self, error_code: int) -> None:
        self._closed = True
        self._streams.clear()
        self._core.close(error_code)

    def _translate(self, event: CoreEvent, events: list[Event]) -> None:
        kind = event[0]
        if kind == DATA:
            _, stream_id, data, flow, end = event
            self._on_data(stream_id, data, flow, events)
            if end:
                self._on_stream_ended(stream_id, events)
        elif kind == REQUEST:
            _, stream_id, fields, end = event
            self._on_request(stream_id, fields, events)
            if end:
                self._on_stream_ended(stream_id, events)
        elif kind == TRAILERS:
            _, stream_id, fields, end = event
            self._on_trailers(stream_id, fields, events)
            if end:
                self._on_stream_ended(stream_id, events)
        elif kind == RESET:
            _, stream_id, error_code = event
            stream = self._streams.pop(stream_id, None)
            if stream is not None and not stream.rejected:
                events.append(StreamReset(stream_id=stream_id, error_code=error_code))
        elif kind == WINDOW:
            stream = self._streams.get(event[1])
            if stream is not None:
                while self._release(stream):
                    pass
            elif not event[1]:
                self._flush_all()
        elif kind == SETTINGS:
            self._flush_all()
        elif kind == PRIORITY:
            self._on_priority_update(event[1])

    def _on_priority_update(self, payload: bytes) -> None:
        # The gate has checked the frame's stream (0) and length (4 or more).
        stream_id = int.from_bytes(payload[:4], "big") & 0x7FFF_FFFF
        priority = parse_priority(payload[4:])
        if not stream_id or priority is None:
            self._fail(HTTP2ErrorCode.PROTOCOL_ERROR)
            what = "stream 0" if not stream_id else "an unparsable priority"
            raise RemoteProtocolError(
                f"PRIORITY_UPDATE for {what}", error_code=HTTP2ErrorCode.PROTOCOL_ERROR
            )
        stream = self._streams.get(stream_id)
        if stream is not None:
            stream.priority = priority
        elif stream_id % 2 and stream_id > self._core.highest_stream_id:
            self._scheduler.buffer_update(stream_id, priority)
        # Otherwise the stream is over (or a push stream, which we never
        # open): nothing to reorder.

    def _on_request(self, stream_id: int, fields: Fields, events: list[Event]) -> None:
        limits = self._limits
        if not self.accepting_streams or len(self._streams) >= limits.max_concurrent_streams:
            # Newer than our GOAWAY, or over the stream limit (which a client
            # may not know yet, RFC 9113 §6.5.2): never processed, so safe
            # for the client to retry (§8.7). Unless the client reset it
            # already, later in the same read.
            with contextlib.suppress(WireError):
                self._core.reset_stream(stream_id, HTTP2ErrorCode.REFUSED_STREAM)
            return
        read = self._requests.get(fields)
        if read is None:
            read = _read_request(fields, limits)
            if list_size(fields) <= CACHED_LIST_LIMIT:
                requests = self._requests
                if len(requests) >= REQUEST_CACHE_SIZE:
                    requests.clear()
                requests[fields] = read
        stream = _Stream(stream_id)
        self._streams[stream_id] = stream
        kind, priority, *what = read
        stream.priority = self._scheduler.start(stream_id, priority)
        if kind == _REQUEST:
            method, path, query, headers, scheme, authority, expect = what
            events.append(
                request_received(
                    stream_id,
                    method=method,
                    path=path,
                    query_string=query,
                    http_version="2",
                    headers=headers,
                    scheme=scheme,
                    authority=authority,
                    expect_continue=expect,
                )
            )
        elif kind == _REJECT:
            status, reason = what
            stream.rejected = True
            events.append(RequestRejected(stream_id=stream_id, status_hint=status, reason=reason))
        else:
            stream.tunnel = True
            events.append(UpgradeRequested(stream_id=stream_id, **what[0], _trusted=True))

    def _on_data(self, stream_id: int, data: bytes, flow: int, events: list[Event]) -> None:
        # The core has taken these bytes from the connection window; give them
        # back now: stream windows bound what is held (see the module docstring).
        self._conn_credit += flow
        if self._conn_credit >= self._conn_threshold:
            self._core.increment_window(self._conn_credit)
            self._conn_credit = 0
        stream = self._streams.get(stream_id)
        if stream is None or stream.rejected:
            # Nobody will read it; let the peer go on (it will hear why soon).
            if stream is not None:
                self._credit_stream(stream, flow)
            return
        if flow > len(data):
            self._credit_stream(stream, flow - len(data))  # padding is consumed at once
        if data:
            events.append(body_received(stream_id, data))

    def _on_trailers(
        self, stream_id: int, fields: tuple[tuple[bytes, bytes], ...], events: list[Event]
    ) -> None:
        stream = self._streams.get(stream_id)
        if stream is None or stream.rejected:
            return
        trailers: list[tuple[bytes, bytes]] = []
        size = 0
        for name, value in fields:
            size += len(name) + len(value) + 32
            if not _TOKEN.fullmatch(name) or _BAD_VALUE.search(value):
                size = -1
                break
            trailers.append((name, value))
        limits = self._limits
        too_big = size > limits.max_header_list_size or len(trailers) > limits.max_header_count
        if size < 0 or too_big:
            # Too late for a 431: the request is already with the application.
            code = HTTP2ErrorCode.PROTOCOL_ERROR
            self._streams.pop(stream_id, None)
            with contextlib.suppress(WireError):  # reset by the client in the same read
                self._core.reset_stream(stream_id, code)
            events.append(StreamReset(stream_id=stream_id, error_code=code))
            return
        stream.trailers_in = tuple(trailers)

    def _on_stream_ended(self, stream_id: int, events: list[Event]) -> None:
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        stream.remote_ended = True
        if stream.tunnel and stream.local_ended:
            del self._streams[stream.stream_id]  # both halves of the WebSocket are closed
        if not stream.rejected:
            events.append(body_ended(stream.stream_id, stream.trailers_in))

    # ------------------------------------------------------ inbound window

    def acknowledge_received_data(self, stream_id: int, nbytes: int) -> None:
        """The application has consumed ``nbytes`` of the stream's body."""
        stream = self._streams.get(stream_id)
        if stream is not None and nbytes > 0:
            self._credit_stream(stream, nbytes)

    def _credit_stream(self, stream: _Stream, nbytes: int) -> None:
        if stream.remote_ended or self._closed:
            return  # the peer will send nothing more
        stream.credit += nbytes
        if stream.credit >= self._stream_threshold:
            credit, stream.credit = stream.credit, 0
            with contextlib.suppress(WireError):  # closed under our feet
                self._core.increment_window(credit, stream.stream_id)

    # ------------------------------------------------------------- sending

    def send(self, event: ResponseEvent) -> None:
        """Queue one response event; the bytes come from :meth:`data_to_send`.

        Events for a stream that is already gone (the peer reset it, or the
        connection closed) are dropped: the server learns of that from
        :class:`StreamReset` or :class:`ConnectionLost`.
        """
        stream_id = event.stream_id
        stream = self._streams.get(stream_id)
        if stream is None:
            if self._closed or 0 < stream_id <= self._core.highest_stream_id:
                return
            raise _local(f"stream {stream_id} is not open")
        if stream.local_ended or stream.end_pending:
            raise _local(f"the response on stream {stream_id} is complete")
        kind = type(event)
        try:
            if kind is ResponseBody:
                assert isinstance(event, ResponseBody)
                if not stream.head_sent:
                    raise _local("response body before the response head")
                if event.data:
                    self._queue_body(stream, event.data)
            elif kind is ResponseHead:
                assert isinstance(event, ResponseHead)
                if stream.head_sent:
                    raise _local("response already started")
                if event.status == 101:
                    raise _local("HTTP/2 has no 101 Switching Protocols")
                fields = self._checked(event.headers)
                self._core.send_headers(stream_id, event.status, fields, False)
                stream.head_sent = True
            elif kind is ResponseEnd:
                assert isinstance(event, ResponseEnd)
                if not stream.head_sent:
                    raise _local("response end before the response head")
                stream.trailers = _response_fields(event.trailers)
                stream.end_pending = True
                self._flush_stream(stream)
            elif kind is InformationalResponse:
                assert isinstance(event, InformationalResponse)
                if stream.head_sent:
                    raise _local("interim response after the final response")
                fields = self._checked(event.headers)
                self._core.send_headers(stream_id, event.status, fields, False)
            else:
                raise _local(f"cannot send {kind.__name__} over HTTP/2")
        except WireError as exc:
            raise _local(str(exc)) from None
        # Keep the output where buffered_output can count it.
        self._out += self._core.data_to_send()

    def _checked(self, headers: Headers) -> Fields:
        """``_response_fields(headers)``, remembered: a response's fields
        (server, date, content type...) repeat response after response."""
        known = self._fields
        fields = known.get(headers)
        if fields is None:
            fields = _response_fields(headers)
            if len(known) >= FIELDS_CACHE_SIZE:
                known.clear()
            known[headers] = fields
        return fields

    def send_response(self, stream_id: int, status: int, headers: Headers, body: bytes) -> bool:
        """A whole response at once: the head (``status``, ``headers``), ``body``
        (may be empty), the end; what ``send`` does with the three events, in
        fewer frames (the END_STREAM flag rides on the last one).

        Returns False, having sent nothing, when the response needs the events
        one by one (to raise the error they raise, or a stream not in the
        state of a fresh request); True when it was sent, or dropped because
        the stream is gone (as :meth:`send` drops events).
        """
        stream = self._streams.get(stream_id)
        if stream is None:
            return self._closed or 0 < stream_id <= self._core.highest_stream_id
        if stream.head_sent or stream.end_pending or stream.local_ended or status == 101:
            return False
        try:
            fields = self._checked(headers)
        except LocalProtocolError:
            return False
        core = self._core
        size = len(body)
        room = self._room
        try:
            core.send_headers(stream_id, status, fields, not size)
            stream.head_sent = True
            if not size:
                self._local_end(stream)
            elif (
                size <= core.max_frame_size
                and (room is None or size <= room)
                and size <= core.send_window(stream_id)
            ):
                # What _send_frame would do with it: one frame, and the end.
                core.send_data(stream_id, body, True)
                self._data_sent += size
                if room is not None:
                    self._room = room - size
                self._local_end(stream)
            else:
                stream.data = body
                stream.offset = 0
                stream.end_pending = True
                self._flush_stream(stream)
        except WireError as exc:
            raise _local(str(exc)) from None
        self._out += core.data_to_send()
        return True

    def send_body(self, stream_id: int, data: bytes) -> None:
        """``send(ResponseBody(stream_id=stream_id, data=data))``, without the
        event: a streamed response sends many pieces."""
        stream = self._streams.get(stream_id)
        if stream is None or not stream.head_sent or stream.local_ended or stream.end_pending:
            self.send(ResponseBody(stream_id=stream_id, data=data, _trusted=True))
            return
        if data:
            try:
                self._queue_body(stream, data)
            except WireError as exc:
                raise _local(str(exc)) from None
            self._out += self._core.data_to_send()

    def _queue_body(self, stream: _Stream, data: bytes) -> None:
        """Add ``data`` to what the stream has to send, and send what windows allow."""
        if stream.offset < len(stream.data):
            stream.data = stream.data[stream.offset :] + data
        else:
            stream.data = data
        stream.offset = 0
        self._flush_stream(stream)

    def _send_frame(self, stream: _Stream) -> bool:
        """Send at most one frame of ``stream``; True if another could follow now."""
        core = self._core
        stream_id = stream.stream_id
        left = len(stream.data) - stream.offset
        if left:
            window = core.send_window(stream_id)
            room = self._room
            if room is not None:
                window = min(window, room)
            if window <= 0:
                return False
            size = min(window, core.max_frame_size, left)
            start = stream.offset
            last = size == left
            end = last and stream.end_pending and not stream.trailers
            core.send_data(stream_id, memoryview(stream.data)[start : start + size], end)
            self._data_sent += size
            if room is not None:
                self._room = room - size
            if last:
                stream.data = b""
                stream.offset = 0
            else:
                stream.offset = start + size
            if end:
                self._local_end(stream)
                return False
            if not last:
                return window > size
        if stream.end_pending and not stream.local_ended:
            if stream.trailers:
                core.send_headers(stream_id, None, stream.trailers, True)
            else:
                core.end_stream(stream_id)
            self._local_end(stream)
        return False

    def _flush_stream(self, stream: _Stream) -> None:
        while self._send_frame(stream):
            pass

    def _release(self, stream: _Stream) -> bool:
        """:meth:`_send_frame` for data a window update let go, inside
        :meth:`receive_data`. The peer may have reset the stream later in the
        same read: the core has closed it, while we hear of it only from the
        event after this one. What the stream had waiting is dropped then."""
        try:
            return self._send_frame(stream)
        except WireError:
            stream.data = b""
            stream.offset = 0
            stream.end_pending = False
            return False

    def _flush_all(self) -> None:
        # Turn by turn in priority order; within a turn round robin, a frame
        # per stream, while windows allow.
        ready = {s.stream_id: s for s in self._streams.values() if s.offset < len(s.data)}
        for stream in [s for s in self._streams.values() if s.end_pending]:
            if stream.stream_id not in ready:
                self._release(stream)  # only the end is left: no window needed
        if not ready:
            return
        scheduler = self._scheduler
        for turn in scheduler.plan((i, s.priority) for i, s in ready.items()):
            active = [ready[i] for i in turn]
            while active:
                still = []
                for stream in active:
                    left = len(stream.data) - stream.offset
                    more = self._release(stream)
                    if len(stream.data) - stream.offset < left:
                        scheduler.served(stream.stream_id, stream.priority)
                    if more:
                        still.append(stream)
                active = still

    def _local_end(self, stream: _Stream) -> None:
        stream.local_ended = True
        stream.end_pending = False
        if stream.tunnel and not stream.remote_ended:
            # A WebSocket's END_STREAM is our half of the close; the client's
            # END_STREAM (or a reset) ends the stream.
            return
        if not stream.remote_ended:
            # RFC 9113 §8.1: the response is complete, the rest of the request
            # is not wanted; NO_ERROR tells the client to stop sending it.
            self._core.reset_stream(stream.stream_id, HTTP2ErrorCode.NO_ERROR)
        self._streams.pop(stream.stream_id, None)

    def reset_stream(self, stream_id: int, error_code: int = HTTP2ErrorCode.INTERNAL_ERROR) -> None:
        """Abandon a stream (RST_STREAM): its response cannot be completed."""
        stream = self._streams.pop(stream_id, None)
        if stream is None or self._closed:
            return
        with contextlib.suppress(WireError):  # closed under our feet
            self._core.reset_stream(stream_id, error_code)

    # -------------------------------------------------------------- ending

    def start_graceful_shutdown(self) -> None:
        """GOAWAY: the streams we have taken complete; newer ones are refused."""
        if self._closed or self._goaway_last is not None:
            return
        last = self._core.highest_stream_id
        self._goaway_last = last
        self._out += self._core.data_to_send()  # keep what the core queued first in front
        self._out += _goaway_frame(last, HTTP2ErrorCode.NO_ERROR)

    def close(self, error_code: int = HTTP2ErrorCode.NO_ERROR) -> None:
        """Queue a final GOAWAY; nothing more is sent or read after it."""
        if self._closed:
            return
        last = self._core.highest_stream_id
        if self._goaway_last is not None:
            last = min(last, self._goaway_last)
        self._closed = True
        self._streams.clear()
        self._core.close(error_code, last)

    def data_to_send(self) -> bytes:
        """Every byte queued for the peer since the last call."""
        out = self._out
        if out:
            out += self._core.data_to_send()
            data = bytes(out)
            out.clear()
            return data
        return self._core.data_to_send()
