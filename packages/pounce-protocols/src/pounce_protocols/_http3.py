"""HTTP/3 server over ``aioquic``: datagrams in, protocol-neutral events out.

Theory of operation
-------------------
``aioquic`` does QUIC (``QuicConnection``: packets, TLS 1.3, loss recovery,
flow control) and HTTP/3 framing with QPACK (``H3Connection``). Around them
this module does what :mod:`._http2` does for ``h2``, so that the layer above
sees HTTP/3 as it sees HTTP/1.1 and HTTP/2:

Routing (:class:`HTTP3Endpoint`)
    One UDP socket carries many QUIC connections. The endpoint reads each
    datagram's header, finds the connection by destination connection ID,
    creates one for a client Initial (while accepting), answers an unknown
    version with Version Negotiation and drops the rest. Connection IDs come
    and go through ``aioquic``'s own events.

Vocabulary (:class:`HTTP3ServerConnection`)
    A request's HEADERS become :class:`RequestReceived` (``http_version``
    "3"; the pseudo-headers checked and removed as for HTTP/2), DATA
    :class:`BodyReceived`, the end of the stream :class:`BodyEnded`, a
    client's RESET_STREAM or STOP_SENDING :class:`StreamReset`, the end of
    the connection :class:`ConnectionLost`. Requests over the header limits
    are :class:`RequestRejected` (431) on their stream alone, as are
    malformed paths (400) and CONNECT (501).

0-RTT (early data)
    A request whose HEADERS arrive before the handshake completes came in
    0-RTT and may be a replay (RFC 8470, RFC 9114 §10.9). Only GET, HEAD and
    OPTIONS are served from early data; anything else is
    :class:`RequestRejected` with 425 Too Early, which tells the client to
    retry after the handshake. Session tickets are single-use
    (:class:`SessionTicketStore` hands each out once), so one ticket cannot
    be replayed against the same store.

Back-pressure
    ``aioquic`` buffers what is written to a stream until the peer
    acknowledges it. :meth:`HTTP3ServerConnection.pending_bytes` reports that
    backlog so the server can make an app wait, as it waits on an HTTP/2
    window.

``aioquic`` exceptions never leave this module. Time enters only as ``now``
arguments; nothing here opens a socket or starts a timer.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aioquic._buffer import Buffer, BufferReadError
from aioquic.buffer import encode_uint_var
from aioquic.h3.connection import H3_ALPN, ErrorCode, FrameType, H3Connection, encode_frame
from aioquic.h3.events import DataReceived, H3Event, HeadersReceived
from aioquic.h3.exceptions import H3Error
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import (
    ConnectionIdIssued,
    ConnectionIdRetired,
    ConnectionTerminated,
    HandshakeCompleted,
    ProtocolNegotiated,
    QuicEvent,
    StopSendingReceived,
)
from aioquic.quic.events import StreamReset as QuicStreamReset
from aioquic.quic.packet import (
    QuicPacketType,
    encode_quic_version_negotiation,
    pull_quic_header,
)
from aioquic.tls import SessionTicket

from pounce_protocols._errors import LocalProtocolError
from pounce_protocols._events import (
    BodyEnded,
    BodyReceived,
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
)
from pounce_protocols._request_pseudo import (
    MalformedTarget,
    check_origin,
    split_fields,
    split_pseudo_target,
)

__all__ = [
    "HTTP3Endpoint",
    "HTTP3Limits",
    "HTTP3ServerConnection",
    "SessionTicketStore",
    "http3_error_name",
]

Address = Any  # (host, port) or (host, port, flowinfo, scope_id)

# Methods that are safe to serve from early data (RFC 9110 §9.2.1, idempotent
# and without side effects the client could not repeat).
_EARLY_SAFE_METHODS = frozenset({b"GET", b"HEAD", b"OPTIONS"})
_CONNECTION_FIELDS = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}
)
# A client Initial must be padded to at least this (RFC 9000 §14.1).
_MIN_INITIAL_SIZE = 1200
_CID_LENGTH = 8


def http3_error_name(code: int) -> str:
    """The name of an HTTP/3 error code, for logs."""
    try:
        return ErrorCode(code).name
    except ValueError:
        return hex(code)


@dataclass(frozen=True, slots=True, kw_only=True)
class HTTP3Limits:
    """What one HTTP/3 connection may ask of the server."""

    max_concurrent_streams: int = 100
    max_header_list_size: int = 16 * 1024
    max_header_count: int = 100
    #: Per-stream and per-connection receive windows (QUIC flow control).
    stream_window: int = 256 * 1024
    connection_window: int = 1024 * 1024
    idle_timeout: float = 30.0
    #: Accept 0-RTT: issue session tickets and serve safe requests from early data.
    early_data: bool = True

    def __post_init__(self) -> None:
        if self.max_concurrent_streams < 1:
            raise ValueError("max_concurrent_streams must be at least 1")
        if self.stream_window < 1024 or self.connection_window < self.stream_window:
            raise ValueError("windows must be at least 1024 bytes, connection >= stream")


class SessionTicketStore:
    """Session tickets this server issued, bounded, each usable once.

    Handing a ticket out once (``pop``) means a captured 0-RTT flight cannot
    be replayed against this store: the second use finds no ticket and falls
    back to a full handshake. The oldest ticket goes when the store is full.
    Owned by one event loop (one worker); not thread-safe by design.
    """

    __slots__ = ("_max", "_tickets")

    def __init__(self, max_tickets: int = 10_000) -> None:
        if max_tickets < 1:
            raise ValueError("max_tickets must be at least 1")
        self._max = max_tickets
        self._tickets: collections.OrderedDict[bytes, SessionTicket] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._tickets)

    def add(self, ticket: SessionTicket) -> None:
        self._tickets[ticket.ticket] = ticket
        while len(self._tickets) > self._max:
            self._tickets.popitem(last=False)

    def pop(self, label: bytes) -> SessionTicket | None:
        return self._tickets.pop(label, None)


def _response_fields(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    fields = []
    for name, value in headers:
        if not name or name[0] == 0x3A or any(c <= 32 or c >= 127 for c in name):
            raise LocalProtocolError(f"invalid header name {name!r}")
        if 0x0D in value or 0x0A in value or 0x00 in value:  # CR, LF, NUL (see _http1_fast)
            raise LocalProtocolError(f"invalid value for header {name!r}")
        lowered = name.lower()
        if lowered not in _CONNECTION_FIELDS:
            fields.append((lowered, value))
    return fields


class _Stream:
    __slots__ = ("head_sent", "local_ended", "rejected", "remote_ended")

    def __init__(self) -> None:
        self.head_sent = False
        self.local_ended = False
        self.rejected = False
        self.remote_ended = False


class HTTP3ServerConnection:
    """One QUIC connection carrying HTTP/3, as a Sans-IO machine."""

    __slots__ = (
        "_closed",
        "_goaway_sent",
        "_h3",
        "_handshake_done",
        "_limits",
        "_quic",
        "_streams",
        "issued_cids",
        "retired_cids",
    )

    def __init__(self, quic: QuicConnection, limits: HTTP3Limits) -> None:
        self._quic = quic
        self._limits = limits
        self._h3: H3Connection | None = None
        self._streams: dict[int, _Stream] = {}
        self._closed = False
        self._goaway_sent = False
        self._handshake_done = False
        #: Connection IDs issued/retired since the endpoint last looked.
        self.issued_cids: list[bytes] = []
        self.retired_cids: list[bytes] = []

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def accepting_streams(self) -> bool:
        return not self._goaway_sent and not self._closed

    @property
    def open_streams(self) -> int:
        return len(self._streams)

    # ------------------------------------------------------------- input

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> list[Event]:
        """Feed one datagram; return the events it produced."""
        if self._closed:
            return []
        try:
            self._quic.receive_datagram(data, addr, now)
        except Exception:  # noqa: BLE001 - aioquic must not take the server down
            self._quic.close(error_code=ErrorCode.H3_INTERNAL_ERROR)
        return self._drain_events()

    def handle_timer(self, now: float) -> list[Event]:
        if self._closed:
            return []
        self._quic.handle_timer(now)
        return self._drain_events()

    def next_timer(self) -> float | None:
        return None if self._closed else self._quic.get_timer()

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Address]]:
        return self._quic.datagrams_to_send(now)

    def _drain_events(self) -> list[Event]:
        events: list[Event] = []
        while (quic_event := self._quic.next_event()) is not None:
            self._on_quic_event(quic_event, events)
        return events

    def _on_quic_event(self, event: QuicEvent, events: list[Event]) -> None:
        if isinstance(event, ConnectionIdIssued):
            self.issued_cids.append(event.connection_id)
        elif isinstance(event, ConnectionIdRetired):
            self.retired_cids.append(event.connection_id)
        elif isinstance(event, HandshakeCompleted):
            self._handshake_done = True
            return
        elif isinstance(event, ConnectionTerminated):
            if not self._closed:
                self._closed = True
                events.append(ConnectionLost())
            return
        elif isinstance(event, QuicStreamReset | StopSendingReceived):
            stream_id = event.stream_id
            if self._streams.pop(stream_id, None) is not None:
                events.append(StreamReset(stream_id=stream_id, error_code=event.error_code))
                if isinstance(event, StopSendingReceived):
                    with contextlib.suppress(Exception):
                        self._quic.reset_stream(stream_id, ErrorCode.H3_REQUEST_CANCELLED)
            return
        elif isinstance(event, ProtocolNegotiated):
            # ALPN is settled with the ClientHello, before any 0-RTT data.
            if event.alpn_protocol in H3_ALPN and self._h3 is None:
                self._h3 = H3Connection(self._quic)
            return
        if self._h3 is None:
            return
        try:
            h3_events = self._h3.handle_event(event)
        except H3Error:
            self._quic.close(error_code=ErrorCode.H3_GENERAL_PROTOCOL_ERROR)
            return
        for h3_event in h3_events:
            self._on_h3_event(h3_event, events)

    def _on_h3_event(self, event: H3Event, events: list[Event]) -> None:
        if isinstance(event, HeadersReceived):
            stream = self._streams.get(event.stream_id)
            if stream is None:
                if event.stream_id % 4 != 0:
                    return  # not a client-initiated bidirectional stream
                self._on_request(event, events)
            elif not stream.rejected and event.stream_ended:
                # Trailers: accepted, not passed on (ASGI has no request trailers).
                stream.remote_ended = True
                events.append(BodyEnded(stream_id=event.stream_id, _trusted=True))
        elif isinstance(event, DataReceived):
            stream = self._streams.get(event.stream_id)
            if stream is None or stream.rejected or stream.remote_ended:
                return
            if event.data:
                events.append(
                    BodyReceived(stream_id=event.stream_id, data=event.data, _trusted=True)
                )
            if event.stream_ended:
                stream.remote_ended = True
                events.append(BodyEnded(stream_id=event.stream_id, _trusted=True))

    def _on_request(self, event: HeadersReceived, events: list[Event]) -> None:
        stream_id = event.stream_id
        if not self.accepting_streams:
            self._refuse(stream_id)
            return
        if len(self._streams) >= self._limits.max_concurrent_streams:
            self._refuse(stream_id)
            return
        stream = _Stream()
        stream.remote_ended = event.stream_ended
        self._streams[stream_id] = stream
        limits = self._limits
        method, path, scheme, authority, _, headers, size = split_fields(event.headers)

        def reject(status: int, reason: str) -> None:
            stream.rejected = True
            events.append(RequestRejected(stream_id=stream_id, status_hint=status, reason=reason))

        if size > limits.max_header_list_size or len(headers) > limits.max_header_count:
            return reject(431, "request header fields too large")
        if method is None or path is None or scheme is None:
            if method == b"CONNECT":
                return reject(501, "CONNECT tunnels are not supported")
            return reject(400, "missing pseudo-header")
        if not self._handshake_done and method not in _EARLY_SAFE_METHODS:
            return reject(425, f"{method.decode('latin-1')} request in 0-RTT early data")
        if method == b"CONNECT":
            return reject(501, "CONNECT tunnels are not supported")
        try:
            path, query = split_pseudo_target(method, scheme, path)
            check_origin(authority, headers)
        except MalformedTarget as exc:
            return reject(400, exc.reason)
        if authority is not None:
            headers = [(b"host", authority), *(h for h in headers if h[0] != b"host")]
        fields: Headers = tuple(headers)
        expect = any(n == b"expect" and v.strip().lower() == b"100-continue" for n, v in fields)
        events.append(
            RequestReceived(
                stream_id=stream_id,
                method=method,
                path=path,
                query_string=query,
                http_version="3",
                headers=fields,
                scheme=scheme,
                authority=authority,
                expect_continue=expect,
                _trusted=True,
            )
        )
        if event.stream_ended:
            events.append(BodyEnded(stream_id=stream_id, _trusted=True))
        return None

    def _refuse(self, stream_id: int) -> None:
        # Never processed: the client may retry it (RFC 9114 §4.1.1).
        with contextlib.suppress(Exception):
            self._quic.stop_stream(stream_id, ErrorCode.H3_REQUEST_REJECTED)
            self._quic.reset_stream(stream_id, ErrorCode.H3_REQUEST_REJECTED)

    # ------------------------------------------------------------ output

    def send(self, event: ResponseEvent) -> None:
        """Queue one response event; datagrams come from :meth:`datagrams_to_send`.

        Events for a stream that is gone (reset by the peer, connection
        closed) are dropped.
        """
        stream_id = event.stream_id
        stream = self._streams.get(stream_id)
        if stream is None or self._h3 is None:
            if self._closed or stream_id % 4 == 0:
                return
            raise LocalProtocolError(f"stream {stream_id} is not open")
        if stream.local_ended:
            raise LocalProtocolError(f"the response on stream {stream_id} is complete")
        h3 = self._h3
        try:
            if isinstance(event, ResponseBody):
                if not stream.head_sent:
                    raise LocalProtocolError("response body before the response head")
                if event.data:
                    h3.send_data(stream_id, event.data, end_stream=False)
            elif isinstance(event, ResponseHead):
                if stream.head_sent:
                    raise LocalProtocolError("response already started")
                if event.status < 200:
                    raise LocalProtocolError(f"HTTP/3 has no final status {event.status}")
                fields = _response_fields(event.headers)
                status = str(event.status).encode("ascii")
                h3.send_headers(stream_id, [(b":status", status), *fields])
                stream.head_sent = True
            elif isinstance(event, ResponseEnd):
                if not stream.head_sent:
                    raise LocalProtocolError("response end before the response head")
                trailers = _response_fields(event.trailers)
                if trailers:
                    h3.send_headers(stream_id, trailers, end_stream=True)
                else:
                    h3.send_data(stream_id, b"", end_stream=True)
                self._local_end(stream_id, stream)
            elif isinstance(event, InformationalResponse):
                if stream.head_sent:
                    raise LocalProtocolError("interim response after the final response")
                fields = _response_fields(event.headers)
                status = str(event.status).encode("ascii")
                h3.send_headers(stream_id, [(b":status", status), *fields])
            else:
                raise LocalProtocolError(f"cannot send {type(event).__name__} over HTTP/3")
        except (H3Error, AssertionError, ValueError) as exc:
            raise LocalProtocolError(str(exc) or type(exc).__name__) from None

    def _local_end(self, stream_id: int, stream: _Stream) -> None:
        stream.local_ended = True
        if not stream.remote_ended:
            # The response is complete before the request body: the client
            # may stop sending it (RFC 9114 §4.1).
            with contextlib.suppress(Exception):
                self._quic.stop_stream(stream_id, ErrorCode.H3_NO_ERROR)
        del self._streams[stream_id]

    def pending_bytes(self, stream_id: int) -> int:
        """Response bytes on ``stream_id`` the peer has not acknowledged yet."""
        # aioquic has no public view of a stream's send buffer.
        stream = self._quic._streams.get(stream_id)
        if stream is None:
            return 0
        return len(stream.sender._buffer)

    @property
    def unacknowledged(self) -> int:
        """Bytes written on any stream that the peer has not acknowledged.

        Closing the connection discards them, so a graceful close waits for 0.
        """
        return sum(len(stream.sender._buffer) for stream in self._quic._streams.values())

    def reset_stream(self, stream_id: int, error_code: int = ErrorCode.H3_INTERNAL_ERROR) -> None:
        if self._streams.pop(stream_id, None) is None and self._closed:
            return
        with contextlib.suppress(Exception):
            self._quic.reset_stream(stream_id, error_code)
            self._quic.stop_stream(stream_id, error_code)

    def start_graceful_shutdown(self) -> None:
        """Send GOAWAY: streams taken so far complete, newer ones are refused."""
        if self._goaway_sent or self._closed:
            return
        self._goaway_sent = True
        h3 = self._h3
        if h3 is None:
            return
        # aioquic's H3Connection cannot send GOAWAY; its control stream can.
        control = h3._local_control_stream_id
        if control is None:
            return
        taken = [sid for sid in self._quic._streams if sid % 4 == 0]
        next_id = max(taken) + 4 if taken else 0
        with contextlib.suppress(Exception):
            self._quic.send_stream_data(
                control, encode_frame(FrameType.GOAWAY, encode_uint_var(next_id))
            )

    def close(self, error_code: int = ErrorCode.H3_NO_ERROR, reason: str = "") -> None:
        """Close the QUIC connection (CONNECTION_CLOSE goes out with the next datagrams)."""
        if not self._closed:
            self._quic.close(error_code=error_code, reason_phrase=reason)


class HTTP3Endpoint:
    """Many QUIC connections over one UDP socket, routed by connection ID."""

    __slots__ = (
        "_by_cid",
        "_cert",
        "_configuration",
        "_limits",
        "_tickets",
        "accepting",
    )

    def __init__(
        self,
        *,
        certfile: str,
        keyfile: str | None = None,
        password: str | None = None,
        limits: HTTP3Limits,
        tickets: SessionTicketStore | None = None,
    ) -> None:
        configuration = QuicConfiguration(
            is_client=False,
            alpn_protocols=H3_ALPN,
            idle_timeout=limits.idle_timeout,
            max_data=limits.connection_window,
            max_stream_data=limits.stream_window,
            connection_id_length=_CID_LENGTH,
        )
        configuration.load_cert_chain(certfile, keyfile, password)
        self._configuration = configuration
        self._limits = limits
        self._tickets = tickets if tickets is not None else SessionTicketStore()
        self._by_cid: dict[bytes, HTTP3ServerConnection] = {}
        self._cert = certfile
        #: False once draining: Initials for new connections are dropped.
        self.accepting = True

    @property
    def connection_count(self) -> int:
        return len(set(map(id, self._by_cid.values())))

    def receive_datagram(
        self, data: bytes, addr: Address, now: float
    ) -> tuple[HTTP3ServerConnection | None, list[Event], list[tuple[bytes, Address]]]:
        """Route one datagram.

        Returns the connection it belongs to (``None`` if it was dropped or
        answered statelessly), that connection's events, and datagrams to
        send that belong to no connection (Version Negotiation).
        """
        buf = Buffer(data=data)
        try:
            header = pull_quic_header(buf, host_cid_length=_CID_LENGTH)
        except (BufferReadError, ValueError):
            return None, [], []
        conn = self._by_cid.get(header.destination_cid)
        if conn is None:
            if header.packet_type != QuicPacketType.INITIAL:
                if (
                    header.version is not None
                    and header.version not in self._configuration.supported_versions
                    and header.packet_type is not None
                ):
                    return None, [], self._version_negotiation(header, addr)
                return None, [], []
            if header.version not in self._configuration.supported_versions:
                return None, [], self._version_negotiation(header, addr)
            if not self.accepting or len(data) < _MIN_INITIAL_SIZE:
                return None, [], []
            conn = self._new_connection(header.destination_cid)
        events = conn.receive_datagram(data, addr, now)
        self.update_routes(conn)
        return conn, events, []

    def _version_negotiation(self, header: Any, addr: Address) -> list[tuple[bytes, Address]]:
        if header.version is None:
            return []
        packet = encode_quic_version_negotiation(
            source_cid=header.destination_cid,
            destination_cid=header.source_cid,
            supported_versions=self._configuration.supported_versions,
        )
        return [(packet, addr)]

    def _new_connection(self, original_cid: bytes) -> HTTP3ServerConnection:
        early = self._limits.early_data
        tickets = self._tickets
        quic = QuicConnection(
            configuration=self._configuration,
            original_destination_connection_id=original_cid,
            session_ticket_fetcher=tickets.pop if early else None,
            session_ticket_handler=tickets.add if early else None,
        )
        # aioquic fixes the stream limit at 128; the transport parameter is
        # read when the first datagram arrives, so setting it now is in time.
        limit = quic._local_max_streams_bidi
        limit.value = limit.sent = self._limits.max_concurrent_streams
        conn = HTTP3ServerConnection(quic, self._limits)
        self._by_cid[original_cid] = conn
        # The ID the server chose for itself; later ones are announced as events.
        self._by_cid[quic.host_cid] = conn
        return conn

    def update_routes(self, conn: HTTP3ServerConnection) -> None:
        """Apply the connection IDs a connection issued or retired."""
        if conn.closed:
            conn.issued_cids.clear()
            conn.retired_cids.clear()
            self.forget(conn)
            return
        for cid in conn.issued_cids:
            self._by_cid[cid] = conn
        for cid in conn.retired_cids:
            if self._by_cid.get(cid) is conn:
                del self._by_cid[cid]
        conn.issued_cids.clear()
        conn.retired_cids.clear()

    def forget(self, conn: HTTP3ServerConnection) -> None:
        """Drop every route to a connection that has ended."""
        for cid in [cid for cid, c in self._by_cid.items() if c is conn]:
            del self._by_cid[cid]
