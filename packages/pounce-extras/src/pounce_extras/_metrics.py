"""Prometheus metrics: ``--metrics``, on ``--metrics-path`` or ``--metrics-bind``.

What is measured
----------------
=====================================  =========================================
``pounce_requests_total``              responses, by ``method`` and ``status``
``pounce_request_duration_seconds``    histogram of request durations, by method
``pounce_requests_in_flight``          requests being handled now
``pounce_request_body_bytes_total``    request body bytes the app read
``pounce_response_body_bytes_total``   response body bytes sent
``pounce_connections_open``            client connections open now
``pounce_connections_total``           client connections accepted
``pounce_worker_restarts_total``       workers started in a slot that had one before
``pounce_worker_crashes_total``        workers that died unexpectedly
=====================================  =========================================

Requests, durations and response bytes come from the ``RequestCompleted``
lifecycle event, so they include the responses the server writes itself
(413, 500, a rate limit's 429); ``status="0"`` counts requests whose client
left before any response. Connections come from ``ConnectionOpened`` /
``ConnectionClosed``; worker restarts and crashes from the supervisor's
``WorkerStarted`` (a worker started in a slot that had one before: after a
crash, a retirement or a reload) and ``WorkerCrashed``. Methods outside the standard ones
are counted as ``OTHER``, so a client cannot create label values at will.

Where
-----
Without ``--metrics-bind`` the exposition is served on the main listener at
``--metrics-path`` (and is not counted). ``--metrics-bind HOST:PORT`` serves
it on a separate listener instead, opened when the server starts, so it can
be kept off the public network; the main listener then has no metrics path.

Threads and processes
---------------------
The registry belongs to the server and is shared by all its workers: thread
workers update it concurrently, which prometheus_client's metric objects
support (each holds a lock); our own bookkeeping of worker slots holds one
too. Workers in separate processes each have their own registry, and each
process's numbers are its own: scrape each process, or use prometheus_client's
multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``) to merge them.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from pounce import (
    ASGIApp,
    ConnectionClosed,
    ConnectionOpened,
    FeatureUnavailable,
    LifecycleEvent,
    Message,
    Receive,
    RequestCompleted,
    Scope,
    Send,
    ServerConfig,
    ServerPlugin,
    WorkerCrashed,
    WorkerStarted,
)
from pounce_extras._http import app_path
from pounce_extras._layers import ORDER

try:
    import prometheus_client
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
except ImportError:  # pragma: no cover - depends on the install
    raise FeatureUnavailable("--metrics", "metrics") from None

__all__ = ["MetricsPlugin"]

_logger = logging.getLogger("pounce.error")

_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"}
)
_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def _method(method: str) -> str:
    return method if method in _METHODS else "OTHER"


class MetricsPlugin(ServerPlugin):
    """The registry, the listener and the layer; shared by every worker."""

    order = ORDER["metrics"]

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.requests = Counter(
            "pounce_requests",
            "Responses sent, by method and status.",
            ["method", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "pounce_request_duration_seconds",
            "Time from request head to response end.",
            ["method"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge(
            "pounce_requests_in_flight", "Requests being handled.", registry=registry
        )
        self.request_bytes = Counter(
            "pounce_request_body_bytes", "Request body bytes read by the app.", registry=registry
        )
        self.response_bytes = Counter(
            "pounce_response_body_bytes", "Response body bytes sent.", registry=registry
        )
        self.connections_open = Gauge(
            "pounce_connections_open", "Client connections open.", registry=registry
        )
        self.connections = Counter(
            "pounce_connections", "Client connections accepted.", registry=registry
        )
        self.worker_restarts = Counter(
            "pounce_worker_restarts",
            "Workers started in a slot that had one before.",
            registry=registry,
        )
        self.worker_crashes = Counter(
            "pounce_worker_crashes", "Workers that exited unexpectedly.", registry=registry
        )
        # Worker slots seen starting; events arrive from several threads.
        self._seen_slots: set[int] = set()
        self._lock = threading.Lock()
        self._listener: Any = None
        self._thread: threading.Thread | None = None
        self.bound: tuple[str, int] | None = None

    # ------------------------------------------------------------ events

    def on_event(self, event: LifecycleEvent) -> None:
        if isinstance(event, RequestCompleted):
            method = _method(event.method)
            self.requests.labels(method, str(event.status)).inc()
            self.duration.labels(method).observe(event.duration)
            self.response_bytes.inc(event.bytes_sent)
        elif isinstance(event, ConnectionOpened):
            self.connections.inc()
            self.connections_open.inc()
        elif isinstance(event, ConnectionClosed):
            self.connections_open.dec()
        elif isinstance(event, WorkerStarted):
            with self._lock:
                restarted = event.slot in self._seen_slots
                self._seen_slots.add(event.slot)
            if restarted:
                self.worker_restarts.inc()
        elif isinstance(event, WorkerCrashed):
            self.worker_crashes.inc()

    # ------------------------------------------------------------ the app

    def exposition(self) -> bytes:
        """The metrics in the Prometheus text format."""
        return bytes(prometheus_client.generate_latest(self.registry))

    def wrap_app(self, app: ASGIApp) -> ASGIApp:
        serve_path = self.config.metrics_path if self.config.metrics_bind is None else None

        async def measured(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            if serve_path is not None and app_path(scope) == serve_path:
                await self._serve(send)
                return

            async def counting_receive() -> Message:
                message = await receive()
                body = message.get("body")
                if body:
                    self.request_bytes.inc(len(body))
                return message

            self.in_flight.inc()
            try:
                await app(scope, counting_receive, send)
            finally:
                self.in_flight.dec()

        return measured

    async def _serve(self, send: Send) -> None:
        body = self.exposition()
        headers = [
            (b"content-type", prometheus_client.CONTENT_TYPE_LATEST.encode("ascii")),
            (b"content-length", str(len(body)).encode("ascii")),
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    # ------------------------------------------------------- the listener

    def start(self) -> None:
        if self.config.metrics_bind is None:
            return
        host, _, port = self.config.metrics_bind.rpartition(":")
        host = host.strip("[]") or "0.0.0.0"
        try:
            server, thread = prometheus_client.start_http_server(
                int(port), addr=host, registry=self.registry
            )
        except OSError as exc:
            raise ValueError(
                f"--metrics-bind {self.config.metrics_bind}: cannot listen: {exc.strerror}"
            ) from None
        self._listener, self._thread = server, thread
        address = server.server_address
        self.bound = (str(address[0]), int(address[1]))
        shown = f"[{self.bound[0]}]" if ":" in self.bound[0] else self.bound[0]
        _logger.info("Metrics served on http://%s:%d/metrics", shown, self.bound[1])

    def stop(self) -> None:
        server, thread = self._listener, self._thread
        self._listener = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=10)
