"""``--request-id``: one ID per request, for following it through logs.

The ID comes from the request's ``X-Request-ID`` (``--request-id-header``)
when it is 1-128 characters of letters, digits and ``-_.:``; anything else,
or nothing, is replaced by a fresh random ID (32 hex digits). The app sees
the ID in that request header and in ``scope["extensions"]["pounce.request_id"]``,
and the response carries it back unless the app set the header itself.
Restricting the characters keeps a client from writing into log lines.
"""

from __future__ import annotations

import re
import uuid

from pounce import ASGIApp, Receive, Scope, Send, ServerConfig, on_response_start

__all__ = ["RequestID"]

_VALID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


class RequestID:
    """The ASGI layer."""

    def __init__(self, app: ASGIApp, config: ServerConfig) -> None:
        self.app = app
        self.header = config.request_id_header.lower().encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        name = self.header
        request_id = None
        for key, value in scope["headers"]:
            if key == name:
                request_id = value if _VALID.fullmatch(value) else None
                break
        if request_id is None:
            request_id = uuid.uuid4().hex.encode("ascii")
            scope = {
                **scope,
                "headers": [h for h in scope["headers"] if h[0] != name] + [(name, request_id)],
            }
        else:
            scope = dict(scope)
        extensions = dict(scope.get("extensions") or {})
        extensions["pounce.request_id"] = request_id.decode("ascii")
        scope["extensions"] = extensions

        def add_id(status: int, fields: list[tuple[bytes, bytes]]) -> None:
            if all(key != name for key, _ in fields):
                fields.append((name, request_id))

        await self.app(scope, receive, on_response_start(send, add_id))
