"""``--server-timing``: where a request's time went, in a Server-Timing header.

Three durations, in milliseconds (W3C Server Timing):

``parse``  from the first byte of the request head to the head parsed, as
           the connection recorded it (scope extension ``pounce.timing``);
``app``    from the app being called to its ``http.response.start``: the
           time the client waited for the server to decide;
``send``   from ``http.response.start`` until the last body byte was handed
           to the socket (a slow client, or a body the app streams, makes it
           long).

``parse`` and ``app`` are known when the head leaves, so they go in the
header. ``send`` ends after the head has been sent, so it can only travel in
a trailer: it is added, as a ``Server-Timing`` trailer field, when the client
said it accepts trailers (``TE: trailers``); the response is then chunked.
"""

from __future__ import annotations

import time

from pounce import ASGIApp, Message, Receive, Scope, Send, on_response_start
from pounce_extras._http import get_headers, without_headers

__all__ = ["ServerTiming"]

_BODY_TYPES = ("http.response.body", "http.response.zerocopysend", "http.response.pathsend")
_NO_BODY = frozenset({204, 304})


def _accepts_trailers(scope: Scope) -> bool:
    for value in get_headers(scope["headers"], b"te"):
        if b"trailers" in (t.strip().split(b";")[0].lower() for t in value.split(b",")):
            return True
    return False


def _head_metrics(parse: float | None, called: float, now: float) -> bytes:
    """The Server-Timing value of the head: ``parse`` (when known) and ``app``."""
    metrics = [] if parse is None else [f"parse;dur={parse * 1000:.3f}"]
    metrics.append(f"app;dur={(now - called) * 1000:.3f}")
    return ", ".join(metrics).encode("ascii")


class ServerTiming:
    """The ASGI layer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        called = time.perf_counter()
        facts = (scope.get("extensions") or {}).get("pounce.timing")
        parse = facts["head_parsed"] - facts["request_start"] if facts else None
        if scope["method"] == "HEAD" or not _accepts_trailers(scope):
            # Only the header: added to the start, the body goes by.
            def add_header(status: int, fields: list[tuple[bytes, bytes]]) -> None:
                now = time.perf_counter()
                fields.append((b"server-timing", _head_metrics(parse, called, now)))

            await self.app(scope, receive, on_response_start(send, add_header))
            return
        trailer = app_trailers = False
        started = 0.0
        chunked_framing = scope.get("http_version") == "1.1" and scope.get("method") != "HEAD"

        def send_metric() -> bytes:
            elapsed = time.perf_counter() - started
            return f"send;dur={elapsed * 1000:.3f}".encode("ascii")

        async def timed_send(message: Message) -> None:
            nonlocal trailer, app_trailers, started
            kind = message.get("type")
            if kind == "http.response.start":
                now = time.perf_counter()
                headers = [
                    *message.get("headers", ()),
                    (b"server-timing", _head_metrics(parse, called, now)),
                ]
                if message.get("status") not in _NO_BODY:
                    trailer = True
                    app_trailers = bool(message.get("trailers", False))
                    if chunked_framing:
                        # HTTP/1.1 carries trailers only in chunked framing,
                        # which a Content-Length would rule out.
                        headers = without_headers(headers, b"content-length")
                    headers.append((b"trailer", b"server-timing"))
                    message = {**message, "headers": headers, "trailers": True}
                else:
                    message = {**message, "headers": headers}
                started = now
                await send(message)
                return
            if not trailer:
                await send(message)
                return
            if kind in _BODY_TYPES and not message.get("more_body", False):
                await send(message)
                if not app_trailers:
                    await send(
                        {
                            "type": "http.response.trailers",
                            "headers": [(b"server-timing", send_metric())],
                        }
                    )
                return
            if kind == "http.response.trailers" and not message.get("more_trailers", False):
                message = {
                    **message,
                    "headers": [*message.get("headers", ()), (b"server-timing", send_metric())],
                }
            await send(message)

        await self.app(scope, receive, timed_send)
