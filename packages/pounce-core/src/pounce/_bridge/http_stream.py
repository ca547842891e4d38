"""One HTTP request as an ASGI ``http`` connection: the bridge.

An :class:`HTTPStream` sits between a protocol connection (HTTP/1.1 today,
HTTP/2 and HTTP/3 through the same door) and the application. The connection
feeds it request-side facts (body data, end of body, disconnect) and gives it a
:class:`StreamSink` to send protocol-neutral response events through. The
stream never learns which protocol carries it.

Response state machine
----------------------
The app's ``send()`` messages are checked against a transition table::

    (state, message type) -> handler

A pair that is not in the table is an invalid ASGI message and raises a
``RuntimeError`` that says what was expected. ``http.response.start`` is held
back until the first body message (the spec allows it), so a response whose
whole body arrives in one message gets an exact ``content-length`` instead of
chunked framing, and an app that fails before its first body byte can still
get a clean 500.

Start hooks
-----------
A layer of the app stack that wraps ``send`` only to adjust the response's
``http.response.start`` (add a header, decide whether to compress) would cost
every message of the response a call through its wrapper, although it is done
after the first. When the ``send`` such a layer is given is this stream's own,
it registers a hook instead (:func:`on_response_start`) and hands the app
``send`` unwrapped: when the app sends the start message, the stream reads
its fields once and lets the hooks change them, the innermost layer's first,
as the wrappers would have; the rest of the response goes straight through.
A wrapper anywhere between the layer and the stream shows as a ``send`` that
is not the stream's, and the layer wraps as before, so the order of the
layers never changes.

A layer that must follow some responses further (compress the body of one
whose fields say it compresses) but not others can decide with the stream
too: its hook returns a *relay*, which the stream calls with the first
message after the start (a body, a file) and the ``send`` that leads on to
the client. The relay returns None to leave the response alone after all (a
body too small to compress), or the ``send`` through which the start (as the
hooks have left it), that message and every later one must go; what it
sends goes through the hooks of the layers outside it, as the start of a
wrapped ``send`` would. The hooks of those outer layers run once the relay
has decided (the head is held until the first body anyway). So such a layer
wraps only the responses it acts on, and one it leaves alone costs it a call
or two. When a response relayed so is asked to end as its worker drains
(below), the stream ends it through the relay (an empty last body message),
so that what the relay encodes ends too.

A layer that does nothing else for an ``http`` request (it only registers a
hook, chosen from the request, and calls the app inside it) may say so: its
``http_start_hook(scope, status, fields)`` is then that hook, with the
request's scope (see :func:`pounce._bridge.app_stack.split_hook_layers`).
When such layers are the outermost of the stack, the server calls the app
inside them directly for HTTP requests and each stream runs their hooks
itself, after those registered by the layers inside them: the same hooks in
the same order, without a call of each layer, a registration and a list per
request. A relay one of them returns waits with the rest of them as any
other hook's does.

Draining long-lived responses
-----------------------------
A response that does not end by itself (server-sent events, a long poll
streamed as it goes) would hold a draining worker for the whole grace
period. When the worker drains, :meth:`HTTPStream.ask_to_end` asks such a
response to end: ``receive()`` returns ``http.disconnect`` (what frameworks
already listen for), while ``send()`` keeps working, so the app may still
send a last event. When the app returns, the response is ended cleanly (the
last chunk, END_STREAM), not aborted; an app that does not return is ended
by the connection after a short grace: it cancels the app, and the
response ends cleanly as the cancellation passes (a layer that encodes the
body ends its encoding on the way). Which
responses count as long-lived is decided by their content type
(``--drain-content-type``, ``text/event-stream`` by default); every other
response keeps the whole grace period.

Request timeout
---------------
With ``request_timeout`` set, the app has that many seconds from the request
head to a complete response. When they run out the app is cancelled; a client
still waiting for its response head gets 504, one whose response has started
loses the connection (HTTP/1.1) or the stream (HTTP/2), since a truncated body
must never look complete.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol

from pounce._bridge.http_scope import DRAIN, PATH_SEND
from pounce._runtime.asgi_types import (
    ASGIApp,
    HTTPStartHook,
    Message,
    ResponseRelay,
    Scope,
    Send,
    StartHook,
)
from pounce._runtime.logs import ERROR_LOGGER
from pounce_protocols import Headers, ResponseBody, ResponseEnd, ResponseEvent, ResponseHead

__all__ = [
    "DRAIN_GRACE",
    "PATH_SEND",
    "ClientDisconnected",
    "EventSink",
    "FileSink",
    "HTTPStream",
    "ResponseRelay",
    "StartHook",
    "StreamSink",
    "StreamState",
    "on_response_start",
]

# The ASGI "Zero Copy Send" extension: the app hands over an open file and the
# server writes it to the socket itself (os.sendfile), without copying it
# through Python.
ZERO_COPY_SEND = "http.response.zerocopysend"

# A file sent by path where the connection cannot hand it to the kernel
# (HTTP/2, HTTP/3, TLS) goes in pieces of this size, each read on the
# loop's executor once the file is bigger than one piece, so that a cold
# disk never stalls the worker's other connections.
_PATH_PIECE = 256 * 1024

_logger = logging.getLogger(ERROR_LOGGER)

# A long-lived response asked to end when its worker drains has this long to
# do so before its connection ends it and cancels its app.
DRAIN_GRACE = 2.0

# The statuses an app may start a response with: final ones, as HTTP/1.1
# writes them (three digits); informational ones are the server's to send.
_FINAL_STATUSES = frozenset(range(200, 1000))

# Response status codes whose responses never carry a body (RFC 9110 §6.4.1).
_NO_BODY_STATUS = frozenset({204, 304})


class ClientDisconnected(OSError):
    """Raised by ``send()`` once the client has gone away (ASGI HTTP spec 2.4)."""


class StreamSink(Protocol):
    """What a protocol connection offers the streams it carries."""

    def send_event(self, event: ResponseEvent) -> None:
        """Serialize one response event and write it.

        A sink may hold what it is given back, in order, to write it together
        with what follows, but no later than when the app next yields to the
        event loop; the end of a response (and anything not a head or a body
        piece) is written at once. The stream always sends another event of
        the same stream right after a head, before the app runs again (an
        empty :class:`ResponseBody` when it has nothing else to send yet).
        """

    def send_body(self, stream_id: int, data: bytes) -> None:
        """``send_event(ResponseBody(stream_id=stream_id, data=data))``: a body
        piece of a response whose head has been sent, which a connection may
        frame without building the event (a streamed response sends many)."""

    def send_response(self, stream_id: int, status: int, headers: Headers, body: bytes) -> bool:
        """Send a whole response at once: its head (``status``, ``headers``),
        ``body`` (may be empty), end.

        What a one-message response (the common case) can become when the
        connection frames and writes it in one go; no event is built for it.
        Returns False, having sent nothing, when it cannot (a response that
        needs the events one by one, or a connection with nothing faster to
        offer): the stream then sends the head, the body and the end as events.
        """

    def writable(self, stream_id: int) -> bool:
        """False while the peer is not keeping up and sending should wait."""

    async def wait_writable(self, stream_id: int) -> None:
        """Return when the stream may send again (or the peer is gone)."""

    def body_consumed(self, stream_id: int, nbytes: int) -> None:
        """The app has taken ``nbytes`` of request body: reading may resume."""

    def stream_finished(self, stream: HTTPStream) -> None:
        """The app is done with the stream, successfully or not."""

    def abort_stream(self, stream_id: int) -> None:
        """The response cannot be completed: reset the stream / close the connection."""

    def send_continue(self, stream_id: int) -> None:
        """Send ``100 Continue``: the app is reading a body the client holds back."""

    def send_error_response(
        self, stream_id: int, status: int, request_headers: Iterable[tuple[bytes, bytes]]
    ) -> int:
        """Send a whole response the server generates itself (a 500 for a failed
        app, a 413 for a body over the limit); return its body length.

        It must work even when the app's own response head was refused by the
        protocol, so it is the sink's job rather than the stream's.
        """


class EventSink:
    """The two shortcuts of :class:`StreamSink` for a connection whose machine
    frames every response event itself (HTTP/2, HTTP/3): a body piece is sent
    as its event, and a whole response is left to the events."""

    __slots__ = ()

    def send_event(self, event: ResponseEvent) -> None:
        raise NotImplementedError

    def send_body(self, stream_id: int, data: bytes) -> None:
        self.send_event(ResponseBody(stream_id=stream_id, data=data, _trusted=True))

    def send_response(self, stream_id: int, status: int, headers: Headers, body: bytes) -> bool:
        return False  # HTTPStream sends the head, the body and the end as events


class FileSink(Protocol):
    """A connection that can write file contents straight to its socket."""

    async def send_file(self, stream_id: int, file: Any, offset: int, count: int) -> None:
        """Write ``count`` bytes of ``file`` from ``offset`` as response body;
        return when they are sent (or the peer is gone)."""


class StreamState(enum.Enum):
    START = "waiting for http.response.start"
    STARTED = "waiting for the first http.response.body"
    BODY = "sending the body"
    TRAILERS = "waiting for http.response.trailers"
    DONE = "complete"

    # Members are singletons compared by identity, so identity hashing is
    # consistent; Enum's own __hash__ is a Python call on every send().
    __hash__ = object.__hash__


_START = StreamState.START
_STARTED = StreamState.STARTED
_BODY = StreamState.BODY
_TRAILERS = StreamState.TRAILERS
_DONE = StreamState.DONE


def _validate_headers(raw: Any) -> list[tuple[bytes, bytes]]:
    """Trailer fields as given, each checked to be a pair of bytes."""
    try:
        headers = [(name, value) for name, value in raw]
    except (TypeError, ValueError):
        raise RuntimeError(
            "http.response.start 'headers' must be an iterable of [name, value] pairs"
        ) from None
    for name, value in headers:
        if type(name) is not bytes or type(value) is not bytes:
            raise RuntimeError(
                f"http.response.start header {name!r}: {value!r} must be a pair of bytes"
            )
    return headers


class HTTPStream:
    """The ASGI ``http`` connection for one request."""

    __slots__ = (
        "_body",
        "_body_limit",
        "_body_received",
        "_buffered",
        "_content_length",
        "_default_headers",
        "_default_names",
        "_disconnected",
        "_ending",
        "_expect_continue",
        "_file_sink",
        "_head",
        "_head_pending",
        "_is_head",
        "_layer_hooks",
        "_relay",
        "_relay_pending",
        "_request_complete",
        "_request_delivered",
        "_request_timeout",
        "_sink",
        "_start_hooks",
        "_state",
        "_trailers_expected",
        "_waiters",
        "bytes_sent",
        "scope",
        "started_at",
        "status",
        "stream_id",
    )

    # Positional parameters, which the edges pass positionally: a class
    # called with keywords builds a dict of them for __init__ and costs a
    # small request about half a microsecond (measured on 3.14 and 3.14t).
    def __init__(  # noqa: PLR0917 (see above)
        self,
        sink: StreamSink,
        stream_id: int,
        scope: Scope,
        default_headers: Callable[[], Sequence[tuple[bytes, bytes]]],
        expect_continue: bool,
        body_limit: int,
        request_timeout: float | None = None,
        file_sink: FileSink | None = None,
        layer_hooks: tuple[HTTPStartHook, ...] = (),
        default_names: frozenset[bytes] | None = None,
    ) -> None:
        self._sink = sink
        self._request_timeout = request_timeout
        # Offered to the app (the scope's zero-copy extension) only by
        # connections that have one.
        self._file_sink = file_sink
        self.stream_id = stream_id
        self.scope = scope
        self._default_headers = default_headers
        # The names of those fields, when the caller knows them for good
        # (they never change in a worker); else read from the fields.
        self._default_names = default_names
        self._is_head = scope["method"] == "HEAD"
        self._expect_continue = expect_continue
        self._body_limit = body_limit
        # Lists only once something waits in them: most requests have no
        # body to buffer and nobody waiting on one.
        self._body: list[bytes] | tuple[()] = ()
        self._buffered = 0
        self._body_received = 0
        self._request_complete = False
        self._request_delivered = False
        self._disconnected = False
        self._ending = False  # asked to end: the worker drains (see the module docstring)
        self._waiters: list[asyncio.Future[None]] | tuple[()] = ()
        self._state = _START
        # The hooks of the layers that adjust the start, innermost first, and
        # the send of a layer that took the rest of the response (a relay).
        self._start_hooks: list[StartHook] | None = None
        # The hooks of the outermost layers, which the stream runs for them
        # (innermost first, after those registered): the stack's, shared.
        self._layer_hooks = layer_hooks
        self._relay: Send | None = None
        # A hook's relay waiting for the first message after the start, with
        # the app's start message and the hooks of the layers outside it.
        self._relay_pending: tuple[ResponseRelay, Message, list[StartHook]] | None = None
        self._head_pending: tuple[int, list[tuple[bytes, bytes]]] | None = None
        self._head: Headers = ()  # the fields of a head sent ahead of its body
        self._content_length: int | None = None
        self._trailers_expected = False
        self.status = 0
        self.bytes_sent = 0
        self.started_at = time.perf_counter()

    # ------------------------------------------------ fed by the connection

    @property
    def state(self) -> StreamState:
        return self._state

    @property
    def response_complete(self) -> bool:
        return self._state is _DONE

    @property
    def response_started(self) -> bool:
        """True once response bytes may have reached the wire."""
        return self._state is _BODY or self._state is _TRAILERS or self._state is _DONE

    @property
    def buffered_body(self) -> int:
        """Request body bytes received and not yet taken by the app."""
        return self._buffered

    def feed_body(self, data: bytes) -> bool:
        """Add request body bytes. Returns False when the body limit is exceeded."""
        self._body_received += len(data)
        if self._body_received > self._body_limit:
            return False
        if self._disconnected or self._state is _DONE:
            return True  # nobody will read it; drop
        # The client is sending without waiting for 100 Continue; a late one
        # would only be noise (RFC 9110 §10.1.1 lets us omit it).
        self._expect_continue = False
        body = self._body
        if isinstance(body, list):
            body.append(data)
        else:
            self._body = [data]
        self._buffered += len(data)
        self._wake()
        return True

    def feed_end(self) -> None:
        self._request_complete = True
        if self._waiters:
            self._wake()

    def feed_disconnect(self) -> None:
        self._disconnected = True
        self._wake()

    def reject_request(self, status: int) -> None:
        """The request broke a limit mid-body: answer ``status`` while that is
        still possible, then treat the client as gone."""
        if self._state is _START or self._state is _STARTED:
            self._send_error_response(status)
        else:
            self._abort()
        self._disconnected = True
        self._wake()

    def ask_to_end(self, content_types: frozenset[bytes]) -> bool:
        """The worker drains: ask a long-lived response to end; whether it is one.

        A response is long-lived when its head has gone, its body has not,
        its content type is one of ``content_types`` (lowercase, without
        parameters) and nothing fixes its length (Content-Length, trailers).
        Its app hears ``http.disconnect``; its ``send()`` still works.
        """
        if self._state is not _BODY or self._disconnected or self._ending:
            return False
        if self._content_length is not None or self._trailers_expected:
            return False
        for name, value in self._head:
            if name == b"content-type":
                if value.partition(b";")[0].strip().lower() not in content_types:
                    return False
                self._ending = True
                # Layers that transform the body see it, to end what they
                # encode when the app returns (docs/workers.md).
                extensions = self.scope.get("extensions")
                if extensions is not None:
                    extensions[DRAIN] = {**extensions.get(DRAIN, {}), "ending": True}
                self._wake()
                return True
        return False

    def end_response(self) -> None:
        """End a response asked to end whose app has not: cleanly, and tell the app."""
        if self._state is _BODY and not self._disconnected:
            self._state = _DONE
            self._sink.send_event(ResponseEnd(stream_id=self.stream_id, _trusted=True))
        self._disconnected = True
        self._wake()

    def _wake(self) -> None:
        waiters = self._waiters
        if waiters:
            self._waiters = ()
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    # ----------------------------------------------------------- the app

    async def run(self, app: ASGIApp) -> None:
        """Run the app for this request; report to the sink when done."""
        try:
            if self._request_timeout is None:
                await app(self.scope, self.receive, self.send)
            elif not await self._run_with_timeout(app, self._request_timeout):
                return
        except ClientDisconnected:
            pass  # we raised it because the client left; not an app error
        except asyncio.CancelledError:
            if self._ending:
                # Cancelled after it was asked to end as its worker drains
                # (it did not listen): the response still ends cleanly.
                await self._end_asked()
            else:
                self._abort()
            raise
        except BaseException as exc:
            self._on_app_error(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            if self._state is _DONE or self._disconnected:
                # Done, the common case first; or returning without a
                # (complete) response, the right answer to a client that
                # left (http.disconnect): nothing to report.
                pass
            elif self._ending and self._state is _BODY:
                # Asked to end because the worker drains, and it did: the
                # response is over, not broken.
                await self._end_asked()
            elif self._state is _START:
                _logger.error("ASGI callable returned without starting a response.")
                self._send_error_response(500)
            else:
                _logger.error("ASGI callable returned without completing the response.")
                self._abort()
        finally:
            # The relay holds this stream (its downstream send): let go of it,
            # so that the two go with their last reference, not with the
            # cycle collector.
            self._relay = self._relay_pending = None
            self._sink.stream_finished(self)

    async def _end_asked(self) -> None:
        """End a response asked to end whose app has returned or been
        cancelled: through the layer that took it, when one did, so that what
        it encodes ends as well (its last body message), else here."""
        relay = self._relay
        if relay is not None and self._state is _BODY and not self._disconnected:
            try:
                await relay({"type": "http.response.body", "body": b"", "more_body": False})
            except Exception as exc:
                if not isinstance(exc, ClientDisconnected):
                    _logger.error("Exception ending a response asked to end", exc_info=exc)
        if self._state is _BODY and not self._disconnected:
            self._finish_body()

    async def _run_with_timeout(self, app: ASGIApp, seconds: float) -> bool:
        """Run the app for at most ``seconds``; False when it was cut off.

        A ``TimeoutError`` the app raises itself is the app's error, not ours:
        only an expired deadline counts.
        """
        deadline = asyncio.timeout(seconds)
        try:
            async with deadline:
                await app(self.scope, self.receive, self.send)
        except TimeoutError:
            if not deadline.expired():
                raise
            self._on_request_timeout(seconds)
            return False
        return True

    def _on_request_timeout(self, seconds: float) -> None:
        if self._disconnected or self._state is _DONE:
            return
        if self._state is _START or self._state is _STARTED:
            _logger.warning("Request timed out after %s s before a response: 504", seconds)
            self._send_error_response(504)
        else:
            _logger.warning("Request timed out after %s s mid-response: aborted", seconds)
            self._abort()

    def _on_app_error(self, exc: BaseException) -> None:
        if self._disconnected and (isinstance(exc, OSError) or _from_disconnect(exc)):
            return  # the app tripped over the departed client; nothing to log
        _logger.error("Exception in ASGI application", exc_info=exc)
        if self._disconnected:
            return
        if self._state is _START or self._state is _STARTED:
            self._send_error_response(500)
        elif self._state is not _DONE:
            self._abort()

    def _abort(self) -> None:
        if self._state is not _DONE:
            self._state = _DONE
            if not self._disconnected:
                self._sink.abort_stream(self.stream_id)
        self._wake()

    def _send_error_response(self, status: int) -> None:
        if self._disconnected:
            return
        self._head_pending = None
        self._state = _DONE
        self.status = status
        self.bytes_sent = self._sink.send_error_response(
            self.stream_id, status, self.scope["headers"]
        )
        self._wake()

    # ------------------------------------------------------------ receive

    async def receive(self) -> Message:
        while True:
            body = self._body
            if body:
                data = body[0] if len(body) == 1 else b"".join(body)
                self._body = ()
                self._buffered = 0
                self._sink.body_consumed(self.stream_id, len(data))
                more = not self._request_complete
                if not more:
                    self._request_delivered = True
                return {"type": "http.request", "body": data, "more_body": more}
            if self._request_complete and not self._request_delivered:
                self._request_delivered = True
                return {"type": "http.request", "body": b"", "more_body": False}
            if self._disconnected or self._state is _DONE or self._ending:
                return {"type": "http.disconnect"}
            if self._expect_continue and self._state is _START:
                self._expect_continue = False
                self._sink.send_continue(self.stream_id)
            waiter = asyncio.get_running_loop().create_future()
            waiters = self._waiters
            if isinstance(waiters, list):
                waiters.append(waiter)
            else:
                self._waiters = [waiter]
            await waiter

    # --------------------------------------------------------------- send

    async def send(self, message: Message) -> None:
        relay = self._relay
        if relay is not None:
            # A layer took the rest of this response (see "Start hooks").
            await relay(message)
            return
        try:
            kind = message["type"]
        except (KeyError, TypeError):
            raise RuntimeError(f"ASGI message without a 'type': {message!r}") from None
        if self._disconnected:
            raise ClientDisconnected("the client disconnected")
        # An unhashable 'type' cannot be looked up; it is just as unexpected.
        handler = _TRANSITIONS.get((self._state, kind)) if type(kind) is str else None
        if handler is None:
            raise RuntimeError(
                f"Unexpected ASGI message {kind!r} sent while the response is {self._state.value}."
            )
        # Handlers are plain calls that say what is left to do: only a peer
        # that is not keeping up makes the app wait, so most messages complete
        # without suspending. (A handler may also be a coroutine function.)
        after = handler(self, message)
        if not after:
            return
        if not isinstance(after, int):
            await after
            return
        await self._sink.wait_writable(self.stream_id)
        if self._disconnected:
            raise ClientDisconnected("the client disconnected")
        if after == _WAIT_THEN_FINISH:
            self._finish_body()

    async def _deliver(self, message: Message) -> None:
        # ``send`` without its relay check: where a relay's messages go.
        # The same lines, not a call from one to the other, as this is
        # the path of every message (held alike by a test).
        try:
            kind = message["type"]
        except (KeyError, TypeError):
            raise RuntimeError(f"ASGI message without a 'type': {message!r}") from None
        if self._disconnected:
            raise ClientDisconnected("the client disconnected")
        # An unhashable 'type' cannot be looked up; it is just as unexpected.
        handler = _TRANSITIONS.get((self._state, kind)) if type(kind) is str else None
        if handler is None:
            raise RuntimeError(
                f"Unexpected ASGI message {kind!r} sent while the response is {self._state.value}."
            )
        # Handlers are plain calls that say what is left to do: only a peer
        # that is not keeping up makes the app wait, so most messages complete
        # without suspending. (A handler may also be a coroutine function.)
        after = handler(self, message)
        if not after:
            return
        if not isinstance(after, int):
            await after
            return
        await self._sink.wait_writable(self.stream_id)
        if self._disconnected:
            raise ClientDisconnected("the client disconnected")
        if after == _WAIT_THEN_FINISH:
            self._finish_body()

    def _on_start(self, message: Message) -> int | Awaitable[None]:
        status = message.get("status")
        if type(status) is not int or status not in _FINAL_STATUSES:
            raise RuntimeError(
                f"http.response.start 'status' must be an int in 200..999, got {status!r}"
            )
        # The app's fields as the server sends them, in one pass (inline: once
        # per response). Each must be a pair of bytes; names are lowercased
        # (the app's own object is kept when it already is, with its cached
        # hash); Transfer-Encoding is dropped, as the server owns framing
        # (ASGI HTTP spec). Content-Length stays, checked against the body.
        fields: list[tuple[bytes, bytes]] = []
        length: bytes | None = None
        try:
            for name, value in message.get("headers", ()):
                if type(name) is not bytes or type(value) is not bytes:
                    raise RuntimeError(
                        f"http.response.start header {name!r}: {value!r} must be a pair of bytes"
                    )
                lowered = name if name.islower() else name.lower()
                if lowered == b"content-length":
                    length = value
                elif lowered == b"transfer-encoding":
                    continue
                fields.append((lowered, value))
        except (TypeError, ValueError):
            raise RuntimeError(
                "http.response.start 'headers' must be an iterable of [name, value] pairs"
            ) from None
        hooks = self._start_hooks
        if hooks is not None:
            self._start_hooks = None
            self._apply_hooks(hooks, status, fields, message)
        layer_hooks = self._layer_hooks
        if layer_hooks:
            # Inline: the one hook of the default stack runs on every response.
            pending = self._relay_pending
            if pending is not None:
                # An inner hook's relay waits: these run after it decides.
                pending[2].extend(_with_scope(layer_hooks, self.scope))
            else:
                scope = self.scope
                for index, hook in enumerate(layer_hooks):
                    relay = hook(scope, status, fields)
                    if relay is not None:
                        rest = layer_hooks[index + 1 :]
                        outer = _with_scope(rest, scope) if rest else []
                        self._relay_pending = (relay, message, outer)
                        break
        if length is not None:
            try:
                self._content_length = int(length)
            except ValueError:
                raise RuntimeError(f"invalid content-length {length!r} in response") from None
        if message.get("trailers", False):
            self._trailers_expected = True
        self._head_pending = (status, fields)
        self._state = _STARTED
        return _NO_WAIT

    def _settle_relay(self, message: Message) -> Awaitable[None] | None:
        """The first message after the start, with a relay waiting for it: the
        relay takes the response (the awaitable that hands it the start and
        ``message``), or leaves it, and the outer layers' hooks adjust the
        held start now (None)."""
        while (pending := self._relay_pending) is not None:
            relay, start, outer = pending
            self._relay_pending = None
            relayed = relay(self._deliver, message)
            head = self._head_pending
            assert head is not None
            status, fields = head
            if relayed is not None:
                # What the relay sends starts the response afresh and meets
                # only the hooks of the layers outside it.
                self._relay = relayed
                self._start_hooks = outer or None
                self._layer_hooks = ()  # among ``outer`` now, if they were to run
                self._head_pending = None
                self._content_length = None
                self._trailers_expected = False
                self._state = _START
                return _hand_over(relayed, {**start, "status": status, "headers": fields}, message)
            if outer:
                self._apply_hooks(outer, status, fields, start)
        return None

    def _apply_hooks(
        self,
        hooks: list[StartHook],
        status: int,
        fields: list[tuple[bytes, bytes]],
        start: Message,
    ) -> None:
        """Let ``hooks`` (innermost first) adjust the start, until one returns
        a relay: it waits for the first message after the start, with the
        hooks after its own, those of the layers outside it."""
        for index, hook in enumerate(hooks):
            relay = hook(status, fields)
            if relay is not None:
                self._relay_pending = (relay, start, hooks[index + 1 :])
                return

    def _on_first_body(self, message: Message) -> int | Awaitable[None]:
        if self._relay_pending is not None:
            taken = self._settle_relay(message)
            if taken is not None:
                return taken
        body = message.get("body", b"")
        more_body = message.get("more_body", False)
        if type(body) is not bytes:
            body = _coerce_body(body)
        pending = self._head_pending
        assert pending is not None
        self._head_pending = None
        status, headers = pending
        # A body that arrives whole gets an exact length instead of chunking;
        # but an empty one for HEAD says nothing about the GET body's length,
        # so no length is invented for it (RFC 9110 §8.6).
        whole = not (more_body or self._trailers_expected)
        known_length = len(body) if whole and (body or not self._is_head) else None
        fields = self._head_fields(status, headers, known_length)
        if whole:
            # The whole response in one message: one sink call when the
            # connection can take it that way.
            dropped = self._is_head or status in _NO_BODY_STATUS
            limit = self._content_length
            if (
                limit is None or limit == len(body) or (dropped and not body)
            ) and self._sink.send_response(
                self.stream_id, status, fields, b"" if dropped else body
            ):
                self.bytes_sent = len(body)
                self._state = _DONE
                if self._waiters:
                    self._wake()
                if body and not dropped and not self._sink.writable(self.stream_id):
                    # Complete, but the peer is not keeping up: the app's
                    # send() returns when it is, as with a separate end.
                    return _WAIT
                return _NO_WAIT
        self._emit_head(status, fields)
        self._state = _BODY
        if not self._write_body(body):
            # Nothing of this message follows the head: let it go now
            # rather than wait for the app's next message (see StreamSink).
            if not whole:
                flush = ResponseBody(stream_id=self.stream_id, data=b"", _trusted=True)
                self._sink.send_event(flush)
        elif not self._sink.writable(self.stream_id):
            return _WAIT if more_body else _WAIT_THEN_FINISH
        if not more_body:
            self._finish_body()
        return _NO_WAIT

    async def _on_first_file(self, message: Message) -> None:
        if self._relay_pending is not None:
            taken = self._settle_relay(message)
            if taken is not None:
                await taken
                return
        file, offset, count = self._file_part(message)
        more_body = message.get("more_body", False)
        pending = self._head_pending
        assert pending is not None
        self._head_pending = None
        status, headers = pending
        known_length = None if (more_body or self._trailers_expected) else count
        self._emit_head(status, self._head_fields(status, headers, known_length))
        self._state = _BODY
        # The head must not wait for the file (the connection holds a head
        # until the next event, see StreamSink): an empty body sends it now.
        self._sink.send_event(ResponseBody(stream_id=self.stream_id, data=b"", _trusted=True))
        await self._write_file(file, offset, count)
        if not more_body:
            self._finish_body()

    async def _on_file(self, message: Message) -> None:
        file, offset, count = self._file_part(message)
        await self._write_file(file, offset, count)
        if not message.get("more_body", False):
            self._finish_body()

    async def _on_path(self, message: Message) -> None:
        """``http.response.pathsend``: the whole body is the file at ``path``.

        Over a connection that writes files itself (HTTP/1.1 without TLS) it
        goes as a zero-copy send; elsewhere it is read in pieces and sent as
        body messages, with the same back-pressure as any body. Its length is
        known, so a response without a Content-Length gets one.
        """
        if self._relay_pending is not None:
            taken = self._settle_relay(message)
            if taken is not None:
                await taken
                return
        path = message.get("path")
        if type(path) is not str or not os.path.isabs(path):
            raise RuntimeError(f"{PATH_SEND} 'path' must be an absolute path, got {path!r}")
        try:
            # Opening is a metadata lookup, quick next to the reads that follow.
            file = open(path, "rb")  # noqa: ASYNC230, SIM115
        except OSError as exc:
            raise RuntimeError(f"{PATH_SEND} cannot open {path!r}: {exc.strerror}") from None
        with file:
            size = os.fstat(file.fileno()).st_size
            if self._file_sink is not None:
                whole = {"type": ZERO_COPY_SEND, "file": file, "offset": 0, "count": size}
                await self._on_first_file(whole)
                return
            pending = self._head_pending
            assert pending is not None
            if self._content_length is None and not self._trailers_expected:
                pending[1].append((b"content-length", b"%d" % size))
                self._content_length = size
            await self._send_pieces(file.fileno(), size, path)

    async def _send_pieces(self, fd: int, size: int, path: str) -> None:
        if self._is_head or size == 0:
            await _STREAM_DELIVER(self, {"type": "http.response.body", "body": b""})
            return
        loop = asyncio.get_running_loop()
        offset = 0
        while offset < size:
            want = min(_PATH_PIECE, size - offset)
            if size <= _PATH_PIECE:
                data = os.pread(fd, want, offset)  # one small read: not worth a thread
            else:
                data = await loop.run_in_executor(None, os.pread, fd, want, offset)
            if not data:
                raise RuntimeError(f"{PATH_SEND}: {path!r} got shorter while it was sent")
            offset += len(data)
            more = offset < size
            await _STREAM_DELIVER(
                self, {"type": "http.response.body", "body": data, "more_body": more}
            )

    def _file_part(self, message: Message) -> tuple[Any, int, int]:
        if self._file_sink is None:
            raise RuntimeError(f"{ZERO_COPY_SEND} was not offered in the scope's extensions")
        file: Any = message.get("file")
        try:
            fd = file.fileno()
        except (AttributeError, OSError, ValueError):
            raise RuntimeError(f"{ZERO_COPY_SEND} 'file' must be an open file") from None
        offset = message.get("offset")
        if offset is None:
            offset = os.lseek(fd, 0, os.SEEK_CUR)
        count = message.get("count")
        if count is None:
            count = max(0, os.fstat(fd).st_size - offset)
        if type(offset) is not int or type(count) is not int or offset < 0 or count < 0:
            raise RuntimeError(f"{ZERO_COPY_SEND} 'offset' and 'count' must be ints >= 0")
        return file, offset, count

    async def _write_file(self, file: Any, offset: int, count: int) -> None:
        if not count:
            return
        self.bytes_sent += count
        limit = self._content_length
        if limit is not None and self.bytes_sent > limit:
            raise RuntimeError("Response content longer than Content-Length")
        if self._is_head or self.status in _NO_BODY_STATUS:
            return
        assert self._file_sink is not None
        await self._file_sink.send_file(self.stream_id, file, offset, count)
        if self._disconnected:
            raise ClientDisconnected("the client disconnected")

    def _on_body(self, message: Message) -> int:
        body = message.get("body", b"")
        if type(body) is not bytes:
            body = _coerce_body(body)
        more_body = message.get("more_body", False)
        if self._write_body(body) and not self._sink.writable(self.stream_id):
            return _WAIT if more_body else _WAIT_THEN_FINISH
        if not more_body:
            self._finish_body()
        return _NO_WAIT

    def _on_trailers(self, message: Message) -> int:
        trailers = _validate_headers(message.get("headers", ()))
        if not message.get("more_trailers", False):
            self._state = _DONE
            self._sink.send_event(ResponseEnd(stream_id=self.stream_id, trailers=tuple(trailers)))
            self._wake()
        return _NO_WAIT

    def _head_fields(
        self, status: int, fields: list[tuple[bytes, bytes]], body_length: int | None
    ) -> Headers:
        """The fields of the response head: the server's defaults the app did
        not set itself, the app's, and a Content-Length when the app gave none
        and the whole body is known."""
        self.status = status
        if (
            self._content_length is None
            and body_length is not None
            and status not in _NO_BODY_STATUS
        ):
            fields.append((b"content-length", b"%d" % body_length))
            self._content_length = body_length
        defaults = self._default_headers()
        names = self._default_names
        if names is None:
            names = frozenset([name for name, _ in defaults])
        for own, _ in fields:
            if own in names:  # the app's own value wins
                own_names = {own for own, _ in fields}
                kept = tuple(pair for pair in defaults if pair[0] not in own_names)
                return (*kept, *fields)
        return (*defaults, *fields)

    def _emit_head(self, status: int, fields: Headers) -> None:
        self._head = fields
        self._sink.send_event(
            ResponseHead(stream_id=self.stream_id, status=status, headers=fields, _trusted=True)
        )

    def _write_body(self, body: bytes) -> bool:
        """Send a piece of the body; whether anything was sent."""
        if not body:
            return False
        self.bytes_sent += len(body)
        limit = self._content_length
        if limit is not None and self.bytes_sent > limit:
            raise RuntimeError("Response content longer than Content-Length")
        if self._is_head or self.status in _NO_BODY_STATUS:
            return False  # the head is all such a response has; the body is dropped
        self._sink.send_body(self.stream_id, body)
        return True

    def _finish_body(self) -> None:
        limit = self._content_length
        if (
            limit is not None
            and self.bytes_sent < limit
            and not self._is_head
            and self.status not in _NO_BODY_STATUS
        ):
            raise RuntimeError("Response content shorter than Content-Length")
        if self._trailers_expected:
            self._state = _TRAILERS
            return
        self._state = _DONE
        self._sink.send_event(ResponseEnd(stream_id=self.stream_id, _trusted=True))
        if self._waiters:
            self._wake()


def on_response_start(send: Send, hook: StartHook) -> Send:
    """The ``send`` to hand the app so that ``hook`` adjusts the start of the
    response (see "Start hooks" above).

    ``hook(status, fields)`` is called once, when the app sends
    ``http.response.start``, with the status and the header fields as a list
    of ``(name, value)`` pairs with lowercase names, which it may change in
    place (all but Content-Length and Transfer-Encoding, which frame the
    response). When ``send`` is the server's own, the hook is registered with
    the response (called after the hooks of layers closer to the app, on the
    fields the server has already read) and ``send`` itself is returned: the
    app's messages reach the server with no call in between. Otherwise
    (another layer's wrapper, another server, a response already started)
    the result is a wrapper that calls ``hook`` as the start message passes
    and sends the fields it leaves.

    When ``hook`` returns a :data:`ResponseRelay` rather than None, the
    start is held until the next message, and ``relay(downstream, message)``
    decides: None sends both on as they are; a ``send`` is handed the start
    (with the fields as the hook left them), that message and every later
    one of the response, and what it sends goes on to the client. Only a
    hook registered with the server's own ``send`` has a response asked to
    end as its worker drains ended through its relay; behind a wrapper, a
    layer that encodes the body ends that itself.
    """
    try:
        stream = send.__self__  # type: ignore[attr-defined]
        own = send.__func__ is _STREAM_SEND  # type: ignore[attr-defined]
    except AttributeError:
        own = False
    if own and stream._state is _START and stream._relay is None:
        hooks = stream._start_hooks
        if hooks is None:
            stream._start_hooks = [hook]
        else:
            hooks.insert(0, hook)  # registered later: closer to the app, runs first
        return send
    relayed: Send | None = None
    # The hook's relay and the start it holds until the next message.
    waiting: tuple[ResponseRelay, Message] | None = None

    async def adjusted(message: Message) -> None:
        nonlocal relayed, waiting
        if relayed is not None:
            await relayed(message)
            return
        if waiting is not None:
            relay, start = waiting
            waiting = None
            relayed = relay(send, message)
            if relayed is None:
                await send(start)
                await send(message)
            else:
                await relayed(start)
                await relayed(message)
            return
        if message.get("type") == "http.response.start":
            status = message.get("status")
            try:
                fields = [(name.lower(), value) for name, value in message.get("headers", ())]
            except (AttributeError, TypeError, ValueError):
                fields = None
            # A start the server will refuse anyway goes to it as it is.
            if type(status) is int and fields is not None:
                further = hook(status, fields)
                message = {**message, "headers": fields}
                if further is not None:
                    waiting = (further, message)
                    return
        await send(message)

    return adjusted


def _with_scope(hooks: tuple[HTTPStartHook, ...], scope: Scope) -> list[StartHook]:
    """Layer hooks as the start hooks they stand for (when a relay makes
    them wait, which is rare)."""
    return [functools.partial(hook, scope) for hook in hooks]


async def _hand_over(relayed: Send, start: Message, first: Message) -> None:
    """Hand a relay that took a response its start and first message."""
    await relayed(start)
    await relayed(first)


def _from_disconnect(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while handling our :class:`ClientDisconnected`.

    Frameworks translate it (Starlette raises ``ClientDisconnect`` from it),
    so the exception the app lets out is a consequence of the client leaving,
    found in its context chain or, from a task group, among its members.
    """
    pending = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ClientDisconnected):
            return True
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                pending.append(linked)
    return False


def _coerce_body(body: Any) -> bytes:
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    raise RuntimeError(f"http.response.body 'body' must be bytes, got {type(body).__name__}")


# What is left to do after a handler returns: nothing, or wait until the peer
# is keeping up again (then finish the response, for a last body message).
_NO_WAIT = 0
_WAIT = 1
_WAIT_THEN_FINISH = 2

_Handler = Callable[[HTTPStream, Message], int | Awaitable[None]]

_STREAM_SEND = HTTPStream.send
_STREAM_DELIVER = HTTPStream._deliver

_TRANSITIONS: dict[tuple[StreamState, str], _Handler] = {
    (_START, "http.response.start"): HTTPStream._on_start,
    (_STARTED, "http.response.body"): HTTPStream._on_first_body,
    (_BODY, "http.response.body"): HTTPStream._on_body,
    (_STARTED, ZERO_COPY_SEND): HTTPStream._on_first_file,
    (_BODY, ZERO_COPY_SEND): HTTPStream._on_file,
    (_STARTED, PATH_SEND): HTTPStream._on_path,
    (_TRAILERS, "http.response.trailers"): HTTPStream._on_trailers,
}
