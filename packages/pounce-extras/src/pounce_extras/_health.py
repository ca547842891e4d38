"""``--health-path /healthz``: a health endpoint for load balancers and Kubernetes.

GET or HEAD on the path answers 200 ``ok`` while the server accepts work and
503 ``draining`` from the moment it starts shutting down (the
``ServerDraining`` lifecycle event), so a balancer stops sending new requests
while the in-flight ones finish. It sits outside every other layer: rate
limits and load shedding never refuse a probe, and probes are not counted in
the metrics. Other methods on the path go to the app.
"""

from __future__ import annotations

import threading

from pounce import (
    ASGIApp,
    LifecycleEvent,
    Receive,
    Scope,
    Send,
    ServerConfig,
    ServerDraining,
    ServerPlugin,
)
from pounce_extras._http import app_path
from pounce_extras._layers import ORDER

__all__ = ["HealthPlugin"]


class HealthPlugin(ServerPlugin):
    """Answers the health path; hears when the server starts draining."""

    order = ORDER["health"]

    def __init__(self, config: ServerConfig) -> None:
        assert config.health_path is not None
        self.path = config.health_path
        # Set by the thread that begins the shutdown, read by every worker.
        self.draining = threading.Event()

    def on_event(self, event: LifecycleEvent) -> None:
        if isinstance(event, ServerDraining):
            self.draining.set()

    def wrap_app(self, app: ASGIApp) -> ASGIApp:
        async def health(scope: Scope, receive: Receive, send: Send) -> None:
            if (
                scope["type"] != "http"
                or app_path(scope) != self.path
                or scope["method"] not in ("GET", "HEAD")
            ):
                await app(scope, receive, send)
                return
            draining = self.draining.is_set()
            body = b"draining\n" if draining else b"ok\n"
            headers = [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"cache-control", b"no-store"),
                (b"content-length", str(len(body)).encode("ascii")),
            ]
            status = 503 if draining else 200
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        return health
