"""The application every server in the benchmark runs (same code, same interpreter).

``app`` is a plain ASGI application with one route per workload:

* ``GET /``        plain-text "Hello, world!"
* ``GET /10k``     a 10 KB body
* ``POST /echo``   a JSON body echoed back
* ``GET /stream``  100 chunks of 64 bytes, each its own ``http.response.body``
* ``GET /small``   the query string as the body (a pipelining client checks the
                   order of the answers by it)
* ``POST /drain``  reads the request body and answers with its length
* ``/ws``          WebSocket echo (text and binary)

The FastAPI workload runs ``bench_fastapi:app`` (a separate module, so the
other workloads never import FastAPI).
"""

from __future__ import annotations

from typing import Any

HELLO = b"Hello, world!"
TEN_KB = b"x" * 10 * 1024
CHUNK = b"y" * 63 + b"\n"
CHUNKS = 100

_TEXT = [(b"content-type", b"text/plain")]
_JSON = [(b"content-type", b"application/json")]


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _websocket(receive: Any, send: Any) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.receive":
            if message.get("text") is not None:
                await send({"type": "websocket.send", "text": message["text"]})
            else:
                await send({"type": "websocket.send", "bytes": message.get("bytes") or b""})
        elif message["type"] == "websocket.disconnect":
            return


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    kind = scope["type"]
    if kind == "lifespan":
        await _lifespan(receive, send)
        return
    if kind == "websocket":
        await _websocket(receive, send)
        return
    path = scope["path"]
    if path == "/":
        await send({"type": "http.response.start", "status": 200, "headers": _TEXT})
        await send({"type": "http.response.body", "body": HELLO})
    elif path == "/10k":
        await send({"type": "http.response.start", "status": 200, "headers": _TEXT})
        await send({"type": "http.response.body", "body": TEN_KB})
    elif path == "/echo":
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": _JSON})
        await send({"type": "http.response.body", "body": body})
    elif path == "/small":
        # With its length, so that every server frames it the same way.
        body = scope["query_string"]
        headers = [*_TEXT, (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    elif path == "/drain":
        size = 0
        more = True
        while more:
            message = await receive()
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": _TEXT})
        await send({"type": "http.response.body", "body": b"%d" % size})
    elif path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": _TEXT})
        for _ in range(CHUNKS):
            await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    else:
        await send({"type": "http.response.start", "status": 404, "headers": _TEXT})
        await send({"type": "http.response.body", "body": b"not found"})
