"""Where each layer sits: the ``order`` of every app layer and plugin.

The server applies layers in ascending order, so a lower number is closer to
the application and a higher one sees a request first. Keeping the numbers in
one table makes the stack readable at a glance (outermost first; the core's
own health endpoint answers before any of them):

metrics, OpenTelemetry, Sentry, Server-Timing, request ID,
rate limiting, load shedding, security headers, CORS, compression, static
files, the user's middleware, the debug error page, the app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

__all__ = ["ORDER", "layer_order"]

ORDER = {
    "metrics": 900,
    "otel": 850,
    "sentry": 840,
    "server_timing": 800,
    "request_id": 700,
    "rate_limit": 650,
    "load_shedding": 600,
    "security_headers": 500,
    "cors": 450,
    "compression": 400,
    "static": 300,
    "middleware": 200,
    "error_pages": 100,
}

_F = TypeVar("_F", bound=Callable[..., object])


def layer_order(name: str) -> Callable[[_F], _F]:
    """Give an app-layer entry point its ``order`` from :data:`ORDER`."""

    def mark(func: _F) -> _F:
        setattr(func, "order", ORDER[name])  # noqa: B010 - an attribute mypy cannot see
        return func

    return mark
