"""Type aliases for the ASGI 3 interface."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = [
    "ASGIApp",
    "HTTPStartHook",
    "Message",
    "Receive",
    "ResponseRelay",
    "Scope",
    "Send",
    "StartHook",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The start hooks of the layers that adjust a response's start, and what they
# return (see "Start hooks" in pounce._bridge.http_stream).

# What a start hook returns to follow a response further:
# called with the send that leads on to the client and the first message after
# the start, it returns None (the response is left alone after all) or the
# send through which the start, that message and every later one must go.
ResponseRelay = Callable[[Send, Message], Send | None]

# A layer's adjustment of a response's start: called with its status and its
# header fields (lowercase names, a list of the server's own), which it may
# change in place, except Content-Length and Transfer-Encoding (the framing);
# it returns None, or a ResponseRelay when the layer must follow the response.
StartHook = Callable[[int, list[tuple[bytes, bytes]]], ResponseRelay | None]

# The start hook of a layer that does nothing else for an http request, with
# the request's scope: what it would register, called with the scope it would
# have chosen it from.
HTTPStartHook = Callable[[Scope, int, list[tuple[bytes, bytes]]], ResponseRelay | None]
