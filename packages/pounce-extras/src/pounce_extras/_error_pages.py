"""Error pages: the responses the server generates, in the client's format.

The server writes some responses itself: protocol errors (400, 413, 431...),
a 500 for a failed app, and the answers of the layers here (404 and 416 for
static files, 429, 503). With ``--error-pages`` (on by default) they are
rendered as the client's ``Accept`` prefers:

* HTML for a browser (``text/html`` listed),
* JSON (RFC 9457 problem details) for an API client (``application/json``
  or ``application/problem+json`` listed, and preferred to HTML),
* plain text otherwise, including ``*/*``: a wildcard says nothing about
  what the client can show, and plain text is readable everywhere.

``--debug`` adds the traceback of an app's exception to its 500 response.
The layer that does it sits right around the app: it catches the exception
before the server does, answers with the traceback when the response has not
started, and re-raises so the server still logs it. Tracebacks reveal code
and data; they are never shown without ``--debug``.
"""

from __future__ import annotations

import html
import json
import traceback
from collections.abc import Iterable
from http import HTTPStatus
from typing import Literal

from pounce import (
    ASGIApp,
    ClientDisconnected,
    ErrorRenderer,
    Message,
    Receive,
    Scope,
    Send,
    ServerConfig,
    ServerPlugin,
)
from pounce_extras._http import get_headers, parse_qlist

__all__ = ["ErrorPagesPlugin", "render_error", "send_error"]

Format = Literal["text", "html", "json"]
Headers = list[tuple[bytes, bytes]]


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def choose_format(request_headers: Iterable[tuple[bytes, bytes]]) -> tuple[Format, bytes]:
    """The page format for these request headers, and its content type."""
    accepted = parse_qlist(get_headers(request_headers, b"accept"))
    q_html = max(accepted.get("text/html", 0.0), accepted.get("application/xhtml+xml", 0.0))
    q_problem = accepted.get("application/problem+json", 0.0)
    q_json = max(accepted.get("application/json", 0.0), q_problem)
    q_text = accepted.get("text/plain", 0.0)
    if q_html > 0 and q_html >= q_json and q_html >= q_text:
        return "html", b"text/html; charset=utf-8"
    if q_json > 0 and q_json >= q_text:
        if q_problem > 0 and q_problem >= accepted.get("application/json", 0.0):
            return "json", b"application/problem+json"
        return "json", b"application/json"
    return "text", b"text/plain; charset=utf-8"


def render_error(
    status: int,
    request_headers: Iterable[tuple[bytes, bytes]],
    *,
    pages: bool = True,
    detail: str | None = None,
    trace: str | None = None,
) -> tuple[Headers, bytes]:
    """Headers and body of an error response (without content-length).

    ``pages=False`` always renders plain text (``--no-error-pages``).
    """
    phrase = _phrase(status)
    form, content_type = choose_format(request_headers) if pages else ("text", b"")
    if form == "html":
        parts = [
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
            f"<title>{status} {html.escape(phrase)}</title></head>\n<body>",
            f"<h1>{status} {html.escape(phrase)}</h1>",
        ]
        if detail:
            parts.append(f"<p>{html.escape(detail)}</p>")
        if trace:
            parts.append(f"<pre>{html.escape(trace)}</pre>")
        parts.append("</body></html>\n")
        body = "".join(parts).encode("utf-8")
    elif form == "json":
        problem: dict[str, object] = {"type": "about:blank", "title": phrase, "status": status}
        if detail:
            problem["detail"] = detail
        if trace:
            problem["traceback"] = trace.splitlines()
        body = json.dumps(problem).encode("utf-8")
    else:
        content_type = b"text/plain; charset=utf-8"
        text = f"{status} {phrase}\n"
        if detail:
            text += f"{detail}\n"
        if trace:
            text += f"\n{trace}"
        body = text.encode("utf-8")
    headers: Headers = [(b"content-type", content_type)]
    if pages:
        headers.append((b"vary", b"accept"))
    return headers, body


async def send_error(
    send: Send,
    config: ServerConfig,
    status: int,
    scope: Scope,
    *,
    headers: Iterable[tuple[bytes, bytes]] = (),
    detail: str | None = None,
) -> None:
    """Answer a request with a server-generated error response."""
    extra, body = render_error(status, scope["headers"], pages=config.error_pages, detail=detail)
    response_headers = [*extra, *headers, (b"content-length", str(len(body)).encode("ascii"))]
    await send({"type": "http.response.start", "status": status, "headers": response_headers})
    await send({"type": "http.response.body", "body": body})


class DebugLayer:
    """Answers an app's exception with a 500 carrying the traceback (``--debug``).

    The app's ``http.response.start`` is held until its first body message,
    so an app that fails in between can still get the debug page.
    """

    def __init__(self, app: ASGIApp, config: ServerConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        sent = False

        async def debug_send(message: Message) -> None:
            nonlocal held, sent
            if message.get("type") == "http.response.start" and not sent and held is None:
                held = message
                return
            if held is not None:
                start, held = held, None
                sent = True
                await send(start)
            sent = True
            await send(message)

        try:
            await self.app(scope, receive, debug_send)
        except Exception as exc:
            if not sent and not isinstance(exc, ClientDisconnected):
                trace = "".join(traceback.format_exception(exc))
                extra, body = render_error(
                    500, scope["headers"], pages=self.config.error_pages, trace=trace
                )
                headers = [*extra, (b"content-length", str(len(body)).encode("ascii"))]
                await send({"type": "http.response.start", "status": 500, "headers": headers})
                await send({"type": "http.response.body", "body": body})
            raise  # the server logs it; the response is already complete
        if held is not None:
            await send(held)  # started without a body: let the server judge


class ErrorPagesPlugin(ServerPlugin):
    """Gives the server its error renderer, and the debug layer with ``--debug``."""

    order = 100  # the debug layer must be the first thing around the app

    def __init__(self, config: ServerConfig) -> None:
        self.config = config

    def error_renderer(self) -> ErrorRenderer | None:
        if not self.config.error_pages:
            return None

        def render(
            status: int, request_headers: Iterable[tuple[bytes, bytes]]
        ) -> tuple[Headers, bytes]:
            return render_error(status, request_headers)

        return render

    def wrap_app(self, app: ASGIApp) -> ASGIApp:
        return DebugLayer(app, self.config) if self.config.debug else app
