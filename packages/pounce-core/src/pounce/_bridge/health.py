"""The health endpoint, answered by the server before the app.

With ``--health-path /healthz`` every worker answers that path itself: ``200
ok`` while it serves, ``503`` once the server is shutting down. A worker that
drains because it is being replaced (a rolling reload, a retirement) still
answers 200: the server as a whole keeps serving, and the response carries
``connection: close`` so the next check reaches the worker taking over.

The endpoint is a tiny ASGI app that a connection runs *instead of* the
user's app when the path matches, through the same protocol-neutral stream
as any request. HTTP/1.1 uses it today; another protocol's connection needs
only :meth:`HealthEndpoint.matches` and to run the endpoint as the app.
"""

from __future__ import annotations

from collections.abc import Callable

from pounce._runtime.asgi_types import Receive, Scope, Send

__all__ = ["HealthEndpoint"]

_HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"cache-control", b"no-store"),
]


class HealthEndpoint:
    """Answers one path for one worker; ``shutting_down`` reads that worker's state."""

    __slots__ = ("_path", "_shutting_down")

    def __init__(self, path: str, shutting_down: Callable[[], bool]) -> None:
        self._path = path.encode("ascii")
        self._shutting_down = shutting_down

    def matches(self, raw_path: bytes) -> bool:
        """Whether a request for ``raw_path`` (no query string) is a health check."""
        return raw_path == self._path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The state is read when the check is answered, not when it arrived.
        if self._shutting_down():
            status, body = 503, b"shutting down\n"
        else:
            status, body = 200, b"ok\n"
        await send({"type": "http.response.start", "status": status, "headers": _HEADERS})
        await send({"type": "http.response.body", "body": body})
