"""Small pure-ASGI apps, importable as ``support.apps:NAME`` by a pounce process.

The subprocess tests cannot hand the server a closure, so what they serve
lives here. Each app does one obvious thing; ``app`` routes a few paths that
report what the server gave them (scope, environment) or misbehave on cue.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from pounce import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "app",
    "behind_a_wrapper",
    "factory",
    "lifespan_failing",
    "lifespan_hanging_shutdown",
    "lifespan_hanging_startup",
    "lifespan_raising",
    "make_app",
    "not_callable",
    "print_lifecycle_event",
    "respond",
    "scope_summary",
    "track",
]

not_callable = 42


def track(app: ASGIApp) -> tuple[ASGIApp, threading.Event]:
    """Wrap ``app``; the event is set once the server has dealt with the end of
    an http request (its return or exception, logged or not).

    The event is set from a loop callback, which runs only after the server's
    own handling of the app's exit, in the same task step, is over.
    """
    finished = threading.Event()

    async def tracked(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        finally:
            if scope["type"] == "http":
                asyncio.get_running_loop().call_soon(finished.set)

    return tracked, finished


def behind_a_wrapper(app: ASGIApp) -> ASGIApp:
    """``app`` handed a pass-through wrapper of the server's ``send``, as any
    ordinary ASGI middleware hands it: layers inside cannot tell the server."""

    async def wrapping(scope: Scope, receive: Receive, send: Send) -> None:
        async def wrapped(message: Message) -> None:
            await send(message)

        await app(scope, receive, wrapped)

    return wrapping


def make_app() -> Any:
    """Not an app: a factory with no arguments (needs ``--factory``)."""
    return app


factory = make_app


async def respond(
    send: Send,
    body: bytes | str,
    *,
    status: int = 200,
    content_type: bytes = b"text/plain; charset=utf-8",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Send a whole response in one body message."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), *(headers or [])],
        }
    )
    await send({"type": "http.response.body", "body": data})


async def read_body(receive: Receive) -> bytes:
    """The whole request body."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise OSError("client disconnected")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def scope_summary(scope: Scope) -> dict[str, Any]:
    """The JSON-friendly parts of an http scope."""
    return {
        "type": scope["type"],
        "http_version": scope["http_version"],
        "method": scope["method"],
        "scheme": scope["scheme"],
        "path": scope["path"],
        "raw_path": scope["raw_path"].decode("latin-1"),
        "root_path": scope["root_path"],
        "query_string": scope["query_string"].decode("latin-1"),
        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
        "client": list(scope["client"]) if scope.get("client") else None,
        "server": list(scope["server"]) if scope.get("server") else None,
        "state": sorted(scope.get("state", {})),
        "asgi": scope["asgi"],
    }


async def _lifespan(receive: Receive, send: Send, scope: Scope) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            scope["state"]["started_at"] = time.time()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            print("app: lifespan shutdown", file=sys.stderr, flush=True)
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Routes: ``/`` hello, ``/scope`` the scope as JSON, ``/env?name=X`` an
    environment variable, ``/wait?file=PATH`` answers once PATH exists (the test
    decides when), ``/crash`` raises, anything else 404."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send, scope)
        return
    assert scope["type"] == "http"
    path = scope["path"]
    query = parse_qs(scope["query_string"].decode("latin-1"))
    if path == "/":
        await read_body(receive)
        await respond(send, "hello")
    elif path.endswith("/scope"):
        await respond(send, json.dumps(scope_summary(scope)), content_type=b"application/json")
    elif path == "/env":
        await respond(send, os.environ.get(query["name"][0], "<unset>"))
    elif path == "/wait":
        flag = Path(query["file"][0])
        print(f"app: waiting for {flag.name}", file=sys.stderr, flush=True)
        # The test signals across processes through the file system, so
        # there is no event to wait on; a stat every 20 ms is nothing.
        while not flag.exists():  # noqa: ASYNC110, ASYNC240
            await asyncio.sleep(0.02)
        await respond(send, "waited")
    elif path == "/crash":
        raise ValueError("the app crashed on purpose")
    else:
        await respond(send, "not found", status=404)


async def lifespan_failing(scope: Scope, receive: Receive, send: Send) -> None:
    """Reports ``lifespan.startup.failed``."""
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "database unreachable"})
        return
    await respond(send, "never served")


async def lifespan_raising(scope: Scope, receive: Receive, send: Send) -> None:
    """Raises during startup (``--lifespan on`` makes that fatal)."""
    if scope["type"] == "lifespan":
        await receive()
        raise RuntimeError("startup exploded")
    await respond(send, "served without lifespan")


async def lifespan_hanging_startup(scope: Scope, receive: Receive, send: Send) -> None:
    """Never completes startup."""
    if scope["type"] == "lifespan":
        await receive()
        print("app: startup hangs", file=sys.stderr, flush=True)
        await asyncio.Event().wait()
    await respond(send, "never ready")


async def lifespan_hanging_shutdown(scope: Scope, receive: Receive, send: Send) -> None:
    """Starts fine; never completes shutdown."""
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        print("app: shutdown hangs", file=sys.stderr, flush=True)
        await asyncio.Event().wait()
    await respond(send, "hello")


def print_lifecycle_event(event: object) -> None:
    """A lifecycle hook for subprocess tests: one line per event on stderr."""
    print(f"LIFECYCLE {type(event).__name__}", file=sys.stderr, flush=True)
