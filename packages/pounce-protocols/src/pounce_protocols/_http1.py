"""HTTP/1.1 server connection: bytes in, protocol-neutral events out.

Theory of operation
-------------------
A connection is a sequence of request/response *cycles*; cycle N is reported as
stream N. Each cycle goes through three request-side phases:

``IDLE``      waiting for a request head. Bytes accumulate in our own buffer and
              :mod:`._http1_head` checks the raw head (framing, limits, bare CR/LF,
              obs-fold) *before* any parser sees it. That gate is ours rather than
              h11's because h11 accepts a few shapes RFC 9112 tells a server to
              reject or that other parts of a proxy chain read differently. It
              remembers how far it has checked, so a head that arrives in many
              reads is still read once.
``BODY``      the head was accepted and handed to a fresh :class:`h11.Connection`,
              which frames the body (Content-Length or chunked). A chunked body
              passes a gate of its own first (:mod:`._http1_chunked`), which
              checks the framing on the raw bytes and says where the body ends;
              h11 is given exactly the bytes of the body and decodes them, and
              never a byte past its end.
``DONE``      the request is complete. Bytes that arrive now belong to the next,
              pipelined request: they wait in our buffer, unparsed, until the
              response of this cycle is complete and :meth:`start_next_cycle` is
              called. Responses therefore always leave in request order.

One h11 connection serves exactly one cycle, and every request head, including
pipelined ones, passes through the same gate.

The response side is h11's serializer; our job there is only to translate
events and errors. h11 exceptions never leave this module.

Work in proportion to input
---------------------------
A client may send thousands of pipelined requests at once, or a body in
one-byte chunks; either must cost in proportion to what was sent. The buffer
(:mod:`._receive_buffer`) is read in place and consumed by moving an offset: a
request's head is the only thing copied out of it, and its body only as far as
the body goes, however deep the backlog behind them. The body bytes decoded in
one call are one :class:`BodyReceived`, not one per chunk.

The fast path
-------------
h11 is the reference, not the only route. A head that passed the gate is first
offered to :mod:`._http1_fast`; when it has a common shape (origin form,
HTTP/1.1, one Host, no body or a Content-Length one) the cycle runs without h11:
the body is counted off here and the response is written by the fast
serializer. A chunked body is decoded by its gate, many chunks per step, and
h11 reads only its trailer section. Anything else, on either side, takes the
h11 route: an unusual head from the start, an unusual response head by handing
the response side of the cycle to an h11 connection primed with an equivalent
request. Both routes give the same events, bytes and errors (a differential
test holds them to it); ``fast_path=False`` forces the reference route for
every cycle.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from http import HTTPStatus
from typing import cast

import h11

from pounce_protocols._errors import LocalProtocolError, RemoteProtocolError, readable_message
from pounce_protocols._events import (
    BodyEnded,
    ConnectionLost,
    Event,
    Headers,
    InformationalResponse,
    RequestReceived,
    ResponseBody,
    ResponseEnd,
    ResponseEvent,
    ResponseHead,
    UpgradeRequested,
)
from pounce_protocols._http1_chunked import ChunkedFraming
from pounce_protocols._http1_fast import (
    CHUNKED_END,
    body_ended,
    body_received,
    encode_chunk,
    parse_request_head,
    serialize_fields,
    serialize_response_head,
)
from pounce_protocols._http1_head import (
    HeadGate,
    HeadLimits,
    RequestTarget,
    check_content_length,
    check_host,
    check_transfer_encoding,
    split_target,
)
from pounce_protocols._receive_buffer import ReceiveBuffer

__all__ = ["HTTP1Limits", "HTTP1ServerConnection"]


@dataclass(frozen=True, slots=True, kw_only=True)
class HTTP1Limits(HeadLimits):
    """Size limits of the HTTP/1.1 machine (request-head limits are inherited).

    ``max_chunk_line`` bounds a chunk-size line including chunk extensions and
    its CRLF, and the whole trailer section of a chunked body.
    """

    max_chunk_line: int = 4096

    def __post_init__(self) -> None:
        HeadLimits.__post_init__(self)
        value = self.max_chunk_line
        if not isinstance(value, int) or isinstance(value, bool) or value < 16:
            raise ValueError(f"max_chunk_line must be an int of at least 16 bytes, got {value!r}")


class _Phase(enum.Enum):
    IDLE = "idle"  # waiting for (more of) a request head
    BODY = "body"  # receiving the request body
    DONE = "done"  # request complete; next bytes are a pipelined request
    SWITCHED = "switched"  # a 101 was sent; the bytes belong to another protocol
    CLOSED = "closed"  # nothing more will be parsed on this connection


# The phases as module names: a lookup of a global is far cheaper than of an
# enum member, and the phase is tested several times per request.
_IDLE = _Phase.IDLE
_BODY = _Phase.BODY
_DONE = _Phase.DONE
_SWITCHED = _Phase.SWITCHED
_CLOSED = _Phase.CLOSED


def _h11_status_hint(exc: h11.ProtocolError) -> int:
    hint = getattr(exc, "error_status_hint", 400)
    return hint if isinstance(hint, int) and 400 <= hint <= 599 else 400


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b""


def _header_tokens(headers: Headers, name: bytes) -> list[bytes]:
    """The comma-separated, lowercased tokens of every ``name`` field."""
    tokens: list[bytes] = []
    for key, value in headers:
        if key == name:
            tokens.extend(t.strip().lower() for t in value.split(b","))
    return [t for t in tokens if t]


# The response side of a fast-path cycle (h11's "our state", for the shapes it serves).
_OUT_HEAD = 0  # no response head sent yet
_OUT_BODY = 1  # head sent; body bytes may follow
_OUT_DONE = 2  # the response ended
_OUT_ERROR = 3  # we were asked to send something invalid; nothing more is sent

_ERROR_STATE = "Can't send data when our state is ERROR"


def _join(parts: list[object]) -> bytes:
    return b"".join(part for part in parts if isinstance(part, bytes))


class _Placeholder:
    """Stands for body bytes h11 frames but never sees (see send_body_passthrough)."""

    __slots__ = ("_length",)

    def __init__(self, length: int) -> None:
        self._length = length

    def __len__(self) -> int:
        return self._length


class HTTP1ServerConnection:
    """The server side of one HTTP/1.1 connection, without I/O.

    Feed the peer's bytes to :meth:`receive_data` (``b""`` for end of input) and
    act on the events it returns; give response events to :meth:`send` and write
    the bytes it returns. When the response of a cycle has ended, call
    :meth:`start_next_cycle` if :attr:`keep_alive` allows, or close.

    A :class:`RemoteProtocolError` from :meth:`receive_data` means the peer broke
    the protocol; answer with :meth:`reject` (its ``status_hint``) and close.

    ``fast_path=False`` runs every cycle through h11, the reference the fast
    path is tested against; the events, bytes and errors are the same.
    """

    __slots__ = (
        "_buffer",
        "_fast",
        "_fast_enabled",
        "_fast_keep_alive",
        "_field_cache",
        "_framing",
        "_gate",
        "_h11",
        "_head_cache",
        "_limits",
        "_lines_seen",
        "_method",
        "_out_budget",
        "_out_state",
        "_peer_closed",
        "_phase",
        "_remaining",
        "_response_ended",
        "_response_started",
        "_stream_id",
        "_upgrade_requested",
    )

    def __init__(self, limits: HTTP1Limits | None = None, *, fast_path: bool = True) -> None:
        self._limits = limits if limits is not None else HTTP1Limits()
        self._buffer = ReceiveBuffer()
        self._gate = HeadGate(self._limits)
        self._phase = _IDLE
        self._h11: h11.Connection | None = None
        self._fast_enabled = fast_path
        # A fast-path cycle: no h11 connection on the request side; the body
        # is counted off in _remaining. The response side stays ours until a
        # head needs the reference (then _h11 is set and takes over).
        self._fast = False
        self._remaining = 0
        self._fast_keep_alive = False
        self._out_state = _OUT_HEAD
        self._out_budget = 0  # body bytes still allowed, or -1 for chunked
        self._field_cache: dict[tuple[bytes, bytes], bytes] = {}
        self._head_cache: dict[tuple[int, Headers, bool, bool], tuple[bytes, int, bool]] = {}
        self._lines_seen: dict[bytes, tuple[bytes, bytes]] = {}
        self._stream_id = 0
        self._framing: ChunkedFraming | None = None
        self._method = b""
        self._response_started = False
        self._response_ended = False
        self._peer_closed = False
        self._upgrade_requested = False

    # ----------------------------------------------------------------- queries

    @property
    def stream_id(self) -> int:
        """The id of the current (or last) cycle; 0 before the first request."""
        return self._stream_id

    @property
    def awaiting_request(self) -> bool:
        """True while no request head has been completed in this cycle."""
        return self._phase is _IDLE

    @property
    def has_partial_request(self) -> bool:
        """True when part of a request head has arrived but not all of it."""
        return self._phase is _IDLE and bool(self._buffer.data)

    @property
    def request_complete(self) -> bool:
        """True once the current request's body has been received whole."""
        return self._phase in (_DONE, _SWITCHED)

    @property
    def response_started(self) -> bool:
        return self._response_started

    @property
    def buffered_bytes(self) -> int:
        """Bytes received but not yet parsed (the start of a pipelined request)."""
        buf = self._buffer
        return len(buf.data) - buf.start

    @property
    def keep_alive(self) -> bool:
        """Whether the connection can carry another request after this response."""
        conn = self._h11
        if conn is None and self._fast:
            return (
                self._fast_keep_alive
                and not self._peer_closed
                and self._phase is _DONE
                and self._out_state == _OUT_DONE
            )
        return (
            conn is not None
            and not self._peer_closed
            and self._phase is _DONE
            and self._response_ended
            and conn.our_state is h11.DONE
            and conn.their_state is h11.DONE
        )

    # ----------------------------------------------------------- receiving

    def receive_data(self, data: bytes) -> list[Event]:
        """Take bytes from the peer (``b""`` = end of input); return new events."""
        if not data:
            return self._receive_eof()
        if type(data) is not bytes:
            data = bytes(data)  # events carry immutable bytes
        phase = self._phase
        if phase is _IDLE:
            buf = self._buffer
            if buf.data or data.startswith(b"\r\n"):
                buf.append(data)
                return self._parse_head()
            # The common case: a head that arrived with nothing buffered is
            # gated and parsed where it lies, without a copy.
            try:
                head_end = self._gate.scan(data, 0)
            except RemoteProtocolError:
                self._phase = _CLOSED
                raise
            if head_end == len(data):
                return self._start_cycle(data)
            if not head_end:
                buf.append(data)  # the start of a head: wait for the rest
                return []
            events = self._start_cycle(data[:head_end])
            if self._phase is not _BODY:
                buf.append(memoryview(data)[head_end:])  # pipelined: the next cycle's
                return events
            pos = head_end
        elif phase is _BODY:
            pos = 0
            events = []
        else:
            if phase is not _CLOSED:
                self._buffer.append(data)  # DONE / SWITCHED: held for the next cycle or protocol
            return []
        # Body bytes of this cycle; what follows the body waits for the next.
        if self._fast:
            stop = self._feed_fast_body(data, pos, events)
        else:
            stop = self._feed_body(data, pos, events)
        if stop < len(data):
            self._buffer.append(memoryview(data)[stop:])
        return events

    def start_next_cycle(self) -> list[Event]:
        """Begin the next request/response cycle; return its events so far.

        Only valid when :attr:`keep_alive` is true. Pipelined bytes that arrived
        during the previous cycle are parsed now.
        """
        if not self.keep_alive:
            raise LocalProtocolError("the connection cannot be reused for another request")
        self._h11 = None
        self._fast = False
        self._phase = _IDLE
        self._method = b""
        self._response_started = False
        self._response_ended = False
        return self._parse_head() if self._buffer.data else []

    def take_upgraded_data(self) -> bytes:
        """After a ``101`` response: the bytes that already belong to the new protocol."""
        if self._phase is not _SWITCHED:
            raise LocalProtocolError("no protocol switch has happened")
        return self._buffer.take_all()

    def _receive_eof(self) -> list[Event]:
        self._peer_closed = True
        if self._phase is not _SWITCHED:
            self._phase = _CLOSED
        self._buffer.clear()
        self._gate.reset()
        return [ConnectionLost()]

    def _parse_head(self) -> list[Event]:
        """Gate and start a request whose head is (being) buffered.

        The buffer is read where it lies and consumed by offset: the head is
        the only thing copied out of it, and the body only as far as it goes,
        so a deep pipelined backlog costs each request what its own bytes cost.
        """
        buf = self._buffer
        gate = self._gate
        if gate.fresh:
            # RFC 9112 §2.2: empty lines before a request line are ignored.
            data = buf.data
            start = buf.start
            while data.startswith(b"\r\n", start):
                start += 2
            buf.consume_to(start)
        try:
            head_end = gate.scan(buf.data, buf.start)
        except RemoteProtocolError:
            self._phase = _CLOSED
            raise
        if not head_end:
            return []
        events = self._start_cycle(buf.take(head_end))
        if self._phase is _BODY and buf.data:
            if self._fast:
                buf.consume_to(self._feed_fast_body(buf.data, buf.start, events))
            else:
                buf.consume_to(self._feed_body(buf.data, buf.start, events))
        return events

    def _start_cycle(self, head: bytes) -> list[Event]:
        """Start the cycle of a complete head that passed the gate; return its
        events, with the end of the request when it has no body."""
        if self._fast_enabled:
            parsed = parse_request_head(head, self._stream_id + 1, self._lines_seen)
            if parsed is not None:
                event, length, keep_alive = parsed
                stream_id = self._stream_id = event.stream_id
                self._fast = True
                self._fast_keep_alive = keep_alive
                self._method = event.method
                self._upgrade_requested = False
                self._out_state = _OUT_HEAD
                self._remaining = length
                if not length:
                    # Nothing to wait for: the request is complete with its head.
                    self._phase = _DONE
                    return [event, body_ended(stream_id)]
                self._phase = _BODY
                return [event]
        limits = self._limits
        # h11 never holds more than one framing line or trailer section of a
        # body that passed the gate; the head it gets is already complete.
        conn = h11.Connection(
            h11.SERVER,
            max_incomplete_event_size=max(limits.max_header_bytes, limits.max_chunk_line),
        )
        try:
            check_content_length(head)
            check_transfer_encoding(head)
            conn.receive_data(head)
            request = conn.next_event()
        except h11.RemoteProtocolError as exc:
            self._phase = _CLOSED
            raise RemoteProtocolError(
                readable_message(str(exc)), status_hint=_h11_status_hint(exc)
            ) from None
        except RemoteProtocolError:
            self._phase = _CLOSED
            raise
        if not isinstance(request, h11.Request):  # a complete head always yields a Request
            self._phase = _CLOSED
            raise RemoteProtocolError("malformed request head")
        self._stream_id += 1
        self._h11 = conn
        try:
            event = self._request_event(request)
        except RemoteProtocolError:
            self._phase = _CLOSED
            raise
        self._phase = _BODY
        # A request without a body ends here (h11 says so without more bytes).
        events: list[Event] = [event]
        self._feed_body(b"", 0, events)
        return events

    def _feed_fast_body(self, src: bytes | bytearray, pos: int, events: list[Event]) -> int:
        """Count a Content-Length body off ``src`` from ``pos`` (h11's reader,
        without h11); add its events to ``events``, return where the body
        stopped in ``src``."""
        remaining = self._remaining
        end = len(src)
        if end - pos < remaining:
            self._remaining = remaining - (end - pos)
            stop = end
            if stop == pos:
                return stop
        else:
            stop = pos + remaining
            self._remaining = 0
            self._phase = _DONE
        # All of a bytes object is itself, not a copy; a slice of our buffer
        # is a bytearray, and events carry immutable bytes.
        data = src[pos:stop]
        if type(data) is not bytes:
            data = bytes(data)
        stream_id = self._stream_id
        events.append(body_received(stream_id, data))
        if self._phase is _DONE:
            events.append(body_ended(stream_id))
        return stop

    def _request_event(self, request: h11.Request) -> RequestReceived:
        version = request.http_version
        if not version.startswith(b"1."):
            raise RemoteProtocolError(
                f"HTTP/{version.decode('ascii')} is not supported on this connection",
                status_hint=505,
            )
        http_version = "1.0" if version == b"1.0" else "1.1"
        headers: Headers = tuple(request.headers)  # h11 gives lowercased names
        has_te = has_cl = False
        length = 0
        for name, value in headers:
            if name == b"transfer-encoding":
                has_te = True
            elif name == b"content-length":
                has_cl = True
                length = int(value)  # h11 has checked it is digits, and one value
            elif name == b"host":
                check_host(value)  # h11 has already refused a second one
        if has_te and has_cl:
            # RFC 9112 §6.1: a request with both is a smuggling attempt or a
            # broken intermediary; reject and close instead of guessing.
            raise RemoteProtocolError("both Transfer-Encoding and Content-Length present")
        if has_te and http_version == "1.0":
            # RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing.
            raise RemoteProtocolError("Transfer-Encoding in an HTTP/1.0 request")
        self._framing = ChunkedFraming(self._limits.max_chunk_line) if has_te else None
        self._remaining = length  # without Transfer-Encoding: what h11 is given of the body
        self._method = request.method
        target: RequestTarget = split_target(request.method, request.target)
        expect_continue = http_version == "1.1" and b"100-continue" in _header_tokens(
            headers, b"expect"
        )
        upgrade = _header_tokens(headers, b"upgrade")
        self._upgrade_requested = bool(upgrade) and b"upgrade" in _header_tokens(
            headers, b"connection"
        )
        if self._upgrade_requested:
            return UpgradeRequested(
                stream_id=self._stream_id,
                method=request.method,
                path=target.path,
                query_string=target.query_string,
                http_version=http_version,
                headers=headers,
                scheme=target.scheme,
                authority=target.authority,
                expect_continue=expect_continue,
                protocol=upgrade[0],
                _trusted=True,
            )
        return RequestReceived(
            stream_id=self._stream_id,
            method=request.method,
            path=target.path,
            query_string=target.query_string,
            http_version=http_version,
            headers=headers,
            scheme=target.scheme,
            authority=target.authority,
            expect_continue=expect_continue,
            _trusted=True,
        )

    def _feed_body(self, src: bytes | bytearray, pos: int, events: list[Event]) -> int:
        """The body of an h11 cycle, from ``pos`` of ``src``: add its events to
        ``events``, return where the body stopped in ``src``.

        h11 is given the body's bytes and never one more (a Content-Length is
        counted off here; the gate says where a chunked body ends), so what
        follows stays in our buffer and h11's is empty at the end of the
        cycle. The bytes h11 decodes in one call are reported as one
        :class:`BodyReceived`. On the fast path the gate decodes chunked data
        itself and h11 only reads the trailer section.
        """
        conn = self._h11
        assert conn is not None
        framing = self._framing
        end = len(src)
        if framing is not None:
            pieces: list[bytes | bytearray] | None = [] if self._fast_enabled else None
            try:
                stop = framing.feed(src, pos, pieces)
            except RemoteProtocolError:
                self._phase = _CLOSED
                raise
            if pieces is not None:
                self._decoded_body(conn, framing, pieces, events)
                return stop
        else:
            remaining = self._remaining
            stop = pos + remaining if remaining < end - pos else end
            self._remaining = remaining - (stop - pos)
        if stop > pos:  # b"" would tell h11 the peer closed the connection
            # h11 copies what it is given into a buffer of its own, so a
            # bytearray (a slice of ours) serves as well as bytes.
            conn.receive_data(cast("bytes", src if pos == 0 and stop == end else src[pos:stop]))
        data: list[bytes] = []
        while True:
            event = self._next_body_event(conn)
            if type(event) is not h11.Data:
                break  # EndOfMessage or NEED_DATA (PAUSED cannot come first)
            data.append(event.data)
        if data:  # h11 hands out bytearrays; events carry immutable bytes
            events.append(body_received(self._stream_id, b"".join(data)))
        ended = type(event) is h11.EndOfMessage
        if framing is not None and framing.done != ended:
            # The gate and h11 disagree on where the body ends: never the case
            # for bytes the gate accepts (a unit test holds them to it), but if
            # it were, the framing would be in doubt.
            raise self._framing_in_doubt()
        if isinstance(event, h11.EndOfMessage):
            events.append(self._body_ended(event))
        return stop

    def _decoded_body(
        self,
        conn: h11.Connection,
        framing: ChunkedFraming,
        pieces: list[bytes | bytearray],
        events: list[Event],
    ) -> None:
        """Add the events of chunk data the gate decoded to ``events``, and
        the end of the body once it has seen it.

        h11 reads the trailer section (after a last chunk of its own, which
        frames it the same way): it decides what the trailers are, and its
        state then says the request has ended, as on the reference route.
        """
        if pieces:
            events.append(body_received(self._stream_id, b"".join(pieces)))
        if framing.done:
            conn.receive_data(b"0\r\n" + framing.trailer_section)
            event = self._next_body_event(conn)
            if not isinstance(event, h11.EndOfMessage):
                raise self._framing_in_doubt()
            events.append(self._body_ended(event))

    def _next_body_event(self, conn: h11.Connection) -> object:
        """h11's next event of the request body; its errors are ours (400)."""
        try:
            return conn.next_event()
        except h11.RemoteProtocolError as exc:
            self._phase = _CLOSED
            raise RemoteProtocolError(readable_message(str(exc)), status_hint=400) from None

    def _body_ended(self, event: h11.EndOfMessage) -> BodyEnded:
        """The request is complete: its end, with the trailers h11 read."""
        self._phase = _DONE
        trailers: Headers = tuple(event.headers)
        return BodyEnded(stream_id=self._stream_id, trailers=trailers, _trusted=True)

    def _framing_in_doubt(self) -> RemoteProtocolError:
        self._phase = _CLOSED
        return RemoteProtocolError("chunked body framing could not be decoded")

    # ------------------------------------------------------------- sending

    def send_body(self, stream_id: int, data: bytes) -> bytes:
        """``send(ResponseBody(stream_id=stream_id, data=data))``, without the event.

        A streamed response sends many body pieces; on a fast-path cycle each
        is framed here directly (a chunk, or the bytes within the declared
        length). Anything else is the event's route.
        """
        if (
            self._h11 is None
            and self._fast
            and self._out_state == _OUT_BODY
            and stream_id == self._stream_id
        ):
            framed = self._frame_body(data)
            if framed is not None:
                return framed
        return self.send(ResponseBody(stream_id=stream_id, data=data, _trusted=True))

    def _frame_body(self, data: bytes) -> bytes | None:
        """A body piece of a fast-path response being sent: a chunk, or the
        bytes themselves within the declared length; None when they overrun
        it (the caller's route raises the error)."""
        budget = self._out_budget
        if budget < 0:
            return encode_chunk(data) if data else b""
        if len(data) <= budget:
            self._out_budget = budget - len(data)
            return data
        return None

    def send(self, event: ResponseEvent) -> bytes:
        """Serialize one response event of the current cycle."""
        conn = self._h11
        if conn is None:
            if not self._fast or event.stream_id != self._stream_id:
                raise LocalProtocolError(f"stream {event.stream_id} is not the current request")
            if self._out_state == _OUT_BODY:
                # The body of a fast-path response, inline: most events are these.
                if type(event) is ResponseBody:
                    framed = self._frame_body(event.data)
                    if framed is not None:
                        return framed
                elif type(event) is ResponseEnd and not event.trailers and self._out_budget <= 0:
                    self._out_state = _OUT_DONE
                    self._response_ended = True
                    return CHUNKED_END if self._out_budget else b""
            return self._send_fast(event)
        if event.stream_id != self._stream_id:
            raise LocalProtocolError(f"stream {event.stream_id} is not the current request")
        try:
            if type(event) is ResponseBody:
                if not event.data:
                    return b""
                return conn.send(h11.Data(data=event.data)) or b""
            if type(event) is ResponseHead:
                return self._send_head(conn, event)
            if type(event) is ResponseEnd:
                out = conn.send(h11.EndOfMessage(headers=list(event.trailers))) or b""
                self._response_ended = True
                return out
            if type(event) is InformationalResponse:
                if self._response_started:
                    raise LocalProtocolError("interim response after the final response")
                interim = h11.InformationalResponse(
                    status_code=event.status,
                    headers=list(event.headers),
                    reason=_reason(event.status),
                )
                return conn.send(interim) or b""
        except h11.LocalProtocolError as exc:
            raise LocalProtocolError(str(exc)) from None
        raise LocalProtocolError(f"cannot send {type(event).__name__} over HTTP/1.1")

    def send_whole_response(
        self, stream_id: int, status: int, headers: Headers, body_length: int
    ) -> bytes | None:
        """The head of a response whose whole body follows it and ends it.

        For a response sent in one piece: returns the bytes of the head
        ``ResponseHead(stream_id=stream_id, status=status, headers=headers)``
        when the body that follows, ``body_length`` bytes written as they are,
        completes the response (a fast-path cycle, Content-Length framing of
        exactly that length); the response has then ended, as if that head,
        the body and a :class:`ResponseEnd` had been given to :meth:`send`.
        Returns ``None``, changing nothing, when the response needs those
        events one by one (chunked framing, the reference route, an error).
        The caller has checked the head as a ``_trusted`` one would be.
        """
        if (
            self._h11 is not None
            or not self._fast
            or self._out_state != _OUT_HEAD
            or self._response_started
            or stream_id != self._stream_id
            or status == 101
        ):
            return None
        serialized = serialize_response_head(
            status,
            headers,
            head_request=self._method == b"HEAD",
            keep_alive=self._fast_keep_alive,
            cache=self._field_cache,
            heads=self._head_cache,
        )
        if serialized is None:
            return None
        data, budget, keep_alive = serialized
        if budget != body_length and not (budget == 0 and body_length == 0):
            return None
        self._fast_keep_alive = keep_alive
        self._out_state = _OUT_DONE
        self._out_budget = 0
        self._response_started = True
        self._response_ended = True
        return data

    def _send_fast(self, event: ResponseEvent) -> bytes:
        """The response side of a fast-path cycle: h11's writers, without h11."""
        state = self._out_state
        if type(event) is ResponseBody:
            data = event.data
            if not data:
                return b""
            if state == _OUT_BODY:
                framed = self._frame_body(data)
                if framed is not None:
                    return framed
                self._out_state = _OUT_ERROR
                raise LocalProtocolError("Too much data for declared Content-Length")
        elif type(event) is ResponseEnd:
            if state == _OUT_BODY:
                return self._end_fast(event.trailers)
        elif type(event) is ResponseHead:
            if self._response_started:
                raise LocalProtocolError("response already started")
            if event.status == 101:
                raise LocalProtocolError("101 without a pending protocol switch")
            head = serialize_response_head(
                event.status,
                event.headers,
                head_request=self._method == b"HEAD",
                keep_alive=self._fast_keep_alive,
                cache=self._field_cache,
                heads=self._head_cache,
            )
            if head is not None:
                data, self._out_budget, self._fast_keep_alive = head
                self._out_state = _OUT_BODY
                self._response_started = True
                return data
        elif type(event) is InformationalResponse and self._response_started:
            raise LocalProtocolError("interim response after the final response")
        if state == _OUT_ERROR:
            raise LocalProtocolError(_ERROR_STATE)
        if state == _OUT_HEAD:
            # Not a shape the fast serializer writes: h11 takes over the
            # response side of this cycle and answers (or refuses) it.
            self._h11 = self._reference_for_response()
            return self.send(event)
        # What h11 refuses in this state: a body or an end after the end.
        self._out_state = _OUT_ERROR
        raise LocalProtocolError(f"cannot send {type(event).__name__} after the response ended")

    def _end_fast(self, trailers: Headers) -> bytes:
        budget = self._out_budget
        fields = b""
        if trailers:
            # Checked first, as h11 builds (and validates) its EndOfMessage
            # before its writer looks at the framing.
            fields = (serialize_fields(trailers) if budget < 0 else None) or (
                self._normalized_fields(trailers)
            )
        if budget < 0:
            out = b"0\r\n" + fields if trailers else CHUNKED_END
        elif budget:
            self._out_state = _OUT_ERROR
            raise LocalProtocolError("Too little data for declared Content-Length")
        elif trailers:
            self._out_state = _OUT_ERROR
            raise LocalProtocolError("Content-Length and trailers don't mix")
        else:
            out = b""
        self._out_state = _OUT_DONE
        self._response_ended = True
        return out

    @staticmethod
    def _normalized_fields(trailers: Headers) -> bytes:
        """Trailer fields as h11 normalizes and writes them (Host first)."""
        try:
            items = h11.EndOfMessage(headers=list(trailers)).headers.raw_items()
        except h11.LocalProtocolError as exc:
            raise LocalProtocolError(str(exc)) from None
        hosts = [pair for pair in items if pair[0].lower() == b"host"]
        others = [pair for pair in items if pair[0].lower() != b"host"]
        return b"".join(b"%s: %s\r\n" % pair for pair in hosts + others) + b"\r\n"

    def _reference_for_response(self) -> h11.Connection:
        """An h11 connection in the state the reference route would be in now.

        What h11 does with a response depends only on the request's method,
        version and keep-alive, so a bodiless request with the same three
        stands in for the one we parsed (its body, if any, is still framed by
        the fast path; :attr:`keep_alive` waits for it either way).
        """
        conn = h11.Connection(h11.SERVER)
        close = b"" if self._fast_keep_alive else b"Connection: close\r\n"
        conn.receive_data(b"%s / HTTP/1.1\r\nHost: x\r\n%s\r\n" % (self._method, close))
        conn.next_event()  # the Request
        conn.next_event()  # its EndOfMessage
        return conn

    def send_body_passthrough(self, stream_id: int, length: int) -> tuple[bytes, bytes]:
        """Framing for ``length`` body bytes that the caller writes itself.

        Returns ``(before, after)``: write ``before``, then exactly ``length``
        bytes of body (with ``os.sendfile``, say), then ``after``. The body is
        accounted for as if it had been given to :meth:`send`.
        """
        conn = self._h11
        if conn is None:
            if not self._fast or stream_id != self._stream_id:
                raise LocalProtocolError(f"stream {stream_id} is not the current request")
            return self._passthrough_fast(length)
        if stream_id != self._stream_id:
            raise LocalProtocolError(f"stream {stream_id} is not the current request")
        if length <= 0:
            return b"", b""
        placeholder = _Placeholder(length)
        # h11 only takes len() of passed-through data and hands the object
        # back in place; it is typed as bytes because that is the usual case.
        data = cast("bytes", placeholder)
        try:
            parts: list[object] = list(conn.send_with_data_passthrough(h11.Data(data=data)) or [])
        except h11.LocalProtocolError as exc:
            raise LocalProtocolError(str(exc)) from None
        index = next(i for i, part in enumerate(parts) if part is placeholder)
        return _join(parts[:index]), _join(parts[index + 1 :])

    def _passthrough_fast(self, length: int) -> tuple[bytes, bytes]:
        """:meth:`send_body_passthrough` on the fast path: h11's framing of
        ``length`` body bytes (and its errors), without h11."""
        if self._out_state == _OUT_ERROR:
            raise LocalProtocolError(_ERROR_STATE)
        if self._out_state != _OUT_BODY:
            self._out_state = _OUT_ERROR
            raise LocalProtocolError("cannot send body bytes outside a response body")
        if length <= 0:
            return b"", b""
        budget = self._out_budget
        if budget < 0:
            return b"%x\r\n" % length, b"\r\n"
        if length > budget:
            self._out_state = _OUT_ERROR
            raise LocalProtocolError("Too much data for declared Content-Length")
        self._out_budget = budget - length
        return b"", b""

    def _send_head(self, conn: h11.Connection, event: ResponseHead) -> bytes:
        if self._response_started:
            raise LocalProtocolError("response already started")
        headers = list(event.headers)
        reason = _reason(event.status)
        if event.status != 101:
            out = conn.send(h11.Response(status_code=event.status, headers=headers, reason=reason))
            self._response_started = True
            return out or b""
        if not self._upgrade_requested:
            raise LocalProtocolError("101 without a pending protocol switch")
        # h11 models a protocol switch as an interim response. The bytes that
        # followed the request are already in our buffer (see _feed_body).
        out = conn.send(h11.InformationalResponse(status_code=101, headers=headers, reason=reason))
        self._response_started = True
        self._response_ended = True
        self._phase = _SWITCHED
        return out or b""

    def reject(self, status: int, headers: Headers = (), body: bytes = b"") -> bytes:
        """A complete error response that ends the connection.

        Returns ``b""`` when a response has already started on this cycle: the
        only honest thing left to do then is to close.
        """
        if self._response_started:
            self._phase = _CLOSED
            return b""
        self._response_started = True
        self._response_ended = True
        self._phase = _CLOSED
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = ""
        lines = [f"HTTP/1.1 {status} {reason}".encode("ascii")]
        for name, value in headers:
            if 0x0D in value or 0x0A in value or 0x3A in name or 0x0A in name:  # CR, LF, ":"
                raise LocalProtocolError(f"invalid header {name!r} in an error response")
            lines.append(name + b": " + value)
        lines.append(b"content-length: " + str(len(body)).encode("ascii"))
        lines.append(b"connection: close")
        return b"\r\n".join(lines) + b"\r\n\r\n" + (b"" if self._method == b"HEAD" else body)
