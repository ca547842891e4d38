"""HTTP/3 over an asyncio UDP socket: the QUIC edge of a worker.

:class:`HTTP3Listener` owns one UDP socket and the Sans-IO
:class:`~pounce_protocols.HTTP3Endpoint` that routes its datagrams to QUIC
connections. Each QUIC connection gets an :class:`HTTP3Connection`, which is
to HTTP/3 what :class:`~pounce._edges.http2.connection.HTTP2Connection` is to
HTTP/2: it runs one :class:`~pounce._bridge.http_stream.HTTPStream` task per request
stream and is their :class:`~pounce._bridge.http_stream.StreamSink`. What needs a
clock or a socket lives here:

* sending: after anything that may produce output (a datagram in, a timer, a
  response event) the connection's datagrams are sent, coalesced to once per
  loop turn for response events;
* timers: one loop timer per connection, at the deadline aioquic asks for
  (loss detection, acknowledgements, idle timeout);
* back-pressure: an app's ``send()`` waits while its stream holds more than
  ``_HIGH_WATER`` bytes the client has not acknowledged; a stream stuck so
  for ``timeout_flow_control`` is reset;
* shutdown: GOAWAY, in-flight streams complete, then CONNECTION_CLOSE; the
  listener stops creating connections as soon as the worker drains.

Multiple workers: each worker binds its own UDP socket on the port with
``SO_REUSEPORT``; Linux hashes every datagram by its address 4-tuple, so a
client's datagrams keep reaching the worker that holds its connection (see
docs/http3.md for what that does not cover).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterable
from typing import Any, cast

from pounce._bridge.access_log import log_request
from pounce._bridge.context import WorkerContext
from pounce._bridge.http_scope import address, content_length, http_scope, request_headers
from pounce._bridge.http_stream import DRAIN_GRACE, EventSink, HTTPStream
from pounce._runtime.logs import ERROR_LOGGER
from pounce_protocols import (
    BodyEnded,
    BodyReceived,
    ConnectionLost,
    Event,
    HTTP3Endpoint,
    HTTP3Limits,
    HTTP3ServerConnection,
    InformationalResponse,
    LocalProtocolError,
    RequestReceived,
    RequestRejected,
    ResponseBody,
    ResponseEnd,
    ResponseEvent,
    ResponseHead,
    SessionTicketStore,
    StreamReset,
)

__all__ = ["HTTP3Connection", "HTTP3Listener", "alt_svc_header", "start_http3"]

_logger = logging.getLogger(ERROR_LOGGER)

# An app's send() waits while its stream holds this much unacknowledged data.
_HIGH_WATER = 256 * 1024
# How long the app of a stream the client reset may run on before it is cancelled.
_RESET_GRACE = 2.0
# Session tickets one worker remembers (each ~200 bytes plus the ticket).
_MAX_TICKETS = 10_000
_H3_REQUEST_CANCELLED = 0x010C
_H3_INTERNAL_ERROR = 0x0102


def alt_svc_header(port: int) -> tuple[bytes, bytes]:
    """The Alt-Svc field that points HTTP/1.1 and HTTP/2 clients at HTTP/3."""
    return (b"alt-svc", f'h3=":{port}"; ma=86400'.encode("ascii"))


class _Slot:
    __slots__ = ("stall_mark", "stall_timer", "stream", "task", "waiter")

    def __init__(self, stream: HTTPStream) -> None:
        self.stream = stream
        self.task: asyncio.Task[None] | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.stall_timer: asyncio.TimerHandle | None = None
        self.stall_mark = 0  # unacknowledged bytes when the period began

    def wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self.stall_timer is not None:
            self.stall_timer.cancel()
            self.stall_timer = None


class HTTP3Connection(EventSink):
    """One QUIC connection carrying HTTP/3 requests."""

    __slots__ = (
        "_client",
        "_closing",
        "_ctx",
        "_ended",
        "_flush_handle",
        "_listener",
        "_loop",
        "_machine",
        "_orphans",
        "_server",
        "_slots",
        "_timer",
        "_timer_at",
    )

    def __init__(
        self,
        ctx: WorkerContext,
        listener: HTTP3Listener,
        machine: HTTP3ServerConnection,
        client: tuple[str, int] | None,
    ) -> None:
        self._ctx = ctx
        self._loop = ctx.loop
        self._listener = listener
        self._machine = machine
        self._client = client
        self._server = listener.server_address
        self._slots: dict[int, _Slot] = {}
        self._orphans: dict[int, asyncio.Task[None]] = {}
        self._timer: asyncio.Handle | None = None
        self._timer_at = 0.0
        self._flush_handle: asyncio.Handle | None = None
        self._closing = False
        self._ended = False

    # ----------------------------------------------------------- input

    def handle(self, events: list[Event]) -> None:
        """Events from a datagram or a timer; then send what is due."""
        to_start: list[_Slot] = []
        for event in events:
            if isinstance(event, BodyReceived):
                self._on_body(event)
            elif isinstance(event, RequestReceived):
                slot = self._on_request(event)
                if slot is not None:
                    to_start.append(slot)
            elif isinstance(event, BodyEnded):
                slot = self._slots.get(event.stream_id)
                if slot is not None:
                    slot.stream.feed_end()
            elif isinstance(event, StreamReset):
                self._on_reset(event.stream_id)
            elif isinstance(event, RequestRejected):
                self._on_rejected(event)
            elif isinstance(event, ConnectionLost):
                self._disconnect_all()
        app = self._ctx.http_app
        for slot in to_start:
            if self._slots.get(slot.stream.stream_id) is slot:
                slot.task = self._ctx.start_task(slot.stream.run(app))
        self._flush()

    def _on_request(self, event: RequestReceived) -> _Slot | None:
        ctx = self._ctx
        stream_id = event.stream_id
        if len(self._slots) + len(self._orphans) >= ctx.config.http3_max_concurrent_streams:
            # Apps of reset streams still count (see HTTP/2's rapid reset).
            self._machine.reset_stream(stream_id, 0x010B)  # H3_REQUEST_REJECTED
            return None
        ctx.requests_served += 1
        headers = request_headers(event)
        scope = http_scope(
            ctx, event, headers, client=self._client, server=self._server, scheme="https", tls=None
        )
        stream = HTTPStream(
            sink=self,
            stream_id=stream_id,
            scope=scope,
            default_headers=ctx.default_headers,
            expect_continue=event.expect_continue,
            body_limit=ctx.config.limit_request_body,
            layer_hooks=ctx.http_start_hooks,
            default_names=ctx.default_field_names,
        )
        slot = _Slot(stream)
        self._slots[stream_id] = slot
        length = content_length(headers)
        if length is not None and length > ctx.config.limit_request_body:
            _logger.info(
                "Request body of %d bytes from %s (HTTP/3 stream %d) is over the limit: 413",
                length,
                self._peer(),
                stream_id,
            )
            stream.reject_request(413)
            del self._slots[stream_id]
            log_request(ctx, stream)
            return None
        return slot

    def _on_body(self, event: BodyReceived) -> None:
        slot = self._slots.get(event.stream_id)
        if slot is None:
            return
        if not slot.stream.feed_body(event.data):
            _logger.info(
                "Request body from %s (HTTP/3 stream %d) over %d bytes: 413",
                self._peer(),
                event.stream_id,
                self._ctx.config.limit_request_body,
            )
            slot.stream.reject_request(413)
            slot.wake()

    def _on_reset(self, stream_id: int) -> None:
        slot = self._slots.pop(stream_id, None)
        if slot is None:
            return
        slot.stream.feed_disconnect()
        slot.wake()
        task = slot.task
        if task is not None and not task.done():
            self._orphans[stream_id] = task
            self._loop.call_later(_RESET_GRACE, self._cancel_orphan, stream_id, task)

    def _cancel_orphan(self, stream_id: int, task: asyncio.Task[None]) -> None:
        if self._orphans.get(stream_id) is task and not task.done():
            task.cancel()

    def _on_rejected(self, event: RequestRejected) -> None:
        _logger.info(
            "Invalid HTTP/3 request from %s (stream %d): %s (%d)",
            self._peer(),
            event.stream_id,
            event.reason,
            event.status_hint,
        )
        self._write_error(event.stream_id, event.status_hint, (), head_only=False)

    def _disconnect_all(self) -> None:
        for slot in self._slots.values():
            slot.stream.feed_disconnect()
            slot.wake()

    # ------------------------------------------------------ StreamSink

    def send_event(self, event: ResponseEvent) -> None:
        if self._ended:
            return
        try:
            self._machine.send(event)
        except LocalProtocolError as exc:
            raise RuntimeError(f"Invalid response: {exc}") from None
        self._schedule_flush()

    def writable(self, stream_id: int) -> bool:
        if self._ended or stream_id not in self._slots:
            return True  # the sender will find out it is disconnected
        return self._machine.pending_bytes(stream_id) < _HIGH_WATER

    async def wait_writable(self, stream_id: int) -> None:
        if self.writable(stream_id):
            return
        slot = self._slots[stream_id]
        slot.waiter = self._loop.create_future()
        timeout = self._ctx.config.timeout_write
        if slot.stall_timer is None and timeout is not None:
            # --timeout-write, judged on progress: a period in which the peer
            # acknowledges nothing of this stream resets it; a slow one never.
            slot.stall_mark = self._machine.pending_bytes(stream_id)
            slot.stall_timer = self._loop.call_later(timeout, self._on_stall, stream_id)
        self._schedule_flush()
        await slot.waiter

    def body_consumed(self, stream_id: int, nbytes: int) -> None:
        # QUIC flow control credit is granted by aioquic as data is delivered.
        return

    def stream_finished(self, stream: HTTPStream) -> None:
        log_request(self._ctx, stream)
        stream_id = stream.stream_id
        slot = self._slots.get(stream_id)
        if slot is not None and slot.stream is stream:
            del self._slots[stream_id]
            slot.wake()
        else:
            self._orphans.pop(stream_id, None)
        self._schedule_flush()

    def abort_stream(self, stream_id: int) -> None:
        self._machine.reset_stream(stream_id, _H3_INTERNAL_ERROR)
        self._schedule_flush()

    def send_continue(self, stream_id: int) -> None:
        if self._ended:
            return
        with contextlib.suppress(LocalProtocolError):
            self._machine.send(InformationalResponse(stream_id=stream_id, status=100))
        self._schedule_flush()

    def send_error_response(
        self, stream_id: int, status: int, request_headers: Iterable[tuple[bytes, bytes]]
    ) -> int:
        slot = self._slots.get(stream_id)
        head_only = slot is not None and slot.stream.scope["method"] == "HEAD"
        return self._write_error(stream_id, status, request_headers, head_only=head_only)

    def _write_error(
        self,
        stream_id: int,
        status: int,
        request_headers: Iterable[tuple[bytes, bytes]],
        *,
        head_only: bool,
    ) -> int:
        if self._ended:
            return 0
        ctx = self._ctx
        extra, body = ctx.error_renderer(status, request_headers)
        headers = (
            *ctx.default_headers(),
            *extra,
            (b"content-length", str(len(body)).encode("ascii")),
        )
        machine = self._machine
        try:
            machine.send(ResponseHead(stream_id=stream_id, status=status, headers=headers))
            if not head_only:
                machine.send(ResponseBody(stream_id=stream_id, data=body, _trusted=True))
            machine.send(ResponseEnd(stream_id=stream_id))
        except LocalProtocolError:
            machine.reset_stream(stream_id, _H3_INTERNAL_ERROR)
            self._schedule_flush()
            return 0
        self._schedule_flush()
        return 0 if head_only else len(body)

    # --------------------------------------------------------- output

    def _schedule_flush(self) -> None:
        if self._flush_handle is None and not self._ended:
            self._flush_handle = self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._ended:
            return
        machine = self._machine
        self._listener.send_datagrams(machine.datagrams_to_send(self._loop.time()))
        if machine.closed:
            self.end()
            return
        if self._closing and self.is_idle() and not machine.unacknowledged:
            # Closing discards unacknowledged data: the last responses first.
            machine.close()
            self._listener.send_datagrams(machine.datagrams_to_send(self._loop.time()))
        self._arm_timer()
        self._wake_writers()

    def _arm_timer(self) -> None:
        deadline = self._machine.next_timer()
        if self._timer is not None:
            # The deadline is kept apart: uvloop answers call_at with a past
            # deadline by a plain Handle, which has no when().
            if deadline is not None and self._timer_at == deadline:
                return
            self._timer.cancel()
            self._timer = None
        if deadline is not None:
            self._timer = self._loop.call_at(deadline, self._on_timer)
            self._timer_at = deadline

    def _on_timer(self) -> None:
        self._timer = None
        if not self._ended:
            self.handle(self._machine.handle_timer(self._loop.time()))
            # A timer can make aioquic issue or retire connection IDs too.
            self._listener.update_routes(self._machine)

    def _wake_writers(self) -> None:
        machine = self._machine
        for stream_id, slot in self._slots.items():
            if slot.waiter is not None and machine.pending_bytes(stream_id) < _HIGH_WATER:
                slot.wake()

    def _on_stall(self, stream_id: int) -> None:
        slot = self._slots.get(stream_id)
        if slot is None:
            return
        slot.stall_timer = None
        timeout = self._ctx.config.timeout_write
        pending = self._machine.pending_bytes(stream_id)
        if pending < slot.stall_mark and timeout is not None:
            slot.stall_mark = pending  # the peer took something: a new period
            slot.stall_timer = self._loop.call_later(timeout, self._on_stall, stream_id)
            return
        _logger.info(
            "HTTP/3 stream %d of %s: nothing acknowledged for %.0f s: reset (--timeout-write)",
            stream_id,
            self._peer(),
            timeout,
        )
        self._machine.reset_stream(stream_id, _H3_REQUEST_CANCELLED)
        self._on_reset(stream_id)
        self._flush()

    def end(self) -> None:
        """The QUIC connection is gone: tell the apps and forget it."""
        if self._ended:
            return
        self._ended = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._disconnect_all()
        self._listener.connection_ended(self)

    @property
    def machine(self) -> HTTP3ServerConnection:
        return self._machine

    def _peer(self) -> str:
        return f"{self._client[0]}:{self._client[1]}" if self._client else "unknown peer"

    # ------------------------------------------------ worker shutdown

    def is_idle(self) -> bool:
        return not self._slots and not self._orphans

    def shutdown(self) -> None:
        """GOAWAY now; close once the streams in flight are complete."""
        self._closing = True
        self._machine.start_graceful_shutdown()
        self._flush()

    def drain_streams(self) -> bool:
        """The worker drains: long-lived responses are asked to end (as over
        HTTP/2), and GOAWAY sent so their clients reconnect elsewhere."""
        asked = [
            slot.stream
            for slot in self._slots.values()
            if slot.stream.ask_to_end(self._ctx.drain_content_types)
        ]
        if not asked:
            return False
        self._loop.call_later(DRAIN_GRACE, self._end_asked_streams, asked)
        if not self._closing:
            self.shutdown()
        return True

    def _end_asked_streams(self, streams: list[HTTPStream]) -> None:
        for stream in streams:
            slot = self._slots.get(stream.stream_id)
            if slot is None or slot.stream is not stream or stream.response_complete:
                continue  # it ended by itself
            if slot.task is not None and not slot.task.done():
                # The response ends as the cancellation passes (HTTPStream.run).
                slot.task.cancel()
            else:
                stream.end_response()
        self._flush()

    def force_close(self) -> None:
        """Grace period over: cancel the apps and close the connection."""
        for slot in self._slots.values():
            if slot.task is not None and not slot.task.done():
                slot.task.cancel()
        for task in self._orphans.values():
            task.cancel()
        self._machine.close(_H3_INTERNAL_ERROR)
        self._flush()
        self.end()


class HTTP3Listener(asyncio.DatagramProtocol):
    """One UDP socket of one worker and the QUIC connections it carries."""

    __slots__ = ("_ctx", "_edges", "_endpoint", "_transport", "server_address")

    def __init__(self, ctx: WorkerContext, endpoint: HTTP3Endpoint) -> None:
        self._ctx = ctx
        self._endpoint = endpoint
        self._edges: dict[int, HTTP3Connection] = {}
        self._transport: asyncio.DatagramTransport | None = None
        self.server_address: tuple[str, int | None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (asyncio's selector datagram transport is not a DatagramTransport subclass.)
        self._transport = cast(asyncio.DatagramTransport, transport)
        self.server_address = address(transport.get_extra_info("sockname"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        for edge in list(self._edges.values()):
            edge.end()  # the socket is gone, so is every connection

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            conn, events, stateless = self._endpoint.receive_datagram(
                data, addr, self._ctx.loop.time()
            )
        except Exception:  # a bad datagram must never take the worker down
            _logger.exception("Error handling a QUIC datagram from %s", addr)
            return
        self.send_datagrams(stateless)
        if conn is None:
            return
        edge = self._edges.get(id(conn))
        if edge is None:
            edge = HTTP3Connection(self._ctx, self, conn, address(addr))
            self._edges[id(conn)] = edge
            self._ctx.connections.add(edge)
        edge.handle(events)
        self._endpoint.update_routes(conn)

    def error_received(self, exc: Exception) -> None:
        # ICMP errors (port unreachable...) concern one peer; QUIC recovers.
        return

    def send_datagrams(self, datagrams: list[tuple[bytes, Any]]) -> None:
        transport = self._transport
        if transport is None:
            return
        for data, addr in datagrams:
            transport.sendto(data, addr)

    def update_routes(self, conn: HTTP3ServerConnection) -> None:
        self._endpoint.update_routes(conn)

    def connection_ended(self, edge: HTTP3Connection) -> None:
        self._edges.pop(id(edge.machine), None)
        self._endpoint.forget(edge.machine)
        self._ctx.connections.discard(edge)

    def stop_accepting(self) -> None:
        """Drain: no new QUIC connections; existing ones go on."""
        self._endpoint.accepting = False

    def close(self) -> None:
        for edge in list(self._edges.values()):
            edge.force_close()
        if self._transport is not None:
            self._transport.close()


def _udp_socket(sockname: Any, family: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if hasattr(socket, "SO_REUSEPORT"):
            # Every worker binds its own socket on the port (see module docstring).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(sockname[:2] if family == socket.AF_INET else sockname)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def start_http3(ctx: WorkerContext, tcp_sockets: list[socket.socket]) -> list[HTTP3Listener]:
    """Bind a UDP socket at each TCP listener's address and serve HTTP/3 on it.

    Also adds the Alt-Svc field to every response this worker sends.
    """
    config = ctx.config
    assert config.ssl_certfile is not None  # ServerConfig checks
    limits = HTTP3Limits(
        max_concurrent_streams=config.http3_max_concurrent_streams,
        max_header_list_size=config.limit_request_header_size,
        max_header_count=config.limit_request_headers,
        idle_timeout=max(float(config.timeout_keep_alive), 5.0),
        early_data=config.http3_0rtt,
    )
    tickets = SessionTicketStore(_MAX_TICKETS)
    listeners: list[HTTP3Listener] = []
    port: int | None = None
    for tcp in tcp_sockets:
        if tcp.family not in (socket.AF_INET, socket.AF_INET6):
            continue
        sockname = tcp.getsockname()
        port = sockname[1]
        endpoint = HTTP3Endpoint(
            certfile=config.ssl_certfile,
            keyfile=config.ssl_keyfile,
            password=config.ssl_keyfile_password,
            limits=limits,
            tickets=tickets,
        )
        sock = _udp_socket(sockname, tcp.family)
        listener = HTTP3Listener(ctx, endpoint)
        await ctx.loop.create_datagram_endpoint(lambda: listener, sock=sock)  # noqa: B023
        listeners.append(listener)
    if port is not None:
        ctx.extra_headers = (*ctx.extra_headers, alt_svc_header(port))
    return listeners
