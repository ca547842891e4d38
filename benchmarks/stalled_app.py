"""The application ``stalled_readers.py`` serves: ``bench_app.py``'s, plus one route.

* ``GET /big``  ``BIG`` bytes (20 MB) streamed in 64 KiB ``http.response.body``
                messages, each ``send`` waiting while the client does not read;
                it stops at the error ``send`` raises once the client is gone
                (ASGI 2.4), as a real app would.

Everything else (lifespan, ``GET /small`` that the probe client asks for) is
``bench_app.app``'s, so that module's workloads stay as they are.
"""

from __future__ import annotations

from typing import Any

import bench_app

PIECE = b"z" * 64 * 1024
BIG = 20 * 1000 * 1000

_BIG_HEADERS = [(b"content-type", b"application/octet-stream"), (b"content-length", b"%d" % BIG)]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http" or scope["path"] != "/big":
        await bench_app.app(scope, receive, send)
        return
    await send({"type": "http.response.start", "status": 200, "headers": _BIG_HEADERS})
    left = BIG
    while left:
        piece = PIECE if left >= len(PIECE) else PIECE[:left]
        left -= len(piece)
        try:
            await send({"type": "http.response.body", "body": piece, "more_body": bool(left)})
        except OSError:
            return
