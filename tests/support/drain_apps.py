"""Apps for the drain tests, importable as ``support.drain_apps:NAME``.

``app`` routes:

* ``/sse``: server-sent events, one every 100 ms, until ``receive()`` says
  ``http.disconnect`` (as frameworks listen for it);
* ``/deaf-sse``: the same events, but it never calls ``receive()``;
* ``/download``: 300 KB with a Content-Length, sent over about 3 s;
* ``/long-poll``: no response until the worker drains (the ``pounce.drain``
  scope extension) or 60 s pass, then ``drained`` or ``timeout``.

``fastapi_app`` serves ``/stream`` (a FastAPI ``StreamingResponse`` of SSE
lines) and ``/sse`` (sse-starlette's ``EventSourceResponse``). Every stream
starts with ``gen TOKEN``, a token drawn when this module is imported, so a
client can tell which generation of the app served it (a reload imports the
app afresh, in thread and process workers alike).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from sse_starlette.sse import EventSourceResponse

from pounce import Receive, Scope, Send

__all__ = ["GENERATION", "app", "fastapi_app"]

GENERATION = os.urandom(4).hex()

_SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


async def _events(send: Send, stop: asyncio.Event | None) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
    await send(
        {
            "type": "http.response.body",
            "body": b"data: gen %s\n\n" % GENERATION.encode(),
            "more_body": True,
        }
    )
    n = 0
    while stop is None or not stop.is_set():
        n += 1
        await send({"type": "http.response.body", "body": b"data: %d\n\n" % n, "more_body": True})
        await asyncio.sleep(0.1)


async def _sse(receive: Receive, send: Send) -> None:
    stop = asyncio.Event()

    async def listen() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        stop.set()

    listener = asyncio.create_task(listen())
    try:
        await _events(send, stop)
    finally:
        listener.cancel()


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    path = scope["path"]
    if path == "/sse":
        await _sse(receive, send)
    elif path == "/deaf-sse":
        await _events(send, None)
    elif path == "/download":
        headers = [(b"content-length", b"300000")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for _ in range(30):
            await asyncio.sleep(0.1)
            await send({"type": "http.response.body", "body": b"d" * 10000, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/long-poll":
        drain: asyncio.Event = scope["extensions"]["pounce.drain"]["event"]
        try:
            await asyncio.wait_for(drain.wait(), 60)
            body = b"drained"
        except TimeoutError:
            body = b"timeout"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})
    else:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"hello"})


fastapi_app = FastAPI()


@fastapi_app.get("/stream")
async def stream() -> StreamingResponse:
    async def lines() -> AsyncIterator[bytes]:
        yield b"data: gen %s\n\n" % GENERATION.encode()
        n = 0
        while True:
            n += 1
            yield b"data: %d\n\n" % n
            await asyncio.sleep(0.1)

    return StreamingResponse(lines(), media_type="text/event-stream")


@fastapi_app.get("/sse")
async def sse() -> EventSourceResponse:
    async def events() -> AsyncIterator[dict[str, Any]]:
        yield {"data": f"gen {GENERATION}"}
        n = 0
        while True:
            n += 1
            yield {"data": str(n)}
            await asyncio.sleep(0.1)

    return EventSourceResponse(events())
