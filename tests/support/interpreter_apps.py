"""Apps for the subinterpreter worker tests (CPython 3.14+ only).

``app`` says which interpreter and process answered; ``/exit`` ends the
worker's event loop (asyncio lets ``SystemExit`` out of the loop), so the
supervisor must replace it.
"""

from __future__ import annotations

import json
import os

from pounce import Receive, Scope, Send
from support.apps import respond

__all__ = ["app"]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            kind = message["type"].removeprefix("lifespan.")
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    from concurrent import interpreters  # 3.14+, and only when serving

    if scope["path"] == "/exit":
        raise SystemExit("the app ended its worker's loop")
    body = {"interpreter": interpreters.get_current().id, "pid": os.getpid()}
    await respond(send, json.dumps(body), content_type=b"application/json")
