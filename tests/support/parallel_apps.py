"""The app for the parallel-load tests, importable as ``support.parallel_apps:app``.

Every answer carries what only the request it answers could know, so a
response that reached the wrong client, or a body mixed with another
request's, is caught by the client:

* ``POST /echo`` with ``x-token``: JSON with the token, the length and the
  SHA-256 of the body as the app received it, the token the body starts with,
  and which worker thread answered. It yields to the loop between reading and
  answering so that requests of one worker interleave.
* ``/ws``: a WebSocket that answers each message ``TOKEN:PAYLOAD`` with
  ``TOKEN:<sha256 of PAYLOAD>``.
* ``GET /`` ``hello``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading

from pounce import Receive, Scope, Send
from support.apps import read_body, respond

__all__ = ["app"]


async def _websocket(receive: Receive, send: Send) -> None:
    message = await receive()
    assert message["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None:
            text = (message.get("bytes") or b"").decode()
        token, _, payload = text.partition(":")
        digest = hashlib.sha256(payload.encode()).hexdigest()
        await send({"type": "websocket.send", "text": f"{token}:{digest}"})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    if scope["type"] == "websocket":
        await _websocket(receive, send)
        return
    if scope["path"] != "/echo":
        await respond(send, "hello")
        return
    headers = dict(scope["headers"])
    body = await read_body(receive)
    await asyncio.sleep(0)
    summary = {
        "token": headers.get(b"x-token", b"").decode(),
        "body_token": body[:64].partition(b"|")[0].decode(),
        "length": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        "http_version": scope["http_version"],
        "worker": threading.current_thread().name,
    }
    await respond(send, json.dumps(summary), content_type=b"application/json")
