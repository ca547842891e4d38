"""The app of ``worker_modes.py``: plain ASGI, importable in a subinterpreter.

``/`` answers at once (the server's own work dominates); ``/cpu`` first
spends about a millisecond computing in Python (the app's work dominates,
and with it whether workers run Python in parallel).
"""

from __future__ import annotations

from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            kind = message["type"].removeprefix("lifespan.")
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    body = b"hello"
    if scope["path"] == "/cpu":
        body = str(sum(i * i for i in range(20_000))).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/plain"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
