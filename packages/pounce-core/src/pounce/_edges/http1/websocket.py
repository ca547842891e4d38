"""WebSocket over an HTTP/1.1 connection (RFC 6455): the edge after ``Upgrade``.

When :class:`~pounce._edges.http1.connection.HTTP1Connection` sees a request asking
to upgrade to ``websocket`` it hands its transport over through
:func:`start_websocket` and steps aside: from then on the transport's protocol
is an :class:`HTTP1WebSocket`, which

* checks the opening handshake (a bad one gets its 400 or 426 and a close,
  and the app never runs);
* is the :class:`~pounce._bridge.websocket_session.WebSocketCarrier` of one
  :class:`~pounce._bridge.websocket_session.WebSocketSession`: it answers the
  handshake through the connection's HTTP/1.1 machine (the ``101``, or a
  refusal: a 403, a 500 or the app's denial response, each followed by a
  close) and afterwards moves raw WebSocket bytes, starting with whatever the
  machine already held past the request (:meth:`take_upgraded_data`);
* is one of the worker's connections, so graceful shutdown reaches it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from pounce._bridge.context import WorkerContext
from pounce._bridge.http_scope import request_headers, websocket_scope
from pounce._bridge.websocket_session import WebSocketSession
from pounce._edges.write_watch import WriteWatch, abandon
from pounce._runtime.logs import ERROR_LOGGER
from pounce_protocols import (
    Headers,
    HTTP1ServerConnection,
    LocalProtocolError,
    ResponseEvent,
    ResponseHead,
    UpgradeRequested,
    WebSocketHandshakeError,
    parse_websocket_request,
)

__all__ = ["HTTP1WebSocket", "start_websocket"]

_logger = logging.getLogger(ERROR_LOGGER)

_CLOSE_HEADER = (b"connection", b"close")


def start_websocket(
    ctx: WorkerContext,
    transport: asyncio.Transport,
    machine: HTTP1ServerConnection,
    event: UpgradeRequested,
    *,
    client: tuple[str, int] | None,
    server: tuple[str, int | None] | None,
    scheme: str,
    tls: dict[str, Any] | None,
    write_paused: bool,
) -> None:
    """Take over ``transport`` for the WebSocket that ``event`` asks for."""
    edge = HTTP1WebSocket(ctx, transport, machine, write_paused=write_paused)
    transport.set_protocol(edge)
    ctx.connections.add(edge)
    edge.begin(event, client=client, server=server, scheme=scheme, tls=tls)


class HTTP1WebSocket(asyncio.Protocol):
    """The protocol of a transport whose HTTP/1.1 request asked for a WebSocket."""

    __slots__ = (
        "_ctx",
        "_drain_waiters",
        "_eof_written",
        "_machine",
        "_peer",
        "_session",
        "_stream_id",
        "_transport",
        "_write_paused",
        "_write_watch",
    )

    def __init__(
        self,
        ctx: WorkerContext,
        transport: asyncio.Transport,
        machine: HTTP1ServerConnection,
        *,
        write_paused: bool,
    ) -> None:
        self._ctx = ctx
        self._transport: asyncio.Transport | None = transport
        self._machine = machine
        self._write_paused = write_paused
        self._write_watch = WriteWatch(ctx.loop, ctx.config.timeout_write, self._on_write_stalled)
        if write_paused:
            self._write_watch.paused(transport)
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._eof_written = False
        self._session: WebSocketSession | None = None
        self._stream_id = 0
        self._peer = "unix socket peer"

    def begin(
        self,
        event: UpgradeRequested,
        *,
        client: tuple[str, int] | None,
        server: tuple[str, int | None] | None,
        scheme: str,
        tls: dict[str, Any] | None,
    ) -> None:
        """Check the handshake and start the app, or refuse and close."""
        ctx = self._ctx
        ctx.requests_served += 1
        self._stream_id = event.stream_id
        if client is not None:
            self._peer = f"{client[0]}:{client[1]}"
        try:
            request = parse_websocket_request(
                method=event.method, http_version=event.http_version, headers=event.headers
            )
        except WebSocketHandshakeError as exc:
            _logger.info(
                "Invalid WebSocket handshake from %s: %s (%d)", self._peer, exc, exc.status_hint
            )
            extra, body = ctx.error_renderer(exc.status_hint, event.headers)
            refusal = (*ctx.default_headers(), *exc.headers, *extra)
            self.write(self._machine.reject(exc.status_hint, refusal, body))
            self.close()
            return
        scope = websocket_scope(
            ctx,
            event,
            request_headers(event),
            client=client,
            server=server,
            scheme=scheme,
            tls=tls,
            subprotocols=request.subprotocols,
        )
        session = WebSocketSession(
            ctx=ctx,
            carrier=self,
            request=request,
            stream_id=event.stream_id,
            scope=scope,
            method=event.method.decode("ascii"),
            peer=self._peer,
        )
        self._session = session
        session.start()

    # ------------------------------------------------------ asyncio.Protocol

    def data_received(self, data: bytes) -> None:
        if self._session is not None:
            self._session.data_received(data)

    def eof_received(self) -> bool | None:
        if self._session is not None:
            self._session.eof_received()
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self._ctx.connections.discard(self)
        self._transport = None
        self._write_watch.resumed()
        self._wake_writers()
        if self._session is not None:
            self._session.connection_lost()

    def pause_writing(self) -> None:
        self._write_paused = True
        if self._transport is not None:
            self._write_watch.paused(self._transport)

    def resume_writing(self) -> None:
        self._write_paused = False
        self._write_watch.resumed()
        self._wake_writers()

    # ----------------------------------------------------- WebSocketCarrier

    def send_handshake_response(self, headers: Headers) -> bytes:
        try:
            head = ResponseHead(stream_id=self._stream_id, status=101, headers=headers)
            data = self._machine.send(head)
        except (TypeError, ValueError, LocalProtocolError) as exc:
            raise RuntimeError(f"Invalid websocket.accept headers: {exc}") from None
        self.write(data)
        return self._machine.take_upgraded_data()

    def send_response_event(self, event: ResponseEvent) -> None:
        if type(event) is ResponseHead:
            # The connection ends after a denial response.
            event = ResponseHead(
                stream_id=event.stream_id,
                status=event.status,
                headers=(*event.headers, _CLOSE_HEADER),
                _trusted=True,
            )
        try:
            data = self._machine.send(event)
        except LocalProtocolError as exc:
            raise RuntimeError(f"Invalid response: {exc}") from None
        self.write(data)

    def send_error_response(
        self, status: int, request_headers: Iterable[tuple[bytes, bytes]]
    ) -> int:
        ctx = self._ctx
        extra, body = ctx.error_renderer(status, request_headers)
        headers = (*ctx.default_headers(), *extra)
        data = self._machine.reject(status, headers, body)
        if not data:
            # A denial response had already started: only closing is left.
            self.abort()
            return 0
        self.write(data)
        return len(body)

    def writable(self) -> bool:
        return not self._write_paused or self._transport is None

    async def wait_writable(self) -> None:
        if not self._write_paused or self._transport is None:
            return
        waiter = self._ctx.loop.create_future()
        self._drain_waiters.append(waiter)
        await waiter

    def pause_reading(self) -> None:
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self._transport is not None:
            self._transport.resume_reading()

    def shutdown_write(self) -> None:
        transport = self._transport
        if transport is not None and not self._eof_written and transport.can_write_eof():
            self._eof_written = True
            transport.write_eof()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    # ---------------------------------------------------- worker shutdown

    def is_idle(self) -> bool:
        return self._session is None or self._session.is_idle()

    def shutdown(self) -> None:
        if self._session is not None:
            self._session.shutdown()

    def drain_streams(self) -> bool:
        """Nothing to ask: a WebSocket is closed with 1001 when the worker shuts down."""
        return False

    def force_close(self) -> None:
        if self._session is not None:
            self._session.force_close()
        else:
            self.abort()

    # ------------------------------------------------------------ helpers

    def write(self, data: bytes) -> None:
        if data and self._transport is not None and not self._eof_written:
            self._transport.write(data)
            if self._write_paused:
                self._write_watch.wrote(len(data))

    def _on_write_stalled(self) -> None:
        """``--timeout-write``: the peer has read nothing for a whole period."""
        if self._transport is not None:
            _logger.info(
                "WebSocket peer %s read nothing for %.0f s: connection closed (--timeout-write)",
                self._peer,
                self._ctx.config.timeout_write,
            )
            abandon(self._transport)

    def _wake_writers(self) -> None:
        waiters = self._drain_waiters
        if waiters:
            self._drain_waiters = []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
