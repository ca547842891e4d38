"""ASGI apps and middleware for the pounce-extras suites.

Importable by a pounce subprocess as ``support.extras_apps:NAME``; the
in-process tests use the factories directly.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Sequence
from typing import Any

from pounce import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "TagMiddleware",
    "app",
    "inner_tag",
    "outer_tag",
    "respond_with",
    "streaming",
]

Headers = Sequence[tuple[bytes, bytes]]


def respond_with(
    body: bytes = b"hello",
    *,
    status: int = 200,
    content_type: bytes | None = b"text/plain; charset=utf-8",
    headers: Headers = (),
    chunks: Sequence[bytes] | None = None,
) -> ASGIApp:
    """An app answering every request alike; ``chunks`` streams the body."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        response_headers = list(headers)
        if content_type is not None:
            response_headers.append((b"content-type", content_type))
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        if chunks is None:
            await send({"type": "http.response.body", "body": body})
            return
        for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    return app


def streaming(release: Any) -> ASGIApp:
    """Sends one chunk, waits for ``release`` (a threading.Event), sends another."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"data: first\n\n", "more_body": True})
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, release.wait, 30)
        await send({"type": "http.response.body", "body": b"data: second\n\n", "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    return app


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return body


async def _echo(receive: Receive, send: Send) -> None:
    """A WebSocket that sends back every message it gets."""
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif message["type"] == "websocket.receive":
            reply = {"type": "websocket.send"}
            if message.get("text") is not None:
                reply["text"] = "echo: " + message["text"]
            else:
                reply["bytes"] = message.get("bytes") or b""
            await send(reply)
        else:
            return


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """A WebSocket echo, and HTTP routes: ``/scope`` (what the server told the
    app, as JSON), ``/slow?s=N``, ``/fail`` (raises), ``/whoami`` (the
    instance name from $POUNCE_INSTANCE), anything else: ``hello``."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "websocket":
        await _echo(receive, send)
        return
    if scope["type"] != "http":
        return
    path = scope["path"]
    body = await _read_body(receive)
    content_type = b"text/plain; charset=utf-8"
    if path == "/scope":
        content_type = b"application/json"
        text = json.dumps(
            {
                "client": scope["client"],
                "scheme": scope["scheme"],
                "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
                "extensions": sorted(scope.get("extensions", {})),
                "request_id": scope.get("extensions", {}).get("pounce.request_id"),
                "body": len(body),
            }
        ).encode()
    elif path == "/slow":
        seconds = float(scope["query_string"].decode().partition("=")[2] or "1")
        await asyncio.sleep(seconds)
        text = b"slept\n"
    elif path == "/fail":
        raise RuntimeError("the app failed on purpose")
    elif path == "/whoami":
        text = os.environ.get("POUNCE_INSTANCE", "?").encode() + b"\n"
    else:
        text = b"hello\n"
    headers = [(b"content-type", content_type), (b"content-length", str(len(text)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": text})


class TagMiddleware:
    """Appends its tag to the ``x-tags`` response header (shows the order)."""

    tag = b"tag"

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                tags = [v for k, v in headers if k == b"x-tags"]
                headers = [(k, v) for k, v in headers if k != b"x-tags"]
                headers.append((b"x-tags", b",".join([*tags, self.tag])))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, tagged)


class outer_tag(TagMiddleware):
    tag = b"outer"


class inner_tag(TagMiddleware):
    tag = b"inner"
