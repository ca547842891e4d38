"""WebSocket over one HTTP/2 stream (RFC 8441, extended CONNECT).

The server advertises ``SETTINGS_ENABLE_CONNECT_PROTOCOL`` when WebSocket is
served; a client then opens a WebSocket as a stream whose request is
``CONNECT`` with ``:protocol websocket``. The HTTP/2 machine reports it as an
:class:`~pounce_protocols.UpgradeRequested` and
:class:`~pounce._edges.http2.connection.HTTP2Connection` hands it to an
:class:`HTTP2WebSocket`, the
:class:`~pounce._bridge.websocket_session.WebSocketCarrier` of one
:class:`~pounce._bridge.websocket_session.WebSocketSession` (the same session, and
so the same app interface, limits and close handshake, as over HTTP/1.1):

* accepting answers ``200`` on the stream (with the subprotocol and the
  permessage-deflate agreement; no ``Sec-WebSocket-Accept``, RFC 8441 §5);
  refusing sends the 403, 500 or the app's denial response on the stream;
* WebSocket frames travel in DATA frames, under HTTP/2 flow control both
  ways: the session pausing its reading stops the stream's window from being
  reopened, and the session's ``send()`` waits for the client's window;
* our close is END_STREAM; the client's END_STREAM is the end of its input;
  a client's RST_STREAM (or the connection going) is a dropped connection
  (``websocket.disconnect`` 1006); our abort is RST_STREAM CANCEL.

Other streams on the connection are not affected by any of this.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any, Protocol

from pounce._bridge.context import WorkerContext
from pounce._bridge.http_scope import request_headers, websocket_scope
from pounce._bridge.websocket_session import WebSocketSession
from pounce._runtime.logs import ERROR_LOGGER
from pounce_protocols import (
    Headers,
    HTTP2ErrorCode,
    ResponseBody,
    ResponseEnd,
    ResponseEvent,
    ResponseHead,
    UpgradeRequested,
    WebSocketHandshakeError,
    parse_websocket_request,
)

__all__ = ["HTTP2StreamOwner", "HTTP2WebSocket"]

_logger = logging.getLogger(ERROR_LOGGER)

# Fields of an HTTP/1.1 handshake answer that have no place in HTTP/2.
_HTTP1_ONLY = frozenset({b"sec-websocket-accept", b"upgrade", b"connection"})


class HTTP2StreamOwner(Protocol):
    """What a WebSocket needs of the HTTP/2 connection that carries its stream.

    ``HTTP2Connection`` implements it; naming it here, rather than importing the
    connection, keeps this module below the connection that uses it.
    """

    def send_event(self, event: ResponseEvent) -> None: ...

    def acknowledge(self, stream_id: int, nbytes: int) -> None: ...

    def stream_writable(self, stream_id: int) -> bool: ...

    def flush_soon(self) -> None: ...

    def reset(self, stream_id: int, error_code: int) -> None: ...

    def write_stream_error(
        self,
        stream_id: int,
        status: int,
        request_headers: Iterable[tuple[bytes, bytes]],
        *,
        extra: Iterable[tuple[bytes, bytes]] = (),
    ) -> int: ...

    def websocket_finished(self, websocket: HTTP2WebSocket) -> None: ...


class HTTP2WebSocket:
    """One WebSocket carried by one HTTP/2 stream."""

    __slots__ = (
        "_conn",
        "_ctx",
        "_ended",
        "_local_ended",
        "_paused",
        "_peer",
        "_reset_timer",
        "_unacked",
        "_waiter",
        "session",
        "stream_id",
    )

    def __init__(self, ctx: WorkerContext, conn: HTTP2StreamOwner, stream_id: int, peer: str):
        self._ctx = ctx
        self._conn = conn
        self.stream_id = stream_id
        self._peer = peer
        self.session: WebSocketSession | None = None
        self._paused = False
        self._unacked = 0  # bytes received while paused, not yet given back as window
        self._local_ended = False
        self._ended = False
        self._waiter: asyncio.Future[None] | None = None
        self._reset_timer: asyncio.TimerHandle | None = None

    def begin(
        self,
        event: UpgradeRequested,
        *,
        client: tuple[str, int] | None,
        server: tuple[str, int | None] | None,
        scheme: str,
        tls: dict[str, Any] | None,
    ) -> bool:
        """Check the handshake and start the app; False if it was refused."""
        ctx = self._ctx
        ctx.requests_served += 1
        try:
            request = parse_websocket_request(
                method=event.method, http_version="2", headers=event.headers
            )
        except WebSocketHandshakeError as exc:
            _logger.info(
                "Invalid WebSocket handshake from %s (stream %d): %s (%d)",
                self._peer,
                self.stream_id,
                exc,
                exc.status_hint,
            )
            self._conn.write_stream_error(
                self.stream_id, exc.status_hint, event.headers, extra=exc.headers
            )
            return False
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
            stream_id=self.stream_id,
            scope=scope,
            method="CONNECT",
            peer=self._peer,
        )
        self.session = session
        session.start()
        return True

    # ------------------------------------------- from the HTTP/2 connection

    def data_received(self, data: bytes) -> None:
        if self._ended or self.session is None:
            return
        if self._paused:
            self._unacked += len(data)
        else:
            self._conn.acknowledge(self.stream_id, len(data))
        self.session.data_received(data)

    def eof_received(self) -> None:
        if self._ended or self.session is None:
            return
        self.session.eof_received()
        if self._local_ended:
            self._finish()

    def connection_lost(self) -> None:
        """The stream was reset or the connection is gone."""
        if self._ended:
            return
        self._finish()
        if self.session is not None:
            self.session.connection_lost()

    def wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and (self.writable() or self._ended):
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # ---------------------------------------------------- WebSocketCarrier

    def send_handshake_response(self, headers: Headers) -> bytes:
        fields = tuple((n, v) for n, v in headers if n.lower() not in _HTTP1_ONLY)
        self._conn.send_event(ResponseHead(stream_id=self.stream_id, status=200, headers=fields))
        return b""  # the session keeps what came early itself

    def send_response_event(self, event: ResponseEvent) -> None:
        if isinstance(event, ResponseEnd):
            self._local_ended = True
        self._conn.send_event(event)

    def send_error_response(
        self, status: int, request_headers: Iterable[tuple[bytes, bytes]]
    ) -> int:
        self._local_ended = True
        return self._conn.write_stream_error(self.stream_id, status, request_headers)

    def write(self, data: bytes) -> None:
        if data and not self._ended and not self._local_ended:
            self._conn.send_event(ResponseBody(stream_id=self.stream_id, data=data, _trusted=True))

    def writable(self) -> bool:
        return self._ended or self._conn.stream_writable(self.stream_id)

    async def wait_writable(self) -> None:
        if self.writable():
            return
        self._waiter = self._ctx.loop.create_future()
        self._conn.flush_soon()
        await self._waiter

    def pause_reading(self) -> None:
        self._paused = True

    def resume_reading(self) -> None:
        self._paused = False
        if self._unacked and not self._ended:
            unacked, self._unacked = self._unacked, 0
            self._conn.acknowledge(self.stream_id, unacked)

    def shutdown_write(self) -> None:
        self._end_stream()

    def close(self) -> None:
        self._end_stream()
        if self._ended:
            return
        # The client answers with its own END_STREAM; one that does not is
        # reset once the close timeout is over, so the stream is not held.
        self._reset_timer = self._ctx.loop.call_later(self._ctx.config.ws_close_timeout, self.abort)

    def abort(self) -> None:
        if self._ended:
            return
        self._conn.reset(self.stream_id, HTTP2ErrorCode.CANCEL)
        self.connection_lost()

    # ------------------------------------------------------------- helpers

    def _end_stream(self) -> None:
        if self._local_ended or self._ended:
            return
        self._local_ended = True
        self._conn.send_event(ResponseEnd(stream_id=self.stream_id))

    def _finish(self) -> None:
        self._ended = True
        if self._reset_timer is not None:
            self._reset_timer.cancel()
            self._reset_timer = None
        self.wake()
        self._conn.websocket_finished(self)

    def is_idle(self) -> bool:
        return self.session is None or self.session.is_idle()
