"""HTTP/1.1 over an asyncio transport: sockets on one side, streams on the other.

:class:`HTTP1Connection` is the I/O edge of HTTP/1.1. It feeds received bytes
to the Sans-IO :class:`~pounce_protocols.HTTP1ServerConnection`, starts an
:class:`~pounce._bridge.http_stream.HTTPStream` per request and writes what the
stream's response events serialize to. It owns the things that need a clock
or a socket and nothing else:

* timeouts: a new connection, and each request after the first byte of its
  head, must deliver a complete head within ``timeout_request_header`` (408,
  against slowloris); an idle keep-alive connection is closed after
  ``timeout_keep_alive``;
* one write per response where it can: the bytes of a response head are held
  until the first body bytes (or the end) and written with them, so a small
  response leaves in one segment rather than two;
* flow control: reading pauses while the app has more than ``_READ_HIGH``
  body bytes unconsumed or a pipelined request is waiting its turn; sending
  waits while the transport's write buffer is above its high-water mark, and
  a client that reads nothing of it for ``timeout_write`` is cut
  (:mod:`pounce._edges.write_watch`);
* the cycle: when a response ends the next request (maybe pipelined, already
  buffered) is started, or the connection is closed;
* graceful shutdown: idle connections close at once, busy ones after their
  current response, with ``connection: close``.
"""

from __future__ import annotations

import asyncio
import logging
import time
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
from pounce._bridge.http_stream import DRAIN_GRACE, ZERO_COPY_SEND, ClientDisconnected, HTTPStream
from pounce._edges.deadline import Deadline
from pounce._edges.http1.h2c import upgrade_h2c
from pounce._edges.http1.websocket import start_websocket
from pounce._edges.write_watch import WriteWatch, abandon
from pounce._runtime.asgi_types import ASGIApp
from pounce._runtime.lifecycle import ConnectionClosed, ConnectionOpened
from pounce._runtime.logs import ERROR_LOGGER
from pounce_protocols import (
    BodyEnded,
    BodyReceived,
    ConnectionLost,
    Event,
    Headers,
    HTTP1ServerConnection,
    InformationalResponse,
    LocalProtocolError,
    RemoteProtocolError,
    RequestReceived,
    ResponseBody,
    ResponseEnd,
    ResponseEvent,
    ResponseHead,
    UpgradeRequested,
)

__all__ = ["HTTP1Connection"]

_logger = logging.getLogger(ERROR_LOGGER)

# Pause reading when this much request body waits for the app; resume below _READ_LOW.
_READ_HIGH = 256 * 1024
_READ_LOW = 64 * 1024
# After an early response, discard at most this much of the unread request
# body to keep the connection; past it, closing is cheaper than reading.
_DISCARD_LIMIT = 64 * 1024

_CLOSE_HEADER = (b"connection", b"close")
# A response head is joined with a body up to this size; a larger body is
# written beside it (writelines) rather than copied.
_JOIN_LIMIT = 16 * 1024
# The pieces of a streamed response that the app sends in one run (between two
# awaits that suspend it) wait for that run to end and leave in one write, as
# HTTP/2 frames do: a hundred small pieces cost one system call and a few TCP
# segments instead of a hundred of each. Past this many bytes waiting they
# leave at once, so the wait never holds much (back-pressure then applies).
_CORK_LIMIT = 64 * 1024
# A file is handed to the kernel this much at a time, each step within
# timeout_write: a client that takes less than this per timeout is not reading.
_SENDFILE_STEP = 128 * 1024


class HTTP1Connection(asyncio.Protocol):
    """One client connection speaking HTTP/1.1."""

    __slots__ = (
        "_client",
        "_closing",
        "_ctx",
        "_cycle_pending",
        "_discarded",
        "_dispatching",
        "_drain_waiters",
        "_flush_handle",
        "_head_started",
        "_head_timer_armed",
        "_loop",
        "_machine",
        "_observed",
        "_pending",
        "_pending_size",
        "_proxied",
        "_read_paused",
        "_scheme",
        "_sendfile",
        "_server",
        "_start_pending",
        "_stream",
        "_stream_done",
        "_task",
        "_timer",
        "_tls",
        "_transport",
        "_write_paused",
        "_write_watch",
    )

    def __init__(self, ctx: WorkerContext) -> None:
        self._ctx = ctx
        self._loop = ctx.loop
        self._machine = HTTP1ServerConnection(ctx.http1_limits)
        self._transport: asyncio.Transport | None = None
        self._stream: HTTPStream | None = None
        self._stream_done = False
        self._start_pending: ASGIApp | None = None  # the app to start after this batch
        self._task: asyncio.Task[None] | None = None
        self._timer = Deadline(ctx.loop)
        # Response bytes waiting for the app to yield (see _CORK_LIMIT).
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._flush_handle: asyncio.Handle | None = None
        self._proxied = False  # whether the peer's forwarding headers are trusted
        self._observed = ctx.emitter.active  # lifecycle hooks want RequestCompleted
        self._head_timer_armed = False
        self._head_started = 0.0  # when the current head began to arrive (timing only)
        self._sendfile = False
        self._discarded = 0
        self._read_paused = False
        self._write_paused = False
        self._write_watch = WriteWatch(ctx.loop, ctx.config.timeout_write, self._on_write_stalled)
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._client: tuple[str, int] | None = None
        self._server: tuple[str, int | None] | None = None
        self._scheme = "http"
        self._tls: dict[str, Any] | None = None
        self._dispatching = False
        self._cycle_pending = False
        self._closing = False

    # ------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport; uvloop's do not subclass asyncio.Transport.
        self._transport = cast(asyncio.Transport, transport)
        self._client = address(transport.get_extra_info("peername"))
        sockname = transport.get_extra_info("sockname")
        if isinstance(sockname, str):
            self._server = (sockname, None)
        else:
            self._server = address(sockname)
        if transport.get_extra_info("sslcontext") is not None:
            self._scheme = "https"
            self._tls = connection_tls(transport, self._ctx)
        else:
            # Only a plain socket can take file bytes straight from the kernel.
            self._sendfile = self._ctx.sendfile
        ctx = self._ctx
        proxies = ctx.proxies
        if proxies is not None:
            # Decided once per connection: the peer does not change.
            self._proxied = proxies.trusts(self._client[0] if self._client else None)
        ctx.connections.add(self)
        if ctx.emitter.active:
            ctx.emitter.emit(ConnectionOpened(worker_id=ctx.worker_id, client=self._client))
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        ctx = self._ctx
        ctx.connections.discard(self)
        if ctx.emitter.active:
            ctx.emitter.emit(ConnectionClosed(worker_id=ctx.worker_id, client=self._client))
        self._timer.stop()
        self._write_watch.resumed()
        self._drop_pending()
        self._closing = True
        stream = self._stream
        if stream is not None and not stream.response_complete:
            stream.feed_disconnect()
        self._transport = None
        self._wake_writers()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        if self._ctx.request_timing and self._machine.awaiting_request and not self._head_started:
            self._head_started = time.perf_counter()
        try:
            events = self._machine.receive_data(data)
        except RemoteProtocolError as exc:
            self._on_protocol_error(exc)
            return
        if events:
            self._dispatch(events)
            if self._cycle_pending:
                self._run_pending_cycles()
        machine = self._machine
        buffered = machine.buffered_bytes  # usually 0: nothing more to decide
        if not buffered:
            return
        if machine.has_partial_request:
            if not self._head_timer_armed:
                self._arm_head_timer()
        elif buffered > self._ctx.http1_limits.max_header_bytes and machine.request_complete:
            # A pipelined request waits for the current response; stop taking more.
            self._pause_reading()

    def eof_received(self) -> bool | None:
        events = self._machine.receive_data(b"")
        self._process(events)
        return None  # close our side too

    def pause_writing(self) -> None:
        self._write_paused = True
        if self._transport is not None:
            self._write_watch.paused(self._transport)

    def resume_writing(self) -> None:
        self._write_paused = False
        self._write_watch.resumed()
        self._wake_writers()

    # ------------------------------------------------------------ the cycle

    def _process(self, events: list[Event]) -> None:
        """Dispatch events, then start any cycles that became ready meanwhile."""
        self._dispatch(events)
        self._run_pending_cycles()

    def _run_pending_cycles(self) -> None:
        """Start the cycles that became ready while events were dispatched.

        A request whose app finishes without suspending ends its cycle while
        we are still dispatching; rather than recursing into the next
        (pipelined) request from inside that call, we note it and loop here.
        """
        while self._cycle_pending:
            self._cycle_pending = False
            next_events = self._next_cycle()
            if next_events:
                self._dispatch(next_events)

    def _dispatch(self, events: list[Event]) -> None:
        self._dispatching = True
        try:
            # The kinds in the order a request's events come most often:
            # its head, then (with or without body pieces) its end.
            for event in events:
                if type(event) is RequestReceived:
                    self._on_request(event)
                elif type(event) is BodyEnded:
                    stream = self._stream
                    if stream is not None:
                        stream.feed_end()
                        if self._stream_done:
                            # The response finished first; the request just caught up.
                            self._cycle_pending = True
                elif type(event) is BodyReceived:
                    self._on_body(event.data)
                elif type(event) is UpgradeRequested:
                    if event.protocol == b"websocket" and self._ctx.websocket:
                        self._switch_to_websocket(event)
                        return  # the rest of the batch is the WebSocket edge's
                    if self._upgrade_h2c(event):
                        continue  # the connection is HTTP/2 now, and this request its stream 1
                    self._on_request(event)
                elif type(event) is ConnectionLost:
                    stream = self._stream
                    if stream is not None and not stream.response_complete:
                        stream.feed_disconnect()
            app = self._start_pending
            if app is not None:
                # Started after the whole batch so an app whose body came in
                # the same read finds it complete on its first receive().
                self._start_pending = None
                stream = self._stream
                assert stream is not None
                self._task = self._ctx.start_task(stream.run(app))
        finally:
            self._dispatching = False

    def _upgrade_h2c(self, event: UpgradeRequested) -> bool:
        """Whether an upgrade request made the connection HTTP/2 (h2c)."""
        ctx = self._ctx
        if ctx.config.http2 and ctx.config.h2c and self._scheme == "http":
            self._timer.clear()
            self._head_timer_armed = False
            return upgrade_h2c(ctx, event, self.switch_protocols)
        return False

    def _on_request(self, event: RequestReceived) -> None:
        self._timer.clear()
        self._head_timer_armed = False
        ctx = self._ctx
        ctx.requests_served += 1
        headers = request_headers(event)
        length = content_length(headers)
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
        if self._sendfile:
            scope["extensions"][ZERO_COPY_SEND] = {}
        if ctx.request_timing:
            # Facts for a Server-Timing layer: when the head began to arrive
            # and when it was parsed (perf_counter seconds).
            now = time.perf_counter()
            scope["extensions"]["pounce.timing"] = {
                "request_start": self._head_started or now,
                "head_parsed": now,
            }
            self._head_started = 0.0
        config = ctx.config
        # A health check is answered by the server, never by the app (nor
        # the layers around it, whose start hooks the stream would run).
        health = ctx.health
        if health is not None and not health.matches(event.path):
            health = None
        stream = HTTPStream(  # positionally: see HTTPStream.__init__
            self,  # sink
            event.stream_id,
            scope,
            ctx.default_header_fields,
            event.expect_continue,
            config.limit_request_body,
            config.timeout_request,
            self if self._sendfile else None,  # file_sink
            ctx.http_start_hooks if health is None else (),
            ctx.default_field_names,
        )
        self._stream = stream
        self._stream_done = False
        self._discarded = 0
        if length is not None and length > ctx.config.limit_request_body:
            # Refuse before the body is sent (or read): the app never runs.
            _logger.info(
                "Request body of %d bytes from %s is over the limit: 413",
                length,
                self._peer(),
            )
            self._closing = True
            stream.reject_request(413)
            self._log_access(stream)  # the app never runs, so nothing else will
            self._close()
            return
        self._start_pending = ctx.http_app if health is None else health

    def _switch_to_websocket(self, event: UpgradeRequested) -> None:
        """Hand the transport to the WebSocket edge and step aside for good."""
        transport = self._transport
        if transport is None:
            return
        self._timer.clear()
        self._closing = True
        self._transport = None
        self._ctx.connections.discard(self)
        start_websocket(
            self._ctx,
            transport,
            self._machine,
            event,
            client=self._client,
            server=self._server,
            scheme=self._scheme,
            tls=self._tls,
            write_paused=self._write_paused,
        )

    def _on_body(self, data: bytes) -> None:
        stream = self._stream
        if stream is None:
            return
        if not stream.feed_body(data):
            _logger.info(
                "Request body from %s over %d bytes: 413",
                self._peer(),
                self._ctx.config.limit_request_body,
            )
            self._closing = True
            stream.reject_request(413)
            self._close()
            return
        if stream.response_complete:
            # An early response was sent; this body is being discarded.
            self._discarded += len(data)
            if self._discarded > _DISCARD_LIMIT:
                self._close()
        elif stream.buffered_body > _READ_HIGH:
            self._pause_reading()

    def _next_cycle(self) -> list[Event]:
        """The current response is complete: start the next request, or close."""
        machine = self._machine
        if self._transport is None:
            return []
        if not machine.request_complete:
            # Response finished before the request body; keep reading (and
            # discarding) it so the connection can be reused.
            self._resume_reading()
            self._timer.set(self._ctx.config.timeout_keep_alive, self._close)
            return []
        if self._closing:
            self._close()
            return []
        if self._ctx.request_timing and machine.buffered_bytes:
            self._head_started = time.perf_counter()  # a pipelined head, parsed now
        try:
            events = machine.start_next_cycle()
        except LocalProtocolError:
            self._close()  # the connection cannot carry another request
            return []
        except RemoteProtocolError as exc:
            self._stream = None
            self._task = None
            self._on_protocol_error(exc)
            return []
        self._stream = None
        self._task = None
        if self._read_paused and machine.buffered_bytes <= self._ctx.http1_limits.max_header_bytes:
            # Read on only once the pipelined backlog is down to (part of)
            # one head: what is already here is served first, so it never
            # grows past one read, and while its responses are not taken
            # (the app waits to write) nothing more is read.
            self._resume_reading()
        if not events:
            if machine.has_partial_request:
                self._arm_head_timer()
            else:
                self._head_timer_armed = False
                self._timer.set(self._ctx.config.timeout_keep_alive, self._on_keep_alive_timeout)
        return events

    # ----------------------------------------------------- StreamSink

    def send_event(self, event: ResponseEvent) -> None:
        transport = self._transport
        if transport is None:
            return
        if type(event) is ResponseHead:
            event = self._final_head(event)
        try:
            data = self._machine.send(event)
        except LocalProtocolError as exc:
            raise RuntimeError(f"Invalid response: {exc}") from None
        if type(event) is ResponseHead or type(event) is ResponseBody:
            self._queue(data)  # the end of the response, or the app's next await, sends it
            return
        self._write(transport, data)

    def send_body(self, stream_id: int, data: bytes) -> None:
        transport = self._transport
        if transport is None:
            return
        try:
            framed = self._machine.send_body(stream_id, data)
        except LocalProtocolError as exc:
            raise RuntimeError(f"Invalid response: {exc}") from None
        self._queue(framed)

    def send_response(self, stream_id: int, status: int, headers: Headers, body: bytes) -> bool:
        transport = self._transport
        if transport is None:
            return False
        headers = self._final_fields(headers)
        data = self._machine.send_whole_response(stream_id, status, headers, len(body))
        if data is None:
            return False
        if self._pending:
            self._flush()
        if not body:
            transport.write(data)
        elif len(body) <= _JOIN_LIMIT:
            transport.write(data + body)
        else:
            transport.writelines((data, body))
        return True

    def _final_fields(self, headers: Headers) -> Headers:
        """A response head's fields, saying ``connection: close`` when this is
        the last response."""
        if self._closing or self._ctx.draining:
            return (*headers, _CLOSE_HEADER)
        return headers

    def _final_head(self, head: ResponseHead) -> ResponseHead:
        """``head``, with :meth:`_final_fields`."""
        headers = self._final_fields(head.headers)
        if headers is head.headers:
            return head
        return ResponseHead(
            stream_id=head.stream_id, status=head.status, headers=headers, _trusted=True
        )

    def writable(self, stream_id: int) -> bool:
        return not self._write_paused or self._transport is None

    async def wait_writable(self, stream_id: int) -> None:
        if not self._write_paused or self._transport is None:
            return
        waiter = self._loop.create_future()
        self._drain_waiters.append(waiter)
        await waiter

    def body_consumed(self, stream_id: int, nbytes: int) -> None:
        if self._read_paused and not self._machine.request_complete:
            stream = self._stream
            if stream is not None and stream.buffered_body < _READ_LOW:
                self._resume_reading()

    def stream_finished(self, stream: HTTPStream) -> None:
        if self._observed or not self._ctx.access_logger.disabled:
            self._log_access(stream)
        if stream is not self._stream or self._transport is None:
            return
        self._stream_done = True
        if self._dispatching:
            self._cycle_pending = True  # _process picks it up when dispatch returns
            return
        events = self._next_cycle()
        if events:
            self._process(events)

    async def send_file(self, stream_id: int, file: Any, offset: int, count: int) -> None:
        transport = self._transport
        if transport is None:
            return
        try:
            before, after = self._machine.send_body_passthrough(stream_id, count)
        except LocalProtocolError as exc:
            raise RuntimeError(f"Invalid response: {exc}") from None
        # What waits (the head, pieces before the file) goes before it.
        self._write(transport, before)
        timeout = self._write_watch.timeout
        end = offset + count
        try:
            while offset < end:
                step = min(_SENDFILE_STEP, end - offset)
                # asyncio waits for the write buffer to empty, then uses
                # os.sendfile on the socket (or copies, where it cannot); the
                # kernel does the rest, so progress is judged step by step.
                await asyncio.wait_for(self._loop.sendfile(transport, file, offset, step), timeout)
                offset += step
        except TimeoutError as exc:
            self._on_write_stalled()
            raise ClientDisconnected("the client read nothing (--timeout-write)") from exc
        except (ConnectionError, RuntimeError) as exc:
            # The peer went away mid-file (RuntimeError: the transport was
            # already closing); the framing is broken, so is the connection.
            self._close()
            raise ClientDisconnected("the client disconnected") from exc
        if after and self._transport is not None:
            self._write(self._transport, after)

    def abort_stream(self, stream_id: int) -> None:
        self._close()

    def send_continue(self, stream_id: int) -> None:
        if self._transport is None:
            return
        try:
            data = self._machine.send(InformationalResponse(stream_id=stream_id, status=100))
        except LocalProtocolError:
            return  # h11 knows when 100 is no longer appropriate
        self._write(self._transport, data)

    def send_error_response(
        self, stream_id: int, status: int, request_headers: Iterable[tuple[bytes, bytes]]
    ) -> int:
        ctx = self._ctx
        extra, body = ctx.error_renderer(status, request_headers)
        headers = [*ctx.default_headers(), *extra]
        if self._closing or ctx.draining:
            headers.append(_CLOSE_HEADER)
        transport = self._transport
        if transport is None:
            return 0
        machine = self._machine
        if machine.response_started:
            self._close()
            return 0
        # A response to HEAD has the length of the body it would have had, and
        # no body: the serializer refuses body bytes for it.
        stream = self._stream
        head_only = stream is not None and stream.scope["method"] == "HEAD"
        try:
            data = machine.send(
                ResponseHead(
                    stream_id=stream_id,
                    status=status,
                    headers=(*headers, (b"content-length", str(len(body)).encode("ascii"))),
                    _trusted=True,
                )
            )
            if not head_only:
                data += machine.send(ResponseBody(stream_id=stream_id, data=body, _trusted=True))
            data += machine.send(ResponseEnd(stream_id=stream_id))
        except LocalProtocolError:
            # The app's own head was refused and left the serializer unusable;
            # write a self-contained response and close.
            data = machine.reject(status, tuple(headers), body)
            self._closing = True
        self._write(transport, data)
        return 0 if head_only else len(body)

    # ------------------------------------------------------------ helpers

    def _log_access(self, stream: HTTPStream) -> None:
        log_request(self._ctx, stream)

    def switch_protocols(self, headers: Headers) -> tuple[asyncio.Transport, bytes]:
        """Answer the current request with ``101`` and step aside.

        Returns the transport and the bytes already read that belong to the
        new protocol; this connection does nothing more (the caller gives the
        transport a new protocol).
        """
        transport = self._transport
        assert transport is not None
        machine = self._machine
        self._write(
            transport,
            machine.send(ResponseHead(stream_id=machine.stream_id, status=101, headers=headers)),
        )
        leftover = machine.take_upgraded_data()
        self._ctx.connections.discard(self)
        self._timer.clear()
        self._closing = True
        self._transport = None
        self._stream = None
        return transport, leftover

    def _on_protocol_error(self, exc: RemoteProtocolError) -> None:
        _logger.warning(
            "Invalid HTTP request from %s: %s (%d)",
            self._peer(),
            exc,
            exc.status_hint,
        )
        stream = self._stream
        if stream is not None and not stream.response_complete:
            stream.feed_disconnect()
        transport = self._transport
        if transport is not None and not self._machine.response_started:
            extra, body = self._ctx.error_renderer(exc.status_hint, ())
            headers = tuple([*self._ctx.default_headers(), *extra])
            self._write(transport, self._machine.reject(exc.status_hint, headers, body))
        self._close()

    def _arm_head_timer(self) -> None:
        self._head_timer_armed = True
        self._timer.set(self._ctx.config.timeout_request_header, self._on_header_timeout)

    def _on_header_timeout(self) -> None:
        self._head_timer_armed = False
        if self._stream is not None or self._transport is None:
            return
        if self._machine.has_partial_request:
            _logger.info("Request head from %s not complete in time: 408", self._peer())
            extra, body = self._ctx.error_renderer(408, ())
            headers = tuple([*self._ctx.default_headers(), *extra])
            self._write(self._transport, self._machine.reject(408, headers, body))
        self._close()

    def _on_keep_alive_timeout(self) -> None:
        if self._stream is None:
            self._close()

    def _pause_reading(self) -> None:
        if not self._read_paused and self._transport is not None:
            self._read_paused = True
            self._transport.pause_reading()

    def _resume_reading(self) -> None:
        if self._read_paused and self._transport is not None:
            self._read_paused = False
            self._transport.resume_reading()

    def _write(self, transport: asyncio.Transport, data: bytes) -> None:
        """Write ``data`` now, after anything still waiting to be written."""
        if self._pending:
            self._pending.append(data)
            self._pending_size += len(data)
            self._flush()
        elif data:
            transport.write(data)
            if self._write_paused:
                self._write_watch.wrote(len(data))

    def _queue(self, data: bytes) -> None:
        """Write ``data`` once the app yields to the loop (see _CORK_LIMIT)."""
        if not data:
            return
        self._pending.append(data)
        self._pending_size += len(data)
        if self._pending_size >= _CORK_LIMIT:
            self._flush()
        elif self._flush_handle is None:
            self._flush_handle = self._loop.call_soon(self._on_flush_due)

    def _on_flush_due(self) -> None:
        self._flush_handle = None
        self._flush()

    def _flush(self) -> None:
        """Write everything waiting, in one write when it is small."""
        self._cancel_flush()
        pending = self._pending
        if not pending:
            return
        size = self._pending_size
        self._pending = []
        self._pending_size = 0
        transport = self._transport
        if transport is None:
            return
        if len(pending) == 1:
            transport.write(pending[0])
        elif size <= _CORK_LIMIT + _JOIN_LIMIT:
            transport.write(b"".join(pending))
        else:
            transport.writelines(pending)
        if self._write_paused:
            self._write_watch.wrote(size)

    def _drop_pending(self) -> None:
        self._cancel_flush()
        self._pending = []
        self._pending_size = 0

    def _cancel_flush(self) -> None:
        handle = self._flush_handle
        if handle is not None:
            self._flush_handle = None
            handle.cancel()

    def _wake_writers(self) -> None:
        waiters = self._drain_waiters
        if waiters:
            self._drain_waiters = []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def _on_write_stalled(self) -> None:
        """``--timeout-write``: the client has read nothing for a whole period."""
        transport = self._transport
        if transport is None:
            return
        _logger.info(
            "%s read nothing of its response for %.0f s: connection closed (--timeout-write)",
            self._peer(),
            self._ctx.config.timeout_write,
        )
        self._closing = True
        stream = self._stream
        if stream is not None and not stream.response_complete:
            stream.feed_disconnect()
        # Nothing more can reach this client: drop what waits, do not flush it.
        self._drop_pending()
        abandon(transport)

    def _close(self) -> None:
        self._closing = True
        self._timer.stop()
        if self._transport is not None:
            # What waits to be written (a response cut short) still goes first.
            self._flush()
            self._transport.close()

    def _peer(self) -> str:
        return f"{self._client[0]}:{self._client[1]}" if self._client else "unix socket peer"

    # ---------------------------------------------------- worker shutdown

    def is_idle(self) -> bool:
        return self._stream is None or self._stream.response_complete

    def shutdown(self) -> None:
        """Close now if idle, else after the current response.

        A connection that has not carried a request yet is not closed: its
        client connected to send one, which may already be on the wire, and
        closing would reset it unanswered. It is served, with
        ``connection: close`` (the worker is draining), or closed by the
        request-head timeout if nothing comes.
        """
        if self._machine.stream_id == 0 and self._stream is None and self._ctx.draining:
            return
        self._closing = True
        if self.is_idle() and (self._task is None or self._task.done()):
            self._close()

    def drain_streams(self) -> bool:
        """The worker drains: a long-lived response (server-sent events) is asked to
        end, and the connection closes after it, so that its client reconnects to
        whichever worker serves then."""
        stream = self._stream
        if stream is None or not stream.ask_to_end(self._ctx.drain_content_types):
            return False
        self._closing = True
        self._loop.call_later(DRAIN_GRACE, self._end_asked_stream, stream)
        return True

    def _end_asked_stream(self, stream: HTTPStream) -> None:
        if stream is not self._stream or stream.response_complete:
            return  # it ended by itself
        task = self._task
        if task is not None and not task.done():
            # The response ends as the cancellation passes (HTTPStream.run).
            task.cancel()
        else:
            stream.end_response()

    def force_close(self) -> None:
        """Shutdown grace period is over: cancel the app and drop the connection."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self._transport is not None:
            self._transport.abort()
