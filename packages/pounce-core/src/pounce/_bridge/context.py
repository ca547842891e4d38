"""What all connections of one worker share.

A :class:`WorkerContext` belongs to exactly one event loop, hence one thread:
its mutable parts (the set of open connections, the date cache, the draining
flag) are only touched from that loop, so they need no lock even when several
workers run as threads of one interpreter. What workers share with each other
(the config, the app) is immutable or the app's own business.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from types import MappingProxyType
from typing import Any, Protocol

from pounce._bridge.app_stack import split_hook_layers
from pounce._bridge.health import HealthEndpoint
from pounce._bridge.http_date import HTTPDateCache
from pounce._bridge.proxy_headers import TrustedProxies
from pounce._runtime.asgi_types import ASGIApp
from pounce._runtime.error_responses import ErrorRenderer, plain_text_error
from pounce._runtime.lifecycle import LifecycleEmitter
from pounce._runtime.logs import ACCESS_LOGGER
from pounce._settings.config import ServerConfig
from pounce_protocols import HTTP1Limits, HTTP2Limits, websocket_available

__all__ = ["ConnectionLike", "TLSInfo", "WorkerContext"]


class TLSInfo(Protocol):
    """What the bridge needs of the server's TLS: the ``tls`` scope extension.

    ``pounce._edges.tls.ServerTLS`` provides it; the bridge names only this much
    so that it never depends on the edge that terminates TLS.
    """

    def scope_extension(self, ssl_object: Any) -> dict[str, Any]:
        """The ASGI ``tls`` extension for one connection whose handshake is done."""


class ConnectionLike(Protocol):
    """The part of a protocol connection the worker drives at shutdown."""

    def shutdown(self) -> None:
        """Close when idle; otherwise after the current response(s)."""

    def is_idle(self) -> bool:
        """True when no request is in flight."""

    def drain_streams(self) -> bool:
        """The worker drains: ask long-lived responses to end (see HTTPStream).

        True when some were asked: the connection then winds itself down once
        they have ended (or after a short grace), instead of at once.
        """

    def force_close(self) -> None:
        """Cancel in-flight requests and drop the connection."""


class WorkerContext:
    """State shared by one worker's connections; touched only from its loop."""

    __slots__ = (
        "_fields",
        "_fields_date",
        "access_logger",
        "app",
        "config",
        "connections",
        "date",
        "default_field_names",
        "drain_content_types",
        "drain_event",
        "drain_extension",
        "draining",
        "emitter",
        "error_renderer",
        "extra_headers",
        "handoff",
        "health",
        "http1_limits",
        "http2_limits",
        "http_app",
        "http_start_hooks",
        "lifespan_state",
        "loop",
        "proxies",
        "request_timing",
        "requests_served",
        "root_path",
        "root_path_bytes",
        "send_date",
        "sendfile",
        "server_header",
        "start_task",
        "tls",
        "websocket",
        "worker_id",
    )

    def __init__(
        self,
        *,
        config: ServerConfig,
        app: ASGIApp,
        loop: asyncio.AbstractEventLoop,
        lifespan_state: dict[str, Any],
        error_renderer: ErrorRenderer = plain_text_error,
        emitter: LifecycleEmitter | None = None,
        worker_id: int = 0,
        tls: TLSInfo | None = None,
    ) -> None:
        self.config = config
        self.tls = tls
        self.emitter = emitter if emitter is not None else LifecycleEmitter()
        self.worker_id = worker_id
        self.app = app
        # HTTP requests skip the outermost layers that only hook the start of
        # their responses; their streams run those hooks (see app_stack).
        self.http_app, self.http_start_hooks = split_hook_layers(app)
        self.loop = loop
        self.lifespan_state = lifespan_state
        # How every request's and session's run starts: a task of the loop,
        # not eagerly (``eager_start``), although most requests could complete
        # inside the ``data_received`` that parsed them. Measured under wrk on
        # loopback, running the app and writing the response there cost a
        # third more CPU per request (user and system) and a third less
        # throughput than letting the loop read every ready socket first and
        # then run the tasks, whose writes then leave back to back
        # (docs/performance.md). The loop's bound method itself: called once
        # per request, a wrapper would cost a frame.
        self.start_task: Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]] = (
            loop.create_task
        )
        self.error_renderer = error_renderer
        self.http1_limits = HTTP1Limits(
            max_request_line=config.limit_request_line,
            max_header_bytes=config.limit_request_header_size,
            max_header_count=config.limit_request_headers,
        )
        # HTTP/2 shares the request-head limits; see docs/http2.md.
        self.http2_limits = HTTP2Limits(
            max_concurrent_streams=config.http2_max_concurrent_streams,
            # WebSocket over HTTP/2 (RFC 8441) whenever WebSocket is served.
            enable_connect_protocol=config.ws != "off" and websocket_available(),
            initial_window_size=config.http2_initial_window_size,
            connection_window_size=min(
                2**31 - 1, max(1024 * 1024, 4 * config.http2_initial_window_size)
            ),
            max_header_list_size=config.limit_request_header_size,
            max_header_count=config.limit_request_headers,
        )
        self.date = HTTPDateCache()
        self.proxies = TrustedProxies(config.forwarded_allow_ips) if config.proxy_headers else None
        self.connections: set[ConnectionLike] = set()
        self.draining = False
        # Set when the worker starts to drain; apps see it as the scope
        # extension "pounce.drain" (see docs/workers.md).
        self.drain_event = asyncio.Event()
        # One read-only mapping shared by every scope of this worker.
        self.drain_extension = MappingProxyType({"event": self.drain_event})
        self.drain_content_types = frozenset(
            kind.strip().lower().encode("latin-1")
            for kind in config.drain_content_types
            if kind != "none"
        )
        # True when this worker drains because another takes its place (a
        # reload or a retirement) rather than because the server shuts down.
        self.handoff = False
        self.health = (
            HealthEndpoint(config.health_path, self._shutting_down)
            if config.health_path is not None
            else None
        )
        self.requests_served = 0
        self.root_path = config.root_path
        self.root_path_bytes = config.root_path.encode("utf-8")
        self.access_logger = logging.getLogger(ACCESS_LOGGER)
        self.server_header: tuple[tuple[bytes, bytes], ...] = (
            ((b"server", b"pounce"),) if config.server_header else ()
        )
        self.send_date = config.date_header
        self.extra_headers = config.parsed_headers
        self._fields_date = b""
        self._fields = self._build_fields(b"")
        # Their names, which only the date's value changes under: a stream
        # checks an app's fields against them in one pass.
        self.default_field_names = frozenset(name for name, _ in self._fields)
        # Per-request timing facts (scope extension "pounce.timing") cost a
        # clock read per request: only for --server-timing.
        self.request_timing = config.server_timing
        # Loops that implement sendfile (asyncio's) can offer zero-copy file
        # responses; uvloop inherits the abstract method, which cannot.
        self.sendfile = type(loop).sendfile is not asyncio.AbstractEventLoop.sendfile
        # Upgrade requests for a WebSocket are served as such (otherwise as plain HTTP).
        self.websocket = config.ws != "off" and websocket_available()

    def _shutting_down(self) -> bool:
        return self.draining and not self.handoff

    def default_headers(self) -> list[tuple[bytes, bytes]]:
        """Headers the server adds to every response unless the app sets them."""
        return list(self.default_header_fields())

    def default_header_fields(self) -> tuple[tuple[bytes, bytes], ...]:
        """:meth:`default_headers` as a tuple that is rebuilt only when the
        date changes (once a second): for the hot path, never to be mutated."""
        if self.send_date:
            date = self.date.value()
            if date is not self._fields_date:
                self._fields_date = date
                self._fields = self._build_fields(date)
        return self._fields

    def _build_fields(self, date: bytes) -> tuple[tuple[bytes, bytes], ...]:
        headers = list(self.server_header)
        if self.send_date:
            headers.append((b"date", date))
        if self.extra_headers:
            headers.extend(self.extra_headers)
        return tuple(headers)
