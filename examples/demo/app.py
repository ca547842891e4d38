"""The Pounce demo app: plain ASGI, no framework, nothing to install.

    pounce app:app --app-dir examples/demo
    # or: scripts/demo.sh

Then open http://127.0.0.1:8000/. Routes:

* ``/``            this list, as HTML, with the time the app started
* ``/hello``       plain text
* ``/json``        a JSON document describing the request
* ``/echo``        POST a body and get it back
* ``/stream``      ten chunks sent over about a second
* ``/slow?seconds=N``  answers after N seconds (at most 60)

The start time comes from the ASGI lifespan protocol: the app stores it in
the lifespan ``state`` at startup and the server copies that state into every
request's scope.
"""

from __future__ import annotations

import asyncio
import html
import json
import math
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_SLOW_SECONDS = 60.0
STREAM_CHUNKS = 10
STREAM_INTERVAL = 0.1

ROUTES = [
    ("/hello", "GET", "plain text"),
    ("/json", "GET", "a JSON description of your request"),
    ("/echo", "POST", "sends your request body back"),
    ("/stream", "GET", f"{STREAM_CHUNKS} chunks over about a second"),
    ("/slow?seconds=2", "GET", "answers after a delay (at most 60 s)"),
]


Headers = Sequence[tuple[bytes, bytes]]


async def send_response(
    send: Send, status: int, body: bytes, content_type: str, extra: Headers = ()
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type.encode("latin-1")), *extra],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def text(send: Send, body: str, status: int = 200, extra: Headers = ()) -> None:
    await send_response(send, status, body.encode("utf-8"), "text/plain; charset=utf-8", extra)


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None if the client went away."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def started_at(scope: Scope) -> str:
    started = scope.get("state", {}).get("started_at")
    if started is None:
        return "unknown (lifespan is off)"
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started))


async def home(scope: Scope, receive: Receive, send: Send) -> None:
    items = "\n".join(
        f'    <li><a href="{html.escape(path)}"><code>{method} {html.escape(path)}</code></a>'
        f" &mdash; {html.escape(what)}</li>"
        for path, method, what in ROUTES
    )
    page = f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Pounce demo</title></head>
<body>
  <h1>Pounce demo</h1>
  <p>App started at {html.escape(started_at(scope))}.</p>
  <ul>
{items}
  </ul>
  <p>Try: <code>curl -d 'hello' http://{html.escape(host(scope))}/echo</code></p>
</body>
</html>
"""
    await send_response(send, 200, page.encode("utf-8"), "text/html; charset=utf-8")


def host(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"host":
            return str(value.decode("latin-1"))
    return "127.0.0.1:8000"


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    await text(send, "Hello, world!\n")


async def describe(scope: Scope, receive: Receive, send: Send) -> None:
    document = {
        "method": scope["method"],
        "path": scope["path"],
        "query": parse_qs(scope["query_string"].decode("latin-1")),
        "http_version": scope["http_version"],
        "client": scope.get("client"),
        "headers": {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
        "started_at": scope.get("state", {}).get("started_at"),
    }
    body = json.dumps(document, indent=2).encode("utf-8") + b"\n"
    await send_response(send, 200, body, "application/json")


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["method"] != "POST":
        await text(send, "POST a body to /echo\n", status=405, extra=[(b"allow", b"POST")])
        return
    body = await read_body(receive)
    if body is None:
        return  # the client left; nobody to answer
    content_type = "application/octet-stream"
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value.decode("latin-1")
    await send_response(send, 200, body, content_type)


async def stream(scope: Scope, receive: Receive, send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    for number in range(1, STREAM_CHUNKS + 1):
        await send(
            {"type": "http.response.body", "body": f"chunk {number}\n".encode(), "more_body": True}
        )
        await asyncio.sleep(STREAM_INTERVAL)
    await send({"type": "http.response.body", "body": b"done\n"})


async def slow(scope: Scope, receive: Receive, send: Send) -> None:
    query = parse_qs(scope["query_string"].decode("latin-1"))
    try:
        seconds = float(query.get("seconds", ["1"])[0])
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds <= MAX_SLOW_SECONDS:  # also false for NaN
        await text(send, f"seconds must be a number from 0 to {MAX_SLOW_SECONDS:g}\n", 400)
        return
    await asyncio.sleep(seconds)
    await text(send, f"Waited {seconds:g} s.\n")


HANDLERS = {
    "/": home,
    "/hello": hello,
    "/json": describe,
    "/echo": echo,
    "/stream": stream,
    "/slow": slow,
}


async def lifespan(scope: Scope, receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            scope["state"]["started_at"] = time.time()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI entry point: ``pounce app:app``."""
    if scope["type"] == "lifespan":
        await lifespan(scope, receive, send)
        return
    if scope["type"] != "http":
        return  # no websockets in this demo
    handler = HANDLERS.get(scope["path"])
    if handler is None:
        await text(send, f"No route {scope['path']}; see / for the list.\n", status=404)
        return
    await handler(scope, receive, send)
