"""One WebSocket's life on the server: machine, clocks and flow control.

A :class:`WebSocketSession` is the :class:`~pounce._bridge.websocket_stream.WebSocketSink`
of one :class:`~pounce._bridge.websocket_stream.WebSocketStream`. It owns what needs a
clock or a buffer and nothing protocol-specific; the protocol connection that
carries the WebSocket (an HTTP/1.1 connection after its ``101`` today, an
HTTP/2 stream later) implements the small :class:`WebSocketCarrier` interface:
answer the opening handshake, move bytes, pause reading, close.

What the session decides:

* **The handshake answer.** ``websocket.accept`` negotiates permessage-deflate
  (when enabled) and the subprotocol, starts the
  :class:`~pounce_protocols.WebSocketMachine` and feeds it any bytes that came
  early. A close before accepting is a 403, an app failure a 500, the
  denial-response extension whatever the app sends; the carrier then ends.
* **Keep-alive.** Every ``ws_ping_interval`` seconds a ping goes out; a peer
  that does not answer within ``ws_ping_timeout`` is sent a 1011 Close and
  dropped. No ping is sent while reading is paused, since its pong could not
  be read.
* **The close handshake.** Whoever closes first, the server closes the
  transport once Close frames have crossed (RFC 6455 §7.1.1). A Close we sent
  (app close, 1011 after an app failure, 1001 at shutdown) that gets no
  answer within ``ws_close_timeout`` drops the connection. After a protocol
  failure (1002, 1007, 1009) the session stops sending and waits, ignoring
  input, for the peer to close, for at most that long too.
* **Back-pressure.** Reading pauses while more than ``_READ_HIGH`` bytes of
  messages, or ``ws_max_queue`` messages, wait for the app, and resumes once
  fewer than ``_READ_LOW`` bytes and at most a quarter of ``ws_max_queue``
  messages wait (Uvicorn's ``--ws-max-queue``, which counts messages);
  ``send()`` waits while the carrier's write buffer is full.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections.abc import Iterable
from typing import Protocol

from pounce._bridge.context import WorkerContext
from pounce._bridge.http_stream import ClientDisconnected
from pounce._bridge.websocket_stream import WebSocketStream
from pounce._runtime.asgi_types import Scope
from pounce._runtime.lifecycle import RequestCompleted
from pounce._runtime.logs import ERROR_LOGGER
from pounce_protocols import (
    BytesReceived,
    CloseReceived,
    ConnectionLost,
    Headers,
    LocalProtocolError,
    PongReceived,
    ProtocolFailed,
    ResponseEnd,
    ResponseEvent,
    TextReceived,
    WebSocketEvent,
    WebSocketMachine,
    WebSocketRequest,
    WebSocketState,
    handshake_response_headers,
    negotiate_deflate,
    websocket_available,
)

__all__ = ["WebSocketCarrier", "WebSocketSession"]

_logger = logging.getLogger(ERROR_LOGGER)

# Pause reading when this many bytes of messages wait for the app; resume below _READ_LOW.
_READ_HIGH = 1024 * 1024
_READ_LOW = 256 * 1024
# Bytes a client may send before its handshake is answered (it should send none).
_EARLY_LIMIT = 64 * 1024


class WebSocketCarrier(Protocol):
    """What a protocol connection offers the one WebSocket it carries."""

    def send_handshake_response(self, headers: Headers) -> bytes:
        """Accept the handshake with these fields (``101`` or ``200``).

        Returns bytes already received that belong to the WebSocket. Raises
        ``RuntimeError`` when the fields cannot be sent.
        """

    def send_response_event(self, event: ResponseEvent) -> None:
        """Send a piece of a denial response."""

    def send_error_response(
        self, status: int, request_headers: Iterable[tuple[bytes, bytes]]
    ) -> int:
        """Refuse the handshake with a server-generated response; return its body length."""

    def write(self, data: bytes) -> None:
        """Send WebSocket bytes."""

    def writable(self) -> bool:
        """False while the peer is not keeping up."""

    async def wait_writable(self) -> None:
        """Return when writing may go on (or the peer is gone)."""

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def shutdown_write(self) -> None:
        """We will send nothing more; the peer may still send (half-close)."""

    def close(self) -> None:
        """End the WebSocket once pending bytes are written."""

    def abort(self) -> None:
        """End the WebSocket now, dropping pending bytes."""


def check_websocket_support(choice: str) -> None:
    """At start-up: refuse ``--ws on`` without wsproto; note ``auto``'s fallback."""
    if choice == "off" or websocket_available():
        return
    if choice == "on":
        raise ValueError(
            "--ws on needs wsproto installed (pip install 'pounce-protocols[websocket]')"
        )
    _logger.warning(
        "wsproto is not installed: WebSocket upgrade requests will be served as plain "
        "HTTP requests (pip install 'pounce-protocols[websocket]' to serve WebSockets)."
    )


class WebSocketSession:
    """One WebSocket: the sink of its :class:`WebSocketStream`."""

    __slots__ = (
        "_abort_handle",
        "_app_done",
        "_carrier",
        "_close_handle",
        "_ctx",
        "_draining",
        "_early",
        "_ended",
        "_gone",
        "_loop",
        "_machine",
        "_method",
        "_peer",
        "_ping_count",
        "_ping_handle",
        "_ping_payload",
        "_pong_handle",
        "_queued",
        "_queued_messages",
        "_read_paused",
        "_request",
        "_task",
        "stream",
    )

    def __init__(
        self,
        *,
        ctx: WorkerContext,
        carrier: WebSocketCarrier,
        request: WebSocketRequest,
        stream_id: int,
        scope: Scope,
        method: str,
        peer: str,
    ) -> None:
        self._ctx = ctx
        self._loop = ctx.loop
        self._carrier = carrier
        self._request = request
        self._method = method
        self._peer = peer
        self.stream = WebSocketStream(
            sink=self, stream_id=stream_id, scope=scope, default_headers=ctx.default_headers
        )
        self._machine: WebSocketMachine | None = None
        self._task: asyncio.Task[None] | None = None
        self._early = bytearray()
        self._queued = 0
        self._queued_messages = 0
        self._read_paused = False
        self._gone = False
        self._ended = False
        self._app_done = False
        self._draining = False
        self._ping_count = 0
        self._ping_payload: bytes | None = None
        self._ping_handle: asyncio.TimerHandle | None = None
        self._pong_handle: asyncio.TimerHandle | None = None
        self._close_handle: asyncio.TimerHandle | None = None
        self._abort_handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Run the app (eagerly, up to its first suspension)."""
        self._task = self._ctx.start_task(self.stream.run(self._ctx.app))

    # ------------------------------------------------- from the carrier

    def data_received(self, data: bytes) -> None:
        if self._gone:
            return
        if self._machine is None:
            if self.stream.disconnected:
                return  # refused; the carrier is closing
            # Before our answer the client should be waiting; keep what it
            # sends anyway (in bounds) for the machine, once there is one.
            self._early += data
            if len(self._early) > _EARLY_LIMIT:
                self._pause_reading()
            return
        self._receive(data)

    def eof_received(self) -> None:
        if self._gone:
            return
        machine = self._machine
        if machine is None:
            self.stream.feed_close(1006)
            self._finish()
            return
        self._receive(b"")
        self._finish()  # the peer has nothing more to say; neither have we

    def connection_lost(self) -> None:
        self._gone = True
        for handle in (
            self._ping_handle,
            self._pong_handle,
            self._close_handle,
            self._abort_handle,
        ):
            if handle is not None:
                handle.cancel()
        self._ping_handle = self._pong_handle = self._close_handle = self._abort_handle = None
        self.stream.feed_close(1006)

    # ------------------------------------------------------ the machine

    def _receive(self, data: bytes) -> None:
        machine = self._machine
        assert machine is not None
        events = machine.receive_data(data)
        out = machine.data_to_send()
        if out:
            self._carrier.write(out)
        stream = self.stream
        for event in events:
            message: str | bytes
            if type(event) is TextReceived:
                message = event.text
            elif type(event) is BytesReceived:
                message = event.data
            else:
                self._on_event(event)
                continue
            if stream.feed_message(message):
                # What a waiting message counts for back-pressure: its length.
                self._queued += len(message)
                self._queued_messages += 1
                if (
                    self._queued > _READ_HIGH
                    or self._queued_messages >= self._ctx.config.ws_max_queue
                ):
                    self._pause_reading()

    def _on_event(self, event: WebSocketEvent | ConnectionLost) -> None:
        """Whatever the machine reports besides a message."""
        stream = self.stream
        if isinstance(event, PongReceived):
            if self._ping_payload is not None and event.payload == self._ping_payload:
                self._ping_payload = None
                self._cancel_pong_timer()
                self._schedule_ping()
        elif isinstance(event, CloseReceived):
            stream.feed_close(event.code, event.reason)
            self._finish()
        elif isinstance(event, ProtocolFailed):
            _logger.info(
                "WebSocket from %s failed: %s (close %d)", self._peer, event.reason, event.code
            )
            stream.feed_close(event.code, event.reason)
            self._linger()
        elif isinstance(event, ConnectionLost):
            stream.feed_close(1006)
            self._finish()

    def _pause_reading(self) -> None:
        if not self._read_paused:
            self._read_paused = True
            self._carrier.pause_reading()
            # A pong could not be read while paused: keep-alive waits too.
            self._cancel_ping_timers()

    def _resume_reading(self) -> None:
        if self._read_paused and not self._gone:
            self._read_paused = False
            self._carrier.resume_reading()
            self._schedule_ping()

    # -------------------------------------------------------- keep-alive

    def _schedule_ping(self) -> None:
        interval = self._ctx.config.ws_ping_interval
        machine = self._machine
        if (
            interval is None
            or self._ping_handle is not None
            or self._ping_payload is not None
            or machine is None
            or not machine.can_send
        ):
            return
        self._ping_handle = self._loop.call_later(interval, self._send_ping)

    def _send_ping(self) -> None:
        self._ping_handle = None
        machine = self._machine
        if machine is None or not machine.can_send or self._gone or self._read_paused:
            return
        self._ping_count += 1
        payload = struct.pack("!I", self._ping_count & 0xFFFFFFFF)
        self._carrier.write(machine.send_ping(payload))
        timeout = self._ctx.config.ws_ping_timeout
        if timeout is None:
            self._schedule_ping()
        else:
            self._ping_payload = payload
            self._pong_handle = self._loop.call_later(timeout, self._on_ping_timeout)

    def _on_ping_timeout(self) -> None:
        self._pong_handle = None
        machine = self._machine
        if machine is None or self._gone:
            return
        _logger.info(
            "WebSocket peer %s did not answer a ping within %ss: closing",
            self._peer,
            self._ctx.config.ws_ping_timeout,
        )
        self._carrier.write(machine.send_close(1011, "keepalive ping timeout"))
        # An unresponsive peer will not answer the Close either.
        self.stream.feed_close(1006)
        self._carrier.abort()

    def _cancel_pong_timer(self) -> None:
        if self._pong_handle is not None:
            self._pong_handle.cancel()
            self._pong_handle = None

    def _cancel_ping_timers(self) -> None:
        if self._ping_handle is not None:
            self._ping_handle.cancel()
            self._ping_handle = None
        self._cancel_pong_timer()
        self._ping_payload = None

    # ------------------------------------------------------------ closing

    def _start_close(self, code: int, reason: str) -> None:
        machine = self._machine
        assert machine is not None
        data = machine.send_close(code, reason)
        if not data:
            return
        self._carrier.write(data)
        self._cancel_ping_timers()
        # The peer's answer must be readable, whatever the app's backlog.
        self._resume_reading()
        if self._close_handle is None:
            self._close_handle = self._loop.call_later(
                self._ctx.config.ws_close_timeout, self._on_close_timeout
            )

    def _on_close_timeout(self) -> None:
        self._close_handle = None
        if self._gone:
            return
        machine = self._machine
        if machine is not None and machine.state is WebSocketState.CLOSING:
            _logger.info(
                "WebSocket peer %s did not answer the Close frame within %ss: dropping",
                self._peer,
                self._ctx.config.ws_close_timeout,
            )
        self.stream.feed_close(1006)
        self._carrier.abort()

    def _linger(self) -> None:
        """After failing the connection: send nothing more, wait for the peer to go.

        Closing at once would make the kernel reset the connection if the
        peer's bytes are still unread, and a reset can destroy our Close
        frame before the peer reads it.
        """
        self._cancel_ping_timers()
        self._resume_reading()
        self._carrier.shutdown_write()
        if self._close_handle is None:
            self._close_handle = self._loop.call_later(
                self._ctx.config.ws_close_timeout, self._on_close_timeout
            )

    def _finish(self) -> None:
        """The WebSocket is over: close the carrier (with a deadline for its flush)."""
        if self._gone or self._ended:
            return
        self._ended = True
        self._cancel_ping_timers()
        if self._close_handle is not None:
            self._close_handle.cancel()
            self._close_handle = None
        self._carrier.close()
        if self._abort_handle is None:
            # A peer that stops reading could hold the flush forever.
            self._abort_handle = self._loop.call_later(
                self._ctx.config.ws_close_timeout, self._carrier.abort
            )

    # ---------------------------------------------------- WebSocketSink

    def accept(
        self, stream_id: int, subprotocol: str | None, headers: list[tuple[bytes, bytes]]
    ) -> None:
        if self._gone:
            raise ClientDisconnected("the client disconnected")
        config = self._ctx.config
        deflate = (
            negotiate_deflate(self._request.extensions) if config.ws_per_message_deflate else None
        )
        try:
            fields = handshake_response_headers(
                self._request, subprotocol=subprotocol, deflate=deflate
            )
        except LocalProtocolError as exc:
            raise RuntimeError(f"websocket.accept: {exc}") from None
        app_names = {name for name, _ in headers}
        defaults = [pair for pair in self._ctx.default_headers() if pair[0] not in app_names]
        machine = WebSocketMachine(max_message_size=config.ws_max_size, deflate=deflate)
        early = self._carrier.send_handshake_response((*fields, *defaults, *headers))
        self._machine = machine
        # 101 Switching Protocols over HTTP/1.1; a 200 on the stream over HTTP/2.
        self.stream.status = 101 if self._request.key is not None else 200
        self._log_handshake()
        if self._early:
            early += bytes(self._early)
            self._early.clear()
        self._resume_reading()
        self._schedule_ping()
        if early:
            self._receive(early)
        if self._draining and machine.can_send:
            self._start_close(1001, "server shutting down")

    def send_message(self, stream_id: int, data: str | bytes) -> None:
        machine = self._machine
        if machine is None or self._gone or not machine.can_send:
            raise ClientDisconnected("the WebSocket is closing")
        try:
            out = machine.send_text(data) if isinstance(data, str) else machine.send_bytes(data)
        except LocalProtocolError as exc:
            raise RuntimeError(f"websocket.send: {exc}") from None
        self._carrier.write(out)

    def close(self, stream_id: int, code: int, reason: str) -> None:
        if self._machine is None or self._gone:
            return
        try:
            self._start_close(code, reason)
        except LocalProtocolError as exc:
            raise RuntimeError(f"websocket.close: {exc}") from None

    def send_event(self, event: ResponseEvent) -> None:
        if self._gone:
            return
        self._carrier.send_response_event(event)
        if type(event) is ResponseEnd:
            self._log_handshake()
            self._finish()

    def send_error_response(
        self, stream_id: int, status: int, request_headers: Iterable[tuple[bytes, bytes]]
    ) -> int:
        if self._gone:
            return 0
        length = self._carrier.send_error_response(status, request_headers)
        self.stream.status = status
        self.stream.bytes_sent = length
        self._log_handshake()
        self._finish()
        return length

    def writable(self, stream_id: int) -> bool:
        return self._gone or self._carrier.writable()

    async def wait_writable(self, stream_id: int) -> None:
        if not self._gone:
            await self._carrier.wait_writable()

    def message_consumed(self, stream_id: int, message: str | bytes) -> None:
        self._queued -= len(message)
        self._queued_messages -= 1
        if (
            self._read_paused
            and self._queued < _READ_LOW
            and self._queued_messages <= self._ctx.config.ws_max_queue // 4
            and self._machine is not None
        ):
            self._resume_reading()

    def stream_finished(self, stream: WebSocketStream) -> None:
        self._app_done = True
        if self._machine is None and not self._gone:
            self._finish()  # never accepted and nothing left to answer

    def abort_stream(self, stream_id: int) -> None:
        if not self._gone:
            self._carrier.abort()

    # ---------------------------------------------------- worker shutdown

    def is_idle(self) -> bool:
        return self._app_done

    def shutdown(self) -> None:
        """Close with 1001 (going away); the app is told through its disconnect."""
        self._draining = True
        machine = self._machine
        if machine is not None and machine.can_send and not self._gone:
            self._start_close(1001, "server shutting down")

    def force_close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if not self._gone:
            self._carrier.abort()

    # ------------------------------------------------------------ helpers

    def _log_handshake(self) -> None:
        ctx = self._ctx
        stream = self.stream
        scope = stream.scope
        duration = time.perf_counter() - stream.started_at
        if ctx.emitter.active:
            ctx.emitter.emit(
                RequestCompleted(
                    worker_id=ctx.worker_id,
                    method=self._method,
                    path=scope["path"],
                    http_version=scope["http_version"],
                    status=stream.status,
                    bytes_sent=stream.bytes_sent,
                    duration=duration,
                    client=scope["client"],
                )
            )
        if ctx.access_logger.isEnabledFor(logging.INFO):
            client = scope["client"]
            query = scope["query_string"]
            target = scope["raw_path"].decode("latin-1")
            if query:
                target += "?" + query.decode("latin-1")
            ctx.access_logger.info(
                '%s - "%s %s HTTP/%s" %d %d %.1fms',
                f"{client[0]}:{client[1]}" if client else "-",
                self._method,
                target,
                scope["http_version"],
                stream.status,
                stream.bytes_sent,
                duration * 1000,
            )
