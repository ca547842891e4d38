"""HTTP/2 over an asyncio transport: one connection, many streams.

:class:`HTTP2Connection` is the I/O edge of HTTP/2. It feeds received bytes
to the Sans-IO :class:`~pounce_protocols.HTTP2ServerConnection`, runs one
:class:`~pounce._bridge.http_stream.HTTPStream` task per stream, and is the
:class:`~pounce._bridge.http_stream.StreamSink` of all of them. It owns what needs
a clock or a socket:

* writing: response events from every stream are serialized at once and
  written together once per loop turn, so a burst of small responses on
  many streams is one write (a large body is written at once, so that the
  transport's back-pressure reaches its app). While the transport is
  paused, response data stays in the machine; when it resumes, just enough
  to fill the transport's buffer again is let out, chosen by the machine in
  priority order (RFC 9218), so a socket that cannot take everything takes
  the most urgent data first;
* flow control, per stream: a stream may send while its body waits for no
  flow-control window and the transport is not paused; its app reading the
  request body reopens that stream's window (and no other);
* timeouts: a new connection must send the client preface within
  ``timeout_request_header``; a connection without streams is closed (with
  GOAWAY) after ``timeout_keep_alive``; a stream whose response waits
  ``timeout_flow_control`` seconds on a window the client keeps shut is
  reset (a stream that waits its turn behind more urgent ones, RFC 9218,
  while the connection moves data is not stalled), and a client that reads
  nothing at all for ``timeout_write`` is disconnected
  (:mod:`pounce._edges.write_watch`: a slow reader never is);
* reset streams: the client's RST_STREAM ends the stream for its app
  (``http.disconnect``); an app still running ``_RESET_GRACE`` seconds later
  is cancelled, and until then it counts against the stream limit, so
  opening and resetting streams cannot pile up work (CVE-2023-44487);
* graceful shutdown: GOAWAY, in-flight streams complete, newer ones are
  refused, then the connection closes; a forced stop cancels the apps.

Protocol errors are the machine's business: it queues the GOAWAY, we write
it, disconnect every stream and close.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any, cast

from pounce._bridge.access_log import log_request
from pounce._bridge.context import WorkerContext
from pounce._bridge.http_scope import (
    address,
    connection_tls,
    content_length,
    http_scope,
    request_headers,
)
from pounce._bridge.http_stream import DRAIN_GRACE, EventSink, HTTPStream
from pounce._edges.http2.websocket import HTTP2WebSocket
from pounce._edges.write_watch import WriteWatch, abandon
from pounce._runtime.lifecycle import ConnectionClosed, ConnectionOpened
from pounce._runtime.logs import ERROR_LOGGER
from pounce_protocols import (
    BodyEnded,
    BodyReceived,
    ConnectionLost,
    Event,
    Headers,
    HTTP2ErrorCode,
    HTTP2ServerConnection,
    InformationalResponse,
    LocalProtocolError,
    RemoteProtocolError,
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

__all__ = ["HTTP2Connection"]

_logger = logging.getLogger(ERROR_LOGGER)

# How long the app of a stream the client reset may run on after it was told
# (http.disconnect) before it is cancelled.
_RESET_GRACE = 2.0
# Output is written once per loop turn, unless this much is waiting: then at
# once, so that the transport's back-pressure reaches a streaming app.
_WRITE_NOW = 64 * 1024


class _Slot:
    """One stream's app: its bridge, its task and what it waits for."""

    __slots__ = ("pending_seen", "stall_timer", "stream", "task", "waiter")

    def __init__(self, stream: HTTPStream) -> None:
        self.stream = stream
        self.task: asyncio.Task[None] | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.stall_timer: asyncio.TimerHandle | None = None
        self.pending_seen = 0

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)
        if self.stall_timer is not None:
            self.stall_timer.cancel()
            self.stall_timer = None


def _error_name(code: int | None) -> str:
    try:
        return HTTP2ErrorCode(code).name if code is not None else "PROTOCOL_ERROR"
    except ValueError:
        return hex(code or 0)


class HTTP2Connection(EventSink, asyncio.Protocol):
    """One client connection speaking HTTP/2.

    Usually started by the protocol selector after ALPN or the client
    preface; after ``Upgrade: h2c`` it is given the machine the upgrade
    initiated and the events of stream 1.
    """

    __slots__ = (
        "_asked_to_end",
        "_awaiting_preface",
        "_client",
        "_closing",
        "_ctx",
        "_data_seen",
        "_flush_handle",
        "_initial_events",
        "_loop",
        "_machine",
        "_orphans",
        "_proxied",
        "_read_paused",
        "_scheme",
        "_server",
        "_slots",
        "_timer",
        "_tls",
        "_transport",
        "_websockets",
        "_write_paused",
        "_write_watch",
    )

    def __init__(
        self,
        ctx: WorkerContext,
        *,
        machine: HTTP2ServerConnection | None = None,
        initial_events: Iterable[Event] = (),
    ) -> None:
        self._ctx = ctx
        self._loop = ctx.loop
        self._machine = machine if machine is not None else HTTP2ServerConnection(ctx.http2_limits)
        self._initial_events = list(initial_events)
        self._transport: asyncio.Transport | None = None
        self._slots: dict[int, _Slot] = {}
        # Streams carrying a WebSocket (RFC 8441), outside the HTTP stream slots.
        self._websockets: dict[int, HTTP2WebSocket] = {}
        # Tasks of streams the client reset, still running (see _RESET_GRACE).
        self._orphans: dict[int, asyncio.Task[None]] = {}
        self._client: tuple[str, int] | None = None
        self._server: tuple[str, int | None] | None = None
        self._scheme = "http"
        self._tls: dict[str, Any] | None = None
        self._proxied = False  # whether the peer's forwarding headers are trusted
        self._timer: asyncio.TimerHandle | None = None
        self._write_watch = WriteWatch(ctx.loop, ctx.config.timeout_write, self._on_write_stalled)
        self._flush_handle: asyncio.Handle | None = None
        self._data_seen = 0  # the machine's data_sent at the last look
        self._write_paused = False
        self._read_paused = False
        self._closing = False
        # Streams asked to end as the worker drains; GOAWAY once they have.
        self._asked_to_end: set[int] = set()
        self._awaiting_preface = False

    # ------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport; uvloop's do not subclass asyncio.Transport.
        self._transport = cast(asyncio.Transport, transport)
        self._client = address(transport.get_extra_info("peername"))
        sockname = transport.get_extra_info("sockname")
        self._server = (sockname, None) if isinstance(sockname, str) else address(sockname)
        if transport.get_extra_info("sslcontext") is not None:
            self._scheme = "https"
            self._tls = connection_tls(transport, self._ctx)
        ctx = self._ctx
        if ctx.proxies is not None:
            # Decided once per connection: the peer does not change.
            self._proxied = ctx.proxies.trusts(self._client[0] if self._client else None)
        ctx.connections.add(self)
        # A connection upgraded from HTTP/1.1 (h2c) was reported opened there.
        if ctx.emitter.active and not self._initial_events:
            ctx.emitter.emit(ConnectionOpened(worker_id=ctx.worker_id, client=self._client))
        if self._initial_events:
            events, self._initial_events = self._initial_events, []
            self._dispatch(events)
        else:
            self._machine.initiate()
        self._write_out()
        if not self._machine.preface_received:
            self._awaiting_preface = True
            self._set_timer(self._ctx.config.timeout_request_header, self._on_preface_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        ctx = self._ctx
        ctx.connections.discard(self)
        if ctx.emitter.active:
            ctx.emitter.emit(ConnectionClosed(worker_id=ctx.worker_id, client=self._client))
        self._cancel_timer()
        self._write_watch.resumed()
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self._closing = True
        self._transport = None
        self._disconnect_all()

    def data_received(self, data: bytes) -> None:
        machine = self._machine
        if machine.closed:
            return
        try:
            events = machine.receive_data(data)
        except RemoteProtocolError as exc:
            self._on_protocol_error(exc)
            return
        if events:
            self._dispatch(events)
        if self._awaiting_preface and machine.preface_received:
            self._awaiting_preface = False
            self._cancel_timer()
            if self.is_idle():
                self._set_timer(self._ctx.config.timeout_keep_alive, self._on_keep_alive_timeout)
        self._write_out()
        if not machine.accepting_streams and self.is_idle():
            self._close()

    def eof_received(self) -> bool | None:
        self._dispatch(self._machine.receive_data(b""))
        return None

    def pause_writing(self) -> None:
        # A client that does not read gets nothing more read from it either:
        # that bounds what its control frames can make us queue for it.
        self._write_paused = True
        self._machine.set_output_room(0)
        if self._transport is not None and not self._read_paused:
            self._read_paused = True
            self._transport.pause_reading()
        if self._transport is not None:
            self._write_watch.paused(self._transport)

    def resume_writing(self) -> None:
        self._write_paused = False
        self._write_watch.resumed()
        transport = self._transport
        if transport is not None and self._read_paused:
            self._read_paused = False
            transport.resume_reading()
        if transport is None:
            self._wake_writers()
            return
        # Enough to go over the high-water mark again (which pauses us once
        # more) if that much is waiting; the machine picks whose it is.
        high = transport.get_write_buffer_limits()[1]
        self._machine.set_output_room(high - transport.get_write_buffer_size() + 1)
        self._write_out()
        if not self._write_paused:
            self._machine.set_output_room(None)  # the socket took it all
            self._write_out()

    # ---------------------------------------------------------- the streams

    def _dispatch(self, events: list[Event]) -> None:
        to_start: list[_Slot] = []
        websockets = self._websockets
        for event in events:
            kind = type(event)
            if websockets and isinstance(event, RequestEvent) and event.stream_id in websockets:
                self._to_websocket(websockets[event.stream_id], event)
            elif kind is BodyReceived:
                assert isinstance(event, BodyReceived)
                self._on_body(event)
            elif kind is RequestReceived:
                assert isinstance(event, RequestReceived)
                slot = self._on_request(event)
                if slot is not None:
                    to_start.append(slot)
            elif kind is BodyEnded:
                assert isinstance(event, BodyEnded)
                slot = self._slots.get(event.stream_id)
                if slot is not None:
                    slot.stream.feed_end()
            elif kind is StreamReset:
                assert isinstance(event, StreamReset)
                self._on_reset(event.stream_id)
            elif kind is RequestRejected:
                assert isinstance(event, RequestRejected)
                self._on_rejected(event)
            elif kind is UpgradeRequested:
                assert isinstance(event, UpgradeRequested)
                self._on_websocket(event)
            elif kind is ConnectionLost:
                self._disconnect_all()
        # Started after the whole batch so an app whose body came in the same
        # read finds it complete on its first receive().
        app = self._ctx.http_app
        for slot in to_start:
            if self._slots.get(slot.stream.stream_id) is slot:
                slot.task = self._ctx.start_task(slot.stream.run(app))

    def _on_request(self, event: RequestReceived) -> _Slot | None:
        ctx = self._ctx
        stream_id = event.stream_id
        self._cancel_timer()  # no longer idle
        if len(self._slots) + len(self._orphans) >= ctx.http2_limits.max_concurrent_streams:
            # The apps of reset streams still count: the client may open
            # streams as fast as it resets them, we may not start apps so.
            self._machine.reset_stream(stream_id, HTTP2ErrorCode.REFUSED_STREAM)
            return None
        ctx.requests_served += 1
        headers = request_headers(event)
        scope = http_scope(
            ctx,
            event,
            headers,
            client=self._client,
            server=self._server,
            scheme=self._scheme,
            tls=self._tls,
            proxied=self._proxied,
        )
        stream = HTTPStream(  # positionally: see HTTPStream.__init__
            self,  # sink
            stream_id,
            scope,
            ctx.default_header_fields,
            event.expect_continue,
            ctx.config.limit_request_body,
            ctx.config.timeout_request,
            None,  # file_sink
            ctx.http_start_hooks,
            ctx.default_field_names,
        )
        slot = _Slot(stream)
        self._slots[stream_id] = slot
        length = content_length(headers)
        if length is not None and length > ctx.config.limit_request_body:
            _logger.info(
                "Request body of %d bytes from %s (stream %d) is over the limit: 413",
                length,
                self._peer(),
                stream_id,
            )
            stream.reject_request(413)
            del self._slots[stream_id]
            log_request(ctx, stream)  # the app never runs, so nothing else will
            return None
        return slot

    def _on_websocket(self, event: UpgradeRequested) -> None:
        self._cancel_timer()  # no longer idle
        stream_id = event.stream_id
        if (
            len(self._slots) + len(self._orphans) + len(self._websockets)
            >= self._ctx.http2_limits.max_concurrent_streams
        ):
            self._machine.reset_stream(stream_id, HTTP2ErrorCode.REFUSED_STREAM)
            return
        websocket = HTTP2WebSocket(self._ctx, self, stream_id, self._peer())
        self._websockets[stream_id] = websocket
        started = websocket.begin(
            event, client=self._client, server=self._server, scheme=self._scheme, tls=self._tls
        )
        if not started:
            self._websockets.pop(stream_id, None)

    @staticmethod
    def _to_websocket(websocket: HTTP2WebSocket, event: Event) -> None:
        if isinstance(event, BodyReceived):
            websocket.data_received(event.data)
        elif isinstance(event, BodyEnded):
            websocket.eof_received()
        elif isinstance(event, StreamReset):
            websocket.connection_lost()

    # The WebSocket carriers' view of the connection (see websocket.py beside this module).

    def acknowledge(self, stream_id: int, nbytes: int) -> None:
        """Reopen ``nbytes`` of a stream's receive window."""
        self.body_consumed(stream_id, nbytes)

    def stream_writable(self, stream_id: int) -> bool:
        if self._transport is None:
            return True
        return not self._write_paused and not self._machine.pending_bytes(stream_id)

    def flush_soon(self) -> None:
        self._schedule_write()

    def reset(self, stream_id: int, error_code: int) -> None:
        self._machine.reset_stream(stream_id, error_code)
        self._schedule_write()

    def write_stream_error(
        self,
        stream_id: int,
        status: int,
        request_headers: Iterable[tuple[bytes, bytes]],
        *,
        extra: Iterable[tuple[bytes, bytes]] = (),
    ) -> int:
        return self._write_error(stream_id, status, request_headers, head_only=False, extra=extra)

    def websocket_finished(self, websocket: HTTP2WebSocket) -> None:
        if self._websockets.get(websocket.stream_id) is websocket:
            del self._websockets[websocket.stream_id]
        if self._transport is not None and self.is_idle():
            if self._closing or not self._machine.accepting_streams:
                self._close()
            else:
                self._set_timer(self._ctx.config.timeout_keep_alive, self._on_keep_alive_timeout)

    def _on_body(self, event: BodyReceived) -> None:
        slot = self._slots.get(event.stream_id)
        if slot is None:
            return
        stream = slot.stream
        if not stream.feed_body(event.data):
            _logger.info(
                "Request body from %s (stream %d) over %d bytes: 413",
                self._peer(),
                event.stream_id,
                self._ctx.config.limit_request_body,
            )
            stream.reject_request(413)
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
            "Invalid HTTP/2 request from %s (stream %d): %s (%d)",
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
        for websocket in list(self._websockets.values()):
            websocket.connection_lost()

    # ----------------------------------------------------- StreamSink

    def send_event(self, event: ResponseEvent) -> None:
        if self._transport is None:
            return
        machine = self._machine
        try:
            machine.send(event)
        except LocalProtocolError as exc:
            raise RuntimeError(f"Invalid response: {exc}") from None
        self._written()

    def send_response(self, stream_id: int, status: int, headers: Headers, body: bytes) -> bool:
        if self._transport is None:
            return False  # the events go nowhere either
        machine = self._machine
        try:
            sent = machine.send_response(stream_id, status, headers, body)
        except LocalProtocolError as exc:
            raise RuntimeError(f"Invalid response: {exc}") from None
        if sent:
            self._written()
        return sent

    def send_body(self, stream_id: int, data: bytes) -> None:
        if self._transport is None:
            return
        try:
            self._machine.send_body(stream_id, data)
        except LocalProtocolError as exc:
            raise RuntimeError(f"Invalid response: {exc}") from None
        self._written()

    def _written(self) -> None:
        """Output was queued: write it now if there is much, else this loop turn."""
        if self._machine.buffered_output >= _WRITE_NOW:
            self._write_out()
        else:
            self._schedule_write()

    def writable(self, stream_id: int) -> bool:
        if self._transport is None or stream_id not in self._slots:
            return True  # the sender will find out it is disconnected
        return not self._write_paused and not self._machine.pending_bytes(stream_id)

    async def wait_writable(self, stream_id: int) -> None:
        if self.writable(stream_id):
            return
        slot = self._slots[stream_id]
        waiter = self._loop.create_future()
        slot.waiter = waiter
        pending = self._machine.pending_bytes(stream_id)
        if pending:
            slot.pending_seen = pending
            self._arm_stall_timer(slot)
        # The body waits in the machine; make sure what could go out has.
        self._schedule_write()
        await waiter

    def body_consumed(self, stream_id: int, nbytes: int) -> None:
        self._machine.acknowledge_received_data(stream_id, nbytes)
        self._schedule_write()

    def stream_finished(self, stream: HTTPStream) -> None:
        log_request(self._ctx, stream)
        stream_id = stream.stream_id
        slot = self._slots.get(stream_id)
        if slot is not None and slot.stream is stream:
            del self._slots[stream_id]
            slot.wake()
        else:
            self._orphans.pop(stream_id, None)
        asked = self._asked_to_end
        if asked and stream_id in asked:
            asked.discard(stream_id)
            if not asked:
                self._go_away_after_drain()  # the last asked to end has: GOAWAY
        if self._transport is not None and self.is_idle():
            if self._closing or not self._machine.accepting_streams:
                self._close()
            else:
                self._set_timer(self._ctx.config.timeout_keep_alive, self._on_keep_alive_timeout)

    def abort_stream(self, stream_id: int) -> None:
        self._machine.reset_stream(stream_id, HTTP2ErrorCode.INTERNAL_ERROR)
        self._schedule_write()

    def send_continue(self, stream_id: int) -> None:
        if self._transport is None:
            return
        try:
            self._machine.send(InformationalResponse(stream_id=stream_id, status=100))
        except LocalProtocolError:
            return
        self._schedule_write()

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
        extra: Iterable[tuple[bytes, bytes]] = (),
    ) -> int:
        if self._transport is None:
            return 0
        ctx = self._ctx
        rendered, body = ctx.error_renderer(status, request_headers)
        headers = (
            *ctx.default_headers(),
            *extra,
            *rendered,
            (b"content-length", str(len(body)).encode("ascii")),
        )
        machine = self._machine
        try:
            machine.send(ResponseHead(stream_id=stream_id, status=status, headers=headers))
            if not head_only:
                machine.send(ResponseBody(stream_id=stream_id, data=body, _trusted=True))
            machine.send(ResponseEnd(stream_id=stream_id))
        except LocalProtocolError:
            # The app's own head went out already; all that is left is a reset.
            machine.reset_stream(stream_id, HTTP2ErrorCode.INTERNAL_ERROR)
            self._schedule_write()
            return 0
        self._schedule_write()
        return 0 if head_only else len(body)

    # --------------------------------------------------------- writing

    def _schedule_write(self) -> None:
        if self._flush_handle is None and self._transport is not None:
            self._flush_handle = self._loop.call_soon(self._write_out)

    def _write_out(self) -> None:
        self._flush_handle = None
        data = self._machine.data_to_send()
        transport = self._transport
        if data and transport is not None and not transport.is_closing():
            transport.write(data)
            if self._write_paused:
                self._write_watch.wrote(len(data))
        self._wake_writers()

    def _wake_writers(self) -> None:
        machine = self._machine
        sent = machine.data_sent
        moved = sent != self._data_seen
        self._data_seen = sent
        for websocket in self._websockets.values():
            websocket.wake()
        for stream_id, slot in self._slots.items():
            if slot.waiter is None:
                continue
            pending = machine.pending_bytes(stream_id)
            if not pending and not self._write_paused:
                slot.wake()
            elif pending and (
                pending < slot.pending_seen or (moved and machine.awaiting_turn(stream_id))
            ):
                # The window opened a little, or the connection's data moved
                # while this stream waits its turn: the stall clock restarts.
                slot.pending_seen = pending
                self._arm_stall_timer(slot)

    def _arm_stall_timer(self, slot: _Slot) -> None:
        if slot.stall_timer is not None:
            slot.stall_timer.cancel()
        slot.stall_timer = self._loop.call_later(
            self._ctx.config.timeout_flow_control, self._on_stall, slot.stream.stream_id
        )

    def _on_stall(self, stream_id: int) -> None:
        slot = self._slots.get(stream_id)
        if slot is None:
            return
        slot.stall_timer = None
        _logger.info(
            "HTTP/2 stream %d of %s: flow-control window shut for %.0f s: reset",
            stream_id,
            self._peer(),
            self._ctx.config.timeout_flow_control,
        )
        self._machine.reset_stream(stream_id, HTTP2ErrorCode.CANCEL)
        self._on_reset(stream_id)
        self._write_out()

    def _on_write_stalled(self) -> None:
        """``--timeout-write``: the client has read nothing for a whole period."""
        if self._write_paused and self._transport is not None:
            _logger.info(
                "%s read nothing for %.0f s: HTTP/2 connection closed (--timeout-write)",
                self._peer(),
                self._ctx.config.timeout_write,
            )
            abandon(self._transport)

    # ------------------------------------------------------------ helpers

    def _on_protocol_error(self, exc: RemoteProtocolError) -> None:
        _logger.warning(
            "Invalid HTTP/2 from %s: %s (GOAWAY %s)",
            self._peer(),
            exc,
            _error_name(exc.error_code),
        )
        # Reset streams' apps have been told; an attacker's work stops now.
        for task in self._orphans.values():
            task.cancel()
        # Streams still open end with the connection as if reset: their apps
        # hear a disconnect and are cancelled after the same grace, so an app
        # deaf to disconnects cannot outlive the connection that sent it.
        for stream_id in list(self._slots):
            self._on_reset(stream_id)
        self._disconnect_all()
        self._close()

    def _on_preface_timeout(self) -> None:
        self._timer = None
        if not self._machine.preface_received and self._transport is not None:
            _logger.info("No HTTP/2 connection preface from %s in time", self._peer())
            self._transport.close()

    def _on_keep_alive_timeout(self) -> None:
        self._timer = None
        if self.is_idle():
            self._close()

    def _set_timer(self, delay: float, callback: Any) -> None:
        self._cancel_timer()
        self._timer = self._loop.call_later(delay, callback)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _close(self) -> None:
        """Say GOAWAY (unless a fatal one went already) and close after the output."""
        self._closing = True
        self._cancel_timer()
        self._machine.close()
        transport = self._transport
        if transport is not None and not transport.is_closing():
            data = self._machine.data_to_send()
            if data:
                transport.write(data)
            transport.close()

    def _peer(self) -> str:
        return f"{self._client[0]}:{self._client[1]}" if self._client else "unix socket peer"

    # ---------------------------------------------------- worker shutdown

    def is_idle(self) -> bool:
        return not self._slots and not self._orphans and not self._websockets

    def shutdown(self) -> None:
        """GOAWAY now; close once the streams in flight are complete."""
        self._closing = True
        self._machine.start_graceful_shutdown()
        for websocket in list(self._websockets.values()):
            if websocket.session is not None:
                websocket.session.shutdown()  # close 1001
        if self.is_idle():
            self._close()
        else:
            self._write_out()

    def drain_streams(self) -> bool:
        """The worker drains: long-lived responses (server-sent events) are asked
        to end, and GOAWAY follows once they have, so that their clients
        reconnect on a new connection to whichever worker serves then.

        GOAWAY waits for those last DATA frames rather than going first: some
        clients (those built on the h2 library) drop every stream in flight
        when GOAWAY arrives, though RFC 9113 §6.8 lets those streams finish.
        """
        asked = {
            slot.stream.stream_id
            for slot in self._slots.values()
            if slot.stream.ask_to_end(self._ctx.drain_content_types)
        }
        if not asked:
            return False
        self._asked_to_end |= asked
        self._loop.call_later(DRAIN_GRACE, self._end_asked_streams)
        return True

    def _end_asked_streams(self) -> None:
        for stream_id in self._asked_to_end:
            slot = self._slots.get(stream_id)
            if slot is None or slot.stream.response_complete:
                continue  # it ended by itself
            if slot.task is not None and not slot.task.done():
                # The response ends as the cancellation passes (HTTPStream.run).
                slot.task.cancel()
            else:
                slot.stream.end_response()
        self._write_out()
        # An app that ignores its cancellation must not keep the connection
        # from being told to go away.
        self._loop.call_later(DRAIN_GRACE, self._go_away_after_drain)

    def _go_away_after_drain(self) -> None:
        self._asked_to_end.clear()
        if not self._closing and self._transport is not None:
            self.shutdown()

    def force_close(self) -> None:
        """Shutdown grace period is over: cancel the apps and drop the connection."""
        for slot in self._slots.values():
            if slot.task is not None and not slot.task.done():
                slot.task.cancel()
        for task in self._orphans.values():
            task.cancel()
        for websocket in list(self._websockets.values()):
            if websocket.session is not None:
                websocket.session.force_close()
        if self._transport is not None:
            self._transport.abort()
