"""One WebSocket as an ASGI ``websocket`` connection: the bridge.

A :class:`WebSocketStream` is to a WebSocket what
:class:`~pounce._bridge.http_stream.HTTPStream` is to a request: it sits between a
protocol connection and the application, turns the app's ``receive()`` and
``send()`` into facts and requests on a :class:`WebSocketSink`, and never
learns which protocol carries it (an HTTP/1.1 connection after its ``101``
today, an HTTP/2 stream later). The connection feeds it whole messages and
the end of the conversation (:meth:`~WebSocketStream.feed_message`,
:meth:`~WebSocketStream.feed_close`).

Send state machine
------------------
The app's ``send()`` messages are checked against a transition table::

    (state, message type) -> handler

    HANDSHAKE  websocket.accept                 -> CONNECTED  (101 / 200)
               websocket.close                  -> CLOSED     (403)
               websocket.http.response.start    -> RESPONSE_STARTED
    RESPONSE_STARTED  websocket.http.response.body  -> RESPONSE_BODY or CLOSED
    RESPONSE_BODY     websocket.http.response.body  -> RESPONSE_BODY or CLOSED
    CONNECTED  websocket.send                   -> CONNECTED
               websocket.close                  -> CLOSED     (Close frame)

A pair that is not in the table is an invalid ASGI message and raises a
``RuntimeError`` saying what was expected; an app that lets it (or anything
else) escape is logged and gets a 500 before accepting, a 1011 close after.
``websocket.http.response.*`` is the denial-response extension: the head is
held until the first body message, as :class:`HTTPStream` does, so a body
sent whole gets an exact ``content-length``.

Receive side: the first ``receive()`` is ``websocket.connect``; then the
messages in arrival order; then ``websocket.disconnect`` with the close code
(1005 when the peer's Close frame had none, 1006 when the connection ended
without one) and reason. Once the peer is gone, ``send()`` raises
:class:`~pounce.ClientDisconnected` (spec 2.4), except for a close, which is
then a no-op.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from pounce._bridge.http_stream import ClientDisconnected, _from_disconnect
from pounce._runtime.asgi_types import ASGIApp, Message, Scope
from pounce._runtime.logs import ERROR_LOGGER
from pounce_protocols import (
    ResponseBody,
    ResponseEnd,
    ResponseEvent,
    ResponseHead,
    is_sendable_close_code,
)

__all__ = ["WebSocketSink", "WebSocketStream", "WebSocketStreamState"]

_logger = logging.getLogger(ERROR_LOGGER)

# Fields of the accepting response the server owns; an app's copy is dropped.
_HANDSHAKE_FIELDS = frozenset(
    {b"upgrade", b"connection", b"sec-websocket-accept", b"sec-websocket-extensions"}
)


class WebSocketSink(Protocol):
    """What a protocol connection offers the WebSocket it carries."""

    def accept(
        self, stream_id: int, subprotocol: str | None, headers: list[tuple[bytes, bytes]]
    ) -> None:
        """Complete the opening handshake with the app's extra response fields.

        Raises ``RuntimeError`` when the app's choice cannot be sent (a
        subprotocol the client did not offer).
        """

    def send_message(self, stream_id: int, data: str | bytes) -> None:
        """Send one whole message; raise ``ClientDisconnected`` once that is impossible."""

    def close(self, stream_id: int, code: int, reason: str) -> None:
        """Start the close handshake with ``code`` and ``reason``."""

    def send_event(self, event: ResponseEvent) -> None:
        """Send a piece of the denial response (instead of accepting)."""

    def send_error_response(
        self, stream_id: int, status: int, request_headers: Iterable[tuple[bytes, bytes]]
    ) -> int:
        """Refuse the handshake with a server-generated response (403, 500);
        return its body length."""

    def writable(self, stream_id: int) -> bool:
        """False while the peer is not keeping up and sending should wait."""

    async def wait_writable(self, stream_id: int) -> None:
        """Return when the WebSocket may send again (or the peer is gone)."""

    def message_consumed(self, stream_id: int, message: str | bytes) -> None:
        """The app has taken ``message``: reading may resume."""

    def stream_finished(self, stream: WebSocketStream) -> None:
        """The app is done, successfully or not."""

    def abort_stream(self, stream_id: int) -> None:
        """The WebSocket cannot go on cleanly: drop the connection (or stream)."""


class WebSocketStreamState(enum.Enum):
    HANDSHAKE = "waiting for websocket.accept, websocket.close or websocket.http.response.start"
    RESPONSE_STARTED = "waiting for the first websocket.http.response.body"
    RESPONSE_BODY = "sending the denial response body"
    CONNECTED = "connected"
    CLOSED = "closed"

    # Members are singletons compared by identity, so identity hashing is
    # consistent; Enum's own __hash__ is a Python call on every send().
    __hash__ = object.__hash__


_HANDSHAKE = WebSocketStreamState.HANDSHAKE
_RESPONSE_STARTED = WebSocketStreamState.RESPONSE_STARTED
_RESPONSE_BODY = WebSocketStreamState.RESPONSE_BODY
_CONNECTED = WebSocketStreamState.CONNECTED
_CLOSED = WebSocketStreamState.CLOSED


def _validate_headers(raw: Any, kind: str) -> list[tuple[bytes, bytes]]:
    try:
        headers = [(name, value) for name, value in raw]
    except (TypeError, ValueError):
        raise RuntimeError(f"{kind} 'headers' must be an iterable of [name, value] pairs") from None
    for name, value in headers:
        if type(name) is not bytes or type(value) is not bytes:
            raise RuntimeError(f"{kind} header {name!r}: {value!r} must be a pair of bytes")
    return headers


def _body(message: Message) -> bytes:
    body = message.get("body", b"")
    if type(body) is bytes:
        return body
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    raise RuntimeError(
        f"websocket.http.response.body 'body' must be bytes, got {type(body).__name__}"
    )


class WebSocketStream:
    """The ASGI ``websocket`` connection for one WebSocket."""

    __slots__ = (
        "_close_code",
        "_close_reason",
        "_connect_delivered",
        "_default_headers",
        "_head_pending",
        "_messages",
        "_sink",
        "_state",
        "_waiters",
        "bytes_sent",
        "scope",
        "started_at",
        "status",
        "stream_id",
    )

    def __init__(
        self,
        *,
        sink: WebSocketSink,
        stream_id: int,
        scope: Scope,
        default_headers: Callable[[], list[tuple[bytes, bytes]]],
    ) -> None:
        self._sink = sink
        self.stream_id = stream_id
        self.scope = scope
        self._default_headers = default_headers
        self._state = _HANDSHAKE
        self._messages: deque[str | bytes] = deque()
        self._connect_delivered = False
        self._close_code: int | None = None
        self._close_reason = ""
        self._head_pending: tuple[int, list[tuple[bytes, bytes]]] | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self.status = 0  # the handshake's answer: 101, 403, 500 or the denial status
        self.bytes_sent = 0
        self.started_at = time.perf_counter()

    # ------------------------------------------------ fed by the connection

    @property
    def state(self) -> WebSocketStreamState:
        return self._state

    @property
    def disconnected(self) -> bool:
        """True once the conversation with the peer is over."""
        return self._close_code is not None

    def feed_message(self, data: str | bytes) -> bool:
        """Queue a message for the app; False when it was dropped (app closed)."""
        if self._state is _CLOSED or self._close_code is not None:
            return False
        self._messages.append(data)
        self._wake()
        return True

    def feed_close(self, code: int, reason: str = "") -> None:
        """The WebSocket has ended with ``code`` (first report wins)."""
        if self._close_code is None:
            self._close_code = code
            self._close_reason = reason
            self._wake()

    def _wake(self) -> None:
        waiters = self._waiters
        if waiters:
            self._waiters = []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    # ----------------------------------------------------------- the app

    async def run(self, app: ASGIApp) -> None:
        """Run the app for this WebSocket; report to the sink when done."""
        try:
            await app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            pass  # we raised it because the peer left; not an app error
        except asyncio.CancelledError:
            self._abort()
            raise
        except BaseException as exc:
            self._on_app_error(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            self._on_app_return()
        finally:
            self._sink.stream_finished(self)

    def _on_app_return(self) -> None:
        state = self._state
        if state is _CLOSED or self._close_code is not None:
            return
        if state is _CONNECTED:
            # The app is done with the conversation: end it normally.
            self._state = _CLOSED
            self._sink.close(self.stream_id, 1000, "")
        elif state is _RESPONSE_BODY:
            _logger.error("ASGI callable returned without completing the denial response.")
            self._abort()
        else:
            _logger.error("ASGI callable returned without accepting or closing the WebSocket.")
            self._send_error_response(500)

    def _on_app_error(self, exc: BaseException) -> None:
        if self._close_code is not None and (isinstance(exc, OSError) or _from_disconnect(exc)):
            return  # the app tripped over the departed peer; nothing to log
        _logger.error("Exception in ASGI application", exc_info=exc)
        if self._close_code is not None:
            return
        state = self._state
        if state is _CONNECTED:
            self._state = _CLOSED
            self._sink.close(self.stream_id, 1011, "")
        elif state is _RESPONSE_BODY:
            self._abort()
        elif state is not _CLOSED:
            self._send_error_response(500)

    def _abort(self) -> None:
        if self._state is not _CLOSED:
            self._state = _CLOSED
            if self._close_code is None:
                self._sink.abort_stream(self.stream_id)
        self._wake()

    def _send_error_response(self, status: int) -> None:
        self._head_pending = None
        self._state = _CLOSED
        self.status = status
        self.bytes_sent = self._sink.send_error_response(
            self.stream_id, status, self.scope["headers"]
        )
        self._wake()

    # ------------------------------------------------------------ receive

    async def receive(self) -> Message:
        if not self._connect_delivered:
            self._connect_delivered = True
            return {"type": "websocket.connect"}
        while True:
            messages = self._messages
            if messages:
                data = messages.popleft()
                self._sink.message_consumed(self.stream_id, data)
                if type(data) is str:
                    return {"type": "websocket.receive", "text": data}
                return {"type": "websocket.receive", "bytes": data}
            if self._close_code is not None:
                return {
                    "type": "websocket.disconnect",
                    "code": self._close_code,
                    "reason": self._close_reason,
                }
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter

    # --------------------------------------------------------------- send

    async def send(self, message: Message) -> None:
        try:
            kind = message["type"]
        except (KeyError, TypeError):
            raise RuntimeError(f"ASGI message without a 'type': {message!r}") from None
        if self._close_code is not None:
            if kind == "websocket.close":
                return  # closing what is already closed changes nothing
            raise ClientDisconnected("the WebSocket is closed")
        # An unhashable 'type' cannot be looked up; it is just as unexpected.
        handler = _TRANSITIONS.get((self._state, kind)) if type(kind) is str else None
        if handler is None:
            raise RuntimeError(
                f"Unexpected ASGI message {kind!r} sent while the WebSocket is {self._state.value}."
            )
        # A handler does its work at once; what it returns, if anything, is
        # the wait for the peer to read (most sends have none: no coroutine).
        waiting = handler(self, message)
        if waiting is not None:
            await waiting

    def _on_accept(self, message: Message) -> None:
        subprotocol = message.get("subprotocol")
        if subprotocol is not None and type(subprotocol) is not str:
            raise RuntimeError(
                f"websocket.accept 'subprotocol' must be a string or None, got {subprotocol!r}"
            )
        headers = []
        for name, value in _validate_headers(message.get("headers", ()), "websocket.accept"):
            lowered = name.lower()
            if lowered == b"sec-websocket-protocol":
                raise RuntimeError(
                    "websocket.accept must not set sec-websocket-protocol; "
                    "use the 'subprotocol' key"
                )
            if lowered not in _HANDSHAKE_FIELDS:
                headers.append((lowered, value))
        self._sink.accept(self.stream_id, subprotocol, headers)
        self._state = _CONNECTED
        self.status = 101

    def _on_close_before_accept(self, message: Message) -> None:
        _close_args(message)  # checked even though a 403 carries neither
        self._send_error_response(403)

    def _on_response_start(self, message: Message) -> None:
        status = message.get("status")
        if type(status) is not int or not 200 <= status <= 999:
            raise RuntimeError(
                f"websocket.http.response.start 'status' must be an int in 200..999, got {status!r}"
            )
        headers = _validate_headers(message.get("headers", ()), "websocket.http.response.start")
        self._head_pending = (status, headers)
        self._state = _RESPONSE_STARTED

    def _on_first_body(self, message: Message) -> Awaitable[None] | None:
        body = _body(message)
        more_body = bool(message.get("more_body", False))
        pending = self._head_pending
        assert pending is not None
        self._head_pending = None
        status, app_headers = pending
        app_names = {name.lower() for name, _ in app_headers}
        headers = [pair for pair in self._default_headers() if pair[0] not in app_names]
        has_length = False
        for name, value in app_headers:
            lowered = name.lower()
            if lowered == b"content-length":
                has_length = True
            elif lowered == b"transfer-encoding":
                continue  # the server owns framing
            headers.append((lowered, value))
        if not has_length and not more_body:
            headers.append((b"content-length", str(len(body)).encode("ascii")))
        try:
            head = ResponseHead(stream_id=self.stream_id, status=status, headers=tuple(headers))
        except (TypeError, ValueError) as exc:
            raise RuntimeError(f"websocket.http.response.start: {exc}") from None
        self.status = status
        self._state = _RESPONSE_BODY
        self._sink.send_event(head)
        return self._write_body(body, more_body)

    def _on_body(self, message: Message) -> Awaitable[None] | None:
        return self._write_body(_body(message), bool(message.get("more_body", False)))

    def _write_body(self, body: bytes, more_body: bool) -> Awaitable[None] | None:
        sink = self._sink
        if body:
            self.bytes_sent += len(body)
            sink.send_event(ResponseBody(stream_id=self.stream_id, data=body, _trusted=True))
        if not more_body:
            self._state = _CLOSED
            sink.send_event(ResponseEnd(stream_id=self.stream_id))
            self._wake()
            return None
        return self._peer_reading()

    def _on_send(self, message: Message) -> Awaitable[None] | None:
        text = message.get("text")
        data = message.get("bytes")
        payload: str | bytes
        if text is not None:
            if data is not None:
                raise RuntimeError("websocket.send must have one of 'bytes' or 'text', not both")
            if type(text) is not str:
                raise RuntimeError(
                    f"websocket.send 'text' must be a string, got {type(text).__name__}"
                )
            payload = text
        elif data is not None:
            if type(data) is bytes:
                payload = data
            elif isinstance(data, bytearray | memoryview):
                payload = bytes(data)
            else:
                raise RuntimeError(
                    f"websocket.send 'bytes' must be bytes, got {type(data).__name__}"
                )
        else:
            raise RuntimeError("websocket.send needs 'bytes' or 'text'")
        self._sink.send_message(self.stream_id, payload)
        return self._peer_reading()

    def _peer_reading(self) -> Awaitable[None] | None:
        """What to await before sending more: nothing while the peer keeps up."""
        sink = self._sink
        return None if sink.writable(self.stream_id) else sink.wait_writable(self.stream_id)

    def _on_close(self, message: Message) -> None:
        code, reason = _close_args(message)
        self._state = _CLOSED
        self._sink.close(self.stream_id, code, reason)


def _close_args(message: Message) -> tuple[int, str]:
    code = message.get("code")
    if code is None:
        code = 1000
    if not is_sendable_close_code(code):
        raise RuntimeError(
            f"websocket.close 'code' {code!r} may not be sent; "
            "use 1000-1003, 1007-1013 or 3000-4999"
        )
    reason = message.get("reason")
    if reason is None:
        reason = ""
    elif type(reason) is not str:
        raise RuntimeError(f"websocket.close 'reason' must be a string, got {reason!r}")
    return code, reason


# A handler returns the wait for the peer, when the app must wait before going on.
_Handler = Callable[[WebSocketStream, Message], Awaitable[None] | None]

_TRANSITIONS: dict[tuple[WebSocketStreamState, str], _Handler] = {
    (_HANDSHAKE, "websocket.accept"): WebSocketStream._on_accept,
    (_HANDSHAKE, "websocket.close"): WebSocketStream._on_close_before_accept,
    (_HANDSHAKE, "websocket.http.response.start"): WebSocketStream._on_response_start,
    (_RESPONSE_STARTED, "websocket.http.response.body"): WebSocketStream._on_first_body,
    (_RESPONSE_BODY, "websocket.http.response.body"): WebSocketStream._on_body,
    (_CONNECTED, "websocket.send"): WebSocketStream._on_send,
    (_CONNECTED, "websocket.close"): WebSocketStream._on_close,
}
